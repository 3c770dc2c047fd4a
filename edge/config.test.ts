import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEdgeConfig, loadOrCreateSessionKey, SESSION_KEY_FILE } from './config.js';
import { EdgeError } from './errors.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hc-cfg-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeError);
    expect((err as EdgeError).code).toBe('EDGE_ERR_CONFIG');
    expect((err as EdgeError).message).toContain((err as EdgeError).field!);
    return (err as EdgeError).field;
  }
  throw new Error('did not throw');
}

describe('edge config', () => {
  it('has the documented defaults, and creates the session key file 0600 on first start', () => {
    const dir = tempDir();
    const c = loadEdgeConfig({ HC_DATA_DIR: dir });
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      workers: availableParallelism(),
      dataDir: dir,
      maxLagSec: 120,
      tokenTtlSec: 3600,
      signAlg: 'Ed25519',
      keyLifetimeDays: 30,
      signThreads: 1,
      sessionCacheSize: 131_072,
      displayCacheSize: 131_072,
      scanGatherMs: 0,
    });
    expect(c.sessionKey).toHaveLength(32);
    const path = join(dir, SESSION_KEY_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(`${c.sessionKey.toString('hex')}\n`);
    // the same key on every start (admin-api reads the same file)
    expect(loadEdgeConfig({ HC_DATA_DIR: dir }).sessionKey.equals(c.sessionKey)).toBe(true);
    expect(loadOrCreateSessionKey(dir).equals(c.sessionKey)).toBe(true);
  });

  it('reads every variable', () => {
    const key = 'ab'.repeat(32);
    const c = loadEdgeConfig({
      EDGE_HOST: '0.0.0.0',
      EDGE_PORT: '9090',
      EDGE_WORKERS: '3',
      HC_DATA_DIR: tempDir(),
      HC_SESSION_KEY: key,
      EDGE_MAX_LAG_SEC: '30',
      TOKEN_TTL_SEC: '600',
      EDGE_SIGN_ALG: 'sm2',
      EDGE_KEY_LIFETIME_DAYS: '7',
      EDGE_SIGN_THREADS: '2',
      EDGE_SESSION_CACHE: '1000',
    });
    expect(c).toMatchObject({ host: '0.0.0.0', port: 9090, workers: 3, maxLagSec: 30, tokenTtlSec: 600, signAlg: 'SM2', keyLifetimeDays: 7, signThreads: 2, sessionCacheSize: 1000 });
    expect(c.sessionKey.toString('hex')).toBe(key);
  });

  it('names the variable of every bad value (EDGE_ERR_CONFIG)', () => {
    const base = { HC_DATA_DIR: tempDir(), HC_SESSION_KEY: 'ab'.repeat(32) };
    const cases: [Record<string, string>, string][] = [
      [{ EDGE_PORT: 'eighty' }, 'EDGE_PORT'],
      [{ EDGE_PORT: '70000' }, 'EDGE_PORT'],
      [{ EDGE_PORT: '-1' }, 'EDGE_PORT'],
      [{ EDGE_PORT: '0', EDGE_WORKERS: '2' }, 'EDGE_PORT'],
      [{ EDGE_WORKERS: '0' }, 'EDGE_WORKERS'],
      [{ EDGE_WORKERS: '1.5' }, 'EDGE_WORKERS'],
      [{ EDGE_HOST: 'a b' }, 'EDGE_HOST'],
      [{ EDGE_MAX_LAG_SEC: '0' }, 'EDGE_MAX_LAG_SEC'],
      [{ TOKEN_TTL_SEC: '10' }, 'TOKEN_TTL_SEC'],
      [{ EDGE_SIGN_ALG: 'RSA' }, 'EDGE_SIGN_ALG'],
      [{ EDGE_KEY_LIFETIME_DAYS: '0' }, 'EDGE_KEY_LIFETIME_DAYS'],
      [{ TOKEN_TTL_SEC: '86400', EDGE_KEY_LIFETIME_DAYS: '2' }, 'EDGE_KEY_LIFETIME_DAYS'],
      [{ EDGE_SIGN_THREADS: '100' }, 'EDGE_SIGN_THREADS'],
      [{ EDGE_SESSION_CACHE: 'big' }, 'EDGE_SESSION_CACHE'],
      [{ EDGE_SESSION_CACHE: String(2 ** 24 + 1) }, 'EDGE_SESSION_CACHE'], // above the session table's limit: refused at config, not at start
      [{ EDGE_DISPLAY_CACHE: '-1' }, 'EDGE_DISPLAY_CACHE'],
      [{ EDGE_SCAN_GATHER_MS: '51' }, 'EDGE_SCAN_GATHER_MS'],
      [{ HC_SESSION_KEY: 'abcd' }, 'HC_SESSION_KEY'],
      [{ HC_SESSION_KEY: 'zz'.repeat(32) }, 'HC_SESSION_KEY'],
    ];
    for (const [env, name] of cases) expect(fieldOf(() => loadEdgeConfig({ ...base, ...env }))).toBe(name);
  });

  it('does not echo a long secret in the error', () => {
    try {
      loadEdgeConfig({ HC_DATA_DIR: tempDir(), HC_SESSION_KEY: 'cafe'.repeat(10) });
      throw new Error('did not throw');
    } catch (err) {
      expect((err as Error).message).not.toContain('cafe'.repeat(10));
    }
  });
});
