import type { RawMessage } from './normalise.js';

/**
 * The store's compact row format (batches with `fmt: 2` in the day index):
 * per event the bytes as received plus what normalisation decided about them
 * — the resolved event time, the outcome tags, the decoder's dataset and
 * extracted fields — instead of the whole normalised event as JSON. The JSON
 * event was ~5× the size of the message (field names, the message twice, ISO
 * times); serialising and compressing it was most of the intake's CPU. The
 * remaining fields (syslog header, vendor/product of the dataset, tags) are
 * rebuilt from these on read by the same code that made them (normalise.ts
 * `rebuildEvent`), and the original bytes are kept exactly, not re-encoded.
 *
 *   row = f64 atMs ‖ f64 receivedMs ‖ u8 transport ‖ u8 flags
 *         ‖ u8 len(from) ‖ from ‖ u16 len(via) ‖ via ‖ u8 len(dataset) ‖ dataset
 *         ‖ u32 len(fields) ‖ fields (JSON of the decoder's fields) ‖ u32 len(bytes) ‖ bytes
 *   (little endian; strings UTF-8)
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
  /** JSON of the decoder's extracted fields ('' when none) */
  fields: string;
  bytes: Buffer;
}

const FIXED = 8 + 8 + 1 + 1 + 1 + 2 + 1 + 4 + 4;

export function encodeRows(rows: readonly StoredRow[]): Buffer {
  // one allocation at the UTF-8 upper bound (3 bytes per UTF-16 unit), one pass, then cut
  let bound = 0;
  for (const r of rows) bound += FIXED + 3 * (r.from.length + r.via.length + r.dataset.length + r.fields.length) + r.bytes.length;
  const b = Buffer.allocUnsafe(bound);
  let o = 0;
  for (const r of rows) {
    b.writeDoubleLE(r.atMs, o); o += 8;
    b.writeDoubleLE(r.receivedMs, o); o += 8;
    b[o++] = TRANSPORTS.indexOf(r.transport);
    b[o++] = r.flags;
    const fl = b.write(r.from.slice(0, 80), o + 1, 'utf8'); b[o] = fl; o += 1 + fl;
    const vl = b.write(r.via.slice(0, 20_000), o + 2, 'utf8'); b.writeUInt16LE(vl, o); o += 2 + vl;
    const dl = b.write(r.dataset.slice(0, 80), o + 1, 'utf8'); b[o] = dl; o += 1 + dl;
    const jl = b.write(r.fields, o + 4, 'utf8'); b.writeUInt32LE(jl, o); o += 4 + jl;
    b.writeUInt32LE(r.bytes.length, o); o += 4;
    o += r.bytes.copy(b, o);
  }
  return b.subarray(0, o);
}

export function decodeRows(b: Buffer): StoredRow[] {
  const out: StoredRow[] = [];
  let o = 0;
  while (o < b.length) {
    const atMs = b.readDoubleLE(o); o += 8;
    const receivedMs = b.readDoubleLE(o); o += 8;
    const transport = TRANSPORTS[b[o++]!] ?? 'udp';
    const flags = b[o++]!;
    const fl = b[o]!; const from = b.toString('utf8', o + 1, o + 1 + fl); o += 1 + fl;
    const vl = b.readUInt16LE(o); const via = b.toString('utf8', o + 2, o + 2 + vl); o += 2 + vl;
    const dl = b[o]!; const dataset = b.toString('utf8', o + 1, o + 1 + dl); o += 1 + dl;
    const jl = b.readUInt32LE(o); const fields = b.toString('utf8', o + 4, o + 4 + jl); o += 4 + jl;
    const bl = b.readUInt32LE(o); const bytes = b.subarray(o + 4, o + 4 + bl); o += 4 + bl;
    out.push({ atMs, receivedMs, transport, flags, from, via, dataset, fields, bytes });
  }
  return out;
}
