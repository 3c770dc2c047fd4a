import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeCodeRecord, type CodeRecord } from '../core/code-record.js';
import type { Delta, DeltaBatch } from '../core/delta.js';
import { encodeDisplayEntry } from '../core/replica-layout.js';
import { ReplicaWriter, type ReplicaImage, type ReplicaImageDb } from './replica-writer.js';

/**
 * The ReplicaWriter methods the snapshot bootstrap and the follower use:
 * loadSnapshot (bulk into an empty replica, merge into a live one) and
 * applyBatches (several entries in one transaction). applyBatch itself is
 * covered by replica-writer.test.ts.
 */
function uid(i: number): Buffer {
  const u = Buffer.alloc(16);
  u.writeUInt32BE(i * 2654435761 >>> 0, 0); // spread over the key space
  u.writeUInt32BE(i, 12);
  return u;
}

function rec(color: CodeRecord['color'], seq: number, reason = 'normal'): CodeRecord {
  return { color, reason, since: 1_780_000_000, until: null, name: '张*三', notices: [], seq };
}

function memDb<K extends Uint8Array | string>(entries: [K, Uint8Array][]): ReplicaImageDb<K> {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a[0] as Uint8Array | string), Buffer.from(b[0] as Uint8Array | string)));
  const keys = new Set(sorted.map(([k]) => Buffer.from(k as Uint8Array | string).toString('latin1')));
  return {
    entries: () => sorted,
    has: (k) => keys.has(Buffer.from(k as Uint8Array | string).toString('latin1')),
  };
}

function image(seq: number, codes: [Buffer, CodeRecord][]): ReplicaImage {
  return {
    seq,
    codes: memDb(codes.map(([u, r]) => [u, encodeCodeRecord(r)] as [Uint8Array, Uint8Array])),
    venues: memDb<string>([]),
    risk: memDb<string>([]),
    rules: memDb<string>([]),
    keys: { keys: [] },
  };
}

function batch(deltas: Delta[]): DeltaBatch {
  return { from: deltas[0]!.seq, to: deltas[deltas.length - 1]!.seq, deltas };
}

describe('ReplicaWriter.loadSnapshot and applyBatches', () => {
  let dir: string;
  let w: ReplicaWriter;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-replica-snap-'));
    w = ReplicaWriter.open({ dir });
  });

  afterEach(async () => {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bulk-loads an image into an empty replica and resumes after its sequence', () => {
    const r = w.loadSnapshot(image(50, [[uid(1), rec('green', 10)], [uid(2), rec('red', 20)]]));
    expect(r.mode).toBe('bulk');
    expect(r.codes.put).toBe(2);
    expect(w.appliedSeq()).toBe(50);
    expect(w.snapshotSeq()).toBe(50);
    expect(w.code(uid(2))).toEqual(rec('red', 20));
    expect(w.applyBatch(batch([{ seq: 51, type: 'code', uid: uid(1), record: rec('yellow', 51) }]))).toHaveLength(1);
    expect(w.appliedSeq()).toBe(51);
  });

  it('merges into a live replica: writes what differs, deletes what the image lacks, keeps displays of unchanged codes', async () => {
    w.loadSnapshot(image(10, [[uid(1), rec('green', 1)], [uid(2), rec('green', 2)], [uid(3), rec('green', 3)]]));
    const entry = encodeDisplayEntry(2_000_000_000, 1, Buffer.from('{}'));
    for (const i of [1, 2, 3]) expect(await w.putDisplay(uid(i), entry, i)).toBe(true);
    const r = w.loadSnapshot(image(20, [[uid(1), rec('green', 1)], [uid(2), rec('red', 15)], [uid(4), rec('yellow', 18)]]));
    expect(r.mode).toBe('merge');
    expect(r.codes).toEqual({ put: 2, deleted: 1, unchanged: 1 });
    expect(w.code(uid(2))).toEqual(rec('red', 15));
    expect(w.code(uid(3))).toBeUndefined();
    expect(w.code(uid(4))).toEqual(rec('yellow', 18));
    expect(w.displayEntry(uid(1))).toBeDefined(); // unchanged: its signature stays valid
    expect(w.displayEntry(uid(2))).toBeUndefined();
    expect(w.displayEntry(uid(3))).toBeUndefined();
    expect(w.appliedSeq()).toBe(20);
    expect(w.counts().codes).toBe(3);
  });

  it('refuses an image older than what was applied (SYNC_ERR_SNAPSHOT_OLD) and a bad sequence (SYNC_ERR_BATCH_INVALID)', () => {
    w.loadSnapshot(image(30, [[uid(1), rec('green', 1)]]));
    expect(() => w.loadSnapshot(image(29, []))).toThrow(expect.objectContaining({ code: 'SYNC_ERR_SNAPSHOT_OLD' }));
    expect(() => w.loadSnapshot(image(-1, []))).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
    expect(w.appliedSeq()).toBe(30);
  });

  it('applyBatches: several entries in one transaction, an overlap cut, the applied seq = the last', () => {
    const b1 = batch([1, 2, 3].map((s) => ({ seq: s, type: 'code' as const, uid: uid(s), record: rec('green', s) })));
    const b2 = batch([4, 5].map((s) => ({ seq: s, type: 'code' as const, uid: uid(s), record: rec('yellow', s) })));
    expect(w.applyBatches([b1])).toHaveLength(3);
    // re-delivery of b1 with b2: b1 skipped
    const changed = w.applyBatches([b1, b2]);
    expect(changed).toHaveLength(2);
    expect(w.appliedSeq()).toBe(5);
    expect(w.applyBatches([b1, b2])).toEqual([]);
  });

  it('applyBatches: a gap anywhere writes nothing (SYNC_ERR_GAP); a malformed batch writes nothing (SYNC_ERR_BATCH_INVALID)', () => {
    const ok = batch([{ seq: 1, type: 'code', uid: uid(1), record: rec('green', 1) }]);
    const gap = batch([{ seq: 3, type: 'code', uid: uid(3), record: rec('green', 3) }]);
    expect(() => w.applyBatches([ok, gap])).toThrow(expect.objectContaining({ code: 'SYNC_ERR_GAP' }));
    expect(w.appliedSeq()).toBe(0);
    expect(w.code(uid(1))).toBeUndefined();
    expect(() => w.applyBatches([{ from: 1, to: 2, deltas: [ok.deltas[0]!] }])).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
    const badSeq = { from: 1, to: 1, deltas: [{ seq: 7, type: 'noop' } as Delta] };
    expect(() => w.applyBatches([badSeq])).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
    expect(w.appliedSeq()).toBe(0);
  });

  it('applyBatches on a mass change: uid-sorted apply keeps the last change of a uid; past maxChanged it answers null', () => {
    const deltas: Delta[] = [];
    let seq = 0;
    for (let i = 0; i < 3000; i++) deltas.push({ seq: ++seq, type: 'code', uid: uid(i), record: rec('yellow', seq) });
    // the first 10 people change again, then a venue, then one is deleted
    for (let i = 0; i < 10; i++) deltas.push({ seq: ++seq, type: 'code', uid: uid(i), record: rec('red', seq, 'again') });
    deltas.push({ seq: ++seq, type: 'venue', id: 'V1', venue: { id: 'V1', name: 'x', region: '510104', kind: 'normal', entryTestHours: null } });
    deltas.push({ seq: ++seq, type: 'code', uid: uid(5), record: null });
    const batches: DeltaBatch[] = [];
    for (let off = 0; off < deltas.length; off += 1000) batches.push(batch(deltas.slice(off, off + 1000)));
    expect(w.applyBatches(batches, 100)).toBeNull();
    expect(w.appliedSeq()).toBe(seq);
    expect(w.code(uid(0))).toMatchObject({ color: 'red', reason: 'again' });
    expect(w.code(uid(9))).toMatchObject({ color: 'red', reason: 'again' });
    expect(w.code(uid(10))).toMatchObject({ color: 'yellow' });
    expect(w.code(uid(5))).toBeUndefined();
    expect(w.venue('V1')?.name).toBe('x');
    expect(w.counts().codes).toBe(2999);
    // below maxChanged: the distinct uids
    const more = batch([{ seq: seq + 1, type: 'code', uid: uid(1), record: rec('green', seq + 1) }, { seq: seq + 2, type: 'code', uid: uid(1), record: rec('green', seq + 2) }]);
    expect(w.applyBatches([more], 100)).toHaveLength(1);
  });
});
