import { closeSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScanSpool, SPOOL_DIR, type PendingScan, type ScanEvent } from './scan-spool.js';
import { decodeRecord, encodeRecord, RECORD_BYTES, WAL_DIR } from './scan-wal.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hc-spool-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function ev(i: number, at = 1_790_000_000_000 + i): ScanEvent {
  const uid = Buffer.alloc(16, i & 0xff);
  return { kind: i % 2 ? 'verify' : 'scan', uid, venue: `V${i}`, at, color: 'green' };
}

describe('ScanSpool', () => {
  it('keeps events across close and reopen, in time order', async () => {
    const dir = tempDir();
    let s = ScanSpool.open(dir);
    // appended out of time order: the key orders them by time
    await s.append(ev(3));
    await s.append(ev(1));
    await s.append(ev(2));
    await s.close();
    s = ScanSpool.open(dir);
    expect(s.depth()).toBe(3); // still in the write-ahead file
    expect(await s.absorb()).toBe(3);
    const all = s.readBatch(null, 10);
    expect(all.map((x) => x.event.venue)).toEqual(['V1', 'V2', 'V3']);
    expect(all[0]!.event.uid).toBeInstanceOf(Buffer);
    expect(Buffer.from(all[0]!.event.uid).equals(Buffer.alloc(16, 1))).toBe(true);
    expect(all[1]!.event).toEqual({ kind: 'scan', uid: Buffer.alloc(16, 2), venue: 'V2', at: 1_790_000_000_002, color: 'green' });
    expect(s.depth()).toBe(3);
    await s.close();
  });

  it('reads in batches after a key and forgets acknowledged events', async () => {
    const s = ScanSpool.open(tempDir());
    await Promise.all(Array.from({ length: 25 }, (_, i) => s.append(ev(i))));
    expect(await s.absorb()).toBe(25);
    expect(await s.absorb()).toBe(0);
    const first = s.readBatch(null, 10);
    expect(first).toHaveLength(10);
    const second = s.readBatch(first[9]!.key, 10);
    expect(second.map((x) => x.event.venue)).toEqual(Array.from({ length: 10 }, (_, i) => `V${i + 10}`));
    const rest = s.readBatch(second[9]!.key, 10);
    expect(rest).toHaveLength(5);
    expect(s.readBatch(rest[4]!.key, 10)).toEqual([]);
    await s.ack(first.map((x) => x.key));
    expect(s.depth()).toBe(15);
    expect(s.readBatch(null, 1)[0]!.event.venue).toBe('V10');
    await s.ack([]);
    await s.close();
  });

  it('gives events of the same millisecond distinct, increasing keys', async () => {
    const s = ScanSpool.open(tempDir());
    const at = 1_790_000_000_000;
    const keys = [];
    for (let i = 0; i < 5; i++) keys.push(await s.append(ev(i, at)));
    for (let i = 1; i < keys.length; i++) expect(Buffer.compare(keys[i - 1]!, keys[i]!)).toBe(-1);
    expect(keys[0]!.readUInt32BE(8)).toBe(process.pid);
    // uint64 ms in bytes 0–7
    expect(keys[0]!.readBigUInt64BE(0)).toBe(BigInt(at));
    expect(s.depth()).toBe(5);
    await s.close();
  });
  it('commits every event of a tick in one fsync\'ed transaction, and with a gather window across ticks', async () => {
    const s = ScanSpool.open(tempDir());
    await Promise.all(Array.from({ length: 40 }, (_, i) => s.add(ev(i))));
    expect(s.commits).toBe(1);
    expect(s.written).toBe(40);
    await s.close();
    const w = ScanSpool.open(tempDir(), 30);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      pending.push(w.add(ev(i)));
      await new Promise((r) => setImmediate(r)); // the next tick: still inside the 30 ms window
    }
    await Promise.all(pending);
    expect(w.commits).toBe(1);
    expect(w.depth()).toBe(5);
    await w.close();
  });

  it('makes pending requests\' records when their group is written: one clock per group, answered only after the fdatasync', async () => {
    const dir = tempDir();
    const s = ScanSpool.open(dir);
    const log: string[] = [];
    const clocks: number[] = [];
    const done: Promise<void>[] = [];
    function pending(i: number, stage: 'ok' | 'refuse' | 'throw'): PendingScan {
      let told: (err: Error | null) => void = () => undefined;
      done.push(new Promise<void>((r) => (told = (err) => (err === null ? r() : r()))));
      const p: PendingScan = {
        prepare(spool, atMs) {
          log.push(`prepare ${i}`);
          clocks.push(atMs);
          if (stage === 'throw') throw new Error('boom');
          if (stage === 'refuse') {
            told(null); // answered its own error: not in the group
            return;
          }
          const e = ev(i, atMs);
          spool.addScanWaiter(e.kind, e.uid, 0, e.venue, e.color, atMs, p);
        },
        durable(err) {
          // the record is on disk before the waiter hears of it
          log.push(`durable ${i} ${err === null ? 'ok' : err.message} depth ${s.depth()}`);
          told(err);
        },
      };
      return p;
    }
    s.addPending(pending(1, 'ok'));
    s.addPending(pending(2, 'refuse'));
    s.addPending(pending(3, 'throw'));
    s.addPending(pending(4, 'ok'));
    // nothing is prepared before the end of the tick
    expect(log).toEqual([]);
    await Promise.all([done[0], done[1], done[3]]);
    expect(s.commits).toBe(1);
    expect(s.written).toBe(2);
    expect(new Set(clocks).size).toBe(1); // one Date.now() for the group
    expect(log).toEqual(['prepare 1', 'prepare 2', 'prepare 3', 'prepare 4', 'durable 1 ok depth 2', 'durable 4 ok depth 2']);
    // requests that arrive while a group is being written make the next group; drained() waits for them
    log.length = 0;
    s.addPending(pending(5, 'ok'));
    await new Promise((r) => setImmediate(r));
    s.addPending(pending(6, 'ok'));
    s.addPending(pending(7, 'ok'));
    await s.drained();
    expect(log.filter((l) => l.startsWith('durable'))).toEqual(['durable 5 ok depth 3', 'durable 6 ok depth 5', 'durable 7 ok depth 5']);
    expect(s.commits).toBe(3);
    expect(await absorbedVenues(s)).toEqual(['V1', 'V4', 'V5', 'V6', 'V7']);
    await s.close();
  });
});

/** the write-ahead files of a spool dir, with their modes */
function walFiles(dir: string): { name: string; mode: number; size: number }[] {
  const d = join(dir, SPOOL_DIR, WAL_DIR);
  return readdirSync(d)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((name) => {
      const st = statSync(join(d, name));
      return { name, mode: st.mode & 0o777, size: st.size };
    });
}

async function absorbedVenues(s: ScanSpool): Promise<string[]> {
  await s.absorb();
  return s.readBatch(null, 100_000).map((x) => x.event.venue);
}

describe('ScanSpool write-ahead files (edge/scan-wal.ts)', () => {
  it('encodes and decodes a record, and refuses an empty, torn or foreign slot', () => {
    const buf = Buffer.alloc(RECORD_BYTES * 2);
    const uid = Buffer.alloc(16, 7);
    encodeRecord(buf, RECORD_BYTES, 'verify', 'red', 1_790_000_000_123, 42, 9, uid, '场所-Ω-1');
    const r = decodeRecord(buf, RECORD_BYTES)!;
    expect(r).toMatchObject({ kind: 'verify', color: 'red', venue: '场所-Ω-1', at: 1_790_000_000_123 });
    expect(r.uid.equals(uid)).toBe(true);
    expect(r.key.readUInt32BE(8)).toBe(42);
    expect(r.key.readUInt32BE(12)).toBe(9);
    expect(decodeRecord(buf, 0)).toBeNull(); // zeroed slot
    const torn = Buffer.from(buf);
    torn[RECORD_BYTES + 30] ^= 1; // a bit of the uid
    expect(decodeRecord(torn, RECORD_BYTES)).toBeNull();
    const cut = Buffer.from(buf);
    cut.fill(0, RECORD_BYTES + 20, RECORD_BYTES * 2); // the write stopped in the middle of the slot
    expect(decodeRecord(cut, RECORD_BYTES)).toBeNull();
    expect(() => encodeRecord(buf, 0, 'scan', 'green', 1, 1, 1, Buffer.alloc(15), 'V')).toThrow(RangeError);
    expect(() => encodeRecord(buf, 0, 'scan', 'green', 1, 1, 1, uid, '場'.repeat(80))).toThrow(RangeError);
  });

  it('writes into a pre-zeroed file of its full size, and absorbs a torn last record without losing the ones before it', async () => {
    const dir = tempDir();
    const s = ScanSpool.open(dir, 0, { walBytes: 64 * RECORD_BYTES });
    await Promise.all(Array.from({ length: 5 }, (_, i) => s.add(ev(i))));
    const [f] = walFiles(dir);
    expect(f).toMatchObject({ size: 64 * RECORD_BYTES, mode: 0o600 });
    // a power cut tore the next group's first record: only its first 20 bytes reached the disk
    const path = join(dir, SPOOL_DIR, WAL_DIR, f!.name);
    const good = Buffer.alloc(RECORD_BYTES);
    encodeRecord(good, 0, 'scan', 'green', 1_790_000_000_999, 1, 99, Buffer.alloc(16, 9), 'TORN');
    const fd = openSync(path, 'r+');
    writeSync(fd, good, 0, 20, 5 * RECORD_BYTES);
    // and a whole record after it (never answered: it follows the torn one)
    writeSync(fd, good, 0, RECORD_BYTES, 6 * RECORD_BYTES);
    closeSync(fd);
    const reader = ScanSpool.open(dir);
    expect(reader.depth()).toBe(5);
    expect(await absorbedVenues(reader)).toEqual(['V0', 'V1', 'V2', 'V3', 'V4']);
    expect(await reader.absorb()).toBe(0); // the cursor stays at the torn slot
    await reader.close();
    await s.close();
  });

  it('starts a new file when one is full and deletes the full one once absorbed', async () => {
    const dir = tempDir();
    const s = ScanSpool.open(dir, 0, { walBytes: 8 * RECORD_BYTES });
    for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 3 }, (_, i) => s.add(ev(round * 3 + i))));
    // groups of 3 in files of 8 slots: 3+3, 3+3 — the first file was retired when the third group did not fit
    const files = walFiles(dir);
    expect(files.map((f) => f.mode)).toEqual([0o400, 0o600]);
    expect(s.depth()).toBe(12);
    expect(await absorbedVenues(s)).toEqual(Array.from({ length: 12 }, (_, i) => `V${i}`));
    expect(walFiles(dir)).toHaveLength(1);
    // a group larger than a file gets a file of its size
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.add(ev(100 + i))));
    expect(walFiles(dir).at(-1)!.size).toBe(20 * RECORD_BYTES);
    expect(await s.absorb()).toBe(20);
    await s.close();
    // closed: retired, and the next absorb deletes it
    const again = ScanSpool.open(dir);
    expect(await again.absorb()).toBe(0);
    expect(walFiles(dir)).toEqual([]);
    expect(again.depth()).toBe(32);
    await again.close();
  });

  it('zero-fills the next file in the background once the current one is half full, and skips a spare an absorber retired', async () => {
    const dir = tempDir();
    const s = ScanSpool.open(dir, 0, { walBytes: 8 * RECORD_BYTES });
    const group = (g: number): Promise<unknown> => Promise.all([s.add(ev(2 * g)), s.add(ev(2 * g + 1))]);
    for (let g = 0; g < 3; g++) await group(g);
    // 8-slot files, groups of 2: the third group found its file half full and started the spare
    await s.prepared();
    expect(walFiles(dir).map((f) => [f.mode, f.size])).toEqual([
      [0o600, 8 * RECORD_BYTES],
      [0o600, 8 * RECORD_BYTES],
    ]);
    await group(3);
    await group(4); // the first file is full: the fifth group goes into the spare, no file is made on the way
    expect(walFiles(dir).map((f) => f.mode)).toEqual([0o400, 0o600]);
    await group(5);
    await group(6);
    await s.prepared(); // the next spare
    expect(walFiles(dir)).toHaveLength(3);
    // an absorber that takes every file for idle retires the writer's file and the empty spare
    const absorber = ScanSpool.open(dir, 0, { retireIdleMs: -1 });
    await absorber.absorb();
    for (let g = 7; g < 10; g++) await group(g);
    expect(await absorbedVenues(absorber)).toEqual(Array.from({ length: 20 }, (_, i) => `V${i}`));
    await s.close();
    await absorber.absorb();
    expect(walFiles(dir)).toEqual([]);
    await absorber.close();
  });

  it('retires an idle writer\'s file; the writer then writes its next group again into a new file, so nothing is lost', async () => {
    const dir = tempDir();
    const w = ScanSpool.open(dir);
    await w.add(ev(1));
    // another process's absorber, with "idle" meaning any age
    const absorber = ScanSpool.open(dir, 0, { retireIdleMs: -1 });
    expect(await absorber.absorb()).toBe(1);
    expect(walFiles(dir)[0]!.mode).toBe(0o400);
    // the writer does not know yet: this group lands in the retired file, and again in a fresh one
    await w.add(ev(2));
    expect(walFiles(dir).map((f) => f.mode)).toEqual([0o400, 0o600]);
    await w.add(ev(3));
    expect(await absorbedVenues(absorber)).toEqual(['V1', 'V2', 'V3']);
    expect(walFiles(dir)).toHaveLength(1); // the retired one is read to its end and deleted
    await w.close();
    await absorber.close();
  });

  it('rejects the whole group when its write fails, and the next group still goes', async () => {
    const dir = tempDir();
    const s = ScanSpool.open(dir, 0, { walBytes: 4 * RECORD_BYTES });
    await s.add(ev(0));
    // no new file can be made (the directory is gone, a plain file in its place): the group that needs one fails,
    // every caller of it sees the error
    const wal = join(dir, SPOOL_DIR, WAL_DIR);
    const moved = `${wal}.away`;
    renameSync(wal, moved);
    writeFileSync(wal, '');
    const group = Array.from({ length: 5 }, (_, i) => s.add(ev(10 + i)));
    const results = await Promise.allSettled(group);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    rmSync(wal);
    renameSync(moved, wal);
    await s.add(ev(20));
    expect(await absorbedVenues(s)).toEqual(['V0', 'V20']);
    await s.close();
  });
});
