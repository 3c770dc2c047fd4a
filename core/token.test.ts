import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base45Decode, base45Encode } from './base45.js';
import { CoreError } from './errors.js';
import { activeSigningKey, KeySet } from './key-set.js';
import { generateSigningKey, signBody, signingKeyFromPrivate, verifyBody, type PublicKeyInfo } from './signing-key.js';
import { decodeTf1, encodeTf1Body, tf1ToText, type Tf1Claims } from './tf1.js';
import { signTf1, verifyTf1 } from './token.js';

interface Vectors {
  verifyAt: number;
  privateKeys: { ed25519Seed: string; sm2: string };
  keys: { keys: PublicKeyInfo[] };
  valid: { name: string; token: string; expect: { alg: 1 | 2; kid: number; uid: string; color: 0 | 1 | 2; iat: number; exp: number } }[];
  invalid: { name: string; token: string; why: string }[];
}
const vectors: Vectors = JSON.parse(readFileSync(new URL('../../shared/vectors/tf1.json', import.meta.url), 'utf8'));
const byName = (name: string) => [...vectors.valid, ...vectors.invalid].find((v) => v.name === name)!.token;
const NOW = vectors.verifyAt;
const keys = KeySet.fromPublicJson(vectors.keys);
const [edInfo, smInfo] = vectors.keys.keys as [PublicKeyInfo, PublicKeyInfo];
const edKey = signingKeyFromPrivate('Ed25519', edInfo.kid, vectors.privateKeys.ed25519Seed, edInfo.notBefore, edInfo.notAfter);
const smKey = signingKeyFromPrivate('SM2', smInfo.kid, vectors.privateKeys.sm2, smInfo.notBefore, smInfo.notAfter);

const smV1 = (
  createRequire(import.meta.url)('sm-crypto') as { sm2: { doSignature(msg: Uint8Array, d: string, o?: object): string } }
).sm2;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CoreError) return e.code;
    throw e;
  }
  throw new Error('expected a CoreError, nothing was thrown');
}

const UID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

/**
 * Each `why` of tf1.json's invalid list, and the code that names that reason.
 * A vector with a `why` missing here fails the test below, so a new kind of
 * invalid token cannot slip through unmapped.
 */
const WHY_TO_CODE: Record<string, string> = {
  prefix: 'CORE_ERR_TF1_PREFIX',
  base45: 'CORE_ERR_TF1_BASE45',
  'base45 (one character left over)': 'CORE_ERR_TF1_BASE45',
  'base45 (last pair decodes to 1456 > 255)': 'CORE_ERR_TF1_BASE45',
  length: 'CORE_ERR_TF1_LENGTH',
  version: 'CORE_ERR_TF1_VERSION',
  algorithm: 'CORE_ERR_TF1_ALG',
  kid: 'CORE_ERR_TF1_KID',
  'algorithm/kid mismatch': 'CORE_ERR_TF1_ALG_KID_MISMATCH',
  signature: 'CORE_ERR_TF1_SIGNATURE',
  colour: 'CORE_ERR_TF1_COLOR',
  expired: 'CORE_ERR_TF1_EXPIRED',
  'not yet valid': 'CORE_ERR_TF1_NOT_YET_VALID',
  'validity window': 'CORE_ERR_TF1_WINDOW',
  'key window': 'CORE_ERR_TF1_KEY_WINDOW',
};

describe('tf1.json valid vectors', () => {
  for (const v of vectors.valid) {
    it(`${v.name} verifies at verifyAt and gives its expected claims`, () => {
      const c = verifyTf1(v.token, keys, NOW);
      expect({ ...c, uid: c.uid.toString('hex') }).toEqual(v.expect);
    });
  }

  it('signing the ed25519-green claims with the RFC 8032 seed reproduces the token exactly', () => {
    const e = vectors.valid.find((v) => v.name === 'ed25519-green')!.expect;
    const token = signTf1(edKey, { uid: Buffer.from(e.uid, 'hex'), color: e.color, iat: e.iat, exp: e.exp });
    expect(token).toBe(byName('ed25519-green'));
    // and signing the decoded 29-byte body gives its 64-byte signature
    const d = decodeTf1(byName('ed25519-green'));
    expect(signBody(edKey, d.body).equals(d.signature)).toBe(true);
  });

  it('SM2: the GM/T key matches the published kid 2; sign then verify; sm2-red verifies', () => {
    expect(smKey.publicKey).toBe(smInfo.publicKey);
    const e = vectors.valid.find((v) => v.name === 'sm2-red')!.expect;
    const claims = { uid: Buffer.from(e.uid, 'hex'), color: e.color, iat: e.iat, exp: e.exp };
    const a = signTf1(smKey, claims);
    const b = signTf1(smKey, claims);
    expect(a).not.toBe(b); // randomised k
    expect(decodeTf1(a).body.equals(decodeTf1(byName('sm2-red')).body)).toBe(true); // same body, different signature
    for (const t of [a, b, byName('sm2-red')]) {
      expect({ ...verifyTf1(t, keys, NOW), uid: e.uid }).toEqual(e);
    }
  });

  it('a token whose SM2 signature was made by sm-crypto v1 verifies', () => {
    const body = encodeTf1Body({ alg: 2, kid: 2, uid: UID, color: 1, iat: NOW - 10, exp: NOW + 10 });
    const sig = Buffer.from(smV1.doSignature(body, vectors.privateKeys.sm2, { hash: true, der: false }), 'hex');
    const token = tf1ToText(Buffer.concat([body, sig]));
    expect(verifyTf1(token, keys, NOW).color).toBe(1);
  });
});

describe('tf1.json invalid vectors — each rejected with the code its `why` names', () => {
  it('every `why` in the file is mapped', () => {
    for (const v of vectors.invalid) expect(WHY_TO_CODE, v.name).toHaveProperty([v.why]);
  });

  for (const v of vectors.invalid) {
    it(`${v.name} (${v.why}) → ${WHY_TO_CODE[v.why]}`, () => {
      expect(codeOf(() => verifyTf1(v.token, keys, NOW))).toBe(WHY_TO_CODE[v.why]);
    });
  }

  it('the vectors that carry good signatures do: signature checking alone would not catch them', () => {
    for (const name of ['version-2', 'colour-3', 'expired', 'not-yet-valid', 'exp-before-iat', 'exp-after-key-notAfter']) {
      const bytes = base45Decode(byName(name).slice(4));
      expect(verifyBody(edInfo, bytes.subarray(0, 29), bytes.subarray(29)), name).toBe(true);
    }
  });

  it('every single-bit change of a valid token is rejected, never accepted', () => {
    for (const v of vectors.valid) {
      const bytes = base45Decode(v.token.slice(4));
      for (let bit = 0; bit < 93 * 8; bit++) {
        const t = Buffer.from(bytes);
        t[bit >> 3] ^= 1 << (bit & 7);
        expect(codeOf(() => verifyTf1(tf1ToText(t), keys, NOW))).toMatch(/^CORE_ERR_TF1_/);
      }
    }
  });
});

describe('verifyTf1 — order and boundaries', () => {
  const iat = NOW - 100;
  const exp = NOW + 100;
  const token = signTf1(edKey, { uid: UID, color: 0, iat, exp });

  it('valid for iat <= now < exp', () => {
    expect(verifyTf1(token, keys, iat).iat).toBe(iat);
    expect(verifyTf1(token, keys, exp - 1).exp).toBe(exp);
    expect(codeOf(() => verifyTf1(token, keys, iat - 1))).toBe('CORE_ERR_TF1_NOT_YET_VALID');
    expect(codeOf(() => verifyTf1(token, keys, exp))).toBe('CORE_ERR_TF1_EXPIRED');
  });

  it('a forged token is reported as forged even when it is also expired', () => {
    const bytes = base45Decode(token.slice(4));
    bytes[50] ^= 1;
    expect(codeOf(() => verifyTf1(tf1ToText(bytes), keys, exp + 1_000_000))).toBe('CORE_ERR_TF1_SIGNATURE');
  });

  it('an unknown kid is reported before the signature is looked at', () => {
    const other = generateSigningKey('Ed25519', 999, edInfo.notBefore, edInfo.notAfter);
    expect(codeOf(() => verifyTf1(signTf1(other, { uid: UID, color: 0, iat, exp }), keys, NOW))).toBe('CORE_ERR_TF1_KID');
  });

  it('an Ed25519 signature presented as SM2 under an SM2 kid fails the signature, not the algorithm', () => {
    const body = encodeTf1Body({ alg: 2, kid: 2, uid: UID, color: 0, iat, exp });
    const token2 = tf1ToText(Buffer.concat([body, signBody(edKey, body)]));
    expect(codeOf(() => verifyTf1(token2, keys, NOW))).toBe('CORE_ERR_TF1_SIGNATURE');
  });

  it('an SM2 signature with r = 0 is a signature failure', () => {
    const body = encodeTf1Body({ alg: 2, kid: 2, uid: UID, color: 0, iat, exp });
    const sig = signBody(smKey, body);
    sig.fill(0, 0, 32);
    expect(codeOf(() => verifyTf1(tf1ToText(Buffer.concat([body, sig])), keys, NOW))).toBe('CORE_ERR_TF1_SIGNATURE');
  });

  it('iat before the key notBefore is a key-window failure', () => {
    const body = encodeTf1Body({ alg: 1, kid: 1, uid: UID, color: 0, iat: edInfo.notBefore - 1, exp });
    const t = tf1ToText(Buffer.concat([body, signBody(edKey, body)]));
    expect(codeOf(() => verifyTf1(t, keys, NOW))).toBe('CORE_ERR_TF1_KEY_WINDOW');
  });
});

describe('signTf1', () => {
  it('fills alg and kid from the key', () => {
    const c = verifyTf1(signTf1(smKey, { uid: UID, color: 2, iat: NOW, exp: NOW + 1 }), keys, NOW);
    expect([c.alg, c.kid, c.color]).toEqual([2, 2, 2]);
  });

  it('accepts a life exactly filling the key window, refuses one a second outside', () => {
    const { notBefore, notAfter } = edKey;
    expect(verifyTf1(signTf1(edKey, { uid: UID, color: 0, iat: notBefore, exp: notAfter }), keys, NOW).exp).toBe(notAfter);
    expect(codeOf(() => signTf1(edKey, { uid: UID, color: 0, iat: notBefore - 1, exp: NOW }))).toBe('CORE_ERR_TF1_KEY_WINDOW');
    expect(codeOf(() => signTf1(edKey, { uid: UID, color: 0, iat: NOW, exp: notAfter + 1 }))).toBe('CORE_ERR_TF1_KEY_WINDOW');
  });

  it('refuses claims the format cannot carry', () => {
    expect(codeOf(() => signTf1(edKey, { uid: UID, color: 3 as 0, iat: NOW, exp: NOW + 1 }))).toBe('CORE_ERR_TF1_COLOR');
    expect(codeOf(() => signTf1(edKey, { uid: UID, color: 0, iat: NOW, exp: NOW }))).toBe('CORE_ERR_TF1_WINDOW');
    expect(codeOf(() => signTf1(edKey, { uid: UID.subarray(1), color: 0, iat: NOW, exp: NOW + 1 }))).toBe('CORE_ERR_TF1_CLAIM');
  });

  it('refuses a key with an unknown algorithm', () => {
    expect(codeOf(() => signTf1({ ...edKey, alg: 'RSA' as 'SM2' }, { uid: UID, color: 0, iat: NOW, exp: NOW + 1 }))).toBe(
      'CORE_ERR_KEY_INVALID',
    );
  });
});

describe('rotation and retirement', () => {
  const DAY = 86400;
  const T0 = 1_800_000_000;
  const LIFE = DAY;
  // A node's key A, and its successor B registered to start 10 days before A ends.
  const A = generateSigningKey('Ed25519', 100, T0, T0 + 30 * DAY);
  const B = generateSigningKey('SM2', 101, T0 + 20 * DAY, T0 + 60 * DAY);
  const signed = [A, B];
  const published = new KeySet([A, B]);
  const sign = (at: number) => {
    const k = activeSigningKey(signed, at)!;
    return { kid: k.kid, token: signTf1(k, { uid: UID, color: 0, iat: at, exp: Math.min(at + LIFE, k.notAfter) }) };
  };

  it('the new key signs once in force; tokens of the old key keep verifying until they expire', () => {
    const before = sign(T0 + 20 * DAY - 3600); // last hour of A as the signer
    expect(before.kid).toBe(100);
    const after = sign(T0 + 20 * DAY);
    expect(after.kid).toBe(101);
    const now = T0 + 20 * DAY + 60;
    expect(verifyTf1(before.token, published, now).kid).toBe(100);
    expect(verifyTf1(after.token, published, now).kid).toBe(101);
    expect(codeOf(() => verifyTf1(before.token, published, T0 + 21 * DAY))).toBe('CORE_ERR_TF1_EXPIRED');
  });

  it('pruning keeps A until its last possible token has expired, then its tokens are unknown-kid', () => {
    const lastOfA = signTf1(A, { uid: UID, color: 0, iat: A.notAfter - LIFE, exp: A.notAfter });
    const stillThere = published.prune(A.notAfter - 1, LIFE);
    expect(verifyTf1(lastOfA, stillThere, A.notAfter - 1).kid).toBe(100);
    expect(published.prune(A.notAfter + LIFE, LIFE).get(100)).toBeDefined();
    const pruned = published.prune(A.notAfter + LIFE + 1, LIFE);
    expect(pruned.get(100)).toBeUndefined();
    expect(codeOf(() => verifyTf1(lastOfA, pruned, A.notAfter - 1))).toBe('CORE_ERR_TF1_KID');
  });

  it("retiring a compromised node's key stops its tokens and nobody else's", () => {
    const now = T0 + 25 * DAY;
    const other = generateSigningKey('Ed25519', 200, T0, T0 + 60 * DAY);
    const set = published.withKey(other);
    const bad = signTf1(B, { uid: UID, color: 0, iat: now, exp: now + LIFE });
    const good = signTf1(other, { uid: UID, color: 0, iat: now, exp: now + LIFE });
    const retired = set.without(101);
    expect(codeOf(() => verifyTf1(bad, retired, now))).toBe('CORE_ERR_TF1_KID');
    expect(verifyTf1(good, retired, now).kid).toBe(200);
    expect(verifyTf1(bad, set, now).kid).toBe(101);
  });
});

describe('sign → verify round trips (fast-check)', () => {
  const ed = generateSigningKey('Ed25519', 42, 1_000_000_000, 3_000_000_000);
  const sm = generateSigningKey('SM2', 43, 1_000_000_000, 3_000_000_000);
  const set = new KeySet([ed, sm]);
  const arb = fc
    .record({
      uid: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u)),
      color: fc.constantFrom(0 as const, 1 as const, 2 as const),
      iat: fc.integer({ min: 1_000_000_000, max: 2_990_000_000 }),
      life: fc.integer({ min: 1, max: 30 * 86400 }),
      at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    })
    .map(({ life, at, ...c }) => ({ ...c, exp: c.iat + life, now: c.iat + Math.floor(at * life) }));

  for (const [key, runs] of [[ed, 300], [sm, 40]] as const) {
    it(`${key.alg}: any claims inside the key window verify at any now in [iat, exp) and come back equal`, () => {
      fc.assert(
        fc.property(arb, ({ now, ...c }) => {
          const token = signTf1(key, c);
          expect(token).toMatch(/^TF1:[0-9A-Z $%*+\-./:]{140}$/);
          const got: Tf1Claims = verifyTf1(token, set, now);
          expect(got).toEqual({ alg: key.alg === 'Ed25519' ? 1 : 2, kid: key.kid, ...c });
          expect(codeOf(() => verifyTf1(token, set, c.exp))).toBe('CORE_ERR_TF1_EXPIRED');
        }),
        { numRuns: runs },
      );
    });
  }

  it('arbitrary text never verifies and never throws anything but a TF1 error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array({ minLength: 93, maxLength: 93 }).map((b) => 'TF1:' + base45Encode(b))), (s) => {
        expect(codeOf(() => verifyTf1(s, set, 2_000_000_000))).toMatch(/^CORE_ERR_TF1_/);
      }),
      { numRuns: 500 },
    );
  });
});
