import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { checkCodeRecord, encodeVersioned, type CodeRecord, type Venue } from '../core/code-record.js';
import { decodeDeltaBatch, encodeDeltaBatch, type Delta, type DeltaBatch } from '../core/delta.js';
import { ReplicaReader } from '../edge/replica-reader.js';
import { MemoryDeltaBus } from './bus-memory.js';
import {
  decodeAnyDeltaBatch,
  decodePackedBatch,
  encodePackedBatch,
  packedDeltas,
  PACKED_HEADER_BYTES,
  type PackedBatch,
} from './delta-packed.js';
import { Publisher, type OutboxSource } from './publisher.js';
import { ReplicaFollower } from './replica-follower.js';
import { ReplicaWriter } from './replica-writer.js';

/**
 * The packed (pre-encoded) delta form, issue 14 item 4: round trip, the
 * replica it leaves equals the one the object form leaves (through the
 * edge's own reader), every damaged payload refused with a code and nothing
 * of it applied, and both forms on one stream.
 */
function uid(i: number): Buffer {
  const u = Buffer.alloc(16);
  u.writeUInt32BE((i * 2654435761) >>> 0, 0); // spread over the key space
  u.writeUInt32BE(i, 12);
  return u;
}

/** Two different uids with the same first 32 bits (the sort's rare tie). */
function twin(i: number): Buffer {
  const u = uid(i);
  u.writeUInt32BE(0xfffffff0 + (i & 7), 4);
  return u;
}

const COLORS: CodeRecord['color'][] = ['green', 'yellow', 'red'];

function rec(seq: number, extra: Partial<CodeRecord> = {}): CodeRecord {
  return {
    color: COLORS[seq % 3]!,
    reason: 'district_lockdown',
    since: 1_780_000_000 + seq,
    until: seq % 2 === 0 ? null : 1_780_100_000,
    name: '张*三',
    notices: seq % 5 === 0 ? [{ kind: 'entry_test', message: '请在24小时内完成核酸检测', until: 1_780_086_400 }] : [],
    seq,
    ...extra,
  };
}

const venue: Venue = { id: 'V-PACK-1', name: '成都东站', region: '510108', kind: 'entry', entryTestHours: 24 };

/**
 * A stream of `n` deltas from `from`: mostly code puts over `people` uids
 * (so uids repeat), some deletes, twins, and one of each other type.
 */
function deltas(from: number, n: number, people: number): Delta[] {
  const out: Delta[] = [];
  for (let k = 0; k < n; k++) {
    const seq = from + k;
    if (k === 3) out.push({ seq, type: 'venue', id: venue.id, venue });
    else if (k === 7) out.push({ seq, type: 'risk_area', region: '510104', area: { region: '510104', level: 'high', since: 1_780_000_000 } });
    else if (k === 11) out.push({ seq, type: 'rules', version: 'r-pack', activeFrom: 1_780_000_000, ruleSet: { rules: [] } });
    else if (k === 13) out.push({ seq, type: 'keys', keys: { keys: [{ kid: 9 }] } });
    else if (k === 17) out.push({ seq, type: 'noop' });
    else if (k % 97 === 5) out.push({ seq, type: 'code', uid: uid(seq % people), record: null });
    else if (k % 50 === 1) out.push({ seq, type: 'code', uid: twin(seq % 8), record: rec(seq) });
    else out.push({ seq, type: 'code', uid: uid(seq % people), record: rec(seq) });
  }
  return out;
}

function chunks<T>(all: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
  return out;
}

function objectBatch(ds: Delta[]): DeltaBatch {
  return decodeDeltaBatch(encodeDeltaBatch(ds));
}

function packedBatch(ds: Delta[]): PackedBatch {
  return decodePackedBatch(encodePackedBatch(ds));
}

/** Re-seals a tampered packed batch (a valid CRC), to reach the checks behind the checksum. */
function reseal(b: Buffer): Buffer {
  const out = Buffer.from(b);
  out.writeUInt32BE(crc32(out.subarray(6)), 2);
  return out;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('packed delta batches (sync/delta-packed.ts)', () => {
  const dirs: string[] = [];
  const writers: ReplicaWriter[] = [];
  const readers: ReplicaReader[] = [];

  function replica(): { w: ReplicaWriter; r: ReplicaReader } {
    const dir = mkdtempSync(join(tmpdir(), 'hc-packed-'));
    dirs.push(dir);
    const w = ReplicaWriter.open({ dir });
    writers.push(w);
    const r = ReplicaReader.attach(dir, w.rootEnv());
    readers.push(r);
    return { w, r };
  }

  afterEach(async () => {
    for (const r of readers.splice(0)) await r.close();
    for (const w of writers.splice(0)) await w.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** Everything a reader answers about the replica: every code of `uids`, the other dbs, the sequence, raw code bytes. */
  function answers(r: ReplicaReader, w: ReplicaWriter, uids: Buffer[]): unknown {
    r.refresh();
    return {
      codes: uids.map((u) => r.code(u) ?? null),
      venue: r.venue(venue.id) ?? null,
      risk: r.riskArea('510104') ?? null,
      rules: r.rules('r-pack') ?? null,
      keys: r.keys() ?? null,
      applied: r.appliedSeq(),
      counts: w.counts(),
    };
  }

  function allUids(people: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < people; i++) out.push(uid(i));
    for (let i = 0; i < 8; i++) out.push(twin(i));
    return out;
  }

  it('round trip: every delta comes back as the object form decodes it; seq range, dense', () => {
    const ds = deltas(41, 300, 50);
    const b = packedBatch(ds);
    expect(b.from).toBe(41);
    expect(b.to).toBe(340);
    expect(b.codes + b.others.length).toBe(300);
    expect(packedDeltas(b)).toEqual(objectBatch(ds).deltas.map((d) => (d.type === 'code' ? { ...d, uid: Buffer.from(d.uid) } : d)));
    // a code value is the record exactly as the replica stores it (normalised field set)
    const loose = { seq: 1, type: 'code', uid: uid(1), record: { ...rec(1), extra: 'dropped' } } as unknown as Delta;
    expect(packedDeltas(packedBatch([loose]))[0]).toEqual({ seq: 1, type: 'code', uid: uid(1), record: checkCodeRecord(rec(1)) });
    expect(decodeAnyDeltaBatch(encodeDeltaBatch(ds))).toEqual(objectBatch(ds));
    expect((decodeAnyDeltaBatch(encodePackedBatch(ds)) as PackedBatch).form).toBe('packed');
  });

  it('a build that predates the packed form refuses it cleanly (CORE_ERR_FORMAT_VERSION: upgrade this node)', () => {
    expect(codeOf(() => decodeDeltaBatch(encodePackedBatch(deltas(1, 5, 5))))).toBe('CORE_ERR_FORMAT_VERSION');
  });

  for (const [name, n, people, entry] of [
    ['a few deltas (seq-order path)', 40, 30, 16],
    ['a mass change (uid-sorted path, repeats, deletes, twins)', 6000, 2000, 1024],
  ] as const) {
    it(`leaves the same replica as the object form: ${name}`, () => {
      const ds = deltas(1, n, people);
      const viaObjects = replica();
      const viaPacked = replica();
      const groups = chunks(ds, entry);
      // a few entries per transaction, as the follower groups them
      for (const g of chunks(groups, 3)) {
        viaObjects.w.applyBatches(g.map(objectBatch));
        viaPacked.w.applyBatches(g.map(packedBatch));
      }
      const uids = allUids(people);
      const a = answers(viaObjects.r, viaObjects.w, uids);
      expect(answers(viaPacked.r, viaPacked.w, uids)).toEqual(a);
      expect((a as { applied: number }).applied).toBe(n);
      // and the stored bytes, code by code
      for (const u of uids) expect(viaPacked.w.rootEnv().openDB('codes', { keyEncoding: 'binary', encoding: 'binary' }).getBinary(u))
        .toEqual(viaObjects.w.rootEnv().openDB('codes', { keyEncoding: 'binary', encoding: 'binary' }).getBinary(u));
    });
  }

  it('the packed path lists the changed uids once each and drops their display entries; past maxChanged it answers null', () => {
    const { w, r } = replica();
    w.applyBatches([packedBatch([{ seq: 1, type: 'code', uid: uid(1), record: rec(1) }, { seq: 2, type: 'code', uid: uid(2), record: rec(2) }])]);
    w.bulkDisplays(2, (k) => [uid(k + 1), Buffer.from('\x70\x00\x00\x00\x00\x01{}', 'latin1')]);
    const ds: Delta[] = [];
    for (let s = 3; s < 3 + 3000; s++) ds.push({ seq: s, type: 'code', uid: uid(s % 3 === 0 ? 1 : s), record: rec(s) });
    const changed = w.applyBatches([packedBatch(ds)]);
    expect(changed).toHaveLength(1 + ds.filter((d) => d.seq % 3 !== 0).length);
    expect(new Set(changed!.map((u) => Buffer.from(u).toString('hex'))).size).toBe(changed!.length);
    r.refresh();
    expect(w.displayEntry(uid(1))).toBeUndefined(); // changed: its display went
    expect(w.displayEntry(uid(2))).toBeDefined(); // untouched
    expect(r.code(uid(1))!.seq).toBe(3 + 2997); // the last change of uid 1 wins
    expect(w.applyBatches([packedBatch([{ seq: 3003, type: 'code', uid: uid(5), record: rec(3003) }, { seq: 3004, type: 'code', uid: uid(6), record: rec(3004) }])], 1)).toBeNull();
  });

  describe('damaged payloads: a coded error, nothing applied', () => {
    const good = encodePackedBatch(deltas(1, 60, 40));

    const cases: [string, () => Buffer, string][] = [
      ['one flipped bit in a record', () => {
        const b = Buffer.from(good);
        b[good.length - 20]! ^= 0x04;
        return b;
      }, 'SYNC_ERR_DELTA_CORRUPT'],
      ['cut short (truncated)', () => good.subarray(0, good.length - 9), 'SYNC_ERR_DELTA_CORRUPT'],
      ['cut inside the header', () => good.subarray(0, PACKED_HEADER_BYTES - 3), 'SYNC_ERR_DELTA_CORRUPT'],
      ['trailing bytes (resealed)', () => reseal(Buffer.concat([good, Buffer.from([1, 2, 3])])), 'SYNC_ERR_DELTA_CORRUPT'],
      ['more deltas claimed than present (resealed)', () => {
        const b = Buffer.from(good);
        b.writeUInt32BE(61, 14);
        return reseal(b);
      }, 'SYNC_ERR_DELTA_CORRUPT'],
      ['an unknown part kind (resealed)', () => {
        const b = Buffer.from(good);
        b[PACKED_HEADER_BYTES] = 9;
        return reseal(b);
      }, 'SYNC_ERR_DELTA_CORRUPT'],
      ['a value length past the end (resealed)', () => {
        const b = Buffer.from(good);
        b.writeUInt32BE(0x7fffffff, PACKED_HEADER_BYTES + 17);
        return reseal(b);
      }, 'SYNC_ERR_DELTA_CORRUPT'],
      ['a newer packed layout', () => {
        const b = Buffer.from(good);
        b[1] = 2;
        return reseal(b);
      }, 'SYNC_ERR_DELTA_FORMAT'],
      ['a record of a newer format (resealed)', () => {
        const b = Buffer.from(good);
        b[PACKED_HEADER_BYTES + 21] = 9; // the first PUT's value format byte
        return reseal(b);
      }, 'SYNC_ERR_DELTA_FORMAT'],
      ['a code change hidden in an OTHER part', () => {
        const inner = encodeVersioned({ seq: 1, type: 'code', uid: uid(1), record: rec(1) });
        const part = Buffer.concat([Buffer.from([3, 0, 0, 0, 0]), inner]);
        part.writeUInt32BE(inner.length, 1);
        const noop = encodePackedBatch([{ seq: 1, type: 'noop' }]);
        return reseal(Buffer.concat([noop.subarray(0, PACKED_HEADER_BYTES), part]));
      }, 'SYNC_ERR_BATCH_INVALID'],
    ];
    for (const [name, make, code] of cases) {
      it(name, () => {
        expect(codeOf(() => decodePackedBatch(make()))).toBe(code);
      });
    }

    it('through the follower: the good entries before it are applied, the damaged one not at all, and the error is reported', async () => {
      const { w, r } = replica();
      const bus = new MemoryDeltaBus();
      const first = deltas(1, 30, 20);
      const second = deltas(31, 30, 20).map((d) => (d.type === 'code' ? { ...d, uid: uid(1000 + d.seq) } : d));
      const cut = encodePackedBatch(second).subarray(0, 200);
      expect(await bus.publishDeltas(encodePackedBatch(first), 1, 30)).toBe('published');
      expect(await bus.publishDeltas(Buffer.from(cut), 31, 60)).toBe('published');
      const errors: Error[] = [];
      const f = new ReplicaFollower({
        writer: w, bus, bootstrapWhenNew: false, blockMs: 10, minBackoffMs: 5, maxBackoffMs: 10,
        hooks: { bootstrap: async () => {}, onError: (e) => errors.push(e) },
      });
      f.start();
      try {
        await expect.poll(() => errors.length).toBeGreaterThan(0);
      } finally {
        await f.stop();
        await bus.close();
      }
      expect(errors[0]).toMatchObject({ code: 'SYNC_ERR_DELTA_CORRUPT' });
      r.refresh();
      expect(r.appliedSeq()).toBe(30);
      for (const d of second) if (d.type === 'code') expect(r.code(d.uid)).toBeUndefined();
    });
  });

  it('one stream, both forms: an objects publisher, then a packed one, then objects again; a follower applies every entry', async () => {
    const all = deltas(1, 5000, 1500);
    const source: OutboxSource = {
      async readOutbox(after, limit) {
        return all.filter((d) => d.seq > after && d.seq <= upTo).slice(0, limit);
      },
      async maxSeq() {
        return upTo;
      },
    };
    let upTo = 0;
    const bus = new MemoryDeltaBus();
    const forms: ('objects' | 'packed')[] = [];
    for (const [form, to] of [['objects', 1200], ['packed', 3900], ['objects', 5000]] as const) {
      upTo = to;
      const p = new Publisher({ bus, source, deltaForm: form, maxDeltasPerEntry: 400, pollMs: 5, verifyEveryMs: 0 });
      p.start();
      expect(await p.waitFor(to, 10_000)).toBe(true);
      await p.stop();
    }
    for (const e of await bus.readDeltas(0, 1000, 0)) forms.push(e.payload[0] === 0x50 ? 'packed' : 'objects');
    expect(forms.filter((x) => x === 'packed').length).toBeGreaterThan(0);
    expect(forms.filter((x) => x === 'objects').length).toBeGreaterThan(0);

    // the follower groups all entries of the stream into one read: mixed transactions
    const viaStream = replica();
    const f = new ReplicaFollower({ writer: viaStream.w, bus, bootstrapWhenNew: false, blockMs: 10, hooks: { bootstrap: async () => {} } });
    f.start();
    try {
      expect(await f.waitFor(5000, 10_000)).toBe(true);
    } finally {
      await f.stop();
      await bus.close();
    }
    const viaObjects = replica();
    for (const g of chunks(all, 500)) viaObjects.w.applyBatches([objectBatch(g)]);
    const uids = allUids(1500);
    expect(answers(viaStream.r, viaStream.w, uids)).toEqual(answers(viaObjects.r, viaObjects.w, uids));

    // and an explicit mixed group with an overlap already applied
    const mixed = replica();
    mixed.w.applyBatches([objectBatch(all.slice(0, 100))]);
    mixed.w.applyBatches([packedBatch(all.slice(50, 2600)), objectBatch(all.slice(2600, 4000)), packedBatch(all.slice(4000))]);
    expect(answers(mixed.r, mixed.w, uids)).toEqual(answers(viaObjects.r, viaObjects.w, uids));
  });

  it('a gap in a packed group writes nothing (SYNC_ERR_GAP); the publisher refuses an unknown deltaForm', () => {
    const { w, r } = replica();
    const ds = deltas(1, 20, 10);
    expect(codeOf(() => w.applyBatches([packedBatch(ds.slice(0, 10)), packedBatch(ds.slice(12))]))).toBe('SYNC_ERR_GAP');
    r.refresh();
    expect(r.appliedSeq()).toBe(0);
    expect(w.counts().codes).toBe(0);
    const bus = new MemoryDeltaBus();
    const source: OutboxSource = { readOutbox: async () => [], maxSeq: async () => 0 };
    expect(codeOf(() => new Publisher({ bus, source, deltaForm: 'msgpack' as 'packed' }))).toBe('SYNC_ERR_PUBLISHER_CONFIG');
  });
});

