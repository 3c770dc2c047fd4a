import { errorClass, type Catalogue } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import LOGAUDIT_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Catalogue of the log audit system's error codes (LOG_ERR_*), documented in
 * logaudit/ERRORS.md; errors.test.ts fails when the two drift. Intake outcomes
 * for bad input on the wire (oversized datagrams, broken framing, invalid
 * UTF-8, forged timestamps, floods) are not errors thrown to a client — there
 * is no client to answer — but counted outcomes; their names are in
 * intake-counters.ts and ERRORS.md lists them too.
 */
export const LOGAUDIT_ERRORS = LOGAUDIT_ERROR_DATA satisfies Catalogue;

export type LogAuditErrorCode = keyof typeof LOGAUDIT_ERRORS;
export const LogAuditError = errorClass('LogAuditError', LOGAUDIT_ERRORS);
export type LogAuditError = InstanceType<typeof LogAuditError>;
