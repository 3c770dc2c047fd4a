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
