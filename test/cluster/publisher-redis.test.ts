import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CodeRecord } from '../../core/code-record.js';
import { decodeDeltaBatch, type Delta } from '../../core/delta.js';
import { RedisDeltaBus } from '../../sync/bus-redis.js';
import type { DeltaBus } from '../../sync/delta-bus.js';
import { Publisher, type OutboxSource } from '../../sync/publisher.js';
import { connectAdmin, deleteRunKeys, killConnections, REDIS_URL, RUN_ID, RUN_PREFIX } from './redis-env.js';

// The publisher against real Redis, with the faults Redis itself produces:
// its connections killed mid-stream (CLIENT KILL — only this run's named
// connections, never other clients of a shared Redis), and the stream losing
// its tail the way a failover to a lagging replica does.

let admin: Redis;
beforeAll(async () => {
  admin = await connectAdmin(); // throws with a clear message when Redis is down: never skip
});
// stop publishers and close buses even when a test fails half-way, so that
// nothing re-creates a key after afterAll deleted this run's keys
const open: { stop(): Promise<void> }[] = [];
function track<T extends Publisher | RedisDeltaBus>(x: T): T {
  open.push(x instanceof Publisher ? x : { stop: () => x.close() });
  return x;
}
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.stop(); // publishers before their buses
});
afterAll(async () => {
  if (admin === undefined) return;
  await deleteRunKeys(admin);
  admin.disconnect();
});

function codeDelta(seq: number): Delta {
  const uid = new Uint8Array(16);
  new DataView(uid.buffer).setUint32(12, seq);
  const record: CodeRecord = { color: 'yellow', reason: 'close_contact', since: 1_700_000_000, until: null, name: '李*', notices: [], seq };
  return { seq, type: 'code', uid, record };
}

class MemoryOutbox implements OutboxSource {
  readonly rows: Delta[] = [];
  append(n: number): number {
    const base = this.rows.length;
    for (let i = 1; i <= n; i++) this.rows.push(codeDelta(base + i));
    return base + n;
  }
  async readOutbox(afterSeq: number, limit: number): Promise<Delta[]> {
    return this.rows.slice(afterSeq, afterSeq + limit); // rows[i].seq === i + 1
  }
  async maxSeq(): Promise<number> {
    return this.rows.length;
  }
}

/** Every seq on the stream, decoded, in stream order. */
async function seqsOnBus(bus: DeltaBus): Promise<number[]> {
  const seqs: number[] = [];
  let pos = 0;
  for (;;) {
    const got = await bus.readDeltas(pos, 100, 0);
    if (got.length === 0) return seqs;
    for (const e of got) {
      const b = decodeDeltaBatch(e.payload);
      expect([b.from, b.to]).toEqual([e.fromSeq, e.toSeq]);
      for (const d of b.deltas) seqs.push(d.seq);
      pos = e.toSeq;
    }
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Publisher on Redis', () => {
  it('catches up after its Redis connections are killed mid-stream, again and again: no gap, no duplicate', { timeout: 120_000 }, async () => {
    const name = `hc-test-pub-${RUN_ID}`;
    const prefix = `${RUN_PREFIX}pubkill:`;
    const bus = track(await RedisDeltaBus.connect({ url: REDIS_URL, keyPrefix: prefix, connectionName: name }));
    const outbox = new MemoryOutbox();
    const errors: Error[] = [];
    const p = track(new Publisher({ bus, source: outbox, maxDeltasPerEntry: 200, pollMs: 5, minBackoffMs: 10, maxBackoffMs: 200, onError: (e) => errors.push(e) }));
    p.start();

    // a writer commits 200 deltas every few ms while a killer cuts the
    // publisher's connections 15 times, each time once it has reconnected and
    // published more
    let killing = true;
    const writer = (async () => {
      while (killing) {
        outbox.append(200);
        p.kick();
        await sleep(3);
      }
    })();
    let kills = 0;
    while (kills < 15) {
      const before = p.metrics().publishedSeq;
      while (p.metrics().publishedSeq <= before) await sleep(2);
      const k = await killConnections(admin, name);
      kills += k;
      if (k === 0) await sleep(5); // still reconnecting
    }
    killing = false;
    await writer;
    const total = outbox.rows.length;
    expect(await p.waitFor(total, 60_000)).toBe(true);

    const reader = track(await RedisDeltaBus.connect({ url: REDIS_URL, keyPrefix: prefix }));
    expect(await seqsOnBus(reader)).toEqual(range(1, total));
    expect(await reader.lastDeltaSeq()).toBe(total);
    expect(errors.every((e) => (e as { code?: string }).code === 'SYNC_ERR_BUS_UNAVAILABLE')).toBe(true);
    // (ioredis usually absorbs a kill by re-sending after reconnecting; when a
    // command fails instead, the publisher backs off and resyncs — either way
    // the stream above is complete)
    if (process.env.HC_TEST_VERBOSE) console.log({ kills, total, errors: errors.length, resyncs: p.metrics().resyncs });
    expect(p.metrics()).toMatchObject({ publishedSeq: total, lagDeltas: 0 });
    await p.stop();
    await reader.close();
    await bus.close();
  });

  it('re-publishes the tail a failover lost (stream replaced by a copy of its first entries)', { timeout: 60_000 }, async () => {
    const prefix = `${RUN_PREFIX}pubfailover:`;
    const key = `${prefix}deltas`;
    const bus = track(await RedisDeltaBus.connect({ url: REDIS_URL, keyPrefix: prefix }));
    const outbox = new MemoryOutbox();
    outbox.append(3000);
    const p = track(new Publisher({ bus, source: outbox, maxDeltasPerEntry: 100, pollMs: 5, verifyEveryMs: 20, minBackoffMs: 10 }));
    p.start();
    expect(await p.waitFor(3000, 30_000)).toBe(true);

    // the "promoted replica" has only the first 12 entries (seqs 1..1200)
    const entries = await admin.xrangeBuffer(key, '-', '+');
    expect(entries).toHaveLength(30);
    // atomically (MULTI), as a promotion is: the publisher's verify() may look at any moment
    const swap = admin.multi().del(key);
    for (const [id, fields] of entries.slice(0, 12)) swap.xadd(key, id, ...fields);
    const results = await swap.exec();
    expect(results!.every(([err]) => err === null)).toBe(true);

    outbox.append(500);
    p.kick();
    while ((await bus.lastDeltaSeq()) < 3500) await sleep(10);
    expect(await seqsOnBus(bus)).toEqual(range(1, 3500));
    expect(p.metrics().resyncs).toBeGreaterThanOrEqual(1);
    await p.stop();
    await bus.close();
  });

  it('waits out a bus that is closed under it, reporting SYNC_ERR_BUS_CLOSED, and stops cleanly', { timeout: 30_000 }, async () => {
    const prefix = `${RUN_PREFIX}pubclosed:`;
    const bus = track(await RedisDeltaBus.connect({ url: REDIS_URL, keyPrefix: prefix }));
    const outbox = new MemoryOutbox();
    const errors: Error[] = [];
    const p = track(new Publisher({ bus, source: outbox, pollMs: 5, minBackoffMs: 10, maxBackoffMs: 20, onError: (e) => errors.push(e) }));
    p.start();
    outbox.append(10);
    expect(await p.waitFor(10, 10_000)).toBe(true);
    await bus.close();
    outbox.append(10);
    p.kick();
    while (errors.length === 0) await sleep(5);
    expect(errors[0]).toMatchObject({ code: 'SYNC_ERR_BUS_CLOSED' });
    await p.stop();
  });
});
