import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../stack-config.js';
import { databaseUrlProblem, needsFailoverPool, parsePostgresUrl } from './pg-failover.js';

const dir = mkdtempSync(join(tmpdir(), 'hc-pg-ha-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('libpq multi-host URLs (DATABASE_URL, DATABASE_READ_URL)', () => {
  it('splits hosts, keeps credentials, database and other parameters per host, reads target_session_attrs', () => {
    const p = parsePostgresUrl('postgres://hc:p%40ss@10.0.4.41:5432,10.0.4.42,[fd00::43]:6432/healthcode?sslmode=require&target_session_attrs=read-write');
    expect(p.hosts).toEqual([{ host: '10.0.4.41', port: 5432 }, { host: '10.0.4.42', port: 5432 }, { host: '[fd00::43]', port: 6432 }]);
    expect(p.targetSessionAttrs).toBe('read-write');
    expect(p.hostUrls).toEqual([
      'postgres://hc:p%40ss@10.0.4.41:5432/healthcode?sslmode=require',
      'postgres://hc:p%40ss@10.0.4.42:5432/healthcode?sslmode=require',
      'postgres://hc:p%40ss@[fd00::43]:6432/healthcode?sslmode=require',
    ]);
    expect(parsePostgresUrl('postgresql://db/x').targetSessionAttrs).toBe('any');
  });

  it('the failover pool is used for several hosts or an explicit target_session_attrs, not for a plain URL', () => {
    expect(needsFailoverPool('postgres://u@a:5432,b:5432/db')).toBe(true);
    expect(needsFailoverPool('postgres://u@a/db?target_session_attrs=prefer-standby')).toBe(true);
    expect(needsFailoverPool('postgres://u@a:5432/db')).toBe(false);
  });

  it.each([
    ['mysql://a/b'],
    ['postgres://'],
    ['postgres://u@a:5432,,b/db'],
    ['postgres://u@a:99999/db'],
    ['postgres://u@a b/db'],
    ['postgres://u@a/db?target_session_attrs=writable'],
  ])('%s is refused with a reason', (url) => {
    expect(databaseUrlProblem(url)).toEqual(expect.any(String));
  });

  it('stack-config takes multi-host URLs and an optional read replica; bad ones → SYNC_ERR_CONFIG naming the variable', () => {
    const c = loadStackConfig({
      HC_DATA_DIR: dir, HC_ROLE: 'master', REDIS_URL: 'redis://r', HC_SESSION_KEY: 'ab'.repeat(32),
      DATABASE_URL: 'postgres://hc@a:5432,b:5432/hc?target_session_attrs=read-write',
      DATABASE_READ_URL: 'postgres://hc@b:5432,a:5432/hc?target_session_attrs=prefer-standby',
    });
    expect(c.databaseUrl).toContain('a:5432,b:5432');
    expect(c.databaseReadUrl).toContain('prefer-standby');
    expect(loadStackConfig({ HC_DATA_DIR: dir }).databaseReadUrl).toBeNull();
    const fail = (env: Record<string, string>) => {
      try {
        loadStackConfig({ HC_DATA_DIR: dir, ...env });
      } catch (err) {
        return { code: (err as { code: string }).code, field: (err as { field?: string }).field };
      }
      throw new Error('accepted');
    };
    expect(fail({ DATABASE_URL: 'postgres://a:1,b:x/db' })).toEqual({ code: 'SYNC_ERR_CONFIG', field: 'DATABASE_URL' });
    expect(fail({ DATABASE_URL: 'postgres://a/db', DATABASE_READ_URL: 'http://x' })).toEqual({ code: 'SYNC_ERR_CONFIG', field: 'DATABASE_READ_URL' });
    expect(fail({ DATABASE_READ_URL: 'postgres://a/db' })).toEqual({ code: 'SYNC_ERR_CONFIG', field: 'DATABASE_READ_URL' });
  });
});
