import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc, CodedError } from './coded-error.js';
import { CORE_ERRORS, CoreError } from './errors.js';

describe('core error catalogue', () => {
  it('matches core/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(CORE_ERRORS, doc)).toEqual([]);
  });

  it('detects drift in either direction', () => {
    const doc = '| `CORE_ERR_X` | 400 | x |\n| `CORE_ERR_Y` | 404 | y |\n';
    expect(checkCatalogueDoc({ CORE_ERR_X: { status: 500, message: 'x', zh: '甲' }, CORE_ERR_Z: { status: 400, message: 'z', zh: '乙' } }, doc))
      .toEqual(['CORE_ERR_X: catalogue says 500, doc says 400', 'CORE_ERR_Z is not documented', 'CORE_ERR_Y is documented but not in the catalogue']);
  });

  it('carries code, status and field, and serialises to the DESIGN §5 shape', () => {
    const e = new CoreError('CORE_ERR_PHONE', 'has 10 digits', 'phone');
    expect(e).toBeInstanceOf(CodedError);
    expect(e.code).toBe('CORE_ERR_PHONE');
    expect(e.statusCode).toBe(400);
    expect(e.field).toBe('phone');
    expect(e.toJSON()).toEqual({ error: 'CORE_ERR_PHONE', message: 'phone: has 10 digits', field: 'phone' });
  });

  it('refuses a code outside the catalogue', () => {
    expect(() => new CoreError('CORE_ERR_NOPE' as never)).toThrow(TypeError);
  });
});
