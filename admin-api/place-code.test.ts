import jsQRImport from 'jsqr';
import { describe, expect, it } from 'vitest';
import { decodePng } from './png-decode.common.js';
import { isVenueId, newVenueId, parsePlaceCode, placeCodePng, placeCodeSvg, placeCodeText } from './place-code.js';

// jsqr is CommonJS: under Node's ESM loader the function is the default's `default` (see edge/app-qr.test.ts).
const jsQR = jsQRImport.default;

describe('place codes', () => {
  it('generates V + 16 Crockford Base32 ids, all different, all in the QR alphanumeric set', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = newVenueId();
      expect(id).toMatch(/^V[0-9A-HJKMNP-TV-Z]{16}$/);
      expect(isVenueId(id)).toBe(true);
      seen.add(id);
    }
    expect(seen.size).toBe(2000);
    expect(placeCodeText('V0123')).toMatch(/^[0-9A-Z $%*+\-./:]+$/);
  });

  it('parses its own text and nothing else', () => {
    expect(parsePlaceCode(placeCodeText('V123'))).toBe('V123');
    expect(parsePlaceCode('HCV1:')).toBeNull();
    expect(parsePlaceCode('HCV1:a b')).toBeNull();
    expect(parsePlaceCode('TF1:ABC')).toBeNull();
    expect(isVenueId('-x')).toBe(false);
    expect(isVenueId('x'.repeat(65))).toBe(false);
  });

  it('renders a PNG that a QR reader decodes back to HCV1:<id>', async () => {
    const id = newVenueId();
    const png = await placeCodePng(id);
    const img = decodePng(png);
    const found = jsQR(img.data, img.width, img.height);
    expect(found?.data).toBe(`HCV1:${id}`);
  });

  it('renders an SVG document', async () => {
    const svg = await placeCodeSvg('V1');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('</svg>');
  });
});
