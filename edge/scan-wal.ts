import { closeSync, fchmodSync, fdatasync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Color } from '../core/code-record.js';

/**
 * The scan write-ahead file (issue 14): where an edge server process makes a
 * scan durable before it answers. One file per writing process, created
 * PRE-ZEROED at its full size and fsync'ed once, so that every later group
 * write lands in blocks that are already allocated and written: fdatasync
 * then flushes data pages only — no extent conversion, no size change, no
 * metadata journal commit, one device flush. An fsync'ed LMDB commit does two
 * syncs (data pages, then the meta page) and the B-tree work of the write
 * transaction; measured in bench:edge it is the scan path's largest cost.
 *
 * Records are fixed-size (RECORD_BYTES) slots written back to back; a group
 * of scans is ONE pwrite of its slots and ONE fdatasync. Layout of a slot:
 *
 *   0–3    CRC-32 (IEEE) of bytes 4 … 40+venue length
 *   4      MAGIC (0 = empty slot: the file is pre-zeroed)
 *   5      kind: 1 scan, 2 verify
 *   6      colour: 0 green, 1 yellow, 2 red
 *   7      venue id length in UTF-8 bytes (≤ MAX_VENUE_BYTES)
 *   8–23   the spool key (edge/scan-spool.ts: uint64 ms, uint32 writer, uint32 counter)
 *   24–39  uid (16 bytes)
 *   40–    venue id, UTF-8; the rest of the slot stays zero
 *
 * A reader takes slots in order and stops at the first that is empty or
 * fails its CRC. Groups are written one at a time, each after the previous
 * one's fdatasync returned, so every ANSWERED scan lies before the first bad
 * slot: a record torn by a power cut can only be in the last, unanswered
 * group.
 *
 * Retiring a file (the absorber in edge/scan-spool.ts, or the writer itself
 * when the file is full or the process closes the spool) clears the owner's
 * write bit (mode 0400). The writer checks its file's mode with one fstat
 * after every fdatasync; if the file was retired under it, it writes the
 * group again into a fresh file before answering. Since the absorber reads a
 * retired file only AFTER the chmod, a group is either in what it reads or
 * written again (a repeat, which the shipper's ids make harmless).
 */
export const RECORD_BYTES = 256;
export const MAGIC = 0xa5;
/** 64 UTF-16 characters (MAX_VENUE_ID) are at most 192 UTF-8 bytes */
export const MAX_VENUE_BYTES = RECORD_BYTES - 40;
export const WAL_DIR = 'wal';
export const WAL_SUFFIX = '.wal';
/** default file size: 65 536 slots; pre-zeroing it costs ≈ 10–50 ms, done in the background (scan-spool.ts prepares the next file once the current one is half full) */
export const DEFAULT_WAL_BYTES = 16 * 1024 * 1024;

const KIND_CODE = { scan: 1, verify: 2 } as const;
const KIND_NAME = [undefined, 'scan', 'verify'] as const;
const COLOR_CODE: Record<Color, number> = { green: 0, yellow: 1, red: 2 };
const COLOR_NAME: readonly Color[] = ['green', 'yellow', 'red'];

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (IEEE, the zlib one) of buf[from, to): a table loop, no allocation (zlib.crc32 would need a subarray per record) */
export function crc32(buf: Uint8Array, from: number, to: number): number {
  let c = -1;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * Writes one record into `buf` at `off` (a whole slot: the caller's buffer
 * must be zero past the venue, or reused slots carry old bytes past it —
 * harmless, the CRC covers only up to the venue's end).
 */
export function encodeRecord(buf: Buffer, off: number, kind: 'scan' | 'verify', color: Color, atMs: number, writer: number, counter: number, uid: Uint8Array, venue: string | Uint8Array, uidOff = 0): void {
  let len: number;
  if (typeof venue === 'string') {
    len = buf.write(venue, off + 40, MAX_VENUE_BYTES, 'utf8');
    if (len === MAX_VENUE_BYTES && Buffer.byteLength(venue) > MAX_VENUE_BYTES) throw new RangeError(`venue id longer than ${MAX_VENUE_BYTES} UTF-8 bytes`);
  } else {
    // already UTF-8 (the scan path keeps each venue id's bytes): a byte copy, no string encoding
    len = venue.length;
    if (len > MAX_VENUE_BYTES) throw new RangeError(`venue id longer than ${MAX_VENUE_BYTES} UTF-8 bytes`);
    for (let k = 0; k < len; k++) buf[off + 40 + k] = venue[k]!;
  }
  if (uidOff === 0 ? uid.length !== 16 : uid.length < uidOff + 16) throw new RangeError('uid must be 16 bytes');
  buf[off + 4] = MAGIC;
  buf[off + 5] = KIND_CODE[kind];
  buf[off + 6] = COLOR_CODE[color];
  buf[off + 7] = len;
  // the spool key (scan-spool.ts), written in place: no key buffer per scan
  buf.writeUInt32BE(Math.floor(atMs / 2 ** 32), off + 8);
  buf.writeUInt32BE(atMs >>> 0, off + 12);
  buf.writeUInt32BE(writer, off + 16);
  buf.writeUInt32BE(counter, off + 20);
  for (let k = 0; k < 16; k++) buf[off + 24 + k] = uid[uidOff + k]!;
  buf.writeUInt32BE(crc32(buf, off + 4, off + 40 + len), off);
}

export interface WalRecord {
  readonly key: Buffer;
  readonly kind: 'scan' | 'verify';
  readonly uid: Buffer;
  readonly venue: string;
  readonly at: number;
  readonly color: Color;
}

/** The record in the slot at `off`, or null if the slot is empty, torn or not a record. */
export function decodeRecord(buf: Buffer, off: number): WalRecord | null {
  if (buf[off + 4] !== MAGIC) return null;
  const len = buf[off + 7]!;
  if (len > MAX_VENUE_BYTES) return null;
  if (crc32(buf, off + 4, off + 40 + len) !== buf.readUInt32BE(off)) return null;
  const kind = KIND_NAME[buf[off + 5]!];
  const color = COLOR_NAME[buf[off + 6]!];
  if (kind === undefined || color === undefined) return null;
  const key = Buffer.from(buf.subarray(off + 8, off + 24));
  const at = key.readUInt32BE(0) * 2 ** 32 + key.readUInt32BE(4);
  return { key, kind, uid: Buffer.from(buf.subarray(off + 24, off + 40)), venue: buf.toString('utf8', off + 40, off + 40 + len), at, color };
}

/** True if the file's owner-write bit is clear: nobody writes it any more (see the module comment). */
export function isRetiredMode(mode: number): boolean {
  return (mode & 0o200) === 0;
}

const ZEROS = Buffer.alloc(1024 * 1024);

/**
 * One process's open write-ahead file: `slots` slots, `next` the first free
 * one. Created pre-zeroed and fsync'ed, and its directory entry fsync'ed, so
 * that after a crash the file is there with every group written into it.
 */
export class WalFile {
  next = 0;
  private constructor(
    readonly fd: number,
    readonly name: string,
    readonly slots: number,
  ) {}

  static create(dir: string, name: string, bytes: number): WalFile {
    const slots = Math.max(1, Math.floor(bytes / RECORD_BYTES));
    const size = slots * RECORD_BYTES;
    const fd = openSync(join(dir, name), 'wx+', 0o600);
    try {
      for (let pos = 0; pos < size; pos += ZEROS.length) writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, size - pos), pos);
      fsyncSync(fd);
      const d = openSync(dir, 'r');
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new WalFile(fd, name, slots);
  }

  /**
   * The same as `create`, on the libuv pool: the spool prepares its next
   * file this way while the current one fills, so a rotation does not stall
   * the event loop for the zero-fill (≈ 10–50 ms for 16 MiB here).
   */
  static async createAsync(dir: string, name: string, bytes: number): Promise<WalFile> {
    const slots = Math.max(1, Math.floor(bytes / RECORD_BYTES));
    const size = slots * RECORD_BYTES;
    const fh = await fsp.open(join(dir, name), 'wx+', 0o600);
    try {
      for (let pos = 0; pos < size; pos += ZEROS.length) await fh.write(ZEROS, 0, Math.min(ZEROS.length, size - pos), pos);
      await fh.sync();
      const d = await fsp.open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    // keep the descriptor, not the FileHandle: the hot path uses the synchronous fd calls
    const fd = openSync(join(dir, name), 'r+');
    await fh.close();
    return new WalFile(fd, name, slots);
  }

  /** Slots still free. */
  free(): number {
    return this.slots - this.next;
  }

  /** pwrite of `count` slots from `buf` at the next free slot (into the page cache; durable after `sync`). */
  write(buf: Buffer, count: number): number {
    const first = this.next;
    const bytes = count * RECORD_BYTES;
    let done = 0;
    while (done < bytes) done += writeSync(this.fd, buf, done, bytes - done, first * RECORD_BYTES + done);
    this.next += count;
    return first;
  }

  /** fdatasync on the libuv pool: the event loop keeps serving, and the next group gathers meanwhile. */
  sync(cb: (err: Error | null) => void): void {
    fdatasync(this.fd, cb);
  }

  /** Was this file retired under us (see the module comment)? */
  retired(): boolean {
    return isRetiredMode(fstatSync(this.fd).mode);
  }

  /** Reads back `count` slots from `first` (to write a group again elsewhere). */
  readSlots(first: number, count: number): Buffer {
    const buf = Buffer.alloc(count * RECORD_BYTES);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, first * RECORD_BYTES + done);
      if (n === 0) break;
      done += n;
    }
    return buf;
  }

  /** Closes without retiring (the file was retired under us, or the process is going away). */
  close(): void {
    closeSync(this.fd);
  }

  /** Marks the file retired (nobody writes it any more) and closes it. */
  retireAndClose(): void {
    try {
      fchmodSync(this.fd, 0o400);
    } finally {
      closeSync(this.fd);
    }
  }
}

export function walDir(spoolPath: string): string {
  const dir = join(spoolPath, WAL_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
