import { errorClass, type Catalogue } from './coded-error.js';

/**
 * Catalogue of core's error codes. Documented in core/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code here AND there.
 */
export const CORE_ERRORS = {
  // identity (DESIGN §2)
  CORE_ERR_ID_EMPTY: { status: 400, message: 'identity field is empty' },
  CORE_ERR_ID_LENGTH: { status: 400, message: 'resident ID must have 18 characters (or 15 legacy digits)' },
  CORE_ERR_ID_CHARS: { status: 400, message: 'resident ID has characters other than digits and a final X' },
  CORE_ERR_ID_BIRTH_DATE: { status: 400, message: 'resident ID birth date is not a real past date' },
  CORE_ERR_ID_CHECK_DIGIT: { status: 400, message: 'resident ID check character does not match (GB 11643)' },
  CORE_ERR_ID_TYPE: { status: 400, message: 'unknown certificate type' },
  CORE_ERR_CERT_FORMAT: { status: 400, message: 'certificate number does not match its type' },
  CORE_ERR_PHONE: { status: 400, message: 'not a mainland mobile number (1[3-9] and 9 digits)' },
  CORE_ERR_NAME: { status: 400, message: 'name is empty or malformed' },
  CORE_ERR_PERSON_KEY: { status: 400, message: 'a person needs a certificate or a mobile number' },
  CORE_ERR_PEPPER: { status: 500, message: 'uid pepper must be at least 32 bytes' },
  // Base45 (RFC 9285)
  CORE_ERR_BASE45_CHAR: { status: 400, message: 'character outside the Base45 alphabet' },
  CORE_ERR_BASE45_LENGTH: { status: 400, message: 'Base45 text has a dangling character' },
  CORE_ERR_BASE45_OVERFLOW: { status: 400, message: 'Base45 group decodes to a value out of range' },
  // TF1 token (DESIGN §4)
  CORE_ERR_TF1_PREFIX: { status: 400, message: 'token does not start with TF1:' },
  CORE_ERR_TF1_BASE45: { status: 400, message: 'token is not valid Base45' },
  CORE_ERR_TF1_LENGTH: { status: 400, message: 'token is not 93 bytes long' },
  CORE_ERR_TF1_VERSION: { status: 400, message: 'unknown token version' },
  CORE_ERR_TF1_ALG: { status: 400, message: 'unknown signature algorithm' },
  CORE_ERR_TF1_KID: { status: 400, message: 'unknown key id' },
  CORE_ERR_TF1_ALG_KID_MISMATCH: { status: 400, message: 'algorithm does not match the key id' },
  CORE_ERR_TF1_COLOR: { status: 400, message: 'unknown colour' },
  CORE_ERR_TF1_SIGNATURE: { status: 400, message: 'signature does not verify' },
  CORE_ERR_TF1_EXPIRED: { status: 400, message: 'token has expired' },
  CORE_ERR_TF1_NOT_YET_VALID: { status: 400, message: 'token is not yet valid' },
  CORE_ERR_TF1_WINDOW: { status: 400, message: 'token expires before it was issued' },
  CORE_ERR_TF1_KEY_WINDOW: { status: 400, message: "token validity lies outside its key's window" },
  CORE_ERR_TF1_CLAIM: { status: 500, message: 'token claim out of range for the TF1 format' },
  CORE_ERR_KEY_INVALID: { status: 400, message: 'malformed key' },
  CORE_ERR_KEY_SET_INVALID: { status: 400, message: 'malformed key set' },
  // citizen session tokens (DESIGN §5): all 401 so the app sends the person to log in again
  CORE_ERR_SESSION_MALFORMED: { status: 401, message: 'session token is malformed' },
  CORE_ERR_SESSION_BAD_MAC: { status: 401, message: 'session token signature does not verify' },
  CORE_ERR_SESSION_EXPIRED: { status: 401, message: 'session token has expired' },
  CORE_ERR_SESSION_KEY: { status: 500, message: 'session key must be at least 32 bytes' },
  // rules (DESIGN §3)
  CORE_ERR_RULE_INVALID: { status: 400, message: 'rule set is invalid' },
  CORE_ERR_FACTS_INVALID: { status: 400, message: 'facts are invalid' },
  // record and delta formats
  CORE_ERR_FORMAT_VERSION: { status: 500, message: 'data was written in a newer format than this build reads' },
  CORE_ERR_RECORD_INVALID: { status: 500, message: 'record is malformed' },
} as const satisfies Catalogue;

export type CoreErrorCode = keyof typeof CORE_ERRORS;

export const CoreError = errorClass('CoreError', CORE_ERRORS);
export type CoreError = InstanceType<typeof CoreError>;
