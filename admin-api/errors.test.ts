import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc, CodedError } from '../core/coded-error.js';
import { ADMIN_ERRORS, AdminError } from './errors.js';

describe('admin-api error catalogue', () => {
  it('matches admin-api/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(ADMIN_ERRORS, doc)).toEqual([]);
  });

  it('every code is ADM_ERR_* with a 4xx/5xx status', () => {
    for (const [code, spec] of Object.entries(ADMIN_ERRORS)) {
      expect(code).toMatch(/^ADM_ERR_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
    }
  });

  it('carries code, status and field, and serialises to the DESIGN §5 shape', () => {
    const e = new AdminError('ADM_ERR_VALIDATION', 'must NOT have additional properties', 'role');
    expect(e).toBeInstanceOf(CodedError);
    expect(e.name).toBe('AdminError');
    expect(e.statusCode).toBe(400);
    expect(e.toJSON()).toEqual({ error: 'ADM_ERR_VALIDATION', message: 'role: must NOT have additional properties', field: 'role' });
  });

  it('refuses a code outside the catalogue', () => {
    expect(() => new AdminError('ADM_ERR_NOPE' as never)).toThrow(TypeError);
  });
});
