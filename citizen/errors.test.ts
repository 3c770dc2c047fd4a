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

  it('serialises with the Chinese text', () => {
    const e = new CitizenError('CIT_ERR_TEXT_MARKUP', undefined, 'text');
    expect(e).toBeInstanceOf(CodedError);
    expect(e.statusCode).toBe(400);
    expect(e.toJSON()).toMatchObject({ error: 'CIT_ERR_TEXT_MARKUP', field: 'text', zh: CITIZEN_ERRORS.CIT_ERR_TEXT_MARKUP.zh });
  });
});
