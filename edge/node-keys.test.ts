import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KeySet } from '../core/key-set.js';
import { signTf1, verifyTf1 } from '../core/token.js';
import { EdgeError } from './errors.js';
import {
  chooseSigningKey,
  ensureNodeKeys,
  nodeKeysPath,
  NodeKeyWatcher,
  publicNodeKeys,
  readNodeKeys,
  rotateIfDue,
  rotateNodeKey,
} from './node-keys.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hc-keys-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const now = 1_790_000_000;
const DAY = 86_400;
const opts = { alg: 'Ed25519' as const, lifetimeSec: 30 * DAY, now };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeError);
    return (err as EdgeError).code;
  }
  throw new Error('did not throw');
}

describe('node keys', () => {
  it('generates one key on first start, in a 0600 file, and keeps it', () => {
    const dir = tempDir();
    const [k] = ensureNodeKeys(dir, opts);
    expect(k!.alg).toBe('Ed25519');
    expect(k!.kid).toBeGreaterThan(0);
    expect(k!.kid).toBeLessThan(0x10000);
    expect([k!.notBefore, k!.notAfter]).toEqual([now, now + 30 * DAY]);
    expect(statSync(nodeKeysPath(dir)).mode & 0o777).toBe(0o600);
    expect(ensureNodeKeys(dir, opts)).toEqual([k]);
    // the file signs tokens that its public half verifies
    const token = signTf1(k!, { uid: Buffer.alloc(16, 7), color: 0, iat: now, exp: now + 3600 });
    const claims = verifyTf1(token, new KeySet(publicNodeKeys([k!])), now + 1);
    expect(claims.kid).toBe(k!.kid);
  });

  it('makes SM2 keys too', () => {
    const [k] = ensureNodeKeys(tempDir(), { ...opts, alg: 'SM2' });
    expect(k!.alg).toBe('SM2');
    expect(Buffer.from(k!.publicKey, 'base64url')).toHaveLength(65);
  });

  it('avoids kids already published by other nodes', () => {
    const avoid = Array.from({ length: 0xffff }, (_, i) => i + 1).filter((k) => k !== 4242);
    const [k] = ensureNodeKeys(tempDir(), { ...opts, avoidKids: avoid });
    expect(k!.kid).toBe(4242);
  });

  it('refuses a key file others can read, and a malformed one, with EDGE_ERR_KEY_FILE', () => {
    const dir = tempDir();
    ensureNodeKeys(dir, opts);
    chmodSync(nodeKeysPath(dir), 0o644);
    expect(codeOf(() => readNodeKeys(dir))).toBe('EDGE_ERR_KEY_FILE');
    chmodSync(nodeKeysPath(dir), 0o600);
    const good = readFileSync(nodeKeysPath(dir), 'utf8');
    writeFileSync(nodeKeysPath(dir), '{nope', { mode: 0o600 });
    expect(codeOf(() => readNodeKeys(dir))).toBe('EDGE_ERR_KEY_FILE');
    writeFileSync(nodeKeysPath(dir), JSON.stringify({ format: 2, keys: [] }));
    expect(codeOf(() => readNodeKeys(dir))).toBe('EDGE_ERR_KEY_FILE');
    const tampered = JSON.parse(good) as { keys: { privateKey: string }[] };
    tampered.keys[0]!.privateKey = 'zz';
    writeFileSync(nodeKeysPath(dir), JSON.stringify(tampered));
    expect(codeOf(() => readNodeKeys(dir))).toBe('EDGE_ERR_KEY_FILE');
    const twice = JSON.parse(good) as { keys: unknown[] };
    twice.keys.push(twice.keys[0]);
    writeFileSync(nodeKeysPath(dir), JSON.stringify(twice));
    expect(codeOf(() => readNodeKeys(dir))).toBe('EDGE_ERR_KEY_FILE');
    expect(readNodeKeys(tempDir())).toBeNull();
  });

  it('re-derives the public half: a hand-edited publicKey is ignored', () => {
    const dir = tempDir();
    const [k] = ensureNodeKeys(dir, opts);
    const json = JSON.parse(readFileSync(nodeKeysPath(dir), 'utf8')) as { keys: { publicKey: string }[] };
    json.keys[0]!.publicKey = 'A'.repeat(43);
    writeFileSync(nodeKeysPath(dir), JSON.stringify(json));
    expect(readNodeKeys(dir)![0]!.publicKey).toBe(k!.publicKey);
  });

  it('rotates: the new key is added, expired keys are pruned, the file stays 0600', () => {
    const dir = tempDir();
    const [first] = ensureNodeKeys(dir, { ...opts, lifetimeSec: 2 * DAY });
    const second = rotateNodeKey(dir, { ...opts, now: now + DAY });
    expect(second.kid).not.toBe(first!.kid);
    expect(readNodeKeys(dir)!.map((k) => k.kid)).toEqual([first!.kid, second.kid]);
    expect(statSync(nodeKeysPath(dir)).mode & 0o777).toBe(0o600);
    // after the first key's notAfter it is dropped on the next rotation
    const third = rotateNodeKey(dir, { ...opts, now: now + 3 * DAY });
    expect(readNodeKeys(dir)!.map((k) => k.kid)).toEqual([second.kid, third.kid]);
  });

  it('rotates when due, starting the next key ahead of time', () => {
    const dir = tempDir();
    ensureNodeKeys(dir, opts);
    expect(rotateIfDue(dir, { ...opts, now: now + 10 * DAY })).toBeNull();
    const next = rotateIfDue(dir, { ...opts, now: now + 21 * DAY })!;
    expect(next.notBefore).toBe(now + 22 * DAY);
    expect(readNodeKeys(dir)).toHaveLength(2);
    expect(rotateIfDue(dir, { ...opts, now: now + 21 * DAY })).toBeNull();
  });

  it('signs with the newest published key in force, else the newest own key', () => {
    const dir = tempDir();
    const [a] = ensureNodeKeys(dir, opts);
    const b = rotateNodeKey(dir, { ...opts, now: now + 10 });
    const keys = readNodeKeys(dir)!;
    const onlyA = (kid: number, pk: string) => kid === a!.kid && pk === a!.publicKey;
    expect(chooseSigningKey(keys, now + 20, onlyA)).toEqual({ key: a, published: true });
    expect(chooseSigningKey(keys, now + 20, () => true)).toEqual({ key: b, published: true });
    expect(chooseSigningKey(keys, now + 20, () => false)).toEqual({ key: b, published: false });
    expect(chooseSigningKey(keys, now + 31 * DAY, () => true)).toBeNull();
  });

  it('watches the file for rotation', () => {
    const dir = tempDir();
    const w = new NodeKeyWatcher(dir);
    expect(w.current()).toEqual([]);
    ensureNodeKeys(dir, opts);
    expect(w.refresh()).toBe(true);
    expect(w.current()).toHaveLength(1);
    expect(w.refresh()).toBe(false);
    rotateNodeKey(dir, opts);
    expect(w.refresh()).toBe(true);
    expect(w.current()).toHaveLength(2);
  });
});
