import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc, CodedError } from '../core/coded-error.js';
import { CITIZEN_ERRORS, CitizenError } from './errors.js';

describe('citizen error catalogue', () => {
  it('matches citizen/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(CITIZEN_ERRORS, doc)).toEqual([]);
  });

  it('every code is CIT_ERR_* with a 4xx/5xx status and a Chinese text', () => {
    for (const [code, spec] of Object.entries(CITIZEN_ERRORS)) {
      expect(code).toMatch(/^CIT_ERR_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
      expect(spec.zh).toMatch(/[\u4e00-\u9fff]/);
      expect(spec.zh).not.toMatch(/[a-z]{3,}/); // no English words (JPG, PNG, MB are how people name them)
    }
  });

  it('carries the Chinese text and names the field in the body (not as a generic 填写项 prefix)', () => {
    const e = new CitizenError('CIT_ERR_TEXT_MARKUP', undefined, 'text');
    expect(e).toBeInstanceOf(CodedError);
    expect(e.statusCode).toBe(400);
    expect(e.zh).toBe(CITIZEN_ERRORS.CIT_ERR_TEXT_MARKUP.zh);
    expect(e.field).toBeUndefined();
    expect(e.toJSON()).toEqual({ error: 'CIT_ERR_TEXT_MARKUP', message: 'text: text contains markup or script', field: 'text' });
  });
});
