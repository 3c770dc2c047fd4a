import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base45Decode, base45Encode } from './base45.js';
import { CoreError, type CoreErrorCode } from './errors.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

function expectCode(fn: () => unknown, code: CoreErrorCode): CoreError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(CoreError);
  expect((caught as CoreError).code).toBe(code);
  expect((caught as CoreError).statusCode).toBe(400);
  return caught as CoreError;
}

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

describe('RFC 9285 examples', () => {
  it('§4.3: encodes "AB", "Hello!!", "base-45"', () => {
    expect(base45Encode(ascii('AB'))).toBe('BB8');
    expect(base45Encode(ascii('Hello!!'))).toBe('%69 VD92EX0');
    expect(base45Encode(ascii('base-45'))).toBe('UJCLQE7W581');
    expect(base45Encode(ascii('ietf!'))).toBe('QED8WEX0');
  });

  it('§4.4: decodes "QED8WEX0" to "ietf!" and back for every example', () => {
    expect(base45Decode('QED8WEX0').toString('latin1')).toBe('ietf!');
    for (const [text, plain] of [['BB8', 'AB'], ['%69 VD92EX0', 'Hello!!'], ['UJCLQE7W581', 'base-45']] as const) {
      const out = base45Decode(text);
      expect(out).toBeInstanceOf(Buffer);
      expect(out.toString('latin1')).toBe(plain);
    }
  });

  it('§6: "GGW" is invalid (65536 does not fit in two bytes)', () => {
    const e = expectCode(() => base45Decode('GGW'), 'CORE_ERR_BASE45_OVERFLOW');
    expect(e.message).toContain('65536');
  });
});

describe('base45Encode', () => {
  it('encodes the empty input as the empty string', () => {
    expect(base45Encode(new Uint8Array(0))).toBe('');
    expect(base45Decode('').length).toBe(0);
  });

  it('hits the extremes of a triplet and of a final pair', () => {
    expect(base45Encode(Uint8Array.of(0, 0))).toBe('000');
    expect(base45Encode(Uint8Array.of(0xff, 0xff))).toBe('FGW'); // 65535 = 15 + 16·45 + 32·45²
    expect(base45Encode(Uint8Array.of(0))).toBe('00');
    expect(base45Encode(Uint8Array.of(0xff))).toBe('U5'); // 255 = 30 + 5·45
  });

  it('uses every alphabet character in its place', () => {
    for (let v = 0; v < 45; v++) expect(base45Encode(Uint8Array.of(v))).toBe(`${ALPHABET[v]}0`);
  });

  it('reads a view at its own offset (Buffer subarray, pooled buffers)', () => {
    const whole = Buffer.from('xxABxx', 'latin1');
    expect(base45Encode(whole.subarray(2, 4))).toBe('BB8');
    expect(base45Encode(Buffer.from('AB'))).toBe('BB8');
  });

  it('handles inputs larger than the encoder scratch buffer, and earlier results stay intact', () => {
    const big = new Uint8Array(10_001).map((_, i) => (i * 131) & 0xff);
    const small = base45Encode(ascii('AB'));
    const text = base45Encode(big);
    expect(text.length).toBe(15_002);
    expect(base45Decode(text).equals(Buffer.from(big))).toBe(true);
    expect(small).toBe('BB8');
    expect(base45Encode(ascii('ietf!'))).toBe('QED8WEX0');
  });

  it('turns a 93-byte TF1 token into 140 characters', () => {
    expect(base45Encode(new Uint8Array(93).fill(0xa5)).length).toBe(140);
  });
});

describe('base45Decode errors', () => {
  it('refuses characters outside the alphabet, lower case included', () => {
    for (const bad of ['bb8', 'BB8ab', 'BB#', '%69 VD92EX,', 'AB\n', 'A\u00c9B', 'AB€', '\u{1F600}A', 'BB_']) {
      expectCode(() => base45Decode(bad), 'CORE_ERR_BASE45_CHAR');
    }
    const e = expectCode(() => base45Decode('QED8wEX0'), 'CORE_ERR_BASE45_CHAR');
    expect(e.message).toContain('position 4');
    expect(e.field).toBeUndefined();
  });

  it('refuses a non-string', () => {
    expectCode(() => base45Decode(Buffer.from('BB8') as unknown as string), 'CORE_ERR_BASE45_CHAR');
  });

  it('refuses a dangling character (length % 3 === 1)', () => {
    for (const bad of ['A', 'BB8A', 'QED8WEX0AB', '%69 VD92EX0  ']) {
      expectCode(() => base45Decode(bad), 'CORE_ERR_BASE45_LENGTH');
    }
  });

  it('refuses a triplet above 65535 and a final pair above 255', () => {
    expectCode(() => base45Decode('GGW'), 'CORE_ERR_BASE45_OVERFLOW');
    expectCode(() => base45Decode('BB8:::'), 'CORE_ERR_BASE45_OVERFLOW'); // 91124, the largest triplet
    expectCode(() => base45Decode('V5'), 'CORE_ERR_BASE45_OVERFLOW'); // 256
    expectCode(() => base45Decode('BB8::'), 'CORE_ERR_BASE45_OVERFLOW'); // 2024
    expect([...base45Decode('FGW')]).toEqual([0xff, 0xff]);
    expect([...base45Decode('U5')]).toEqual([0xff]);
  });
});

describe('properties (fast-check)', () => {
  it('round-trips any bytes, with the predicted length and only alphabet characters', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base45Encode(bytes);
        expect(text.length).toBe(Math.floor(bytes.length / 2) * 3 + (bytes.length % 2) * 2);
        for (const ch of text) expect(ALPHABET.includes(ch)).toBe(true);
        expect(base45Decode(text).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('is canonical: any accepted text re-encodes to itself, anything else is refused with a Base45 code', () => {
    const text = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 40 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(text, (t) => {
        let decoded: Buffer;
        try {
          decoded = base45Decode(t);
        } catch (e) {
          expect(e).toBeInstanceOf(CoreError);
          expect(['CORE_ERR_BASE45_LENGTH', 'CORE_ERR_BASE45_OVERFLOW']).toContain((e as CoreError).code);
          return;
        }
        expect(base45Encode(decoded)).toBe(t);
      }),
      { numRuns: 500 },
    );
  });
});
