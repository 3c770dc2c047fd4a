import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCatalogueDoc, CodedError } from '../core/coded-error.js';
import { EDGE_ERRORS, EdgeError } from './errors.js';

describe('edge error catalogue', () => {
  it('matches edge/ERRORS.md', () => {
    const doc = readFileSync(new URL('./ERRORS.md', import.meta.url), 'utf8');
    expect(checkCatalogueDoc(EDGE_ERRORS, doc)).toEqual([]);
  });

  it('builds coded errors with the catalogue status and the DESIGN §5 body', () => {
    const e = new EdgeError('EDGE_ERR_REPLICA_MISSING', '/data/replica');
    expect(e).toBeInstanceOf(CodedError);
    expect(e.name).toBe('EdgeError');
    expect(e.statusCode).toBe(503);
    expect(e.toJSON()).toEqual({ error: 'EDGE_ERR_REPLICA_MISSING', message: `${EDGE_ERRORS.EDGE_ERR_REPLICA_MISSING.message}: /data/replica` });
  });

  it('refuses a code outside the catalogue', () => {
    expect(() => new EdgeError('EDGE_ERR_NOPE' as never)).toThrow(TypeError);
  });
});
