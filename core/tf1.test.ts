import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base45Decode, base45Encode } from './base45.js';
import { CoreError } from './errors.js';
import {
  ALG_ED25519,
  ALG_SM2,
  COLOR_GREEN,
  COLOR_RED,
  COLOR_YELLOW,
  decodeTf1,
  encodeTf1Body,
  TF1_BODY_BYTES,
  TF1_BYTES,
  tf1ToText,
  type Tf1Claims,
} from './tf1.js';

interface Vectors {
  valid: { name: string; token: string; expect: { alg: 1 | 2; kid: number; uid: string; color: 0 | 1 | 2; iat: number; exp: number } }[];
  invalid: { name: string; token: string; why: string }[];
}
const vectors: Vectors = JSON.parse(readFileSync(new URL('../../shared/vectors/tf1.json', import.meta.url), 'utf8'));
const byName = (name: string) => [...vectors.valid, ...vectors.invalid].find((v) => v.name === name)!.token;

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
const claims = (over: Partial<Tf1Claims> = {}): Tf1Claims => ({
  alg: 1,
  kid: 1,
  uid: UID,
  color: 0,
  iat: 1790000000,
  exp: 1790086400,
  ...over,
});

/** A 93-byte token with the given body and a dummy signature, as text. */
function tokenWith(body: Buffer): string {
  return 'TF1:' + base45Encode(Buffer.concat([body, Buffer.alloc(64, 0xab)]));
}

describe('TF1 constants and layout (DESIGN §4)', () => {
  it('has the sizes and codes of the table', () => {
    expect(TF1_BYTES).toBe(93);
    expect(TF1_BODY_BYTES).toBe(29);
    expect([ALG_ED25519, ALG_SM2]).toEqual([1, 2]);
    expect([COLOR_GREEN, COLOR_YELLOW, COLOR_RED]).toEqual([0, 1, 2]);
  });

  it('lays the body out big-endian at the documented offsets', () => {
    const body = encodeTf1Body({ alg: 2, kid: 0x1234, uid: UID, color: 1, iat: 0x6a000001, exp: 0xfffffffe });
    expect(body.toString('hex')).toBe(
      '01' + '02' + '1234' + '00112233445566778899aabbccddeeff' + '01' + '6a000001' + 'fffffffe',
    );
  });

  it('encodes the body of ed25519-green byte for byte', () => {
    const bytes = base45Decode(byName('ed25519-green').slice(4));
    expect(encodeTf1Body(claims())).toEqual(bytes.subarray(0, 29));
  });

  it('writes 93 bytes as TF1: and 140 QR-alphanumeric characters', () => {
    const text = tf1ToText(Buffer.alloc(93, 0xff));
    expect(text.startsWith('TF1:')).toBe(true);
    expect(text.length).toBe(4 + 140);
    expect(text).toMatch(/^TF1:[0-9A-Z $%*+\-./:]+$/);
  });

  it('tf1ToText refuses anything but 93 bytes', () => {
    expect(codeOf(() => tf1ToText(Buffer.alloc(92)))).toBe('CORE_ERR_TF1_LENGTH');
    expect(codeOf(() => tf1ToText(Buffer.alloc(94)))).toBe('CORE_ERR_TF1_LENGTH');
  });
});

describe('decodeTf1 — valid vectors', () => {
  for (const v of vectors.valid) {
    it(`${v.name} decodes to its expected claims`, () => {
      const d = decodeTf1(v.token);
      expect({ ...d.claims, uid: d.claims.uid.toString('hex') }).toEqual(v.expect);
      expect(d.body.length).toBe(29);
      expect(d.signature.length).toBe(64);
      expect(Buffer.concat([d.body, d.signature])).toEqual(base45Decode(v.token.slice(4)));
    });
  }
});

describe('decodeTf1 — structural errors, one code each', () => {
  // The invalid vectors whose reason lies in the bytes alone (the others need
  // keys or a clock: token.test.ts).
  const structural: Record<string, string> = {
    'wrong-prefix': 'CORE_ERR_TF1_PREFIX',
    'lower-case-base45': 'CORE_ERR_TF1_BASE45',
    'dangling-char': 'CORE_ERR_TF1_BASE45',
    'base45-overflow': 'CORE_ERR_TF1_BASE45',
    'too-short': 'CORE_ERR_TF1_LENGTH',
    'too-long': 'CORE_ERR_TF1_LENGTH',
    'version-2': 'CORE_ERR_TF1_VERSION',
    'unknown-alg': 'CORE_ERR_TF1_ALG',
    'colour-3': 'CORE_ERR_TF1_COLOR',
    'exp-before-iat': 'CORE_ERR_TF1_WINDOW',
  };
  for (const [name, code] of Object.entries(structural)) {
    it(`${name} → ${code}`, () => {
      expect(codeOf(() => decodeTf1(byName(name)))).toBe(code);
    });
  }

  it('names the underlying Base45 error in the detail', () => {
    const detail = (name: string) => {
      try {
        decodeTf1(byName(name));
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    expect(detail('lower-case-base45')).toContain('CORE_ERR_BASE45_CHAR');
    expect(detail('dangling-char')).toContain('CORE_ERR_BASE45_LENGTH');
    expect(detail('base45-overflow')).toContain('CORE_ERR_BASE45_OVERFLOW');
  });

  it('prefix is case-sensitive and required', () => {
    const good = byName('ed25519-green');
    expect(codeOf(() => decodeTf1('tf1:' + good.slice(4)))).toBe('CORE_ERR_TF1_PREFIX');
    expect(codeOf(() => decodeTf1(good.slice(4)))).toBe('CORE_ERR_TF1_PREFIX');
    expect(codeOf(() => decodeTf1(''))).toBe('CORE_ERR_TF1_PREFIX');
    expect(codeOf(() => decodeTf1(' ' + good))).toBe('CORE_ERR_TF1_PREFIX');
    expect(codeOf(() => decodeTf1(undefined as unknown as string))).toBe('CORE_ERR_TF1_PREFIX');
  });

  it('an empty or huge payload is a length error', () => {
    expect(codeOf(() => decodeTf1('TF1:'))).toBe('CORE_ERR_TF1_LENGTH');
    expect(codeOf(() => decodeTf1('TF1:' + '0'.repeat(1_000_000)))).toBe('CORE_ERR_TF1_LENGTH');
  });

  it('a trailing space or newline is a Base45 error (space is a Base45 char, newline is not)', () => {
    const good = byName('ed25519-green');
    expect(codeOf(() => decodeTf1(good + '\n'))).toBe('CORE_ERR_TF1_BASE45');
    expect(codeOf(() => decodeTf1(good + ' '))).toBe('CORE_ERR_TF1_BASE45');
  });

  it('exp == iat is an empty window', () => {
    const body = encodeTf1Body(claims());
    body.writeUInt32BE(body.readUInt32BE(21), 25);
    expect(codeOf(() => decodeTf1(tokenWith(body)))).toBe('CORE_ERR_TF1_WINDOW');
  });

  it('checks version before alg before colour before window', () => {
    const body = encodeTf1Body(claims());
    body[0] = 9; // version
    body[1] = 9; // alg
    body[20] = 9; // colour
    body.writeUInt32BE(0, 25); // exp < iat
    expect(codeOf(() => decodeTf1(tokenWith(body)))).toBe('CORE_ERR_TF1_VERSION');
    body[0] = 1;
    expect(codeOf(() => decodeTf1(tokenWith(body)))).toBe('CORE_ERR_TF1_ALG');
    body[1] = 0;
    expect(codeOf(() => decodeTf1(tokenWith(body)))).toBe('CORE_ERR_TF1_ALG');
    body[1] = 2;
    expect(codeOf(() => decodeTf1(tokenWith(body)))).toBe('CORE_ERR_TF1_COLOR');
    body[20] = 2;
    expect(codeOf(() => decodeTf1(tokenWith(body)))).toBe('CORE_ERR_TF1_WINDOW');
  });
});

describe('encodeTf1Body refuses what decodeTf1 would reject', () => {
  const cases: [string, Partial<Tf1Claims>, string][] = [
    ['alg 0', { alg: 0 as 1 }, 'CORE_ERR_TF1_ALG'],
    ['alg 3', { alg: 3 as 1 }, 'CORE_ERR_TF1_ALG'],
    ['kid -1', { kid: -1 }, 'CORE_ERR_TF1_CLAIM'],
    ['kid 65536', { kid: 65536 }, 'CORE_ERR_TF1_CLAIM'],
    ['kid 1.5', { kid: 1.5 }, 'CORE_ERR_TF1_CLAIM'],
    ['uid 15 bytes', { uid: Buffer.alloc(15) }, 'CORE_ERR_TF1_CLAIM'],
    ['uid 17 bytes', { uid: Buffer.alloc(17) }, 'CORE_ERR_TF1_CLAIM'],
    ['uid a string', { uid: 'x'.repeat(16) as unknown as Buffer }, 'CORE_ERR_TF1_CLAIM'],
    ['colour 3', { color: 3 as 0 }, 'CORE_ERR_TF1_COLOR'],
    ['iat -1', { iat: -1 }, 'CORE_ERR_TF1_CLAIM'],
    ['iat NaN', { iat: Number.NaN }, 'CORE_ERR_TF1_CLAIM'],
    ['exp 2^32', { exp: 2 ** 32 }, 'CORE_ERR_TF1_CLAIM'],
    ['exp == iat', { exp: 1790000000 }, 'CORE_ERR_TF1_WINDOW'],
    ['exp < iat', { exp: 1789999999 }, 'CORE_ERR_TF1_WINDOW'],
  ];
  for (const [name, over, code] of cases) {
    it(`${name} → ${code}`, () => {
      expect(codeOf(() => encodeTf1Body(claims(over)))).toBe(code);
    });
  }

  it('accepts the extremes of every field', () => {
    const c = claims({ alg: 2, kid: 65535, color: 2, iat: 0, exp: 0xffffffff });
    expect(decodeTf1(tokenWith(encodeTf1Body(c))).claims).toEqual(c);
  });
});

describe('TF1 round trips (fast-check)', () => {
  const arbClaims = fc
    .record({
      alg: fc.constantFrom(1 as const, 2 as const),
      kid: fc.integer({ min: 0, max: 0xffff }),
      uid: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u)),
      color: fc.constantFrom(0 as const, 1 as const, 2 as const),
      iat: fc.integer({ min: 0, max: 0xfffffffe }),
      life: fc.integer({ min: 1, max: 0xffffffff }),
    })
    .map(({ life, ...c }) => ({ ...c, exp: Math.min(0xffffffff, c.iat + life) }));

  it('encode → text → decode gives the claims, body and signature back', () => {
    fc.assert(
      fc.property(arbClaims, fc.uint8Array({ minLength: 64, maxLength: 64 }), (c, sig) => {
        const body = encodeTf1Body(c);
        const text = tf1ToText(Buffer.concat([body, sig]));
        const d = decodeTf1(text);
        expect(d.claims).toEqual(c);
        expect(d.body).toEqual(body);
        expect(Buffer.from(d.signature)).toEqual(Buffer.from(sig));
      }),
      { numRuns: 500 },
    );
  });

  it('any 93 bytes either decode or fail with a TF1 code (never another error)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 93, maxLength: 93 }), (bytes) => {
        try {
          decodeTf1(tf1ToText(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(CoreError);
          expect(['CORE_ERR_TF1_VERSION', 'CORE_ERR_TF1_ALG', 'CORE_ERR_TF1_COLOR', 'CORE_ERR_TF1_WINDOW']).toContain(
            (e as CoreError).code,
          );
        }
      }),
      { numRuns: 500 },
    );
  });

  it('any string either decodes or fails with a TF1 code', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => 'TF1:' + s)), (s) => {
        try {
          decodeTf1(s);
        } catch (e) {
          expect(e).toBeInstanceOf(CoreError);
          expect((e as CoreError).code).toMatch(/^CORE_ERR_TF1_/);
        }
      }),
      { numRuns: 500 },
    );
  });
});
