import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CodedError } from '../core/coded-error.js';
import { errorZh, type AjvIssue } from './error-zh.js';
import { AdminError } from './errors.js';

/**
 * THE error handler of admin-api: every failure becomes `{error, message, zh}`
 * (+ `field`) with the status its code carries (DESIGN §5); `zh` is the
 * Chinese text for people, field named in Chinese (error-zh.ts). Nothing
 * else writes error bodies.
 *
 *   CodedError (ours, core's, master's, …)  → its code and status, as is
 *   Fastify schema validation failure       → 400 ADM_ERR_VALIDATION, field = path of the first failure
 *   body not JSON / too large / wrong type  → 400 ADM_ERR_BAD_JSON / 413 / 415
 *   PostgreSQL unique violation (23505)     → 409 ADM_ERR_CONFLICT
 *   anything else                           → 500 ADM_ERR_INTERNAL, details only in the log
 *
 * Logging: 4xx are logged with their code only — never the message, which
 * may echo input (a CORE_ERR_ID_BIRTH_DATE message quotes the birth date).
 * 5xx are logged with the error object; identity never reaches SQL or our
 * own messages in clear (master/pii-crypto.ts), so a stack carries none.
 */

/** '/items/2/idNo' + missing 'x' → 'items[2].idNo.x' */
export function issuePath(context: string | undefined, issue: AjvIssue): string {
  let out = '';
  for (const seg of (issue.instancePath ?? '').split('/').slice(1)) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(s) ? `[${s}]` : out === '' ? s : `.${s}`;
  }
  const p = issue.params ?? {};
  const extra = p.additionalProperty ?? p.missingProperty;
  if (typeof extra === 'string') out += out === '' ? extra : `.${extra}`;
  if (out === '') out = context ?? 'body';
  return out;
}

/** The first Ajv issue of a Fastify validation failure, if `err` is one. */
function validationIssue(err: unknown): AjvIssue | undefined {
  const v = (err as { validation?: unknown }).validation;
  return Array.isArray(v) && v.length > 0 ? (v[0] as AjvIssue) : undefined;
}

export function toAdminError(err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  const e = err as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string; name?: string };
  const first = validationIssue(err);
  if (first !== undefined) {
    let message = first.message ?? 'invalid';
    if (first.params?.additionalProperty !== undefined) message = 'unknown field (mass assignment is refused)';
    return new AdminError('ADM_ERR_VALIDATION', message, issuePath(e.validationContext, first));
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AdminError('ADM_ERR_PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AdminError('ADM_ERR_UNSUPPORTED_MEDIA');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AdminError('ADM_ERR_BAD_JSON', 'empty body');
    case '23505':
      return new AdminError('ADM_ERR_CONFLICT');
    default:
      break;
  }
  if (e.name === 'SyntaxError' || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new AdminError('ADM_ERR_BAD_JSON');
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 413) return new AdminError('ADM_ERR_PAYLOAD_TOO_LARGE');
  if (status === 415) return new AdminError('ADM_ERR_UNSUPPORTED_MEDIA');
  if (status === 404) return new AdminError('ADM_ERR_NOT_FOUND');
  // Other framework 4xx (bad Content-Length, bad URL encoding): the client's fault, no detail echoed.
  if (status >= 400 && status < 500) return new AdminError('ADM_ERR_VALIDATION', 'malformed request');
  return new AdminError('ADM_ERR_INTERNAL');
}

export function adminErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const coded = toAdminError(err);
  if (coded.statusCode >= 500) {
    req.log.error({ err, code: coded.code }, 'request failed');
  } else {
    req.log.info({ code: coded.code, status: coded.statusCode, field: coded.field }, 'request refused');
  }
  void reply.code(coded.statusCode).type('application/json; charset=utf-8').send(errorBody(coded, validationIssue(err)));
}

/** `{error, message, field?, zh}`: zh is what the console shows (error-zh.ts). */
export function errorBody(coded: CodedError, issue?: AjvIssue): { error: string; message: string; field?: string; zh: string } {
  return { ...coded.toJSON(), zh: errorZh(coded, issue) };
}
