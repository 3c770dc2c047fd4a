import { describe, expect, it } from 'vitest';
// @ts-expect-error plain browser JS without types
import { venueId } from './app/src/scan.js';
import { placeCodeText } from '../admin-api/place-code.js';

describe('citizen page: place code parsing', () => {
  it('reads the printed place code that admin-api issues', () => {
    expect(venueId(placeCodeText('V000123'))).toBe('V000123');
    expect(venueId('  hcv1:V9 ')).toBe('V9');
  });
  it('reads a bare id and URL forms', () => {
    expect(venueId('V42')).toBe('V42');
    expect(venueId('https://hc.example/p?v=V7')).toBe('V7');
    expect(venueId('https://hc.example/p/V8')).toBe('V8');
  });
});
