import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisDeltaBus, redactRedisUrl } from '../../sync/bus-redis.js';
import { runDeltaBusSuite, testBatch } from '../../sync/delta-bus.common.js';
import type { DeltaBus } from '../../sync/delta-bus.js';
import { connectAdmin, deleteRunKeys, killConnections, REDIS_URL, RUN_ID, RUN_PREFIX } from './redis-env.js';

let admin: Redis;
let n = 0;
const NAME = `hc-test-bus-${RUN_ID}`;
const prefixOf = new WeakMap<DeltaBus, string>();

beforeAll(async () => {
  admin = await connectAdmin(); // throws with a clear message when Redis is down: never skip
});

afterAll(async () => {
  if (admin === undefined) return;
  await deleteRunKeys(admin);
  admin.disconnect();
});

async function open(prefix: string): Promise<RedisDeltaBus> {
  const bus = await RedisDeltaBus.connect({ url: REDIS_URL, keyPrefix: prefix, connectionName: NAME });
  prefixOf.set(bus, prefix);
  return bus;
}

runDeltaBusSuite('Redis Streams', () => open(`${RUN_PREFIX}bus${n++}:`), {
  reopen: (bus) => open(prefixOf.get(bus)!),
});

describe('RedisDeltaBus specifics', () => {
  it('fails with SYNC_ERR_BUS_UNAVAILABLE and a redacted URL when Redis cannot be reached', async () => {
    const err = await RedisDeltaBus.connect({ url: 'redis://user:secret@127.0.0.1:1', connectTimeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SYNC_ERR_BUS_UNAVAILABLE' });
    expect((err as Error).message).toContain('127.0.0.1:1');
    expect((err as Error).message).not.toContain('secret');
    expect(redactRedisUrl('redis://:pw@h:6379/2')).toBe('redis://:***@h:6379/2');
  });

  it('stores deltas under <prefix>deltas with id <toSeq>-0 and fields f, p', async () => {
    const prefix = `${RUN_PREFIX}layout:`;
    const bus = await open(prefix);
    await bus.publishDeltas(testBatch(1, 4), 1, 4);
    const raw = await admin.xrangeBuffer(`${prefix}deltas`, '-', '+');
    expect(raw).toHaveLength(1);
    expect(raw[0]![0].toString()).toBe('4-0');
    expect(raw[0]![1].map((b, i) => (i % 2 === 0 ? b.toString() : null))).toEqual(['f', null, 'p', null]);
    expect(raw[0]![1][1]!.toString()).toBe('1');
    expect(raw[0]![1][3]!.equals(testBatch(1, 4))).toBe(true);
    await bus.close();
  });

  it('knows the top of a stream emptied by an operator (XTRIM MAXLEN 0) and still refuses old ids', async () => {
    const prefix = `${RUN_PREFIX}emptied:`;
    const bus = await open(prefix);
    for (let s = 1; s <= 3; s++) await bus.publishDeltas(testBatch(s, s), s, s);
    await admin.xtrim(`${prefix}deltas`, 'MAXLEN', 0);
    expect(await bus.firstDeltaSeq()).toBeNull();
    expect(await bus.lastDeltaSeq()).toBe(3);
    expect(await bus.publishDeltas(testBatch(2, 3), 2, 3)).toBe('duplicate');
    expect(await bus.publishDeltas(testBatch(4, 4), 4, 4)).toBe('published');
    await bus.close();
  });

  it('answers "duplicate" when the last entry was deleted (XDEL) below the last generated id', async () => {
    const prefix = `${RUN_PREFIX}xdel:`;
    const bus = await open(prefix);
    for (let s = 1; s <= 3; s++) await bus.publishDeltas(testBatch(s, s), s, s);
    await admin.xdel(`${prefix}deltas`, '3-0');
    expect(await bus.publishDeltas(testBatch(3, 3), 3, 3)).toBe('duplicate');
    expect(await bus.lastDeltaSeq()).toBe(3);
    await bus.close();
  });

  it('refuses entries it did not write (no f/p fields) with SYNC_ERR_BATCH_INVALID', async () => {
    const prefix = `${RUN_PREFIX}foreign:`;
    const bus = await open(prefix);
    await admin.xadd(`${prefix}deltas`, '5-0', 'data', 'x');
    await admin.xadd(`${prefix}scans`, '*', 'data', 'x');
    await expect(bus.readDeltas(0, 10, 0)).rejects.toMatchObject({ code: 'SYNC_ERR_BATCH_INVALID' });
    await expect(bus.readScans('0-0', 10, 0)).rejects.toMatchObject({ code: 'SYNC_ERR_BATCH_INVALID' });
    await bus.close();
  });

  it('a blocking read survives its connection being killed (ioredis reconnects and re-sends it)', { timeout: 30_000 }, async () => {
    const prefix = `${RUN_PREFIX}killread:`;
    const bus = await open(prefix);
    const reading = bus.readDeltas(0, 10, 5_000).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    expect(await killConnections(admin, NAME)).toBeGreaterThan(0);
    await bus.publishDeltas(testBatch(1, 1), 1, 1); // main was killed too: this reconnects
    const got = await reading;
    // either the re-sent XREAD delivered the entry, or it failed with the bus code; never a hang or a raw error
    if (Array.isArray(got)) expect(got.map((e) => e.toSeq)).toEqual([1]);
    else expect(got).toMatchObject({ code: 'SYNC_ERR_BUS_UNAVAILABLE' });
    expect((await bus.readDeltas(0, 10, 0)).map((e) => e.toSeq)).toEqual([1]);
    await bus.close();
  });
});
