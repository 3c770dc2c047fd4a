import { describe, expect, it } from 'vitest';
import { CoreError } from '../core/errors.js';
import { MasterError } from '../master/errors.js';
import { issuePath, toAdminError } from './error-handler.js';

describe('issuePath (Ajv issue → field path)', () => {
  it('turns JSON pointers into dotted paths with indices', () => {
    expect(issuePath('body', { instancePath: '/items/2/idNo' })).toBe('items[2].idNo');
    expect(issuePath('body', { instancePath: '', params: { additionalProperty: 'actor' } })).toBe('actor');
    expect(issuePath('body', { instancePath: '/items/0', params: { additionalProperty: 'personId' } })).toBe('items[0].personId');
    expect(issuePath('body', { instancePath: '', params: { missingProperty: 'color' } })).toBe('color');
    expect(issuePath('body', { instancePath: '/0/region' })).toBe('[0].region');
    expect(issuePath('body', { instancePath: '/a~1b/c~0d' })).toBe('a/b.c~d');
    expect(issuePath('querystring', { instancePath: '' })).toBe('querystring');
  });
});

describe('toAdminError', () => {
  it('passes coded errors of every package through unchanged', () => {
    const core = new CoreError('CORE_ERR_PHONE', 'has 10 digits', 'phone');
    expect(toAdminError(core)).toBe(core);
    const master = new MasterError('MASTER_ERR_UNAVAILABLE', 'connect ECONNREFUSED');
    expect(toAdminError(master).statusCode).toBe(503);
  });

  it('maps schema failures, framework errors and database conflicts', () => {
    const v = toAdminError({ validation: [{ instancePath: '', params: { additionalProperty: 'role' }, message: 'must NOT have additional properties' }], validationContext: 'body' });
    expect(v.toJSON()).toEqual({ error: 'ADM_ERR_VALIDATION', message: 'role: unknown field (mass assignment is refused)', field: 'role' });
    expect(toAdminError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).code).toBe('ADM_ERR_PAYLOAD_TOO_LARGE');
    expect(toAdminError({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).code).toBe('ADM_ERR_UNSUPPORTED_MEDIA');
    expect(toAdminError({ code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }).code).toBe('ADM_ERR_BAD_JSON');
    expect(toAdminError(Object.assign(new SyntaxError('Unexpected end of JSON input'), { statusCode: 400 })).code).toBe('ADM_ERR_BAD_JSON');
    expect(toAdminError({ code: '23505', message: 'duplicate key value violates unique constraint' }).code).toBe('ADM_ERR_CONFLICT');
    expect(toAdminError({ statusCode: 400, message: 'bad content-length' }).code).toBe('ADM_ERR_VALIDATION');
  });

  it('hides anything unexpected behind 500 ADM_ERR_INTERNAL with no detail', () => {
    const e = toAdminError(new Error('column "cert_enc" does not exist'));
    expect(e.statusCode).toBe(500);
    expect(e.toJSON()).toEqual({ error: 'ADM_ERR_INTERNAL', message: 'internal error' });
  });
});
