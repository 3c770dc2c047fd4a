import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc, CodedError } from '../core/coded-error.js';
import { MASTER_ERRORS, MasterError } from './errors.js';

describe('master error catalogue', () => {
  it('matches master/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(MASTER_ERRORS, doc)).toEqual([]);
  });

  it('carries code and status, and serialises to the DESIGN §5 shape', () => {
    const e = new MasterError('MASTER_ERR_UNAVAILABLE', 'connect ECONNREFUSED 127.0.0.1:1');
    expect(e).toBeInstanceOf(CodedError);
    expect(e.name).toBe('MasterError');
    expect(e.statusCode).toBe(503);
    expect(e.toJSON()).toEqual({
      error: 'MASTER_ERR_UNAVAILABLE',
      message: 'master database is unavailable: connect ECONNREFUSED 127.0.0.1:1',
    });
  });

  it('refuses a code outside the catalogue', () => {
    expect(() => new MasterError('MASTER_ERR_NOPE' as never)).toThrow(TypeError);
  });
});
