import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeySet } from '../core/key-set.js';
import { verifyTf1 } from '../core/token.js';
import { EdgeError } from './errors.js';
import { ensureNodeKeys, publicNodeKeys, readNodeKeys, rotateNodeKey } from './node-keys.js';
import { SignPool } from './sign-pool.js';

const now = Math.floor(Date.now() / 1000);
let dir: string;
let pool: SignPool;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-sign-'));
  ensureNodeKeys(dir, { alg: 'Ed25519', lifetimeSec: 30 * 86_400, now });
  pool = new SignPool({ dataDir: dir, threads: 1 });
});
afterAll(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

function uidOf(i: number): Buffer {
  const u = Buffer.alloc(16);
  u.writeUInt32BE(i, 12);
  return u;
}

describe('SignPool', () => {
  it('signs a burst in one batched task, each token verifying with the published key', async () => {
    const [key] = readNodeKeys(dir)!;
    const keys = new KeySet(publicNodeKeys([key!]));
    const tasksBefore = pool.tasks;
    const tokens = await Promise.all(
      Array.from({ length: 100 }, (_, i) => pool.sign(key!.kid, { uid: uidOf(i), color: (i % 3) as 0 | 1 | 2, iat: now, exp: now + 3600 })),
    );
    expect(pool.tasks - tasksBefore).toBe(1);
    expect(pool.threads).toBe(1);
    tokens.forEach((t, i) => {
      const c = verifyTf1(t, keys, now + 1);
      expect(c.uid.equals(uidOf(i))).toBe(true);
      expect(c.color).toBe(i % 3);
      expect([c.iat, c.exp, c.kid]).toEqual([now, now + 3600, key!.kid]);
    });
    expect(pool.latencyCount).toBeGreaterThanOrEqual(100);
  });

  it('splits a large burst into tasks of maxBatch', async () => {
    const small = new SignPool({ dataDir: dir, threads: 1, maxBatch: 10 });
    try {
      const [key] = readNodeKeys(dir)!;
      await Promise.all(Array.from({ length: 35 }, (_, i) => small.sign(key!.kid, { uid: uidOf(i), color: 0, iat: now, exp: now + 60 })));
      expect(small.tasks).toBe(4);
    } finally {
      await small.close();
    }
  });

  it('picks up a key rotated after the pool started (no restart)', async () => {
    const fresh = rotateNodeKey(dir, { alg: 'SM2', lifetimeSec: 30 * 86_400, now });
    const t = await pool.sign(fresh.kid, { uid: uidOf(1), color: 2, iat: now, exp: now + 60 });
    const c = verifyTf1(t, new KeySet(publicNodeKeys(readNodeKeys(dir)!)), now);
    expect([c.kid, c.alg, c.color]).toEqual([fresh.kid, 2, 2]);
  });

  it('rejects an unknown kid and a token outside the key window with EDGE_ERR_SIGNING', async () => {
    const known = new Set(readNodeKeys(dir)!.map((k) => k.kid));
    let unknown = 1;
    while (known.has(unknown)) unknown++;
    await expect(pool.sign(unknown, { uid: uidOf(1), color: 0, iat: now, exp: now + 60 })).rejects.toMatchObject({ code: 'EDGE_ERR_SIGNING' });
    const [key] = readNodeKeys(dir)!;
    const err = await pool.sign(key!.kid, { uid: uidOf(1), color: 0, iat: now, exp: key!.notAfter + 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgeError);
    expect((err as EdgeError).message).toMatch(/CORE_ERR_TF1_KEY_WINDOW|window/);
    // the pool still works afterwards
    await expect(pool.sign(key!.kid, { uid: uidOf(2), color: 0, iat: now, exp: now + 60 })).resolves.toMatch(/^TF1:/);
  });

  it('refuses work once closed', async () => {
    const p = new SignPool({ dataDir: dir, threads: 1 });
    await p.close();
    await expect(p.sign(1, { uid: uidOf(1), color: 0, iat: now, exp: now + 60 })).rejects.toMatchObject({ code: 'EDGE_ERR_SIGNING' });
  });
});
