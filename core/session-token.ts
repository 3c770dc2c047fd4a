import { createHmac, timingSafeEqual } from 'node:crypto';
import { CoreError } from './errors.js';

/**
 * Citizen session tokens (DESIGN §5): issued by admin-api after identity
 * verification, checked by every edge with a key the two share. The edge
 * must check one in a few microseconds, so the token is a fixed-size binary
 * record with an HMAC, not a JWT (no JSON to parse, no algorithm header to
 * confuse — RFC 8725 §2.1 lists "alg" confusion as the classic JWT hole).
 *
 * Binary layout (37 bytes, big-endian), then base64url without padding
 * (RFC 4648 §5) → 50 characters, safe in an `Authorization: Bearer` header:
 *
 *   byte  0       version = 1
 *   bytes 1–16    uid (16 bytes, DESIGN §2) — never an identity number
 *   bytes 17–20   expires at, unix seconds (uint32)
 *   bytes 21–36   HMAC-SHA256(key, bytes 0–20), first 16 bytes
 *
 * Why truncate the MAC to 16 bytes: RFC 2104 §5 allows truncating an HMAC to
 * the leftmost t bits with t ≥ half the hash output (128 of 256 here) and
 * NIST SP 800-107 rev. 1 §5.3.4 puts the forgery bound at 2^-t per try. A
 * forger gets one try per HTTP request to an edge: 2^-128 is beyond reach,
 * and the token stays 50 characters instead of 72.
 *
 * The key is at least 32 bytes (RFC 2104 §3: keys shorter than the hash
 * output L weaken the MAC; NIST SP 800-107 §5.3.2 asks for ≥ the security
 * strength).
 */
export const SESSION_VERSION = 1;
export const SESSION_UID_BYTES = 16;
export const SESSION_MAC_BYTES = 16;
/** version + uid + exp */
export const SESSION_SIGNED_BYTES = 1 + SESSION_UID_BYTES + 4;
export const SESSION_BYTES = SESSION_SIGNED_BYTES + SESSION_MAC_BYTES;
/** ceil(37 * 8 / 6) base64url characters, no padding */
export const SESSION_TEXT_LENGTH = Math.ceil((SESSION_BYTES * 8) / 6);
export const SESSION_MIN_KEY_BYTES = 32;

export interface SessionClaims {
  readonly uid: Buffer;
  /** unix seconds */
  readonly expiresAt: number;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function checkKey(key: Uint8Array): void {
  if (key.length < SESSION_MIN_KEY_BYTES) {
    throw new CoreError('CORE_ERR_SESSION_KEY', `${key.length} bytes`);
  }
}

function mac(key: Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(signed).digest().subarray(0, SESSION_MAC_BYTES);
}

/** A session token for `uid` that the edge accepts until `expiresAt` (unix seconds). */
export function issueSession(key: Uint8Array, uid: Uint8Array, expiresAt: number): string {
  checkKey(key);
  if (uid.length !== SESSION_UID_BYTES) {
    throw new CoreError('CORE_ERR_SESSION_MALFORMED', `uid has ${uid.length} bytes, expected ${SESSION_UID_BYTES}`, 'uid');
  }
  if (!Number.isInteger(expiresAt) || expiresAt < 0 || expiresAt > 0xffffffff) {
    throw new CoreError('CORE_ERR_SESSION_MALFORMED', `expiresAt ${expiresAt} is not a uint32 of unix seconds`, 'expiresAt');
  }
  const out = Buffer.allocUnsafe(SESSION_BYTES);
  out[0] = SESSION_VERSION;
  out.set(uid, 1);
  out.writeUInt32BE(expiresAt, 1 + SESSION_UID_BYTES);
  mac(key, out.subarray(0, SESSION_SIGNED_BYTES)).copy(out, SESSION_SIGNED_BYTES);
  return out.toString('base64url');
}

/**
 * Checks a session token at unix time `now` (seconds). Throws
 * CORE_ERR_SESSION_MALFORMED (not our format), CORE_ERR_SESSION_BAD_MAC
 * (forged, or made with another key) or CORE_ERR_SESSION_EXPIRED.
 * The MAC is checked before the expiry so that an expired-but-forged token
 * says "bad mac", never leaking which part failed first for a real one.
 */
export function verifySession(key: Uint8Array, token: string, now: number): SessionClaims {
  checkKey(key);
  if (typeof token !== 'string' || token.length !== SESSION_TEXT_LENGTH || !BASE64URL.test(token)) {
    throw new CoreError('CORE_ERR_SESSION_MALFORMED', `expected ${SESSION_TEXT_LENGTH} base64url characters`);
  }
  const bytes = Buffer.from(token, 'base64url');
  // Node's decoder ignores the spare low bits of the last character; insist
  // on the canonical spelling so one token has exactly one text form (the
  // edge caches by text).
  if (bytes.length !== SESSION_BYTES || bytes.toString('base64url') !== token) {
    throw new CoreError('CORE_ERR_SESSION_MALFORMED', 'not a canonical base64url encoding');
  }
  if (bytes[0] !== SESSION_VERSION) {
    throw new CoreError('CORE_ERR_SESSION_MALFORMED', `version ${bytes[0]}`);
  }
  const expected = mac(key, bytes.subarray(0, SESSION_SIGNED_BYTES));
  // timingSafeEqual: a byte-by-byte early-exit compare would let a forger
  // find the MAC one byte at a time from response times.
  if (!timingSafeEqual(expected, bytes.subarray(SESSION_SIGNED_BYTES))) {
    throw new CoreError('CORE_ERR_SESSION_BAD_MAC');
  }
  const expiresAt = bytes.readUInt32BE(1 + SESSION_UID_BYTES);
  if (expiresAt <= now) {
    throw new CoreError('CORE_ERR_SESSION_EXPIRED', `expired at ${expiresAt}`);
  }
  return { uid: Buffer.from(bytes.subarray(1, 1 + SESSION_UID_BYTES)), expiresAt };
}
