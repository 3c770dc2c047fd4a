import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from './stack-config.js';

const dir = mkdtempSync(join(tmpdir(), 'hc-stack-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fails(env: Record<string, string>): { code: string; field: string | undefined; message: string } {
  try {
    loadStackConfig({ HC_DATA_DIR: dir, ...env });
  } catch (err) {
    const e = err as { code: string; field?: string; message: string };
    return { code: e.code, field: e.field, message: e.message };
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('stack configuration from the environment', () => {
  it('defaults to the embedded stack of DESIGN §5', () => {
    const c = loadStackConfig({ HC_DATA_DIR: dir });
    expect(c.mode).toBe('embedded');
    expect(c.role).toBe('all');
    expect(c.databaseUrl).toBeNull();
    expect(c.redisUrl).toBeNull();
    expect(c.edge!.port).toBe(8080);
    expect(c.admin!.port).toBe(8081);
    expect(c.sync.port).toBe(8082);
    expect(c.demo).toEqual({ people: 100_000, venues: 10_000 });
    expect(c.sessionKey.length).toBeGreaterThanOrEqual(32);
    expect(c.edge!.sessionKey.equals(c.sessionKey)).toBe(true);
  });

  it('cluster mode: no demo data unless asked, a longer stream window', () => {
    const c = loadStackConfig({ HC_DATA_DIR: dir, DATABASE_URL: 'postgres://u@db:5432/hc', REDIS_URL: 'redis://r:6379' });
    expect(c.mode).toBe('cluster');
    expect(c.demo.people).toBe(0);
    expect(c.streamRetain).toBe(100_000);
    expect(c.deltaForm).toBe('objects');
    expect(loadStackConfig({ HC_DATA_DIR: dir, REDIS_URL: 'redis://r:6379', HC_DELTA_FORM: 'packed' }).deltaForm).toBe('packed');
  });

  it('an edge-only process needs no admin part and takes the session key from HC_SESSION_KEY', () => {
    const key = 'ab'.repeat(32);
    const c = loadStackConfig({ HC_DATA_DIR: dir, HC_ROLE: 'edge', REDIS_URL: 'redis://r:6379', HC_SYNC_URL: 'http://m:8082', HC_SESSION_KEY: key });
    expect(c.admin).toBeNull();
    expect(c.sessionKey.toString('hex')).toBe(key);
    const m = loadStackConfig({ HC_DATA_DIR: dir, HC_ROLE: 'master', REDIS_URL: 'redis://r:6379', HC_SESSION_KEY: key });
    expect(m.edge).toBeNull();
    expect(m.sessionKey.toString('hex')).toBe(key);
  });

  it.each([
    [{ HC_ROLE: 'both' }, 'HC_ROLE'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://r' }, 'REDIS_URL'],
    [{ HC_ROLE: 'master' }, 'REDIS_URL'],
    [{ HC_ROLE: 'edge' }, 'REDIS_URL'],
    [{ HC_ROLE: 'edge', REDIS_URL: 'redis://r' }, 'HC_SYNC_URL'],
    [{ HC_SYNC_URL: 'ftp://m' }, 'HC_SYNC_URL'],
    [{ HC_DB_SCHEMA: 'Bad-Schema' }, 'HC_DB_SCHEMA'],
    [{ HC_REDIS_PREFIX: 'has space' }, 'HC_REDIS_PREFIX'],
    [{ SYNC_HOST: 'a b' }, 'SYNC_HOST'],
    [{ SYNC_PORT: '70000' }, 'SYNC_PORT'],
    [{ SYNC_PORT: 'eighty' }, 'SYNC_PORT'],
    [{ HC_SYNC_TOKEN: 'short' }, 'HC_SYNC_TOKEN'],
    [{ HC_NODE_ID: 'bad node!' }, 'HC_NODE_ID'],
    [{ HC_NODE_ID: 'x'.repeat(40) }, 'HC_NODE_ID'],
    [{ HC_DEMO_PEOPLE: '-1' }, 'HC_DEMO_PEOPLE'],
    [{ HC_DEMO_VENUES: '1e3' }, 'HC_DEMO_VENUES'],
    [{ HC_SNAPSHOT_EVERY_SEC: '0' }, 'HC_SNAPSHOT_EVERY_SEC'],
    [{ HC_PUBLISH_POLL_MS: 'fast' }, 'HC_PUBLISH_POLL_MS'],
    [{ HC_STREAM_RETAIN: '5' }, 'HC_STREAM_RETAIN'],
    [{ HC_DB_POOL: '0' }, 'HC_DB_POOL'],
    [{ HC_DELTA_FORM: 'msgpack' }, 'HC_DELTA_FORM'],
    [{ HC_ROLE: 'master', REDIS_URL: 'redis://r', HC_SESSION_KEY: 'zz' }, 'HC_SESSION_KEY'],
  ])('%j → SYNC_ERR_CONFIG naming %s', (env, name) => {
    const e = fails(env as Record<string, string>);
    expect(e.code).toBe('SYNC_ERR_CONFIG');
    expect(e.field).toBe(name);
    expect(e.message).toContain(name);
  });

  it('the edge and admin parts report their own variables', () => {
    expect(fails({ EDGE_PORT: 'x' })).toMatchObject({ code: 'EDGE_ERR_CONFIG', field: 'EDGE_PORT' });
    expect(fails({ ADMIN_PORT: '99999' })).toMatchObject({ code: 'ADM_ERR_CONFIG', field: 'ADMIN_PORT' });
  });
});
