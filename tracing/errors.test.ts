import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc } from '../core/coded-error.js';
import { TRACING_ERRORS, TracingError } from './errors.js';

describe('tracing error catalogue', () => {
  it('matches tracing/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(TRACING_ERRORS, doc)).toEqual([]);
  });

  it('every code is TRC_ERR_* with a 4xx/5xx status and a Chinese text', () => {
    for (const [code, spec] of Object.entries(TRACING_ERRORS)) {
      expect(code).toMatch(/^TRC_ERR_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
      expect(spec.zh).toMatch(/[\u4e00-\u9fff]/);
      expect(spec.zh).not.toMatch(/TRC_ERR/);
    }
  });

  it('serialises with the Chinese text', () => {
    const e = new TracingError('TRC_ERR_WINDOW_INVERTED', 'to before from', 'venues[0].to');
    expect(e.statusCode).toBe(400);
    expect(e.toJSON()).toEqual({
      error: 'TRC_ERR_WINDOW_INVERTED', message: 'venues[0].to: to before from', field: 'venues[0].to', zh: TRACING_ERRORS.TRC_ERR_WINDOW_INVERTED.zh,
    });
  });
});
