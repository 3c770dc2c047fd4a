import { createHmac, timingSafeEqual } from 'node:crypto';
import { normalisePhone } from '../core/identity.js';
import { AlertingError } from './errors.js';

/**
 * The SMS platform's wire protocol (SMS-PROTOCOL.md): one JSON POST per
 * message, signed with HMAC-SHA256 over `<timestamp>\n<body>` with the shared
 * key. Used by the client (sms-client.ts) and the simulator (gateway-sim.ts),
 * so the two cannot drift.
 */
export const TS_HEADER = 'x-sms-timestamp';
export const SIG_HEADER = 'x-sms-signature';

export interface SmsMessage {
  readonly phones: readonly string[];
  readonly text: string;
  /** idempotency key: the gateway sends a given id at most once */
  readonly id: string;
}

/** What a gateway answers on success. */
export interface SmsAnswer {
  readonly ok: true;
  readonly id: string;
  /** true when the id had been accepted before (a retry): not sent again */
  readonly duplicate: boolean;
  readonly accepted: number;
}

export const MESSAGE_ID = /^[A-Za-z0-9_-]{8,64}$/;
export const MAX_TEXT = 500;

export function signature(key: string, timestampMs: string, body: string): string {
  return createHmac('sha256', key).update(`${timestampMs}\n${body}`).digest('hex');
}

/** Checks the headers of a request; throws the gateway's coded error. */
export function verifySignature(key: string, headers: { ts: string | undefined; sig: string | undefined }, body: string, nowMs: number, windowSec: number): void {
  const { ts, sig } = headers;
  if (ts === undefined || sig === undefined || !/^[0-9]{1,16}$/.test(ts) || !/^[0-9a-f]{64}$/.test(sig)) {
    throw new AlertingError('ALR_ERR_GATEWAY_SIGNATURE', 'missing or malformed headers');
  }
  const want = Buffer.from(signature(key, ts, body), 'hex');
  if (!timingSafeEqual(want, Buffer.from(sig, 'hex'))) throw new AlertingError('ALR_ERR_GATEWAY_SIGNATURE');
  // checked after the signature, so an attacker cannot probe the clock without the key
  if (Math.abs(nowMs - Number(ts)) > windowSec * 1000) throw new AlertingError('ALR_ERR_GATEWAY_REPLAY', `${Math.round((nowMs - Number(ts)) / 1000)} s off`);
}

/** Parses and validates a message body (the gateway's side). */
export function parseMessage(body: string): SmsMessage {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new AlertingError('ALR_ERR_GATEWAY_BAD_REQUEST', 'not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AlertingError('ALR_ERR_GATEWAY_BAD_REQUEST', 'not an object');
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== 'phones' && k !== 'text' && k !== 'id');
  if (extra.length > 0) throw new AlertingError('ALR_ERR_GATEWAY_BAD_REQUEST', `unknown field ${extra[0]}`, extra[0]);
  if (typeof o.id !== 'string' || !MESSAGE_ID.test(o.id)) throw new AlertingError('ALR_ERR_GATEWAY_BAD_REQUEST', 'must be 8–64 of A–Z a–z 0–9 _ -', 'id');
  if (typeof o.text !== 'string' || o.text.length < 1 || o.text.length > MAX_TEXT) throw new AlertingError('ALR_ERR_GATEWAY_BAD_REQUEST', `must be 1–${MAX_TEXT} characters`, 'text');
  if (!Array.isArray(o.phones) || o.phones.length < 1 || o.phones.length > 100) throw new AlertingError('ALR_ERR_GATEWAY_BAD_REQUEST', 'must list 1–100 numbers', 'phones');
  const phones: string[] = [];
  for (const p of o.phones) {
    if (typeof p !== 'string') throw new AlertingError('ALR_ERR_GATEWAY_BAD_REQUEST', 'numbers are strings', 'phones');
    try {
      phones.push(normalisePhone(p));
    } catch {
      throw new AlertingError('ALR_ERR_GATEWAY_BAD_REQUEST', 'not a mainland mobile number', 'phones');
    }
  }
  return { phones, text: o.text, id: o.id };
}

/** Validates a gateway's success answer (the client's side): anything else counts as garbage. */
export function parseAnswer(text: string, id: string): SmsAnswer | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.ok !== true || o.id !== id || typeof o.accepted !== 'number') return null;
  return { ok: true, id, duplicate: o.duplicate === true, accepted: o.accepted };
}

/** What one delivery attempt came to: taken (with the gateway's answer), permanently refused, or worth retrying. */
export type SendOutcome = { kind: 'sent'; answer: SmsAnswer } | { kind: 'rejected' | 'retry'; error: string };

/**
 * Posts one signed message to the gateway (the sender side of this protocol,
 * shared by the on-call alerts and the citizens' codes). A keep-alive
 * connection the gateway closed while idle is resent at once — the request
 * never arrived, or if it did, the id makes the resend a `duplicate`. Errors
 * name the transport failure or the HTTP status only: the body, which holds
 * the phones, is never in them.
 */
export async function sendSigned(gw: { readonly url: string; readonly key: string; readonly timeoutMs: number }, m: SmsMessage): Promise<SendOutcome> {
  const first = await sendOnce(gw, m);
  if (first.kind === 'retry' && /ECONNRESET|UND_ERR_SOCKET|EPIPE/.test(first.error)) return sendOnce(gw, m);
  return first;
}

async function sendOnce(gw: { readonly url: string; readonly key: string; readonly timeoutMs: number }, m: SmsMessage): Promise<SendOutcome> {
  const body = JSON.stringify({ phones: m.phones, text: m.text, id: m.id });
  const ts = String(Date.now());
  let status: number;
  let text: string;
  try {
    const r = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [TS_HEADER]: ts, [SIG_HEADER]: signature(gw.key, ts, body) },
      body,
      signal: AbortSignal.timeout(gw.timeoutMs),
    });
    status = r.status;
    text = await r.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `timeout after ${gw.timeoutMs} ms` : (e.cause?.code ?? e.name);
    return { kind: 'retry', error: why.slice(0, 200) };
  }
  if (status === 200) {
    const a = parseAnswer(text, m.id);
    return a === null ? { kind: 'retry', error: 'garbage answer (HTTP 200 without {ok, id})' } : { kind: 'sent', answer: a };
  }
  let code = '';
  try {
    code = String((JSON.parse(text) as { error?: unknown }).error ?? '').slice(0, 60);
  } catch {
    /* a non-JSON error page */
  }
  // 400: the message itself is wrong, retrying cannot help; 401 (signature, clock) and 5xx may heal
  if (status === 400) return { kind: 'rejected', error: `HTTP 400 ${code}`.trim() };
  return { kind: 'retry', error: `HTTP ${status} ${code}`.trim() };
}
