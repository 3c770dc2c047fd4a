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

describe('tracing config', () => {
  it('reads its variables with defaults and names a bad one', async () => {
    const { loadTracingConfig } = await import('./config.js');
    expect(loadTracingConfig({})).toEqual({ retentionDays: 30, maxVenues: 200, maxGroup: 20_000, indexRefreshMs: 2000, indexMaxVenues: 6_000_000, rollupIntervalMs: 600_000, rollupLagHours: 2 });
    expect(loadTracingConfig({ TRACING_MAX_VENUES: '50' }).maxVenues).toBe(50);
    expect(() => loadTracingConfig({ TRACING_RETENTION_DAYS: '0' })).toThrow(/TRACING_RETENTION_DAYS/);
    expect(() => loadTracingConfig({ TRACING_MAX_VENUES: 'many' })).toThrow(expect.objectContaining({ code: 'TRC_ERR_CONFIG', field: 'TRACING_MAX_VENUES' }));
  });
});
