import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc, CodedError } from '../core/coded-error.js';
import { SYNC_ERRORS, SyncError } from './errors.js';

describe('sync error catalogue', () => {
  it('matches sync/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(SYNC_ERRORS, doc)).toEqual([]);
  });

  it('builds coded errors with the catalogue status', () => {
    const e = new SyncError('SYNC_ERR_GAP', 'batch 7..9 after 5');
    expect(e).toBeInstanceOf(CodedError);
    expect(e.name).toBe('SyncError');
    expect(e.code).toBe('SYNC_ERR_GAP');
    expect(e.statusCode).toBe(500);
    expect(e.message).toBe(`${SYNC_ERRORS.SYNC_ERR_GAP.message}: batch 7..9 after 5`);
  });

  it('refuses a code outside the catalogue', () => {
    expect(() => new SyncError('SYNC_ERR_NOPE' as never)).toThrow(TypeError);
  });
});
