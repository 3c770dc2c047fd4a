import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecrets, PiiCrypto, SECRETS_FILE, type Secrets } from './pii-crypto.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hc-secrets-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const hex = (n: number) => randomBytes(n).toString('hex');
function goodEnv(): NodeJS.ProcessEnv {
  return { HC_PII_KEY: hex(32), HC_LOOKUP_KEY: hex(32), HC_UID_PEPPER: hex(32) };
}

function codeOf(fn: () => unknown): { code: string; field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    const e = err as { code: string; field?: string; message: string };
    return { code: e.code, field: e.field, message: e.message };
  }
  throw new Error('expected a throw');
}

describe('loadOrCreateSecrets', () => {
  it('generates a 0600 secrets file on first start and reads the same secrets back', () => {
    const dir = join(tempDir(), 'nested', 'data');
    const a = loadOrCreateSecrets(dir, {});
    expect(a.source).toBe('generated');
    const path = join(dir, SECRETS_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([SECRETS_FILE]); // no temp file left behind
    expect(a.piiKeys.get(1)!.length).toBe(32);
    expect(a.lookupKey.length).toBe(32);
    expect(a.uidPepper.length).toBe(32);
    const b = loadOrCreateSecrets(dir, {});
    expect(b.source).toBe('file');
    expect(b.piiKeys.get(1)!.equals(a.piiKeys.get(1)!)).toBe(true);
    expect(b.lookupKey.equals(a.lookupKey)).toBe(true);
    expect(b.uidPepper.equals(a.uidPepper)).toBe(true);
  });

  it('refuses a secrets file readable by group or others', () => {
    const dir = tempDir();
    loadOrCreateSecrets(dir, {});
    const path = join(dir, SECRETS_FILE);
    chmodSync(path, 0o644);
    const e = codeOf(() => loadOrCreateSecrets(dir, {}));
    expect(e.code).toBe('MASTER_ERR_SECRETS_FILE');
    expect(e.message).toContain('0644');
    expect(e.message).toContain('chmod 600');
    chmodSync(path, 0o640);
    expect(codeOf(() => loadOrCreateSecrets(dir, {})).code).toBe('MASTER_ERR_SECRETS_FILE');
    chmodSync(path, 0o600);
    expect(loadOrCreateSecrets(dir, {}).source).toBe('file');
  });

  it('refuses a malformed secrets file, naming the bad entry', () => {
    const dir = tempDir();
    const path = join(dir, SECRETS_FILE);
    writeFileSync(path, '{not json', { mode: 0o600 });
    expect(codeOf(() => loadOrCreateSecrets(dir, {})).code).toBe('MASTER_ERR_SECRETS_FILE');
    writeFileSync(path, JSON.stringify({ HC_PII_KEY: hex(32), HC_LOOKUP_KEY: 'zz', HC_UID_PEPPER: hex(32) }), { mode: 0o600 });
    const e = codeOf(() => loadOrCreateSecrets(dir, {}));
    expect(e.code).toBe('MASTER_ERR_SECRET_INVALID');
    expect(e.field).toBe('HC_LOOKUP_KEY');
    expect(e.message).toContain(path);
    writeFileSync(path, JSON.stringify({ HC_PII_KEY: hex(32), HC_LOOKUP_KEY: hex(32) }), { mode: 0o600 });
    expect(codeOf(() => loadOrCreateSecrets(dir, {})).field).toBe('HC_UID_PEPPER');
  });

  it('takes all three secrets from the environment without touching the data dir', () => {
    const dir = join(tempDir(), 'never-created');
    const env = goodEnv();
    const s = loadOrCreateSecrets(dir, env);
    expect(s.source).toBe('env');
    expect(s.piiKeys.get(1)!.toString('hex')).toBe(env.HC_PII_KEY);
    expect(s.lookupKey.toString('hex')).toBe(env.HC_LOOKUP_KEY);
    expect(s.uidPepper.toString('hex')).toBe(env.HC_UID_PEPPER);
    expect(existsSync(dir)).toBe(false);
  });

  it('names the variable of a bad environment value, never echoing it', () => {
    const dir = tempDir();
    const cases: [string, string][] = [
      ['HC_PII_KEY', 'abc'], // odd length
      ['HC_PII_KEY', hex(16)], // too short
      ['HC_PII_KEY', 'g'.repeat(64)], // not hex
      ['HC_PII_KEY', '00'.repeat(32)], // placeholder
      ['HC_LOOKUP_KEY', hex(33)],
      ['HC_UID_PEPPER', hex(31)],
      ['HC_UID_PEPPER', hex(129)],
    ];
    for (const [name, value] of cases) {
      const env = { ...goodEnv(), [name]: value };
      const e = codeOf(() => loadOrCreateSecrets(dir, env));
      expect(e.code, `${name}=${value}`).toBe('MASTER_ERR_SECRET_INVALID');
      expect(e.field).toBe(name);
      expect(e.message).toContain(name);
      expect(e.message).not.toContain(value);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses one key reused for two purposes', () => {
    const k = hex(32);
    const e = codeOf(() => loadOrCreateSecrets(tempDir(), { HC_PII_KEY: k, HC_LOOKUP_KEY: k, HC_UID_PEPPER: hex(32) }));
    expect(e.code).toBe('MASTER_ERR_SECRET_INVALID');
    expect(e.field).toBe('HC_LOOKUP_KEY');
  });

  it('refuses a partial environment, naming the missing variables', () => {
    const e = codeOf(() => loadOrCreateSecrets(tempDir(), { HC_PII_KEY: hex(32) }));
    expect(e.code).toBe('MASTER_ERR_SECRET_INVALID');
    expect(e.message).toContain('HC_LOOKUP_KEY, HC_UID_PEPPER');
    expect(e.field).toBe('HC_LOOKUP_KEY');
  });

  it('accepts a versioned key list, the first entry current', () => {
    const k1 = hex(32);
    const k2 = hex(32);
    const s = loadOrCreateSecrets(tempDir(), { ...goodEnv(), HC_PII_KEY: `2:${k2},1:${k1}` });
    expect(s.piiKeyVersion).toBe(2);
    expect(s.piiKeys.get(1)!.toString('hex')).toBe(k1);
    for (const bad of [`0:${k1}`, `256:${k1}`, `1:${k1},1:${k2}`, `x:${k1}`, `1:${k1},2:short`]) {
      const e = codeOf(() => loadOrCreateSecrets(tempDir(), { ...goodEnv(), HC_PII_KEY: bad }));
      expect(e.code, bad).toBe('MASTER_ERR_SECRET_INVALID');
      expect(e.field).toBe('HC_PII_KEY');
    }
  });
});

describe('PiiCrypto', () => {
  const secrets: Secrets = loadOrCreateSecrets('/nonexistent', goodEnv());
  const c = new PiiCrypto(secrets);
  const uid = randomBytes(16);

  it('round-trips and lays out version ‖ IV ‖ tag ‖ ciphertext', () => {
    const blob = c.encrypt('name', uid, '张三丰');
    expect(blob[0]).toBe(1);
    expect(blob.length).toBe(1 + 12 + 16 + Buffer.byteLength('张三丰'));
    expect(c.decrypt('name', uid, blob)).toBe('张三丰');
    expect(blob.includes(Buffer.from('张三丰'))).toBe(false);
    // random IV: the same plaintext encrypts differently each time
    expect(c.encrypt('name', uid, '张三丰').equals(blob)).toBe(false);
  });

  it('draws a fresh IV for every encryption, across refills of its IV pool', () => {
    const ivs = new Set<string>();
    for (let i = 0; i < 2500; i++) {
      const blob = c.encrypt('phone', uid, `138${String(i).padStart(8, '0')}`);
      ivs.add(blob.subarray(1, 13).toString('hex'));
      if (i % 500 === 499) expect(c.decrypt('phone', uid, blob)).toBe(`138${String(i).padStart(8, '0')}`);
    }
    expect(ivs.size).toBe(2500);
  });

  it('refuses tampered data, another row, another field, an unknown key version', () => {
    const blob = c.encrypt('phone', uid, '13812345678');
    const flipped = Buffer.from(blob);
    flipped[blob.length - 1]! ^= 1;
    expect(codeOf(() => c.decrypt('phone', uid, flipped)).code).toBe('MASTER_ERR_DECRYPT');
    expect(codeOf(() => c.decrypt('phone', randomBytes(16), blob)).code).toBe('MASTER_ERR_DECRYPT');
    expect(codeOf(() => c.decrypt('cert', uid, blob)).code).toBe('MASTER_ERR_DECRYPT');
    const v9 = Buffer.from(blob);
    v9[0] = 9;
    expect(codeOf(() => c.decrypt('phone', uid, v9)).message).toContain('key version 9');
    expect(codeOf(() => c.decrypt('phone', uid, blob.subarray(0, 20))).code).toBe('MASTER_ERR_DECRYPT');
  });

  it('decrypts data of an older key version after rotation', () => {
    const old = c.encrypt('cert', uid, '51010419850612106X');
    const rotated = new PiiCrypto({
      piiKeys: new Map([[1, secrets.piiKeys.get(1)!], [2, randomBytes(32)]]),
      piiKeyVersion: 2,
      lookupKey: secrets.lookupKey,
    });
    expect(rotated.decrypt('cert', uid, old)).toBe('51010419850612106X');
    const fresh = rotated.encrypt('cert', uid, '51010419850612106X');
    expect(fresh[0]).toBe(2);
    expect(codeOf(() => c.decrypt('cert', uid, fresh)).code).toBe('MASTER_ERR_DECRYPT');
  });

  it('keyed look-up hashes are deterministic, key-dependent and kind-separated', () => {
    expect(c.lookupHash('P:13812345678').equals(c.lookupHash('P:13812345678'))).toBe(true);
    expect(c.lookupHash('P:13812345678').length).toBe(32);
    expect(c.lookupHash('P:13812345678').equals(c.lookupHash('C:passport:13812345678'))).toBe(false);
    const other = new PiiCrypto({ ...secrets, lookupKey: randomBytes(32) });
    expect(other.lookupHash('P:13812345678').equals(c.lookupHash('P:13812345678'))).toBe(false);
  });

  it('refuses secrets whose current key version is not loaded', () => {
    expect(codeOf(() => new PiiCrypto({ ...secrets, piiKeyVersion: 3 })).code).toBe('MASTER_ERR_SECRET_INVALID');
  });
});

it('the generated file holds hex secrets only', () => {
  const dir = tempDir();
  loadOrCreateSecrets(dir, {});
  const o = JSON.parse(readFileSync(join(dir, SECRETS_FILE), 'utf8')) as Record<string, string>;
  expect(Object.keys(o).sort()).toEqual(['HC_LOOKUP_KEY', 'HC_PII_KEY', 'HC_UID_PEPPER']);
  for (const v of Object.values(o)) expect(v).toMatch(/^[0-9a-f]{64}$/);
});
