import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScanSpool, type ScanEvent } from './scan-spool.js';

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
});
