import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoreError } from './errors.js';
import { activeSigningKey, KeySet } from './key-set.js';
import { generateSigningKey, signingKeyFromPrivate, type PublicKeyInfo, type SigningKey } from './signing-key.js';

const vectors = JSON.parse(readFileSync(new URL('../../shared/vectors/tf1.json', import.meta.url), 'utf8')) as {
  keys: { keys: PublicKeyInfo[] };
  privateKeys: { ed25519Seed: string; sm2: string };
};

function codeOf(fn: () => unknown): [string, string | undefined] {
  try {
    fn();
  } catch (e) {
    if (e instanceof CoreError) return [e.code, e.field];
    throw e;
  }
  throw new Error('expected a CoreError, nothing was thrown');
}

const NB = 1780000000;
const NA = 1800000000;
const ED = vectors.keys.keys[0]!;
const SM = vectors.keys.keys[1]!;

describe('KeySet.fromPublicJson — the /v1/keys body of tf1.json', () => {
  const ks = KeySet.fromPublicJson(vectors.keys);

  it('finds both keys by kid', () => {
    expect(ks.size).toBe(2);
    expect(ks.get(1)).toEqual(ED);
    expect(ks.get(2)).toEqual(SM);
    expect(ks.get(3)).toBeUndefined();
  });

  it('toPublicJson gives exactly the body back, and JSON.stringify agrees', () => {
    expect(ks.toPublicJson()).toEqual(vectors.keys);
    expect(JSON.parse(JSON.stringify(ks))).toEqual(vectors.keys);
  });

  it('toPublicJson returns fresh objects; mutating them does not touch the set', () => {
    const body = ks.toPublicJson();
    body.keys[0]!.notAfter = 1;
    body.keys.pop();
    expect(ks.toPublicJson()).toEqual(vectors.keys);
  });

  it('orders keys by kid whatever the input order', () => {
    const rev = KeySet.fromPublicJson({ keys: [SM, ED] });
    expect(rev.toPublicJson().keys.map((k) => k.kid)).toEqual([1, 2]);
  });

  it('accepts an empty key set', () => {
    expect(KeySet.fromPublicJson({ keys: [] }).size).toBe(0);
  });

  it('the public keys are those of the published private keys', () => {
    expect(signingKeyFromPrivate('Ed25519', 1, vectors.privateKeys.ed25519Seed, NB, NA).publicKey).toBe(ED.publicKey);
    expect(signingKeyFromPrivate('SM2', 2, vectors.privateKeys.sm2, NB, NA).publicKey).toBe(SM.publicKey);
  });
});

describe('KeySet.fromPublicJson — malformed sets', () => {
  const setCases: [string, unknown, string][] = [
    ['null', null, '$'],
    ['an array', [ED], '$'],
    ['a string', '{"keys":[]}', '$'],
    ['no keys field', {}, 'keys'],
    ['keys not an array', { keys: { 0: ED } }, 'keys'],
    ['keys null', { keys: null }, 'keys'],
    ['an extra top-level field', { keys: [ED], version: 1 }, 'version'],
    ['a repeated kid', { keys: [ED, { ...SM, kid: 1 }] }, 'keys[1].kid'],
  ];
  for (const [name, json, field] of setCases) {
    it(`${name} → CORE_ERR_KEY_SET_INVALID (${field})`, () => {
      expect(codeOf(() => KeySet.fromPublicJson(json))).toEqual(['CORE_ERR_KEY_SET_INVALID', field]);
    });
  }

  // Each malformed field of the second key, so the path names index and field.
  const without = (name: keyof PublicKeyInfo) => {
    const k: Record<string, unknown> = { ...SM };
    delete k[name];
    return k;
  };
  const keyCases: [string, unknown, string][] = [
    ['key null', null, 'keys[1]'],
    ['key an array', [SM], 'keys[1]'],
    ['key a string', 'SM2', 'keys[1]'],
    ['unknown field privateKey', { ...SM, privateKey: vectors.privateKeys.sm2 }, 'keys[1].privateKey'],
    ['unknown field use', { ...SM, use: 'sig' }, 'keys[1].use'],
    ['kid missing', without('kid'), 'keys[1].kid'],
    ['kid a string', { ...SM, kid: '2' }, 'keys[1].kid'],
    ['kid negative', { ...SM, kid: -2 }, 'keys[1].kid'],
    ['kid 65536', { ...SM, kid: 65536 }, 'keys[1].kid'],
    ['kid fractional', { ...SM, kid: 2.5 }, 'keys[1].kid'],
    ['alg missing', without('alg'), 'keys[1].alg'],
    ['alg lower case', { ...SM, alg: 'sm2' }, 'keys[1].alg'],
    ['alg numeric', { ...SM, alg: 2 }, 'keys[1].alg'],
    ['alg ES256', { ...SM, alg: 'ES256' }, 'keys[1].alg'],
    ['publicKey missing', without('publicKey'), 'keys[1].publicKey'],
    ['publicKey a number', { ...SM, publicKey: 4 }, 'keys[1].publicKey'],
    ['publicKey hex', { ...SM, publicKey: Buffer.from(SM.publicKey, 'base64url').toString('hex') }, 'keys[1].publicKey'],
    ['publicKey base64 with padding', { ...SM, publicKey: Buffer.from(SM.publicKey, 'base64url').toString('base64') }, 'keys[1].publicKey'],
    ['publicKey truncated', { ...SM, publicKey: SM.publicKey.slice(0, 86) }, 'keys[1].publicKey'],
    ['publicKey of the other alg', { ...SM, publicKey: ED.publicKey }, 'keys[1].publicKey'],
    ['publicKey off the curve', { ...SM, publicKey: SM.publicKey.slice(0, 80) + 'AAAAAAA' }, 'keys[1].publicKey'],
    ['notBefore missing', without('notBefore'), 'keys[1].notBefore'],
    ['notBefore a string', { ...SM, notBefore: '1780000000' }, 'keys[1].notBefore'],
    ['notBefore in milliseconds', { ...SM, notBefore: NB * 1000 }, 'keys[1].notBefore'],
    ['notBefore negative', { ...SM, notBefore: -1 }, 'keys[1].notBefore'],
    ['notAfter missing', without('notAfter'), 'keys[1].notAfter'],
    ['notAfter fractional', { ...SM, notAfter: NA + 0.5 }, 'keys[1].notAfter'],
    ['notAfter beyond uint32', { ...SM, notAfter: 2 ** 32 }, 'keys[1].notAfter'],
    ['notAfter == notBefore', { ...SM, notAfter: NB }, 'keys[1].notAfter'],
    ['notAfter before notBefore', { ...SM, notBefore: NA, notAfter: NB }, 'keys[1].notAfter'],
  ];
  for (const [name, key, field] of keyCases) {
    it(`${name} → CORE_ERR_KEY_INVALID (${field})`, () => {
      expect(codeOf(() => KeySet.fromPublicJson({ keys: [ED, key] }))).toEqual(['CORE_ERR_KEY_INVALID', field]);
    });
  }

  it('survives a JSON round trip of arbitrary junk with a CoreError, never another error', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (junk) => {
        for (const json of [junk, { keys: [junk] }, { keys: [{ ...SM, kid: junk }] }]) {
          try {
            KeySet.fromPublicJson(json);
          } catch (e) {
            expect(e).toBeInstanceOf(CoreError);
            expect(['CORE_ERR_KEY_SET_INVALID', 'CORE_ERR_KEY_INVALID']).toContain((e as CoreError).code);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('KeySet — construction and immutable updates', () => {
  const a = generateSigningKey('Ed25519', 10, 1000, 2000);
  const b = generateSigningKey('SM2', 11, 1500, 3000);

  it('takes SigningKeys but never keeps or publishes their private halves', () => {
    const ks = new KeySet([a, b]);
    const body = ks.toPublicJson();
    expect(JSON.stringify(body)).not.toContain(a.privateKey);
    expect(JSON.stringify(body)).not.toContain(b.privateKey);
    expect(Object.keys(ks.get(10)!)).toEqual(['kid', 'alg', 'publicKey', 'notBefore', 'notAfter']);
    expect(JSON.stringify(ks.withKey(a))).not.toContain(a.privateKey);
  });

  it('the constructor validates like fromPublicJson', () => {
    expect(codeOf(() => new KeySet([a, { ...b, kid: 10 }]))).toEqual(['CORE_ERR_KEY_SET_INVALID', 'keys[1].kid']);
    expect(codeOf(() => new KeySet([{ ...a, publicKey: 'x' }]))).toEqual(['CORE_ERR_KEY_INVALID', 'keys[0].publicKey']);
    expect(codeOf(() => new KeySet(null as unknown as PublicKeyInfo[]))).toEqual(['CORE_ERR_KEY_SET_INVALID', 'keys']);
  });

  it('withKey adds without touching the original', () => {
    const one = new KeySet([a]);
    const two = one.withKey(b);
    expect(one.size).toBe(1);
    expect(two.size).toBe(2);
    expect(two.get(11)!.alg).toBe('SM2');
  });

  it('withKey with the same key and a new window replaces the entry', () => {
    const ks = new KeySet([a]).withKey({ ...a, notAfter: 1800 });
    expect(ks.get(10)!.notAfter).toBe(1800);
    expect(ks.size).toBe(1);
  });

  it('withKey with a different key under a used kid is refused', () => {
    const other = generateSigningKey('Ed25519', 10, 1000, 2000);
    expect(codeOf(() => new KeySet([a]).withKey(other))).toEqual(['CORE_ERR_KEY_SET_INVALID', 'key.kid']);
    expect(codeOf(() => new KeySet([a]).withKey({ ...b, kid: 10 }))).toEqual(['CORE_ERR_KEY_SET_INVALID', 'key.kid']);
  });

  it('withKey validates the key', () => {
    expect(codeOf(() => new KeySet([a]).withKey({ ...b, notAfter: 0 }))).toEqual(['CORE_ERR_KEY_INVALID', 'key.notAfter']);
  });

  it('without removes a key, and is a no-op for an unknown kid', () => {
    const ks = new KeySet([a, b]);
    const less = ks.without(10);
    expect(less.get(10)).toBeUndefined();
    expect(less.size).toBe(1);
    expect(ks.size).toBe(2);
    expect(ks.without(99)).toBe(ks);
  });

  it('caches verification material per key, shared with derived sets', () => {
    const ks = new KeySet([a, b]);
    const v = ks.verifier(11)!;
    expect(ks.verifier(11)).toBe(v);
    expect(ks.withKey(generateSigningKey('Ed25519', 12, 1000, 2000)).verifier(11)).toBe(v);
    expect(ks.without(10).verifier(11)).toBe(v);
    expect(ks.verifier(99)).toBeUndefined();
    expect(ks.warm()).toBe(ks);
  });
});

describe('KeySet.prune — old keys stay until their last token expired', () => {
  const k1 = generateSigningKey('Ed25519', 1, 1000, 2000);
  const k2 = generateSigningKey('Ed25519', 2, 1900, 3000);
  const ks = new KeySet([k1, k2]);

  it('keeps a key while notAfter + max token lifetime >= now', () => {
    expect(ks.prune(2000, 100)).toBe(ks);
    expect(ks.prune(2100, 100)).toBe(ks);
    expect(ks.prune(2101, 100).toPublicJson().keys.map((k) => k.kid)).toEqual([2]);
    expect(ks.prune(3101, 100).size).toBe(0);
  });

  it('refuses nonsense arguments', () => {
    expect(codeOf(() => ks.prune(-1, 100))).toEqual(['CORE_ERR_KEY_SET_INVALID', 'now']);
    expect(codeOf(() => ks.prune(2000, -1))).toEqual(['CORE_ERR_KEY_SET_INVALID', 'maxTokenLifetimeSec']);
    expect(codeOf(() => ks.prune(Number.NaN, 1))).toEqual(['CORE_ERR_KEY_SET_INVALID', 'now']);
  });
});

describe('activeSigningKey — rotation', () => {
  const mk = (kid: number, nb: number, na: number): SigningKey => generateSigningKey('Ed25519', kid, nb, na);
  const old = mk(1, 1000, 3000);
  const next = mk(2, 2000, 4000);
  const future = mk(3, 3500, 5000);
  const keys = [future, old, next];

  it('is the newest key in force', () => {
    expect(activeSigningKey(keys, 999)).toBeUndefined();
    expect(activeSigningKey(keys, 1000)).toBe(old);
    expect(activeSigningKey(keys, 1999)).toBe(old);
    expect(activeSigningKey(keys, 2000)).toBe(next);
    expect(activeSigningKey(keys, 3499)).toBe(next);
    expect(activeSigningKey(keys, 3500)).toBe(future);
    expect(activeSigningKey(keys, 4999)).toBe(future);
    expect(activeSigningKey(keys, 5000)).toBeUndefined();
    expect(activeSigningKey([], 2000)).toBeUndefined();
  });

  it('skips an ended key even if it is the newest', () => {
    const short = mk(4, 2500, 2600);
    expect(activeSigningKey([old, next, short], 2550)).toBe(short);
    expect(activeSigningKey([old, next, short], 2600)).toBe(next);
  });

  it('breaks a notBefore tie by the higher kid', () => {
    const x = mk(7, 1000, 3000);
    const y = mk(8, 1000, 3000);
    expect(activeSigningKey([y, x], 1500)).toBe(y);
    expect(activeSigningKey([x, y], 1500)).toBe(y);
  });
});
