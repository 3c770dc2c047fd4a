import { crc32 } from 'node:zlib';
import { checkCodeRecord, decodeVersioned, encodeCodeRecord, encodeVersioned, FORMAT_VERSION } from '../core/code-record.js';
import { decodeDeltaBatch, type Delta, type DeltaBatch } from '../core/delta.js';
import { CoreError } from '../core/errors.js';
import { SyncError } from './errors.js';

/**
 * The pre-encoded ("packed") form of a delta batch (issue 14 item 4): code
 * changes carry the exact bytes the replica stores for them, so an edge
 * follower writes them straight into LMDB with no msgpack decode, no
 * validation of each field and no re-encode. The publisher encodes each
 * record once; every edge then does only B-tree work.
 *
 * It is an EXTENSION of core/delta.ts's wire form, told apart by byte 0:
 *
 *   core/delta.ts     byte 0 = FORMAT_VERSION (1)        msgpack { from, to, deltas }
 *   this form         byte 0 = PACKED_MARK (0x50, 'P')
 *
 * A build that predates this form reads byte 0 as a record format version
 * above its own and refuses the entry with CORE_ERR_FORMAT_VERSION ("upgrade
 * this node"): its follower stalls visibly (lag grows, /readyz fails) instead
 * of misreading it. The publisher therefore sends this form only when told
 * to (`deltaForm: 'packed'`): upgrade every edge first, then the publisher.
 * Both forms may follow each other on one stream; a follower applies either.
 *
 * Layout, big-endian:
 *
 *   0        u8    PACKED_MARK
 *   1        u8    packed layout version (PACKED_VERSION; a newer one → SYNC_ERR_DELTA_FORMAT)
 *   2..5     u32   CRC-32 (zlib) of bytes 6..end: a flipped or cut byte is refused
 *                  before anything is written (LMDB would otherwise store it as is)
 *   6..13    u64   from (first seq)
 *   14..17   u32   n, the number of deltas: seqs from..from+n-1, dense
 *   18..     n parts in seq order, each starting with a kind byte:
 *     1 PUT     uid[16]  u32 len  value[len]   value = encodeCodeRecord(record), the
 *                                              replica's "codes" value byte for byte
 *     2 DELETE  uid[16]                        the code was removed
 *     3 OTHER   u32 len  bytes[len]            encodeVersioned(delta) of any other delta
 *                                              (venue, risk area, rules, keys, noop): rare,
 *                                              decoded and checked as core/delta.ts does
 *
 * Like every delta, it carries uids and masked names only.
 */
export const PACKED_MARK = 0x50;
export const PACKED_VERSION = 1;
export const PACKED_HEADER_BYTES = 18;

const PUT = 1;
const DELETE = 2;
const OTHER = 3;
const UID_BYTES = 16;

/** One delta's part of a packed batch (kind byte onward), made once by the publisher. */
export function encodePackedPart(d: Delta): Buffer {
  if (d.type === 'code') {
    if (!(d.uid instanceof Uint8Array) || d.uid.length !== UID_BYTES) throw new SyncError('SYNC_ERR_BATCH_INVALID', `delta ${d.seq}: uid`);
    if (d.record === null) {
      const out = Buffer.allocUnsafe(1 + UID_BYTES);
      out[0] = DELETE;
      out.set(d.uid, 1);
      return out;
    }
    // Normalised exactly as an edge decoding the object form would store it
    // (checkCodeRecord fixes the field set and order), so both forms leave
    // the same bytes in the replica.
    const value = encodeCodeRecord(checkCodeRecord(d.record, `delta ${d.seq}`));
    const out = Buffer.allocUnsafe(1 + UID_BYTES + 4 + value.length);
    out[0] = PUT;
    out.set(d.uid, 1);
    out.writeUInt32BE(value.length, 1 + UID_BYTES);
    value.copy(out, 1 + UID_BYTES + 4);
    return out;
  }
  const body = encodeVersioned(d);
  const out = Buffer.allocUnsafe(1 + 4 + body.length);
  out[0] = OTHER;
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

/** Header + parts (of seqs from..from+parts.length-1) → one packed batch. */
export function joinPackedParts(from: number, parts: readonly Buffer[]): Buffer {
  if (parts.length === 0) throw new SyncError('SYNC_ERR_BATCH_INVALID', 'empty delta batch');
  if (!Number.isSafeInteger(from) || from < 1) throw new SyncError('SYNC_ERR_BATCH_INVALID', `from ${String(from)}`);
  let size = PACKED_HEADER_BYTES;
  for (const p of parts) size += p.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = PACKED_MARK;
  out[1] = PACKED_VERSION;
  out.writeUInt32BE(Math.floor(from / 2 ** 32), 6);
  out.writeUInt32BE(from >>> 0, 10);
  out.writeUInt32BE(parts.length, 14);
  let at = PACKED_HEADER_BYTES;
  for (const p of parts) {
    p.copy(out, at);
    at += p.length;
  }
  out.writeUInt32BE(crc32(out.subarray(6)), 2);
  return out;
}

/** Deltas (dense seqs) → one packed batch. */
export function encodePackedBatch(deltas: readonly Delta[]): Buffer {
  if (deltas.length === 0) throw new SyncError('SYNC_ERR_BATCH_INVALID', 'empty delta batch');
  return joinPackedParts(deltas[0]!.seq, deltas.map(encodePackedPart));
}

export function isPackedBatch(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === PACKED_MARK;
}

/**
 * A packed batch checked and indexed, values left in place (no copy). The
 * code changes are columns over `buf`: change i (seq `codeSeq[i]`) has its
 * uid at `buf[uidAt[i]..+16]` and its value at `buf[valueAt[i]..+valueLen[i]]`,
 * valueLen −1 for a delete. Other deltas come decoded, with their seq.
 */
export interface PackedBatch {
  readonly form: 'packed';
  readonly from: number;
  readonly to: number;
  readonly buf: Buffer;
  readonly codes: number;
  readonly codeSeq: Float64Array;
  readonly uidAt: Int32Array;
  readonly valueAt: Int32Array;
  readonly valueLen: Int32Array;
  readonly others: readonly Delta[];
}

function corrupt(detail: string): never {
  throw new SyncError('SYNC_ERR_DELTA_CORRUPT', detail);
}

/**
 * Checks a packed batch whole (checksum, every length, every value's format
 * byte) before anything is applied: a bad batch throws and leaves nothing
 * half-written, because nothing has been written yet.
 *
 *   wrong mark, short header, checksum, lengths, trailing bytes,
 *   unknown kind, a value that is not a record     → SYNC_ERR_DELTA_CORRUPT
 *   a newer layout or record format                 → SYNC_ERR_DELTA_FORMAT
 *   an OTHER delta that is not a valid delta        → SYNC_ERR_BATCH_INVALID
 */
export function decodePackedBatch(bytes: Uint8Array): PackedBatch {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < PACKED_HEADER_BYTES) corrupt(`packed batch of ${buf.length} bytes`);
  if (buf[0] !== PACKED_MARK) corrupt(`byte 0 is ${buf[0]}, not a packed batch`);
  if (buf[1] !== PACKED_VERSION) {
    throw new SyncError('SYNC_ERR_DELTA_FORMAT', `packed batch layout ${buf[1]}, this build reads ${PACKED_VERSION}: upgrade this node`);
  }
  if (crc32(buf.subarray(6)) !== buf.readUInt32BE(2)) corrupt('packed batch checksum mismatch (damaged or cut)');
  const from = buf.readUInt32BE(6) * 2 ** 32 + buf.readUInt32BE(10);
  const n = buf.readUInt32BE(14);
  if (from < 1 || !Number.isSafeInteger(from + n) || n < 1) corrupt(`packed batch range from ${from}, ${n} deltas`);
  // a part is at least 1 + 16 bytes (DELETE) or 1 + 4 + 2 (OTHER): bounds n before allocating
  if (n > (buf.length - PACKED_HEADER_BYTES) / 5) corrupt(`packed batch claims ${n} deltas in ${buf.length} bytes`);
  const codeSeq = new Float64Array(n);
  const uidAt = new Int32Array(n);
  const valueAt = new Int32Array(n);
  const valueLen = new Int32Array(n);
  const others: Delta[] = [];
  let codes = 0;
  let at = PACKED_HEADER_BYTES;
  const end = buf.length;
  for (let i = 0; i < n; i++) {
    const seq = from + i;
    if (at >= end) corrupt(`packed batch ends before delta ${seq}`);
    const kind = buf[at]!;
    if (kind === PUT) {
      if (at + 1 + UID_BYTES + 4 > end) corrupt(`delta ${seq} cut short`);
      const len = buf.readUInt32BE(at + 1 + UID_BYTES);
      const v = at + 1 + UID_BYTES + 4;
      if (len < 2 || v + len > end) corrupt(`delta ${seq}: value of ${len} bytes`);
      const fmt = buf[v]!;
      if (fmt === 0) corrupt(`delta ${seq}: value without a format byte`);
      if (fmt > FORMAT_VERSION) {
        throw new SyncError('SYNC_ERR_DELTA_FORMAT', `delta ${seq}: record format ${fmt}, this build reads up to ${FORMAT_VERSION}: upgrade this node`);
      }
      codeSeq[codes] = seq;
      uidAt[codes] = at + 1;
      valueAt[codes] = v;
      valueLen[codes] = len;
      codes++;
      at = v + len;
    } else if (kind === DELETE) {
      if (at + 1 + UID_BYTES > end) corrupt(`delta ${seq} cut short`);
      codeSeq[codes] = seq;
      uidAt[codes] = at + 1;
      valueAt[codes] = 0;
      valueLen[codes] = -1;
      codes++;
      at += 1 + UID_BYTES;
    } else if (kind === OTHER) {
      if (at + 5 > end) corrupt(`delta ${seq} cut short`);
      const len = buf.readUInt32BE(at + 1);
      if (at + 5 + len > end) corrupt(`delta ${seq}: ${len} bytes past the end`);
      others.push(otherDelta(buf.subarray(at + 5, at + 5 + len), seq));
      at += 5 + len;
    } else {
      corrupt(`delta ${seq}: unknown kind ${kind}`);
    }
  }
  if (at !== end) corrupt(`${end - at} bytes after the last delta`);
  return { form: 'packed', from, to: from + n - 1, buf, codes, codeSeq, uidAt, valueAt, valueLen, others };
}

/** One OTHER part, checked exactly as core/delta.ts checks a delta of the object form. */
function otherDelta(bytes: Buffer, seq: number): Delta {
  try {
    const d = decodeVersioned(bytes, `delta ${seq}`) as { type?: unknown };
    if (typeof d === 'object' && d !== null && d.type === 'code') throw new SyncError('SYNC_ERR_BATCH_INVALID', `delta ${seq}: a code change must be a PUT or DELETE part`);
    // one-delta batch of the object form: reuses its checks (dense seq, type, fields)
    return decodeDeltaBatch(encodeVersioned({ from: seq, to: seq, deltas: [d] })).deltas[0]!;
  } catch (err) {
    if (err instanceof CoreError) {
      throw new SyncError(err.code === 'CORE_ERR_FORMAT_VERSION' ? 'SYNC_ERR_DELTA_FORMAT' : 'SYNC_ERR_BATCH_INVALID', err.message);
    }
    throw err;
  }
}

/** A bus entry's payload in either form (the follower's one entry point). */
export type AnyDeltaBatch = DeltaBatch | PackedBatch;

export function decodeAnyDeltaBatch(bytes: Uint8Array): AnyDeltaBatch {
  return isPackedBatch(bytes) ? decodePackedBatch(bytes) : decodeDeltaBatch(bytes);
}

export function isPacked(b: AnyDeltaBatch): b is PackedBatch {
  return (b as PackedBatch).form === 'packed';
}

/** The code change i of a packed batch as a Delta of the object form (tests, tools; never the hot path). */
export function packedDeltas(b: PackedBatch): Delta[] {
  const out: Delta[] = [...b.others];
  for (let i = 0; i < b.codes; i++) {
    const uid = Buffer.from(b.buf.subarray(b.uidAt[i]!, b.uidAt[i]! + UID_BYTES));
    const len = b.valueLen[i]!;
    const record = len < 0 ? null : checkCodeRecord(decodeVersioned(b.buf.subarray(b.valueAt[i]!, b.valueAt[i]! + len), 'code record'));
    out.push({ seq: b.codeSeq[i]!, type: 'code', uid, record });
  }
  return out.sort((x, y) => x.seq - y.seq);
}
