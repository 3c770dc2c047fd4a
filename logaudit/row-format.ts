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
 *   meta  = UTF-8 JSON [from[], via[], dataset[], fields[]] (fields: the decoder's object or null)
 *   (little endian)
 */
export const ROW_FORMAT = 2;

export const FLAG = { invalid_utf8: 1, truncated: 2, forged_timestamp: 4, spooled: 8, unparsed: 16, undecoded: 32 } as const;

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
  const [from, via, ds, fields] = JSON.parse(b.toString('utf8', 8, 8 + ml)) as [string[], string[], string[], (LogEvent | null)[]];
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
      from: from[i]!, via: via[i]!, dataset: ds[i]!, fields: fields[i] ?? null, bytes: b.subarray(o, o + l),
    };
    o += l;
  }
  return out;
}
