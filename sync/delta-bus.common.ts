import { afterEach, describe, expect, it } from 'vitest';
import { decodeDeltaBatch, encodeDeltaBatch, type Delta } from '../core/delta.js';
import { isTrimmedPast, SCANS_START, type BusEntry, type DeltaBus, type DeltaEntry } from './delta-bus.js';

/**
 * The one behaviour suite every DeltaBus implementation passes: run by
 * sync/bus-memory.test.ts (in-process) and test/cluster/bus-redis.test.ts
 * (real Redis). Each test gets a fresh bus on fresh streams from `makeBus`;
 * `reopen(bus)` gives a second handle on the SAME streams (another edge: a
 * second Redis connection; in-process, the same object).
 *
 * No timing assertions: a read that must wake on publish blocks for far
 * longer than the test's own timeout, so a read that does not wake fails the
 * test by timing out rather than by a measured duration.
 */
export interface BusSuiteOptions {
  readonly reopen: (bus: DeltaBus) => Promise<DeltaBus>;
}

/** A real encoded batch of noop deltas from..to (dense), plus one code delta when it fits. */
export function testBatch(from: number, to: number): Buffer {
  const deltas: Delta[] = [];
  for (let s = from; s <= to; s++) deltas.push({ seq: s, type: 'noop' });
  return encodeDeltaBatch(deltas);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

/** Everything after `afterSeq`, in pages of `page`. */
async function readAll(bus: DeltaBus, afterSeq: number, page = 50): Promise<DeltaEntry[]> {
  const out: DeltaEntry[] = [];
  let pos = afterSeq;
  for (;;) {
    const got = await bus.readDeltas(pos, page, 0);
    if (got.length === 0) return out;
    out.push(...got);
    pos = got[got.length - 1]!.toSeq;
  }
}

const LONG_BLOCK_MS = 60_000; // far beyond the per-test timeout below
const WAKE_TEST_TIMEOUT_MS = 20_000;

export function runDeltaBusSuite(name: string, makeBus: () => Promise<DeltaBus>, options: BusSuiteOptions): void {
  describe(`DeltaBus suite: ${name}`, () => {
    const open: DeltaBus[] = [];
    async function bus(): Promise<DeltaBus> {
      const b = await makeBus();
      open.push(b);
      return b;
    }
    async function reopen(b: DeltaBus): Promise<DeltaBus> {
      const r = await options.reopen(b);
      open.push(r);
      return r;
    }
    afterEach(async () => {
      for (const b of open.splice(0)) await b.close();
    });

    describe('deltas', () => {
      it('starts empty: top 0, no first entry, nothing to read', async () => {
        const b = await bus();
        expect(await b.lastDeltaSeq()).toBe(0);
        expect(await b.firstDeltaSeq()).toBeNull();
        expect(await b.readDeltas(0, 10, 0)).toEqual([]);
      });

      it('keeps entries in order with their ranges and exact payload bytes', async () => {
        const b = await bus();
        const batches: [number, number][] = [[1, 3], [4, 4], [5, 9], [10, 200]];
        for (const [f, t] of batches) expect(await b.publishDeltas(testBatch(f, t), f, t)).toBe('published');
        const got = await b.readDeltas(0, 10, 0);
        expect(got.map((e) => [e.fromSeq, e.toSeq])).toEqual(batches);
        for (const e of got) {
          expect(e.payload.equals(testBatch(e.fromSeq, e.toSeq))).toBe(true);
          const decoded = decodeDeltaBatch(e.payload);
          expect([decoded.from, decoded.to]).toEqual([e.fromSeq, e.toSeq]);
        }
        expect(await b.lastDeltaSeq()).toBe(200);
        expect(await b.firstDeltaSeq()).toBe(1);
      });

      it('reads after a position: exclusive at a boundary, the whole batch when inside one, COUNT honoured', async () => {
        const b = await bus();
        for (const [f, t] of [[1, 3], [4, 4], [5, 9], [10, 12]] as const) await b.publishDeltas(testBatch(f, t), f, t);
        expect((await b.readDeltas(3, 10, 0)).map((e) => e.fromSeq)).toEqual([4, 5, 10]);
        // a node that bootstrapped from a snapshot at 6 gets the 5..9 batch and skips 5..6 itself
        const mid = await b.readDeltas(6, 1, 0);
        expect(mid.map((e) => [e.fromSeq, e.toSeq])).toEqual([[5, 9]]);
        expect(isTrimmedPast(6, mid[0]!)).toBe(false);
        expect(await b.readDeltas(12, 10, 0)).toEqual([]);
        expect(await b.readDeltas(0, 2, 0)).toHaveLength(2);
      });

      it('carries arbitrary binary payloads unchanged', async () => {
        const b = await bus();
        const bytes = Buffer.alloc(70_000);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
        await b.publishDeltas(bytes, 1, 1);
        const [e] = await b.readDeltas(0, 1, 0);
        expect(e!.payload.equals(bytes)).toBe(true);
      });

      it('re-publishing is idempotent: a batch at or below the top is a duplicate, not an error', async () => {
        const b = await bus();
        expect(await b.publishDeltas(testBatch(1, 5), 1, 5)).toBe('published');
        expect(await b.publishDeltas(testBatch(6, 8), 6, 8)).toBe('published');
        expect(await b.publishDeltas(testBatch(6, 8), 6, 8)).toBe('duplicate'); // the same again
        expect(await b.publishDeltas(testBatch(1, 5), 1, 5)).toBe('duplicate'); // an older one
        expect(await b.publishDeltas(testBatch(1, 8), 1, 8)).toBe('duplicate'); // other boundaries, same top
        expect((await readAll(b, 0)).map((e) => [e.fromSeq, e.toSeq])).toEqual([[1, 5], [6, 8]]);
        expect(await b.lastDeltaSeq()).toBe(8);
      });

      it('keeps the stream dense: a batch that does not start right after the top is refused (not-next)', async () => {
        const b = await bus();
        await b.publishDeltas(testBatch(1, 5), 1, 5);
        expect(await b.publishDeltas(testBatch(7, 9), 7, 9)).toBe('not-next'); // would leave a gap at 6
        expect(await b.publishDeltas(testBatch(4, 9), 4, 9)).toBe('not-next'); // would overlap 4..5
        expect(await b.publishDeltas(testBatch(6, 9), 6, 9)).toBe('published');
        expect((await readAll(b, 0)).map((e) => [e.fromSeq, e.toSeq])).toEqual([[1, 5], [6, 9]]);
      });

      it('an empty stream starts wherever the first batch starts (the outbox may be pruned)', async () => {
        const b = await bus();
        expect(await b.publishDeltas(testBatch(1000, 1010), 1000, 1010)).toBe('published');
        expect(await b.firstDeltaSeq()).toBe(1000);
        expect(await b.lastDeltaSeq()).toBe(1010);
        // a node at 500 sees at once that 501..999 are not on the bus
        const [first] = await b.readDeltas(500, 1, 0);
        expect(isTrimmedPast(500, first!)).toBe(true);
      });

      it('a blocking read wakes when a batch is published', { timeout: WAKE_TEST_TIMEOUT_MS }, async () => {
        const b = await bus();
        await b.publishDeltas(testBatch(1, 2), 1, 2);
        const reading = b.readDeltas(2, 10, LONG_BLOCK_MS);
        await new Promise((r) => setTimeout(r, 50));
        await b.publishDeltas(testBatch(3, 4), 3, 4);
        expect((await reading).map((e) => [e.fromSeq, e.toSeq])).toEqual([[3, 4]]);
      });

      it('a blocking read returns [] when its wait ends with nothing published', async () => {
        const b = await bus();
        expect(await b.readDeltas(0, 10, 30)).toEqual([]);
      });

      it('every reader sees every entry (two edges reading while a publisher appends)', { timeout: 60_000 }, async () => {
        const b = await bus();
        const edgeA = await reopen(b);
        const edgeB = await reopen(b);
        const N = 120;
        async function tail(r: DeltaBus): Promise<number[]> {
          const seen: number[] = [];
          let pos = 0;
          while (pos < N * 3) {
            const got = await r.readDeltas(pos, 7, LONG_BLOCK_MS);
            for (const e of got) {
              expect(e.fromSeq).toBe(pos + 1); // dense: each entry starts right after the last
              seen.push(e.toSeq);
              pos = e.toSeq;
            }
          }
          return seen;
        }
        const a = tail(edgeA);
        const c = tail(edgeB);
        for (let i = 0; i < N; i++) {
          const f = i * 3 + 1;
          expect(await b.publishDeltas(testBatch(f, f + 2), f, f + 2)).toBe('published');
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        const expected = Array.from({ length: N }, (_, i) => i * 3 + 3);
        expect(await a).toEqual(expected);
        expect(await c).toEqual(expected);
      });

      it('trims old entries, keeps the top, and a reader behind the trim point can tell', async () => {
        const b = await bus();
        for (let s = 1; s <= 300; s++) await b.publishDeltas(testBatch(s, s), s, s);
        await b.trimDeltas(10);
        const kept = await readAll(b, 0);
        // Redis trims whole macro nodes with MAXLEN ~ (so keeps ≥ 10); in-process trims exactly
        expect(kept.length).toBeGreaterThanOrEqual(10);
        expect(kept.length).toBeLessThan(300);
        expect(kept[kept.length - 1]!.toSeq).toBe(300);
        const first = (await b.firstDeltaSeq())!;
        expect(first).toBe(kept[0]!.fromSeq);
        expect(first).toBeGreaterThan(1);
        // a reader that applied 0 (or anything before first - 1) must re-bootstrap …
        expect(isTrimmedPast(0, kept[0]!)).toBe(true);
        expect(isTrimmedPast(first - 2, (await b.readDeltas(first - 2, 1, 0))[0]!)).toBe(true);
        // … one that applied first - 1 or later continues
        expect(isTrimmedPast(first - 1, (await b.readDeltas(first - 1, 1, 0))[0]!)).toBe(false);
        // trimming never lowers the top: idempotency and density still hold
        expect(await b.lastDeltaSeq()).toBe(300);
        expect(await b.publishDeltas(testBatch(250, 250), 250, 250)).toBe('duplicate');
        expect(await b.publishDeltas(testBatch(302, 302), 302, 302)).toBe('not-next');
        expect(await b.publishDeltas(testBatch(301, 301), 301, 301)).toBe('published');
      });

      it('trimming a stream shorter than maxLen keeps everything', async () => {
        const b = await bus();
        for (let s = 1; s <= 5; s++) await b.publishDeltas(testBatch(s, s), s, s);
        await b.trimDeltas(10);
        expect(await readAll(b, 0)).toHaveLength(5);
        expect(await b.firstDeltaSeq()).toBe(1);
      });

      it('refuses bad arguments with SYNC_ERR_BUS_ARGUMENT', async () => {
        const b = await bus();
        const buf = testBatch(1, 1);
        await expectCode(b.publishDeltas(buf, 0, 1), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.publishDeltas(buf, 5, 4), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.publishDeltas(buf, 1.5, 2), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.publishDeltas(buf, 1, Number.MAX_SAFE_INTEGER + 2), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.readDeltas(-1, 10, 0), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.readDeltas(0, 0, 0), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.readDeltas(0, 10, -5), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.trimDeltas(0), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.readScans('abc', 10, 0), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.readScans('1-2-3', 10, 0), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.readScans(SCANS_START, 0, 0), 'SYNC_ERR_BUS_ARGUMENT');
        await expectCode(b.trimScans('-1'), 'SYNC_ERR_BUS_ARGUMENT');
      });
    });

    describe('close', () => {
      it('wakes blocked readers with [] and refuses every call afterwards', { timeout: WAKE_TEST_TIMEOUT_MS }, async () => {
        const b = await makeBus(); // closed here, not in afterEach
        const deltas = b.readDeltas(0, 10, LONG_BLOCK_MS);
        const scans = b.readScans(SCANS_START, 10, LONG_BLOCK_MS);
        await new Promise((r) => setTimeout(r, 50));
        await b.close();
        expect(await deltas).toEqual([]);
        expect(await scans).toEqual([]);
        await b.close(); // idempotent
        await expectCode(b.publishDeltas(testBatch(1, 1), 1, 1), 'SYNC_ERR_BUS_CLOSED');
        await expectCode(b.readDeltas(0, 1, 0), 'SYNC_ERR_BUS_CLOSED');
        await expectCode(b.lastDeltaSeq(), 'SYNC_ERR_BUS_CLOSED');
        await expectCode(b.firstDeltaSeq(), 'SYNC_ERR_BUS_CLOSED');
        await expectCode(b.trimDeltas(1), 'SYNC_ERR_BUS_CLOSED');
        await expectCode(b.appendScans([Buffer.from('x')]), 'SYNC_ERR_BUS_CLOSED');
        await expectCode(b.readScans(SCANS_START, 1, 0), 'SYNC_ERR_BUS_CLOSED');
        await expectCode(b.trimScans(SCANS_START), 'SYNC_ERR_BUS_CLOSED');
      });
    });

    describe('scans', () => {
      const scan = (eventId: number): Buffer => Buffer.from(JSON.stringify({ eventId, venue: `v${eventId % 7}` }));

      it('appends in order with increasing ids; reads after an id are exclusive', async () => {
        const b = await bus();
        await b.appendScans([scan(1), scan(2)]);
        await b.appendScans([]);
        await b.appendScans([scan(3)]);
        const all = await b.readScans(SCANS_START, 10, 0);
        expect(all.map((e) => JSON.parse(e.payload.toString()).eventId)).toEqual([1, 2, 3]);
        const after1 = await b.readScans(all[0]!.id, 10, 0);
        expect(after1.map((e) => e.id)).toEqual([all[1]!.id, all[2]!.id]);
        expect(await b.readScans(all[2]!.id, 10, 0)).toEqual([]);
        expect(await b.readScans('0', 2, 0)).toHaveLength(2); // an id without "-n" means "-0"
      });

      it('a blocking scan read wakes on append', { timeout: WAKE_TEST_TIMEOUT_MS }, async () => {
        const b = await bus();
        const reading = b.readScans(SCANS_START, 10, LONG_BLOCK_MS);
        await new Promise((r) => setTimeout(r, 50));
        await b.appendScans([scan(42)]);
        const got = await reading;
        expect(got.map((e) => JSON.parse(e.payload.toString()).eventId)).toEqual([42]);
      });

      it('reach the importer exactly once across importer crashes and edge re-sends', async () => {
        const b = await bus();
        const edge = await reopen(b);
        // The edge appends 300 scans in spool batches of 25; it re-sends two batches
        // (a crash between XADD and deleting the spool): at least once on the bus.
        const events = Array.from({ length: 300 }, (_, i) => i + 1);
        for (let i = 0; i < events.length; i += 25) {
          const batch = events.slice(i, i + 25).map(scan);
          await edge.appendScans(batch);
          if (i === 50 || i === 200) await edge.appendScans(batch);
        }

        // The master: the scans table and the importer position, changed only
        // together — one transaction (DESIGN §6; see the decision in delta-bus.ts).
        const table = new Map<number, number>(); // eventId → times inserted
        let position = SCANS_START;
        let crashes = 0;
        let steps = 0;
        async function importOnce(crashBeforeCommit: boolean): Promise<number> {
          const entries: BusEntry[] = await b.readScans(position, 40, 0);
          if (entries.length === 0) return 0;
          const staged = new Map(table); // the open transaction
          for (const e of entries) {
            const id = JSON.parse(e.payload.toString()).eventId as number;
            if (!staged.has(id)) staged.set(id, 1); // INSERT … ON CONFLICT (event id) DO NOTHING
          }
          if (crashBeforeCommit) {
            crashes++;
            throw new Error('importer killed before COMMIT');
          }
          // COMMIT: rows and position together
          for (const [k, v] of staged) table.set(k, v);
          position = entries[entries.length - 1]!.id;
          await b.trimScans(position); // after the commit; a crash before it only leaves extra entries
          return entries.length;
        }
        for (;;) {
          steps++;
          let n: number;
          try {
            n = await importOnce(steps % 3 === 2); // every third step dies before its commit
          } catch {
            continue; // the importer restarts from the position it committed
          }
          if (n === 0) break;
        }
        expect(crashes).toBeGreaterThan(3);
        expect([...table.keys()].sort((x, y) => x - y)).toEqual(events);
        expect([...table.values()].every((v) => v === 1)).toBe(true);
        // everything imported was trimmed away
        expect(await b.readScans(SCANS_START, 10, 0)).toEqual([]);
      });

      it('trimScans removes exactly the entries up to and including the id', async () => {
        const b = await bus();
        await b.appendScans([scan(1), scan(2), scan(3), scan(4)]);
        const all = await b.readScans(SCANS_START, 10, 0);
        await b.trimScans(all[1]!.id);
        expect((await b.readScans(SCANS_START, 10, 0)).map((e) => e.id)).toEqual([all[2]!.id, all[3]!.id]);
        await b.trimScans(SCANS_START); // nothing at or before 0-0
        expect(await b.readScans(SCANS_START, 10, 0)).toHaveLength(2);
      });
    });
  });
}
