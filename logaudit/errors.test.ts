import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc } from '../core/coded-error.js';
import { LOGAUDIT_ERRORS, LogAuditError } from './errors.js';

describe('logaudit error catalogue', () => {
  it('matches logaudit/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(LOGAUDIT_ERRORS, doc)).toEqual([]);
  });
  it('every code is LOG_ERR_* with a status and a Chinese message', () => {
    for (const [code, spec] of Object.entries(LOGAUDIT_ERRORS)) {
      expect(code).toMatch(/^LOG_ERR_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.zh).toMatch(/[\u4e00-\u9fff]/);
    }
  });
  it('serialises to the DESIGN §5 shape', () => {
    const e = new LogAuditError('LOG_ERR_QUERY', 'unbalanced quote', 'q');
    expect(e.statusCode).toBe(400);
    expect(e.toJSON()).toEqual({ error: 'LOG_ERR_QUERY', message: 'q: unbalanced quote', field: 'q' });
  });
});
