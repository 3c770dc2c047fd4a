import { ERROR_BODY } from '../admin-api/schemas.js';

/** The shell's error body plus the Chinese text tracing errors carry (errors.ts). */
export const TRC_ERROR_BODY = {
  ...ERROR_BODY,
  properties: { ...ERROR_BODY.properties, zh: { type: 'string' } },
} as const;

/** Error responses of a tracing route (fast-json-stringify drops what a response schema does not name). */
export const ERRORS_4XX = { 400: TRC_ERROR_BODY, 404: TRC_ERROR_BODY, 409: TRC_ERROR_BODY } as const;
