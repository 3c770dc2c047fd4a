import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../stack-config.js';
import { reconnectOnFailover, withSentinel } from './redis-connection.js';

const dir = mkdtempSync(join(tmpdir(), 'hc-redis-ha-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EDGE = { HC_DATA_DIR: dir, HC_ROLE: 'edge', HC_SYNC_URL: 'http://m:8082', HC_SESSION_KEY: 'ab'.repeat(32) };

function fails(env: Record<string, string>): { code: string; field: string | undefined } {
  try {
    loadStackConfig({ HC_DATA_DIR: dir, ...env });
  } catch (err) {
    const e = err as { code: string; field?: string };
    return { code: e.code, field: e.field };
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('Redis Sentinel configuration (REDIS_SENTINELS, REDIS_SENTINEL_NAME)', () => {
  it('sentinels alone are enough for an edge: REDIS_URL becomes optional, scans WAIT for one replica', () => {
    const c = loadStackConfig({ ...EDGE, REDIS_SENTINELS: '10.0.3.31:26379, 10.0.3.32 ,[fd00::33]:26380', REDIS_SENTINEL_NAME: 'hc-main' });
    expect(c.redisSentinel).toEqual({
      name: 'hc-main',
      sentinels: [{ host: '10.0.3.31', port: 26379 }, { host: '10.0.3.32', port: 26379 }, { host: 'fd00::33', port: 26380 }],
    });
    expect(c.redisUrl).not.toBeNull();
    expect(c.mode).toBe('cluster');
    expect(c.redisWaitReplicas).toBe(1);
  });

  it('REDIS_URL still gives the password and database; HC_REDIS_WAIT_REPLICAS overrides the default', () => {
    const c = loadStackConfig({
      ...EDGE, REDIS_URL: 'redis://:pw@ignored:6379/2', REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_PASSWORD: 'spw', HC_REDIS_WAIT_REPLICAS: '0',
    });
    expect(c.redisUrl).toBe('redis://:pw@ignored:6379/2');
    expect(c.redisSentinel?.password).toBe('spw');
    expect(c.redisWaitReplicas).toBe(0);
    expect(loadStackConfig({ ...EDGE, REDIS_URL: 'redis://r' }).redisWaitReplicas).toBe(0);
  });

  it.each([
    [{ REDIS_SENTINELS: 'a:1' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'bad name' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_SENTINEL_NAME: 'm', REDIS_URL: 'redis://r' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_SENTINEL_PASSWORD: 'x', REDIS_URL: 'redis://r' }, 'REDIS_SENTINEL_PASSWORD'],
    [{ REDIS_SENTINELS: 'a:99999', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'a b:1', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: ',,', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'a:1,a:1', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', HC_REDIS_WAIT_REPLICAS: 'two' }, 'HC_REDIS_WAIT_REPLICAS'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', HC_REDIS_WAIT_REPLICAS: '17' }, 'HC_REDIS_WAIT_REPLICAS'],
  ])('%j → SYNC_ERR_CONFIG naming %s', (env, field) => {
    expect(fails({ ...EDGE, ...env })).toEqual({ code: 'SYNC_ERR_CONFIG', field });
  });

  it('ioredis options: sentinels, the name, reconnect-and-resend on READONLY only', () => {
    const base = { connectTimeout: 1 };
    expect(withSentinel(base, null)).toBe(base);
    const o = withSentinel(base, { sentinels: [{ host: 'a', port: 1 }], name: 'm', password: 'p' });
    expect(o).toMatchObject({ connectTimeout: 1, sentinels: [{ host: 'a', port: 1 }], name: 'm', role: 'master', sentinelPassword: 'p' });
    // see redis-connection.ts: ioredis' failover detector can end the client for good mid-reconnect
    expect(o.failoverDetector).toBeUndefined();
    expect(o.sentinelRetryStrategy!(1000)).toBeGreaterThan(0); // never gives up (null would)
    expect(reconnectOnFailover(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnFailover(new Error('MASTERDOWN Link with MASTER is down'))).toBe(2);
    expect(reconnectOnFailover(new Error('ERR wrong number of arguments'))).toBe(false);
  });
});
