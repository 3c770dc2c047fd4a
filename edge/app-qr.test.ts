import { readFileSync } from 'node:fs';
import jsQRImport from 'jsqr';
import QRCode from 'qrcode';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeQr, type QrSymbol } from './app/src/qr.js';

// jsqr is CommonJS (a webpack bundle setting `exports.default`): under Node's
// ESM loader the default import is the exports object, the function is its `default`.
const jsQR = jsQRImport.default;

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
// A real TF1 text (DESIGN §4: "TF1:" + Base45 of 93 bytes = 4 + 140 = 144 characters) from the shared vectors.
const VECTORS = JSON.parse(readFileSync(new URL('../../shared/vectors/tf1.json', import.meta.url), 'utf8')) as {
  valid: { name: string; token: string }[];
};
const TF1_LIKE = VECTORS.valid[0]!.token;

function sameAsReference(text: string, mask?: number): { mine: QrSymbol; ref: ReturnType<typeof QRCode.create> } {
  const mine = encodeQr(text, mask);
  // one alphanumeric segment, so that `qrcode` does not switch to numeric mode for digit runs
  const ref = QRCode.create([{ data: text, mode: 'alphanumeric' }], {
    errorCorrectionLevel: 'M',
    version: mine.version,
    ...(mask === undefined ? {} : { maskPattern: mask as 0 }),
  });
  return { mine, ref };
}

function expectSameModules(text: string, mask?: number): QrSymbol {
  const { mine, ref } = sameAsReference(text, mask);
  expect(mine.size).toBe(ref.modules.size);
  expect(mine.mask).toBe(ref.maskPattern);
  expect(Buffer.from(mine.modules).equals(Buffer.from(ref.modules.data))).toBe(true);
  return mine;
}

/** Renders the symbol the way drawQr does (4-module quiet zone) into RGBA pixels and reads it back with jsQR. */
function decode(q: QrSymbol, scale = 4): string | undefined {
  const n = (q.size + 8) * scale;
  const px = new Uint8ClampedArray(n * n * 4).fill(255);
  for (let y = 0; y < q.size; y++) {
    for (let x = 0; x < q.size; x++) {
      if (!q.modules[y * q.size + x]) continue;
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const o = (((y + 4) * scale + dy) * n + (x + 4) * scale + dx) * 4;
          px[o] = px[o + 1] = px[o + 2] = 0;
        }
      }
    }
  }
  return jsQR(px, n, n)?.data;
}

describe('QR encoder of the citizen page (edge/app/src/qr.js)', () => {
  it('encodes a TF1 token as version 6-M (41×41) and reads back', () => {
    expect(TF1_LIKE).toHaveLength(144);
    const q = expectSameModules(TF1_LIKE);
    expect(q.version).toBe(6);
    expect(q.size).toBe(41);
    expect(decode(q)).toBe(TF1_LIKE);
  });

  it('matches the qrcode package module for module with every forced mask', () => {
    for (let mask = 0; mask < 8; mask++) expectSameModules(TF1_LIKE, mask);
  });

  it('matches the qrcode package (version, mask choice, modules) across lengths and versions 1–40', () => {
    const alnum = fc.string({ unit: fc.constantFrom(...ALNUM), minLength: 1, maxLength: 3391 });
    fc.assert(
      fc.property(alnum, (text) => {
        expectSameModules(text);
        const auto = QRCode.create([{ data: text, mode: 'alphanumeric' }], { errorCorrectionLevel: 'M' });
        expect(encodeQr(text).version).toBe(auto.version);
      }),
      { numRuns: 60 },
    );
    // version boundaries of level M (capacity in alphanumeric characters: ISO/IEC 18004 Table 7)
    for (const [len, ver] of [[20, 1], [21, 2], [154, 6], [155, 7], [311, 10], [312, 11], [3391, 40]] as const) {
      expect(expectSameModules('A'.repeat(len)).version).toBe(ver);
    }
  });

  it('is read back by an independent decoder (jsQR): every TF1 vector and several versions', () => {
    for (const v of VECTORS.valid) {
      const q = encodeQr(v.token);
      expect(q.version).toBe(6);
      expect(decode(q)).toBe(v.token);
    }
    for (const text of ['HC', 'TF1:0', 'V000001', 'A1 $%*+-./:'.repeat(30)]) {
      expect(decode(encodeQr(text))).toBe(text);
    }
  });

  it('refuses characters outside the alphanumeric set and texts over version 40', () => {
    expect(() => encodeQr('tf1:lower')).toThrow(RangeError);
    expect(() => encodeQr('TF1:\u00e9')).toThrow(/cannot encode/);
    expect(() => encodeQr('A'.repeat(3392))).toThrow(/too long/);
  });
});
