import { createRequire } from 'node:module';
import fc from 'fast-check';
import { sm2 as smV2 } from 'sm-crypto-v2';
import { describe, expect, it } from 'vitest';
import { CoreError } from './errors.js';
import {
  generateSigningKey,
  parsePublicKeyInfo,
  PublicKeyVerifier,
  signBody,
  signingKeyFromPrivate,
  verifierFor,
  verifyBody,
  type SigningKey,
} from './signing-key.js';

/** sm-crypto 0.5 (v1), an independent SM2 implementation (jsbn), used only to cross-check. */
interface SmCryptoV1Sm2 {
  doSignature(msg: Uint8Array | number[] | string, privateKey: string, opts?: { hash?: boolean; der?: boolean; userId?: string }): string;
  doVerifySignature(
    msg: Uint8Array | number[] | string,
    sig: string,
    publicKey: string,
    opts?: { hash?: boolean; der?: boolean; userId?: string },
  ): boolean;
  getPublicKeyFromPrivateKey(privateKey: string): string;
}
const smV1 = (createRequire(import.meta.url)('sm-crypto') as { sm2: SmCryptoV1Sm2 }).sm2;

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

// RFC 8032 §7.1, TEST 1 and TEST 2.
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
];

// GM/T 0003.5 example key on the SM2 recommended curve (the key of tf1.json's kid 2).
const GMT_D = '3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8';
const GMT_PUB =
  '04' +
  '09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020' +
  'ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13';
const SM2_N = 'fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123';

const body = Buffer.from('0101000100112233445566778899aabbccddeeff006a b0 f0 80 6a b2 42 00'.replace(/ /g, ''), 'hex');

describe('Ed25519 keys (RFC 8032)', () => {
  for (const [i, v] of RFC8032.entries()) {
    it(`RFC 8032 test ${i + 1}: public key and deterministic signature`, () => {
      const k = signingKeyFromPrivate('Ed25519', 1, v.seed, NB, NA);
      expect(Buffer.from(k.publicKey, 'base64url').toString('hex')).toBe(v.pub);
      const sig = signBody(k, Buffer.from(v.msg, 'hex'));
      expect(sig.toString('hex')).toBe(v.sig);
      expect(verifyBody(k, Buffer.from(v.msg, 'hex'), sig)).toBe(true);
    });
  }

  it('the RFC 8032 test 1 key is the one tf1.json publishes as kid 1', () => {
    expect(signingKeyFromPrivate('Ed25519', 1, RFC8032[0]!.seed, NB, NA).publicKey).toBe('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo');
  });

  it('generated keys sign and verify; other bodies and altered signatures fail', () => {
    const k = generateSigningKey('Ed25519', 7, NB, NA);
    expect(k.privateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(k.publicKey, 'base64url').length).toBe(32);
    const sig = signBody(k, body);
    expect(sig.length).toBe(64);
    expect(verifyBody(k, body, sig)).toBe(true);
    const other = Buffer.from(body);
    other[28] ^= 1;
    expect(verifyBody(k, other, sig)).toBe(false);
    const bad = Buffer.from(sig);
    bad[10] ^= 0x40;
    expect(verifyBody(k, body, bad)).toBe(false);
    expect(verifyBody(k, body, sig.subarray(0, 63))).toBe(false);
    expect(verifyBody(k, body, Buffer.concat([sig, Buffer.of(0)]))).toBe(false);
    expect(verifyBody(generateSigningKey('Ed25519', 8, NB, NA), body, sig)).toBe(false);
  });

  it('two generated keys differ', () => {
    expect(generateSigningKey('Ed25519', 1, NB, NA).privateKey).not.toBe(generateSigningKey('Ed25519', 1, NB, NA).privateKey);
  });
});

describe('SM2 keys (GM/T 0003, SM3, user id 1234567812345678)', () => {
  it('derives the published public key of the GM/T example private key', () => {
    const k = signingKeyFromPrivate('SM2', 2, GMT_D, NB, NA);
    expect(Buffer.from(k.publicKey, 'base64url').toString('hex')).toBe(GMT_PUB);
    expect(k.publicKey).toBe('BAn53zEeVCGhUN19Fh5LxcZyF5-tGDP8B2uwj_NW81AgzOpJDOJndaUtxupxjMGqYArtBfvzXghKZjL2By2prRM');
    // and an independent implementation agrees
    expect(smV1.getPublicKeyFromPrivateKey(GMT_D)).toBe(GMT_PUB);
  });

  it('sign then verify with the GM/T example key; signatures are randomised r‖s', () => {
    const k = signingKeyFromPrivate('SM2', 2, GMT_D, NB, NA);
    const a = signBody(k, body);
    const b = signBody(k, body);
    expect(a.length).toBe(64);
    expect(a.equals(b)).toBe(false);
    expect(verifyBody(k, body, a)).toBe(true);
    expect(verifyBody(k, body, b)).toBe(true);
    const other = Buffer.from(body);
    other[20] = 1;
    expect(verifyBody(k, other, a)).toBe(false);
  });

  it('our signature (sm-crypto-v2) verifies in sm-crypto v1, both ways, with v1 defaults', () => {
    // v1 defaults: hash = true (e = SM3(Z‖M)), der = false (r‖s hex), userId = 1234567812345678.
    const k = generateSigningKey('SM2', 3, NB, NA);
    const pubHex = Buffer.from(k.publicKey, 'base64url').toString('hex');
    expect(smV1.getPublicKeyFromPrivateKey(k.privateKey)).toBe(pubHex);
    for (let i = 0; i < 5; i++) {
      const msg = Buffer.from(fc.sample(fc.uint8Array({ minLength: 29, maxLength: 29 }), 1)[0]!);
      const ours = signBody(k, msg);
      expect(smV1.doVerifySignature(msg, ours.toString('hex'), pubHex)).toBe(true);
      expect(smV1.doVerifySignature(msg, ours.toString('hex'), pubHex, { hash: true, der: false, userId: '1234567812345678' })).toBe(true);
      // a different user id gives a different Z: it must not verify (proves Z is in the hash)
      expect(smV1.doVerifySignature(msg, ours.toString('hex'), pubHex, { userId: 'ALICE123@YAHOO.COM' })).toBe(false);
      const theirs = smV1.doSignature(msg, k.privateKey);
      expect(theirs).toMatch(/^[0-9a-f]{128}$/);
      expect(verifyBody(k, msg, Buffer.from(theirs, 'hex'))).toBe(true);
    }
  });

  it("sm-crypto-v2's own hash:true path agrees with our cached-Z digest", () => {
    const k = signingKeyFromPrivate('SM2', 2, GMT_D, NB, NA);
    const pubHex = Buffer.from(k.publicKey, 'base64url').toString('hex');
    const theirs = smV2.doSignature(body, GMT_D, { hash: true, der: false });
    expect(verifyBody(k, body, Buffer.from(theirs, 'hex'))).toBe(true);
    expect(smV2.doVerifySignature(body, signBody(k, body).toString('hex'), pubHex, { hash: true, der: false })).toBe(true);
    // hash:false (v2's default) would sign the raw message: not GM/T, and we must not accept it
    const raw = smV2.doSignature(body, GMT_D);
    expect(verifyBody(k, body, Buffer.from(raw, 'hex'))).toBe(false);
  });

  it('rejects r or s outside [1, n−1] (GM/T 0003.2 §7.1 B1, B2)', () => {
    const k = signingKeyFromPrivate('SM2', 2, GMT_D, NB, NA);
    const sig = signBody(k, body);
    const r = sig.subarray(0, 32).toString('hex');
    const s = sig.subarray(32).toString('hex');
    const zero = '00'.repeat(32);
    for (const bad of [zero + s, r + zero, SM2_N + s, r + SM2_N, 'ff'.repeat(32) + s, r + 'ff'.repeat(32)]) {
      expect(verifyBody(k, body, Buffer.from(bad, 'hex'))).toBe(false);
    }
    expect(verifyBody(k, body, Buffer.from(r + s, 'hex'))).toBe(true);
  });

  it('generated keys: d in range, 65-byte uncompressed point, cross-implementation', () => {
    const k = generateSigningKey('SM2', 9, NB, NA);
    const raw = Buffer.from(k.publicKey, 'base64url');
    expect(raw.length).toBe(65);
    expect(raw[0]).toBe(4);
    expect(BigInt('0x' + k.privateKey)).toBeGreaterThan(0n);
    expect(BigInt('0x' + k.privateKey)).toBeLessThan(BigInt('0x' + SM2_N) - 1n);
    expect(smV2.getPublicKeyFromPrivateKey(k.privateKey)).toBe(raw.toString('hex'));
  });

  it('a signature of one algorithm never verifies under the other', () => {
    const ed = generateSigningKey('Ed25519', 1, NB, NA);
    const sm = generateSigningKey('SM2', 2, NB, NA);
    expect(verifyBody(sm, body, signBody(ed, body))).toBe(false);
    expect(verifyBody(ed, body, signBody(sm, body))).toBe(false);
  });
});

describe('signingKeyFromPrivate validation', () => {
  const n = BigInt('0x' + SM2_N);
  const hex = (x: bigint) => x.toString(16).padStart(64, '0');

  it('accepts upper-case hex and stores lower case', () => {
    const k = signingKeyFromPrivate('SM2', 2, GMT_D.toUpperCase(), NB, NA);
    expect(k.privateKey).toBe(GMT_D);
    expect(Buffer.from(k.publicKey, 'base64url').toString('hex')).toBe(GMT_PUB);
  });

  it('SM2 d at the edges of [1, n−2]', () => {
    expect(signingKeyFromPrivate('SM2', 2, hex(1n), NB, NA).kid).toBe(2);
    expect(signingKeyFromPrivate('SM2', 2, hex(n - 2n), NB, NA).kid).toBe(2);
    for (const d of [0n, n - 1n, n, 2n ** 256n - 1n]) {
      expect(codeOf(() => signingKeyFromPrivate('SM2', 2, hex(d), NB, NA))).toEqual(['CORE_ERR_KEY_INVALID', 'privateKey']);
    }
  });

  const cases: [string, () => unknown, string][] = [
    ['alg RSA', () => signingKeyFromPrivate('RSA' as 'SM2', 1, GMT_D, NB, NA), 'alg'],
    ['kid -1', () => signingKeyFromPrivate('Ed25519', -1, GMT_D, NB, NA), 'kid'],
    ['kid 65536', () => signingKeyFromPrivate('Ed25519', 65536, GMT_D, NB, NA), 'kid'],
    ['kid 1.5', () => signingKeyFromPrivate('Ed25519', 1.5, GMT_D, NB, NA), 'kid'],
    ['63 hex digits', () => signingKeyFromPrivate('Ed25519', 1, GMT_D.slice(1), NB, NA), 'privateKey'],
    ['65 hex digits', () => signingKeyFromPrivate('Ed25519', 1, GMT_D + '0', NB, NA), 'privateKey'],
    ['non-hex', () => signingKeyFromPrivate('Ed25519', 1, 'zz' + GMT_D.slice(2), NB, NA), 'privateKey'],
    ['0x prefix', () => signingKeyFromPrivate('Ed25519', 1, '0x' + GMT_D.slice(2), NB, NA), 'privateKey'],
    ['notBefore negative', () => signingKeyFromPrivate('Ed25519', 1, GMT_D, -1, NA), 'notBefore'],
    ['notAfter beyond uint32', () => signingKeyFromPrivate('Ed25519', 1, GMT_D, NB, 2 ** 32), 'notAfter'],
    ['notAfter == notBefore', () => signingKeyFromPrivate('Ed25519', 1, GMT_D, NB, NB), 'notAfter'],
    ['notAfter < notBefore', () => signingKeyFromPrivate('Ed25519', 1, GMT_D, NA, NB), 'notAfter'],
    ['generate with alg RSA', () => generateSigningKey('RSA' as 'SM2', 1, NB, NA), 'alg'],
    ['generate with bad window', () => generateSigningKey('SM2', 1, NA, NB), 'notAfter'],
  ];
  for (const [name, fn, field] of cases) {
    it(`${name} → CORE_ERR_KEY_INVALID (${field})`, () => {
      expect(codeOf(fn)).toEqual(['CORE_ERR_KEY_INVALID', field]);
    });
  }

  it('signBody refuses a hand-built key with a malformed private key', () => {
    const good = signingKeyFromPrivate('Ed25519', 1, RFC8032[0]!.seed, NB, NA);
    const badEd: SigningKey = { ...good, privateKey: 'not hex' };
    expect(codeOf(() => signBody(badEd, body))).toEqual(['CORE_ERR_KEY_INVALID', 'privateKey']);
    const badSm: SigningKey = { ...good, alg: 'SM2', privateKey: '00'.repeat(32) };
    expect(codeOf(() => signBody(badSm, body))).toEqual(['CORE_ERR_KEY_INVALID', 'privateKey']);
  });

  it('SigningKeys are frozen', () => {
    expect(Object.isFrozen(generateSigningKey('Ed25519', 1, NB, NA))).toBe(true);
  });
});

describe('public key decoding (strict base64url)', () => {
  const ed = signingKeyFromPrivate('Ed25519', 1, RFC8032[0]!.seed, NB, NA).publicKey;
  const sm = signingKeyFromPrivate('SM2', 2, GMT_D, NB, NA).publicKey;
  const smRaw = Buffer.from(sm, 'base64url');
  const offCurve = Buffer.from(smRaw);
  offCurve[64] ^= 1;
  const compressed = Buffer.concat([Buffer.of(2 + (smRaw[64]! & 1)), smRaw.subarray(1, 33)]);

  const bad: [string, 'Ed25519' | 'SM2', string][] = [
    ['Ed25519 key one char short', 'Ed25519', ed.slice(1)],
    ['Ed25519 key with = padding', 'Ed25519', ed + '='],
    ['Ed25519 key in base64 (+ and /)', 'Ed25519', Buffer.from('fbff' + 'ff'.repeat(30), 'hex').toString('base64').replace(/=+$/, '')],
    ['Ed25519 key, non-canonical last char', 'Ed25519', ed.slice(0, -1) + 'p'],
    ['Ed25519 key under alg SM2', 'SM2', ed],
    ['SM2 key under alg Ed25519', 'Ed25519', sm],
    ['SM2 point off the curve', 'SM2', offCurve.toString('base64url')],
    ['SM2 compressed point', 'SM2', compressed.toString('base64url')],
    ['SM2 point with prefix 05', 'SM2', Buffer.concat([Buffer.of(5), smRaw.subarray(1)]).toString('base64url')],
    ['SM2 all zero', 'SM2', Buffer.alloc(65).toString('base64url')],
    ['empty', 'Ed25519', ''],
  ];
  for (const [name, alg, text] of bad) {
    it(`${name} → CORE_ERR_KEY_INVALID`, () => {
      expect(codeOf(() => new PublicKeyVerifier(alg, text))).toEqual(['CORE_ERR_KEY_INVALID', 'publicKey']);
      expect(codeOf(() => parsePublicKeyInfo({ kid: 1, alg, publicKey: text, notBefore: NB, notAfter: NA }))).toEqual([
        'CORE_ERR_KEY_INVALID',
        'publicKey',
      ]);
    });
  }

  it('the canonical encodings are accepted', () => {
    expect(new PublicKeyVerifier('Ed25519', ed).alg).toBe('Ed25519');
    expect(new PublicKeyVerifier('SM2', sm).alg).toBe('SM2');
  });

  it('verifierFor caches one verifier per public key', () => {
    const info = { kid: 1, alg: 'SM2' as const, publicKey: sm, notBefore: NB, notAfter: NA };
    expect(verifierFor(info)).toBe(verifierFor({ ...info, kid: 5 }));
  });

  it('parsePublicKeyInfo keeps exactly the five public fields and freezes them', () => {
    const info = parsePublicKeyInfo({ kid: 1, alg: 'Ed25519', publicKey: ed, notBefore: NB, notAfter: NA }, 'keys[0]');
    expect(info).toEqual({ kid: 1, alg: 'Ed25519', publicKey: ed, notBefore: NB, notAfter: NA });
    expect(Object.isFrozen(info)).toBe(true);
  });
});

describe('sign/verify properties (fast-check)', () => {
  const edKey = generateSigningKey('Ed25519', 1, NB, NA);
  const smKey = generateSigningKey('SM2', 2, NB, NA);

  it('Ed25519: every body verifies; any single flipped signature bit does not', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 511 }), (msg, bit) => {
        const sig = signBody(edKey, msg);
        expect(verifyBody(edKey, msg, sig)).toBe(true);
        sig[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyBody(edKey, msg, sig)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('SM2: every body verifies here and in sm-crypto v1; a flipped bit does not', () => {
    const pubHex = Buffer.from(smKey.publicKey, 'base64url').toString('hex');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 511 }), (msg, bit) => {
        const sig = signBody(smKey, msg);
        expect(verifyBody(smKey, msg, sig)).toBe(true);
        expect(smV1.doVerifySignature(msg, sig.toString('hex'), pubHex)).toBe(true);
        sig[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyBody(smKey, msg, sig)).toBe(false);
      }),
      { numRuns: 30 },
    );
  });
});
