import { ERROR_BODY } from '../admin-api/schemas.js';

/** The shell's error body plus the Chinese text tracing errors carry (errors.ts). */
export const TRC_ERROR_BODY = {
  ...ERROR_BODY,
  properties: { ...ERROR_BODY.properties, zh: { type: 'string' } },
} as const;

/** Error responses of a tracing route (fast-json-stringify drops what a response schema does not name). */
export const ERRORS_4XX = { 400: TRC_ERROR_BODY, 404: TRC_ERROR_BODY, 409: TRC_ERROR_BODY } as const;

/**
 * Body of a text search (venue search, full search): POST, so a 1 MB text
 * reaches the service and its coded TRC_ERR_*_TOO_LONG instead of being cut
 * by the HTTP layer as a URL would be; q, an optional region filter, limit
 * 1–100, plus the route's own fields.
 */
export function textSearchBody(extra: Readonly<Record<string, object>> = {}): object {
  return {
    type: 'object', additionalProperties: false, required: ['q'],
    properties: { q: { type: 'string' }, region: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 100 }, ...extra },
  };
}
