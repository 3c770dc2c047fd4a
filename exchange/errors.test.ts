import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc } from '../core/coded-error.js';
import { EXCHANGE_ERRORS, ExchangeError } from './errors.js';

describe('exchange error catalogue', () => {
  it('matches exchange/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(EXCHANGE_ERRORS, doc)).toEqual([]);
  });

  it('every code is EXC_ERR_* with a status and a Chinese message', () => {
    for (const [code, spec] of Object.entries(EXCHANGE_ERRORS)) {
      expect(code).toMatch(/^EXC_ERR_[A-Z0-9_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
      expect(spec.zh).toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it('carries code, status and field', () => {
    const e = new ExchangeError('EXC_ERR_DEPARTMENT', undefined, 'department');
    expect(e.statusCode).toBe(400);
    expect(e.toJSON()).toMatchObject({ error: 'EXC_ERR_DEPARTMENT', field: 'department' });
  });
});
