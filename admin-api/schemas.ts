/**
 * JSON schemas shared by the routes. Every object schema is closed
 * (`additionalProperties: false`) and Ajv runs with `removeAdditional: false`
 * (app.ts), so an unknown field is REFUSED with 400 ADM_ERR_VALIDATION
 * naming it — never silently dropped, never assigned (OWASP Mass Assignment
 * Cheat Sheet: allow-list the bindable fields).
 *
 * Identity fields are length-bounded strings only: their real checks (GB
 * 11643 check digit, birth date, mobile format) are core/identity.ts's, whose
 * CORE_ERR_* codes reach the client unchanged. Doing half of it in a schema
 * would give one mistake two different error codes.
 */
export const COLOR = { type: 'string', enum: ['green', 'yellow', 'red'] } as const;

/** unix seconds as TF1 carries them (uint32) */
export const UNIX_SECONDS = { type: 'integer', minimum: 0, maximum: 0xffff_ffff } as const;

const ID_TYPE = {
  type: 'string', maxLength: 40,
  description: 'resident (default), passport, hk_macau, taiwan, foreign_permanent, or a Chinese alias (身份证, 护照, …)',
} as const;
const ID_NO = { type: 'string', maxLength: 40, description: 'certificate number; normalised by core/identity.ts' } as const;
const PHONE = { type: 'string', maxLength: 32, description: 'mainland mobile, +86/86/0086 prefixes accepted' } as const;
const NAME = { type: 'string', maxLength: 100 } as const;

/** Who a back-office operation is about: the certificate, or else the phone. */
export const PERSON_REF_PROPS = { idType: ID_TYPE, idNo: ID_NO, phone: PHONE } as const;

export const PERSON_REF = {
  type: 'object',
  additionalProperties: false,
  description: '{idType?, idNo} or {phone}; with both, the certificate is the key (DESIGN §2)',
  properties: PERSON_REF_PROPS,
} as const;

export const SESSION_BODY = {
  type: 'object',
  additionalProperties: false,
  description: '{idType, idNo, name} or {phone} (DESIGN §5)',
  properties: { idType: ID_TYPE, idNo: ID_NO, name: NAME, phone: PHONE },
} as const;

export const REASON = {
  type: 'string', minLength: 1, maxLength: 64,
  description: 'shown with the code; no control characters',
} as const;

export const REGION = { type: 'string', pattern: '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$', description: 'GB/T 2260 code: 6, 9 or 12 digits' } as const;
export const REGION_PREFIX = { type: 'string', pattern: '^[0-9]{0,12}$' } as const;

export const ERROR_BODY = {
  type: 'object',
  properties: {
    error: { type: 'string', description: 'stable code (ERRORS.md)' },
    message: { type: 'string', description: 'English, for developers and logs' },
    field: { type: 'string', description: 'path of the input field concerned' },
    zh: { type: 'string', description: 'Chinese text for people, field named in Chinese; what the console shows' },
  },
  required: ['error', 'message', 'zh'],
} as const;

export const EMPTY_BODY = { type: 'object', additionalProperties: false, properties: {} } as const;

/** A success answer documented by its summary; serialised as is (no property filtering). */
export const ANY_OBJECT = { type: 'object', additionalProperties: true } as const;
