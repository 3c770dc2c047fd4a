import type { HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { CodedError } from '../core/coded-error.js';

/**
 * Writing answers on a uWS response: status lines, JSON bodies, and the
 * DESIGN §5 error shape `{ "error": code, "message": text }`, plus `zh`, the
 * catalogue's Chinese text the citizen page shows (issue 15: no English and
 * no raw code reaches a citizen), and `field` when one input is at fault.
 *
 * Everything here may run after an `await`, so callers that are past one
 * wrap the calls in `res.cork()` (FACTS: uWS only corks the synchronous part
 * of a handler) — `replyCorked` does that.
 */
export const STATUS_LINE: Readonly<Record<number, string>> = {
  200: '200 OK',
  304: '304 Not Modified',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Content Too Large',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export const JSON_TYPE = 'application/json';

/** What DESIGN §5 names `not_registered` literally; the catalogue keeps the EDGE_ERR_ form. */
const WIRE_CODE: Readonly<Record<string, string>> = { EDGE_ERR_NOT_REGISTERED: 'not_registered' };

export interface ErrorReply {
  readonly status: number;
  readonly body: string;
  readonly code: string;
}

/**
 * The status and body for any thrown value. Coded errors keep their code and
 * status; anything else is an internal error whose detail stays in the log
 * (`onInternal`, also told about coded 500s), never in the answer.
 */
export function errorReply(err: unknown, onInternal: (err: unknown) => void): ErrorReply {
  if (err instanceof CodedError) {
    // a coded 500 (a corrupt record, a bad key file) is still something an operator must see
    if (err.statusCode === 500) onInternal(err);
    const code = WIRE_CODE[err.code] ?? err.code;
    const body = JSON.stringify({ error: code, message: err.message, zh: err.zh, field: err.field });
    return { status: STATUS_LINE[err.statusCode] === undefined ? 500 : err.statusCode, body, code };
  }
  onInternal(err);
  return { status: 500, body: '{"error":"EDGE_ERR_INTERNAL","message":"internal error","zh":"系统内部错误，请稍后再试"}', code: 'EDGE_ERR_INTERNAL' };
}

/** Writes a complete JSON answer (caller is corked). `close` ends the connection after it (413: stop reading). */
export function replyJson(res: HttpResponse, status: number, body: string | Uint8Array, close = false, extraHeader?: string, extraValue?: string): void {
  res.writeStatus(STATUS_LINE[status] ?? `${status} Unknown`);
  res.writeHeader('content-type', JSON_TYPE);
  if (extraHeader !== undefined && extraValue !== undefined) res.writeHeader(extraHeader, extraValue);
  res.end(body, close);
}

/** replyJson inside res.cork(), for answers made after an await. */
export function replyCorked(res: HttpResponse, status: number, body: string | Uint8Array, close = false, extraHeader?: string, extraValue?: string): void {
  res.cork(function corkedReply() {
    replyJson(res, status, body, close, extraHeader, extraValue);
  });
}
