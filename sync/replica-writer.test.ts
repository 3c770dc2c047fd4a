import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FORMAT_VERSION, type CodeRecord, type Color, type Venue } from '../core/code-record.js';
import { decodeDeltaBatch, encodeDeltaBatch, type Delta, type DeltaBatch } from '../core/delta.js';
import { DB_META, encodeDisplayEntry, META_FORMAT, REPLICA_MAX_DBS, REPLICA_MAX_READERS } from '../core/replica-layout.js';
import { ReplicaWriter } from './replica-writer.js';

function uid(n: number): Uint8Array {
  const u = new Uint8Array(16);
  u[0] = 0xa0;
  u[15] = n;
  return u;
}

function rec(color: Color, seq: number, name = '张*三'): CodeRecord {
  return { color, reason: color === 'green' ? 'normal' : 'close_contact', since: 1_700_000_000, until: color === 'green' ? null : 1_700_600_000, name, notices: [], seq };
}

function code(seq: number, u: Uint8Array, color: Color | null): Delta {
  return { seq, type: 'code', uid: u, record: color === null ? null : rec(color, seq) };
}

function batch(deltas: Delta[]): DeltaBatch {
  return { from: deltas[0]!.seq, to: deltas[deltas.length - 1]!.seq, deltas };
}

const venue: Venue = { id: 'v-0001', name: '春熙路店', region: '510104', kind: 'entry', entryTestHours: 24 };
const entry = encodeDisplayEntry(1_700_100_000, 7, Buffer.from('{"color":"green"}'));

let dir: string;
let w: ReplicaWriter;

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'hc-writer-')), 'replica');
  w = ReplicaWriter.open({ dir });
});

afterEach(async () => {
  await w.close();
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

describe('ReplicaWriter', () => {
  it('starts a new replica at sequence 0 with no snapshot', () => {
    expect(w.appliedSeq()).toBe(0);
    expect(w.snapshotSeq()).toBeUndefined();
    expect(w.code(uid(1))).toBeUndefined();
  });

  it('applies every delta type and stores the sequence', () => {
    const keys = { keys: [{ kid: 1, alg: 'Ed25519', publicKey: 'AAAA', notBefore: 1, notAfter: 2 }] };
    const changed = w.applyBatch(batch([
      code(1, uid(1), 'green'),
      { seq: 2, type: 'venue', id: venue.id, venue },
      { seq: 3, type: 'risk_area', region: '510104001', area: { region: '510104001', level: 'high', since: 1_700_000_000 } },
      { seq: 4, type: 'rules', version: 'r7', activeFrom: 1_700_000_000, ruleSet: { rules: [] } },
      { seq: 5, type: 'keys', keys },
      { seq: 6, type: 'noop' },
      code(7, uid(2), 'red'),
    ]));
    expect(changed.map((u) => u[15])).toEqual([1, 2]);
    expect(w.appliedSeq()).toBe(7);
    expect(w.code(uid(1))).toEqual(rec('green', 1));
    expect(w.code(uid(2))).toEqual(rec('red', 7));
    expect(w.venue(venue.id)).toEqual(venue);
    expect(w.riskArea('510104001')).toEqual({ region: '510104001', level: 'high', since: 1_700_000_000 });
    expect(w.keys()).toEqual(keys);
  });

  it('applies a batch exactly as it comes off the wire (encodeDeltaBatch → decodeDeltaBatch)', () => {
    const wire = encodeDeltaBatch([code(1, uid(1), 'yellow'), code(2, uid(3), 'green')]);
    expect(w.applyBatch(decodeDeltaBatch(wire))).toHaveLength(2);
    expect(w.code(uid(1))?.color).toBe('yellow');
    expect(w.appliedSeq()).toBe(2);
  });

  it('skips a re-delivered batch (idempotent) without undoing later changes', () => {
    const b1 = batch([code(1, uid(1), 'green'), code(2, uid(2), 'green')]);
    w.applyBatch(b1);
    w.applyBatch(batch([code(3, uid(1), 'red')]));
    expect(w.applyBatch(b1)).toEqual([]);
    expect(w.code(uid(1))?.color).toBe('red');
    expect(w.appliedSeq()).toBe(3);
  });

  it('applies only the new tail of an overlapping re-delivery', () => {
    w.applyBatch(batch([code(1, uid(1), 'green'), code(2, uid(2), 'green')]));
    w.applyBatch(batch([code(3, uid(1), 'red')]));
    const changed = w.applyBatch(batch([code(2, uid(2), 'green'), code(3, uid(1), 'red'), code(4, uid(4), 'yellow')]));
    expect(changed.map((u) => u[15])).toEqual([4]);
    expect(w.appliedSeq()).toBe(4);
  });

  it('refuses a gap with SYNC_ERR_GAP and writes nothing', async () => {
    w.applyBatch(batch([code(1, uid(1), 'green')]));
    expect(() => w.applyBatch(batch([code(3, uid(2), 'red')]))).toThrow(expect.objectContaining({ code: 'SYNC_ERR_GAP' }));
    expect(w.code(uid(2))).toBeUndefined();
    expect(w.appliedSeq()).toBe(1);
    // a new replica expects sequence 1 first
    const fresh = join(dir, '..', 'fresh');
    const w2 = ReplicaWriter.open({ dir: fresh });
    try {
      expect(() => w2.applyBatch(batch([code(2, uid(2), 'red')]))).toThrow(expect.objectContaining({ code: 'SYNC_ERR_GAP' }));
    } finally {
      await w2.close();
    }
  });

  it('deletes codes, venues and risk areas on null deltas', () => {
    w.applyBatch(batch([
      code(1, uid(1), 'green'),
      { seq: 2, type: 'venue', id: venue.id, venue },
      { seq: 3, type: 'risk_area', region: '510104', area: { region: '510104', level: 'medium', since: 1 } },
    ]));
    const changed = w.applyBatch(batch([
      code(4, uid(1), null),
      { seq: 5, type: 'venue', id: venue.id, venue: null },
      { seq: 6, type: 'risk_area', region: '510104', area: null },
    ]));
    expect(changed.map((u) => u[15])).toEqual([1]);
    expect(w.code(uid(1))).toBeUndefined();
    expect(w.venue(venue.id)).toBeUndefined();
    expect(w.riskArea('510104')).toBeUndefined();
    expect(w.appliedSeq()).toBe(6);
  });

  it('deletes the display entry of a uid whose code changes, and only then', async () => {
    w.applyBatch(batch([code(1, uid(1), 'green'), code(2, uid(2), 'green')]));
    await w.putDisplay(uid(1), entry);
    await w.putDisplay(uid(2), entry);
    expect(Buffer.from(w.displayEntry(uid(1))!)).toEqual(entry);
    w.applyBatch(batch([{ seq: 3, type: 'venue', id: venue.id, venue }, { seq: 4, type: 'noop' }]));
    expect(w.displayEntry(uid(1))).toBeDefined();
    w.applyBatch(batch([code(5, uid(1), 'red')]));
    expect(w.displayEntry(uid(1))).toBeUndefined();
    expect(w.displayEntry(uid(2))).toBeDefined();
    w.applyBatch(batch([code(6, uid(2), null)]));
    expect(w.displayEntry(uid(2))).toBeUndefined();
  });

  it('lists a uid changed twice in one batch once', () => {
    const changed = w.applyBatch(batch([code(1, uid(1), 'green'), code(2, uid(2), 'green'), code(3, uid(1), 'red')]));
    expect(changed.map((u) => u[15])).toEqual([1, 2]);
    expect(w.code(uid(1))?.color).toBe('red');
  });

  it('stores the sequence atomically with the deltas: a batch failing midway leaves nothing behind', async () => {
    w.applyBatch(batch([code(1, uid(1), 'green')]));
    await w.putDisplay(uid(1), entry);
    const bad = batch([
      code(2, uid(1), 'red'),
      code(3, uid(2), 'green'),
      { seq: 4, type: 'code', uid: new Uint8Array(15), record: rec('green', 4) },
      code(5, uid(3), 'green'),
    ]);
    expect(() => w.applyBatch(bad)).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
    expect(w.appliedSeq()).toBe(1);
    expect(w.code(uid(1))?.color).toBe('green');
    expect(w.code(uid(2))).toBeUndefined();
    expect(w.displayEntry(uid(1))).toBeDefined(); // its deletion was rolled back too
    // the corrected batch applies afterwards
    w.applyBatch(batch([code(2, uid(1), 'red'), code(3, uid(2), 'green')]));
    expect(w.appliedSeq()).toBe(3);
  });

  it('refuses malformed batches with SYNC_ERR_BATCH_INVALID', () => {
    const cases: DeltaBatch[] = [
      { from: 1, to: 3, deltas: [code(1, uid(1), 'green')] }, // not dense
      { from: 1, to: 2, deltas: [code(1, uid(1), 'green'), code(3, uid(1), 'green')] }, // seq out of step
      { from: 0, to: 0, deltas: [{ seq: 0, type: 'noop' }] }, // sequences start at 1
      { from: 2, to: 1, deltas: [] },
      { from: 1, to: 1, deltas: [{ seq: 1, type: 'nope' } as unknown as Delta] },
      { from: 1, to: 1, deltas: [{ seq: 1, type: 'venue', id: '', venue }] },
      { from: 1, to: 1, deltas: [{ seq: 1, type: 'risk_area', region: '', area: null }] },
      { from: 1, to: 1, deltas: [{ seq: 1, type: 'rules', version: '', activeFrom: 0, ruleSet: {} }] },
      { from: 1, to: 1, deltas: [{ seq: 1, type: 'code', uid: uid(1), record: 'green' as unknown as CodeRecord }] },
      { from: 1, to: 1, deltas: [null as unknown as Delta] },
    ];
    for (const b of cases) {
      expect(() => w.applyBatch(b), JSON.stringify(b)).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
    }
    expect(w.appliedSeq()).toBe(0);
  });

  it('resumes where it stopped after a reopen', async () => {
    w.applyBatch(batch([code(1, uid(1), 'green'), code(2, uid(2), 'yellow')]));
    w.setStreamId('2-0');
    await w.close();
    w = ReplicaWriter.open({ dir });
    expect(w.appliedSeq()).toBe(2);
    expect(w.streamId()).toBe('2-0');
    expect(w.code(uid(2))?.color).toBe('yellow');
    expect(() => w.applyBatch(batch([code(4, uid(1), 'red')]))).toThrow(expect.objectContaining({ code: 'SYNC_ERR_GAP' }));
    w.applyBatch(batch([code(3, uid(1), 'red')]));
    expect(w.appliedSeq()).toBe(3);
  });

  it('stores meta values: syncedAt, keys, streamId', () => {
    w.setSyncedAt(1_700_000_123_456);
    w.setKeys({ keys: [{ kid: 3 }] });
    w.setStreamId('42-0');
    expect(w.syncedAt()).toBe(1_700_000_123_456);
    expect(w.keys()).toEqual({ keys: [{ kid: 3 }] });
    expect(w.streamId()).toBe('42-0');
  });

  it('puts a display entry only while the code it was rendered from is current (ifCodeSeq)', async () => {
    w.applyBatch(batch([code(1, uid(1), 'green')]));
    // the daemon changes the code while a signature for seq 1 is in flight
    w.applyBatch(batch([code(2, uid(1), 'red')]));
    expect(await w.putDisplay(uid(1), entry, 1)).toBe(false);
    expect(w.displayEntry(uid(1))).toBeUndefined();
    expect(await w.putDisplay(uid(9), entry, 1)).toBe(false); // no code at all
    expect(w.displayEntry(uid(9))).toBeUndefined();
    expect(await w.putDisplay(uid(1), entry, 2)).toBe(true);
    expect(Buffer.from(w.displayEntry(uid(1))!)).toEqual(entry);
    await expect(w.putDisplay(new Uint8Array(3), entry)).rejects.toThrow(TypeError);
  });

  it('bulk-loads codes, venues and risk areas, then resumes deltas after markSnapshot', () => {
    const n = 70_000; // more than one progress step
    const progress: number[] = [];
    function* people(): Generator<[Uint8Array, CodeRecord]> {
      for (let i = 0; i < n; i++) {
        const u = new Uint8Array(16);
        new DataView(u.buffer).setUint32(0, i); // ascending
        yield [u, rec(i % 100 === 0 ? 'red' : 'green', i + 1)];
      }
    }
    expect(w.bulkLoadCodes(people(), (k) => progress.push(k))).toBe(n);
    expect(progress).toEqual([65_536, n]);
    expect(w.bulkLoadVenues([venue])).toBe(1);
    expect(w.bulkLoadRiskAreas([{ region: '510104', level: 'low', since: 5 }])).toBe(1);
    expect(w.appliedSeq()).toBe(0);
    w.markSnapshot(n + 2);
    expect(w.appliedSeq()).toBe(n + 2);
    expect(w.snapshotSeq()).toBe(n + 2);
    const u = new Uint8Array(16);
    new DataView(u.buffer).setUint32(0, 300);
    expect(w.code(u)).toEqual(rec('red', 301));
    expect(w.venue(venue.id)).toEqual(venue);
    expect(w.riskArea('510104')?.level).toBe('low');
    w.applyBatch(batch([code(n + 3, u, 'green')]));
    expect(w.code(u)?.color).toBe('green');
  });

  it('refuses bad bulk entries and snapshot sequences', () => {
    expect(() => w.bulkLoadCodes([[new Uint8Array(4), rec('green', 1)]])).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
    expect(() => w.bulkLoadVenues([{ ...venue, id: '' }])).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
    expect(() => w.bulkLoadRiskAreas([{ region: '', level: 'low', since: 1 }])).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
    expect(() => w.markSnapshot(-1)).toThrow(expect.objectContaining({ code: 'SYNC_ERR_BATCH_INVALID' }));
  });

  it('refuses a replica written in a newer format (SYNC_ERR_REPLICA_FORMAT)', async () => {
    await w.close();
    const env = open({ path: dir, maxDbs: REPLICA_MAX_DBS, maxReaders: REPLICA_MAX_READERS });
    await env.openDB(DB_META, {}).put(META_FORMAT, FORMAT_VERSION + 1);
    await env.close();
    expect(() => ReplicaWriter.open({ dir })).toThrow(expect.objectContaining({ code: 'SYNC_ERR_REPLICA_FORMAT' }));
    // restore so afterEach can close a writer
    const env2 = open({ path: dir, maxDbs: REPLICA_MAX_DBS, maxReaders: REPLICA_MAX_READERS });
    await env2.openDB(DB_META, {}).put(META_FORMAT, FORMAT_VERSION);
    await env2.close();
    w = ReplicaWriter.open({ dir });
  });
});
