import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc } from '../core/coded-error.js';
import { ALERTING_ERRORS, AlertingError } from './errors.js';

describe('alerting error catalogue', () => {
  it('matches alerting/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(ALERTING_ERRORS, doc)).toEqual([]);
  });
  it('every code is ALR_ERR_* with a status and a Chinese message', () => {
    for (const [code, spec] of Object.entries(ALERTING_ERRORS)) {
      expect(code).toMatch(/^ALR_ERR_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.zh).toMatch(/[\u4e00-\u9fff]/);
    }
  });
  it('carries the field', () => {
    const e = new AlertingError('ALR_ERR_CONFIG', 'must be a URL', 'SMS_GATEWAY_URL');
    expect(e.toJSON()).toEqual({ error: 'ALR_ERR_CONFIG', message: 'SMS_GATEWAY_URL: must be a URL', field: 'SMS_GATEWAY_URL' });
  });
});
