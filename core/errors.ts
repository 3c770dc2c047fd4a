import { errorClass, type Catalogue } from './coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import CORE_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Catalogue of core's error codes. Documented in core/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code to errors.json AND there.
 */
// The codes stand in errors.json in these sections, in order:
//   identity (DESIGN §2)
//   Base45 (RFC 9285)
//   TF1 token (DESIGN §4)
//   citizen session tokens (DESIGN §5): all 401 so the app sends the person to log in again
//   rules (DESIGN §3)
//   record and delta formats
export const CORE_ERRORS = CORE_ERROR_DATA satisfies Catalogue;

export type CoreErrorCode = keyof typeof CORE_ERRORS;

export const CoreError = errorClass('CoreError', CORE_ERRORS);
export type CoreError = InstanceType<typeof CoreError>;
