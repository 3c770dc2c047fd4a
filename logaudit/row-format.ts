import { LogAuditError } from './errors.js';
import type { RawMessage } from './normalise.js';
import type { LogEvent } from './schema.js';

/**
 * The store's compact batch format (batches with `fmt: 2` in the day index):
 * per event the bytes as received plus what normalisation decided about them
 * — the resolved event time, the outcome tags, the decoder's dataset and
 * extracted fields — instead of the whole normalised event as JSON. The JSON
 * event was ~5× the size of the message (field names, the message twice, ISO
 * times); serialising and compressing it was most of the intake's CPU. The
 * remaining fields (syslog header, vendor/product of the dataset, tags) are
 * rebuilt from these on read by the same code that made them (normalise.ts
 * `rebuildEvent`), and the original bytes are kept exactly, not re-encoded.
 *
 * Columnar, so a batch costs one JSON.stringify and a few copies, not a
 * string write per field per event:
 *
 *   batch = u32 n ‖ u32 len(meta) ‖ meta ‖ f64[n] atMs ‖ f64[n] receivedMs
 *           ‖ u8[n] transport ‖ u8[n] flags ‖ u32[n] len(bytes) ‖ bytes…
 *   meta  = UTF-8 JSON [from[], via[], dataset[], fields[], shapes?]
 *   fields[i] = null (no decoder claimed it), the decoder's object, or
 *               [s, v1, v2, …]: shapes[s] lists the field names, v the values in that order (null: absent)
 *   shapes    = [[name, …], …] (batches written by RowBatch; encodeRows writes objects and no shapes)
 *   (little endian)
 */
export const ROW_FORMAT = 2;

export const FLAG = { invalid_utf8: 1, truncated: 2, forged_timestamp: 4, spooled: 8, unparsed: 16, undecoded: 32 } as const;

/** rows whose fields are serialised together (RowBatch.writeFields) */
const FIELDS_CHUNK = 64;

const TRANSPORTS: readonly RawMessage['transport'][] = ['udp', 'tcp', 'tls', 'file', 'snmp', 'forward', 'db'];

export interface StoredRow {
  /** the event's time as resolved at intake (@timestamp) */
  atMs: number;
  receivedMs: number;
  transport: RawMessage['transport'];
  flags: number;
  from: string;
  via: string;
  /** event.dataset ('unknown' when no decoder claimed it) */
  dataset: string;
  /** the decoder's extracted fields (null when no decoder claimed it) */
  fields: LogEvent | null;
  bytes: Buffer;
}

export function encodeRows(rows: readonly StoredRow[]): Buffer {
  const n = rows.length;
  const from: string[] = new Array(n);
  const via: string[] = new Array(n);
  const ds: string[] = new Array(n);
  const fields: (LogEvent | null)[] = new Array(n);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    from[i] = r.from; via[i] = r.via; ds[i] = r.dataset; fields[i] = r.fields;
    bytes += r.bytes.length;
  }
  const meta = Buffer.from(JSON.stringify([from, via, ds, fields]));
  const head = 8 + meta.length;
  const b = Buffer.allocUnsafe(head + n * (8 + 8 + 1 + 1 + 4) + bytes);
  b.writeUInt32LE(n, 0);
  b.writeUInt32LE(meta.length, 4);
  meta.copy(b, 8);
  let o = head;
  for (let i = 0; i < n; i++, o += 8) b.writeDoubleLE(rows[i]!.atMs, o);
  for (let i = 0; i < n; i++, o += 8) b.writeDoubleLE(rows[i]!.receivedMs, o);
  for (let i = 0; i < n; i++) b[o++] = TRANSPORTS.indexOf(rows[i]!.transport);
  for (let i = 0; i < n; i++) b[o++] = rows[i]!.flags;
  for (let i = 0; i < n; i++, o += 4) b.writeUInt32LE(rows[i]!.bytes.length, o);
  for (let i = 0; i < n; i++) o += rows[i]!.bytes.copy(b, o);
  return b;
}

export function decodeRows(b: Buffer): StoredRow[] {
  const n = b.readUInt32LE(0);
  const ml = b.readUInt32LE(4);
  const [from, via, ds, fields, shapes] = JSON.parse(b.toString('utf8', 8, 8 + ml)) as [string[], string[], string[], (LogEvent | null | unknown[])[], string[][] | undefined];
  let o = 8 + ml;
  const at = o; o += 8 * n;
  const recv = o; o += 8 * n;
  const tr = o; o += n;
  const fl = o; o += n;
  const len = o; o += 4 * n;
  const out: StoredRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const l = b.readUInt32LE(len + 4 * i);
    out[i] = {
      atMs: b.readDoubleLE(at + 8 * i), receivedMs: b.readDoubleLE(recv + 8 * i), transport: TRANSPORTS[b[tr + i]!] ?? 'udp', flags: b[fl + i]!,
      from: from[i]!, via: via[i]!, dataset: ds[i]!, fields: fieldsOf(fields[i], shapes), bytes: b.subarray(o, o + l),
    };
    o += l;
  }
  return out;
}

function fieldsOf(f: LogEvent | null | unknown[] | undefined, shapes: string[][] | undefined): LogEvent | null {
  if (f === undefined || f === null) return null;
  if (!Array.isArray(f)) return f;
  const keys = shapes?.[f[0] as number];
  if (!keys) throw new LogAuditError('LOG_ERR_STORE_TAMPERED', `row batch: fields refer to shape ${String(f[0])}, which the batch does not list`);
  const out: LogEvent = {};
  for (let k = 1; k < f.length; k++) {
    const v = f[k];
    if (v !== null && v !== undefined) out[keys[k - 1]!] = v as string | number | string[];
  }
  return out;
}

/**
 * The store batch being filled, kept as bytes and typed columns: what
 * `encodeRows` would write, built up one event at a time, so no row object,
 * fields object or decoded string per event outlives its slice. Rows waiting
 * for their 4 000-event batch used to survive V8's young-generation
 * collections and be copied into the old generation (CLOSING.md: a heap
 * snapshot mid-run held 71 k strings, mostly decoded field values of rows
 * awaiting their batch); here the fields are JSON text in an off-heap buffer
 * from the moment they are made, and the original bytes are copied in.
 * `take()` returns the same bytes `encodeRows` makes for the same rows
 * (row-format.test.ts) and empties the batch for reuse.
 */
export class RowBatch {
  length = 0;
  minMs = Infinity;
  maxMs = -Infinity;
  private at: Float64Array = new Float64Array(1024);
  private recv: Float64Array = new Float64Array(1024);
  private tr: Uint8Array = new Uint8Array(1024);
  private fl: Uint8Array = new Uint8Array(1024);
  private len: Uint32Array = new Uint32Array(1024);
  /** from / via / dataset as indexes into `strings` (a batch holds a few hundred devices, a few datasets) */
  private from: Uint32Array = new Uint32Array(1024);
  private via: Uint32Array = new Uint32Array(1024);
  private ds: Uint32Array = new Uint32Array(1024);
  private strings: string[] = [];
  private stringIdx = new Map<string, number>();
  private bytes: Buffer = Buffer.allocUnsafe(1 << 20);
  private bytesLen = 0;
  /** the fields column's JSON elements, comma-separated */
  private fj: Buffer = Buffer.allocUnsafe(1 << 20);
  private fjLen = 0;
  /** the fields of the rows added since the last writeFields (value arrays, null: no decoder) */
  private pend: (unknown[] | null)[] = [];
  /** shapes used in this batch: DecoderSet shape number → index in `shapeKeys` */
  private shapeLocal = new Map<number, number>();
  private shapeKeys: (readonly string[])[] = [];

  /**
   * `vals`: the decoder's values (decoders.ts `Decoded.vals`: `vals[1 + i]` is field `keys[i]`, slot 0 free;
   * taken over: trimmed and written to), null when no decoder claimed the message;
   * `shape`/`keys`: the decoder rule's shape number and field names (DecoderSet.shapes)
   */
  add(atMs: number, receivedMs: number, transport: RawMessage['transport'], flags: number, from: string, via: string, dataset: string, vals: unknown[] | null, shape: number, keys: readonly string[], bytes: Buffer): void {
    const i = this.length;
    if (i === this.at.length) this.growRows();
    this.at[i] = atMs;
    this.recv[i] = receivedMs;
    this.tr[i] = TRANSPORTS.indexOf(transport);
    this.fl[i] = flags;
    this.len[i] = bytes.length;
    this.from[i] = this.intern(from);
    this.via[i] = this.intern(via);
    this.ds[i] = this.intern(dataset);
    if (atMs < this.minMs) this.minMs = atMs;
    if (atMs > this.maxMs) this.maxMs = atMs;
    if (this.bytesLen + bytes.length > this.bytes.length) this.bytes = grow(this.bytes, this.bytesLen, this.bytesLen + bytes.length);
    this.bytesLen += bytes.copy(this.bytes, this.bytesLen);
    this.pend.push(vals === null ? null : this.values(vals, shape, keys));
    if (this.pend.length === FIELDS_CHUNK) this.writeFields();
    this.length = i + 1;
  }

  /**
   * the fields column's last up to FIELDS_CHUNK elements as JSON, appended to `fj`: one JSON.stringify
   * of an array of value arrays instead of one per event (0.6 vs 1.4–1.6 µs per row in a micro-run of
   * 64 rows of 8 values, CLOSING.md h3); the arrays live for at most 64 events, not until the batch is written
   */
  private writeFields(): void {
    if (this.pend.length === 0) return;
    const j = JSON.stringify(this.pend);
    this.pend = [];
    // worst case 3 UTF-8 bytes per UTF-16 unit
    if (this.fjLen + j.length * 3 > this.fj.length) this.fj = grow(this.fj, this.fjLen, this.fjLen + j.length * 3);
    // "[a,b]" → "a,b" after what is there, comma-separated: the opening bracket becomes the comma
    // (or is dropped for the first chunk), the closing one is not kept
    const at = this.fjLen;
    const w = this.fj.write(j, at);
    if (at === 0) { this.fj.copyWithin(0, 1, w); this.fjLen = w - 2; } else { this.fj[at] = 44; this.fjLen = at + w - 1; }
  }

  /** the row's fields element: [local shape, values in the shape's order…], trailing absent values left out (JSON writes undefined as null) */
  private values(vals: unknown[], shape: number, keys: readonly string[]): unknown[] {
    let local = this.shapeLocal.get(shape);
    if (local === undefined) {
      local = this.shapeKeys.length;
      this.shapeKeys.push(keys);
      this.shapeLocal.set(shape, local);
    }
    // the decoder's array is packed (copied from a packed blank; `new Array(n)` would be holey and take
    // JSON.stringify's slow path, 3 µs per event in an earlier profile); undefined is written as null
    let end = vals.length;
    while (end > 1 && vals[end - 1] === undefined) end--;
    vals.length = end;
    vals[0] = local;
    return vals;
  }

  /** the batch in row format (decodeRows reads back the rows encodeRows would have written); the batch is empty afterwards */
  take(): Buffer {
    this.writeFields();
    const n = this.length;
    const json = this.strings.map((s) => JSON.stringify(s));
    const col = (idx: Uint32Array): string => {
      const parts: string[] = new Array(n);
      for (let i = 0; i < n; i++) parts[i] = json[idx[i]!]!;
      return `[${parts.join(',')}]`;
    };
    const head = Buffer.from(`[${col(this.from)},${col(this.via)},${col(this.ds)},[`);
    const tail = Buffer.from(`],${JSON.stringify(this.shapeKeys)}]`);
    const ml = head.length + this.fjLen + tail.length;
    const h = 8 + ml;
    const b = Buffer.allocUnsafe(h + n * (8 + 8 + 1 + 1 + 4) + this.bytesLen);
    b.writeUInt32LE(n, 0);
    b.writeUInt32LE(ml, 4);
    head.copy(b, 8);
    this.fj.copy(b, 8 + head.length, 0, this.fjLen);
    tail.copy(b, 8 + head.length + this.fjLen);
    let o = h;
    for (let i = 0; i < n; i++, o += 8) b.writeDoubleLE(this.at[i]!, o);
    for (let i = 0; i < n; i++, o += 8) b.writeDoubleLE(this.recv[i]!, o);
    for (let i = 0; i < n; i++) b[o++] = this.tr[i]!;
    for (let i = 0; i < n; i++) b[o++] = this.fl[i]!;
    for (let i = 0; i < n; i++, o += 4) b.writeUInt32LE(this.len[i]!, o);
    this.bytes.copy(b, o, 0, this.bytesLen);
    this.length = 0;
    this.minMs = Infinity;
    this.maxMs = -Infinity;
    this.bytesLen = 0;
    this.fjLen = 0;
    this.strings = [];
    this.stringIdx = new Map();
    this.shapeLocal = new Map();
    this.shapeKeys = [];
    return b;
  }

  private intern(s: string): number {
    let k = this.stringIdx.get(s);
    if (k === undefined) {
      k = this.strings.length;
      this.strings.push(s);
      this.stringIdx.set(s, k);
    }
    return k;
  }

  private growRows(): void {
    const m = this.at.length * 2;
    const f64 = (a: Float64Array): Float64Array => { const x = new Float64Array(m); x.set(a); return x; };
    const u8 = (a: Uint8Array): Uint8Array => { const x = new Uint8Array(m); x.set(a); return x; };
    const u32 = (a: Uint32Array): Uint32Array => { const x = new Uint32Array(m); x.set(a); return x; };
    this.at = f64(this.at); this.recv = f64(this.recv); this.tr = u8(this.tr); this.fl = u8(this.fl);
    this.len = u32(this.len); this.from = u32(this.from); this.via = u32(this.via); this.ds = u32(this.ds);
  }
}

function grow(b: Buffer, used: number, need: number): Buffer {
  let size = b.length * 2;
  while (size < need) size *= 2;
  const x = Buffer.allocUnsafe(size);
  b.copy(x, 0, 0, used);
  return x;
}
