import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of admin-api's own error codes. Documented in admin-api/ERRORS.md;
 * errors.test.ts fails when the two drift. Add a code here AND there.
 *
 * Errors of the layers below pass through the one error handler (app.ts)
 * unchanged: CORE_ERR_* (a malformed identity → 400 naming the field),
 * MASTER_ERR_* (MASTER_ERR_UNAVAILABLE → 503; MASTER_ERR_LOGIN_FAILED 401 and
 * MASTER_ERR_LOGIN_LOCKED 423 from the accounts), and the other catalogues'.
 */
export const ADMIN_ERRORS = {
  // requests
  ADM_ERR_VALIDATION: { status: 400, message: 'request does not match the schema' },
  ADM_ERR_BAD_JSON: { status: 400, message: 'request body is not valid JSON' },
  ADM_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'request body is too large' },
  ADM_ERR_UNSUPPORTED_MEDIA: { status: 415, message: 'request body must be application/json' },
  ADM_ERR_NOT_FOUND: { status: 404, message: 'not found' },
  ADM_ERR_RATE_LIMITED: { status: 429, message: 'too many requests: retry later' },
  // authentication and authorisation
  ADM_ERR_UNAUTHENTICATED: { status: 401, message: 'missing, invalid or expired bearer token' },
  ADM_ERR_FORBIDDEN: { status: 403, message: 'your role may not do this' },
  // codes
  ADM_ERR_AMBIGUOUS: { status: 409, message: 'several people match: use the certificate' },
  ADM_ERR_SAME_APPROVER: { status: 403, message: 'a bulk change must be approved by a different user (GB/T 35273 7.1)' },
  ADM_ERR_REQUEST_STATE: { status: 409, message: 'the request is no longer pending' },
  ADM_ERR_CONFLICT: { status: 409, message: 'already exists' },
  // server
  ADM_ERR_CONFIG: { status: 500, message: 'invalid admin-api configuration' },
  ADM_ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Catalogue;

export type AdminErrorCode = keyof typeof ADMIN_ERRORS;

export const AdminError = errorClass('AdminError', ADMIN_ERRORS);
export type AdminError = InstanceType<typeof AdminError>;
