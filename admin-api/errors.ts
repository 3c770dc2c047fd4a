import { errorClass, type Catalogue } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import ADMIN_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Catalogue of admin-api's own error codes. Documented in admin-api/ERRORS.md;
 * errors.test.ts fails when the two drift. Add a code to errors.json AND there.
 *
 * Errors of the layers below pass through the one error handler (app.ts)
 * unchanged: CORE_ERR_* (a malformed identity → 400 naming the field),
 * MASTER_ERR_* (MASTER_ERR_UNAVAILABLE → 503; MASTER_ERR_LOGIN_FAILED 401 and
 * MASTER_ERR_LOGIN_LOCKED 423 from the accounts), and the other catalogues'.
 */
// The codes stand in errors.json in these sections, in order:
//   requests
//   authentication and authorisation
//   codes
//   server
export const ADMIN_ERRORS = ADMIN_ERROR_DATA satisfies Catalogue;

export type AdminErrorCode = keyof typeof ADMIN_ERRORS;

export const AdminError = errorClass('AdminError', ADMIN_ERRORS);
export type AdminError = InstanceType<typeof AdminError>;
