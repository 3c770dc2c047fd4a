import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCodeRecord, checkVenue } from '../core/code-record.js';
import { ReplicaReader } from '../edge/replica-reader.js';
import {
  benchCodeRecord,
  benchRiskAreas,
  benchUid,
  benchVenue,
  benchVenueId,
  buildReplica,
  sortedOrder,
  writeBenchUid,
  type BuildProgress,
} from './build-replica.js';

const tmp = mkdtempSync(join(tmpdir(), 'hc-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bench data', () => {
  it('benchUid is the first 16 bytes of sha256("person:" + i), and the fast path agrees', () => {
    const out = new Uint8Array(16);
    for (const i of [0, 1, 9, 10, 99, 12_345, 9_999_999, 10_000_000, 113_999_999, 4_294_967_295]) {
      const ref = createHash('sha256').update(`person:${i}`).digest().subarray(0, 16);
      expect(benchUid(i)).toEqual(ref);
      writeBenchUid(i, out, 0);
      expect(Buffer.from(out)).toEqual(ref);
    }
    for (let i = 0; i < 3000; i += 7) {
      writeBenchUid(i, out, 0);
      expect(Buffer.from(out)).toEqual(benchUid(i));
    }
  });

  it('generates valid, deterministic, mostly green codes with masked names', () => {
    const counts = { green: 0, yellow: 0, red: 0 };
    for (let i = 0; i < 20_000; i++) {
      const r = checkCodeRecord(benchCodeRecord(i, 1));
      counts[r.color]++;
      expect(r.seq).toBe(i + 1);
      expect(r.name).toMatch(/^\p{Script=Han}\*\p{Script=Han}?$/u);
      if (r.color !== 'green' && r.reason !== 'confirmed' && r.reason !== 'entry_no_test') expect(r.until).toBeGreaterThan(r.since);
    }
    expect(counts.green / 20_000).toBeGreaterThan(0.95);
    expect(counts.yellow).toBeGreaterThan(0);
    expect(counts.red).toBeGreaterThan(0);
    expect(benchCodeRecord(77, 1)).toEqual(benchCodeRecord(77, 1));
    expect([0, 1, 2, 3, 4, 5, 6, 7].some((i) => JSON.stringify(benchCodeRecord(i, 1)) !== JSON.stringify(benchCodeRecord(i, 2)))).toBe(true);
  });

  it('generates valid venues, some of kind entry, and a few risk areas', () => {
    let entries = 0;
    for (let j = 0; j < 5000; j++) {
      const v = checkVenue(benchVenue(j, 1));
      expect(v.id).toBe(benchVenueId(j));
      if (v.kind === 'entry') {
        entries++;
        expect(v.entryTestHours).toBe(24);
      }
    }
    expect(entries).toBeGreaterThan(0);
    const areas = benchRiskAreas(1);
    expect(areas.length).toBeGreaterThanOrEqual(3);
    expect(areas.some((a) => a.level === 'high' && a.region.length === 9)).toBe(true);
  });

  it('sortedOrder orders uids ascending, including ties in the top bits', () => {
    for (const n of [0, 1, 2, 300, 5000]) {
      const uids = Buffer.alloc(n * 16);
      for (let i = 0; i < n; i++) writeBenchUid(i, uids, i * 16);
      // force shared prefixes so buckets hold several uids
      for (let i = 0; i < n; i += 3) uids[i * 16] = uids[i * 16 + 1] = uids[i * 16 + 2] = 0x42;
      const order = sortedOrder(uids, n);
      expect([...order].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
      for (let k = 1; k < n; k++) {
        const a = uids.subarray(order[k - 1]! * 16, order[k - 1]! * 16 + 16);
        const b = uids.subarray(order[k]! * 16, order[k]! * 16 + 16);
        expect(Buffer.compare(a, b)).toBeLessThan(0);
      }
    }
  });
});

describe('buildReplica', () => {
  it('builds a replica that an edge reader opens and reads back', async () => {
    const dir = join(tmp, 'r2000', 'replica');
    const phases = new Set<string>();
    let last: BuildProgress | undefined;
    const r = await buildReplica({ dir, people: 2000, venues: 300, seed: 1, onProgress: (p) => { phases.add(p.phase); last = p; } });
    expect(r.people).toBe(2000);
    expect(r.venues).toBe(300);
    expect(r.appliedSeq).toBe(2000 + 300 + r.riskAreas);
    expect(r.fileBytes).toBeGreaterThan(2000 * 16);
    expect([...phases]).toEqual(['uids', 'sort', 'codes', 'venues']);
    expect(last).toEqual({ phase: 'venues', done: 300, total: 300 });

    const reader = ReplicaReader.open(dir);
    try {
      expect(reader.appliedSeq()).toBe(r.appliedSeq);
      expect(reader.snapshotSeq()).toBe(r.appliedSeq);
      for (const i of [0, 1, 999, 1999]) expect(reader.code(benchUid(i))).toEqual(benchCodeRecord(i, 1));
      expect(reader.code(benchUid(2000))).toBeUndefined();
      expect(reader.venue(benchVenueId(299))).toEqual(benchVenue(299, 1));
      expect(reader.venue(benchVenueId(300))).toBeUndefined();
      for (const a of benchRiskAreas(1)) expect(reader.riskArea(a.region)).toEqual(a);
      expect(reader.displayFast(benchUid(0))).toBeUndefined(); // signed on demand by the edge
    } finally {
      await reader.close();
    }
  });

  it('refuses to overwrite an existing replica unless forced', async () => {
    const dir = join(tmp, 'again', 'replica');
    await buildReplica({ dir, people: 10, venues: 2 });
    await expect(buildReplica({ dir, people: 10, venues: 2 })).rejects.toThrow(/--force/);
    const r = await buildReplica({ dir, people: 20, venues: 1, force: true });
    expect(r.appliedSeq).toBe(20 + 1 + r.riskAreas);
    const reader = ReplicaReader.open(dir);
    try {
      expect(reader.code(benchUid(19))).toEqual(benchCodeRecord(19, 1));
      expect(reader.venue(benchVenueId(1))).toBeUndefined();
    } finally {
      await reader.close();
    }
  });

  it('refuses nonsense counts', async () => {
    await expect(buildReplica({ dir: join(tmp, 'bad'), people: -1 })).rejects.toThrow(RangeError);
    await expect(buildReplica({ dir: join(tmp, 'bad'), people: 1, venues: 1.5 })).rejects.toThrow(RangeError);
  });
});
