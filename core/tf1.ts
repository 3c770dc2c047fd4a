import { base45Decode, base45Encode } from './base45.js';
import { CodedError } from './coded-error.js';
import { CoreError } from './errors.js';

/**
 * TF1 — the QR token a phone shows (DESIGN §4). Binary, big-endian, fixed
 * 93 bytes so a scanner can check the length before doing any crypto:
 *
 *   offset  size  field
 *   ┌─────┬────┬─────────────────────────────────────────────────────────┐
 *   │   0 │  1 │ version = 1                                             │
 *   │   1 │  1 │ alg: 1 = Ed25519, 2 = SM2-with-SM3 (GM/T 0003,          │
 *   │     │    │      user id "1234567812345678")                        │
 *   │   2 │  2 │ kid, uint16                                             │
 *   │   4 │ 16 │ uid (HMAC of the person key, DESIGN §2)                 │
 *   │  20 │  1 │ colour: 0 green, 1 yellow, 2 red                        │
 *   │  21 │  4 │ iat, issued at, unix seconds, uint32                    │
 *   │  25 │  4 │ exp, expires at, unix seconds, uint32 (exclusive)       │
 *   ├─────┼────┼─────────────────────────────────────────────────────────┤
 *   │  29 │ 64 │ signature over bytes 0..28 (the "body"):                │
 *   │     │    │   Ed25519 (RFC 8032) R‖S, or SM2 r‖s (32 + 32, not DER) │
 *   └─────┴────┴─────────────────────────────────────────────────────────┘
 *
 * Text form: "TF1:" + Base45 (RFC 9285) of the 93 bytes = 4 + 140 characters,
 * all in the QR alphanumeric set (RFC 9285 §1: 45 symbols chosen for it), so
 * the QR encoder can use alphanumeric mode (5.5 bits a character).
 *
 * uint32 seconds run out in 2106; that is the format's horizon.
 */
export const TF1_PREFIX = 'TF1:';
export const TF1_VERSION = 1;
export const TF1_BYTES = 93;
export const TF1_BODY_BYTES = 29;
export const TF1_SIGNATURE_BYTES = 64;
export const TF1_UID_BYTES = 16;

export const ALG_ED25519 = 1;
export const ALG_SM2 = 2;

export const COLOR_GREEN = 0;
export const COLOR_YELLOW = 1;
export const COLOR_RED = 2;

const OFF_VERSION = 0;
const OFF_ALG = 1;
const OFF_KID = 2;
const OFF_UID = 4;
const OFF_COLOR = 20;
const OFF_IAT = 21;
const OFF_EXP = 25;

const UINT16_MAX = 0xffff;
const UINT32_MAX = 0xffffffff;

export interface Tf1Claims {
  alg: 1 | 2;
  kid: number;
  /** 16 bytes */
  uid: Buffer;
  color: 0 | 1 | 2;
  /** unix seconds, inclusive */
  iat: number;
  /** unix seconds, exclusive: the token is expired when now >= exp */
  exp: number;
}

export interface DecodedTf1 {
  claims: Tf1Claims;
  /** bytes 0..28, what the signature covers (a view into the decoded token) */
  body: Buffer;
  /** bytes 29..92 (a view into the decoded token) */
  signature: Buffer;
}

function isUint(n: unknown, max: number): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
}

/**
 * Writes the 29-byte body into `out` at `offset`. Refuses what decodeTf1
 * would reject, with the same code where there is one (alg, colour, window),
 * so a signer can never produce a token its own verifier refuses.
 */
export function writeTf1Body(c: Tf1Claims, out: Buffer, offset: number): void {
  if (c.alg !== ALG_ED25519 && c.alg !== ALG_SM2) throw new CoreError('CORE_ERR_TF1_ALG', String(c.alg), 'alg');
  if (!isUint(c.kid, UINT16_MAX)) throw new CoreError('CORE_ERR_TF1_CLAIM', 'kid must be a uint16', 'kid');
  if (!(c.uid instanceof Uint8Array) || c.uid.length !== TF1_UID_BYTES) {
    throw new CoreError('CORE_ERR_TF1_CLAIM', 'uid must be 16 bytes', 'uid');
  }
  if (c.color !== COLOR_GREEN && c.color !== COLOR_YELLOW && c.color !== COLOR_RED) {
    throw new CoreError('CORE_ERR_TF1_COLOR', String(c.color), 'color');
  }
  if (!isUint(c.iat, UINT32_MAX)) throw new CoreError('CORE_ERR_TF1_CLAIM', 'iat must be a uint32', 'iat');
  if (!isUint(c.exp, UINT32_MAX)) throw new CoreError('CORE_ERR_TF1_CLAIM', 'exp must be a uint32', 'exp');
  if (c.exp <= c.iat) throw new CoreError('CORE_ERR_TF1_WINDOW', `exp ${c.exp} <= iat ${c.iat}`, 'exp');
  out[offset + OFF_VERSION] = TF1_VERSION;
  out[offset + OFF_ALG] = c.alg;
  out.writeUInt16BE(c.kid, offset + OFF_KID);
  out.set(c.uid, offset + OFF_UID);
  out[offset + OFF_COLOR] = c.color;
  out.writeUInt32BE(c.iat, offset + OFF_IAT);
  out.writeUInt32BE(c.exp, offset + OFF_EXP);
}

/** The 29 bytes a signature covers. */
export function encodeTf1Body(c: Tf1Claims): Buffer {
  const out = Buffer.allocUnsafe(TF1_BODY_BYTES);
  writeTf1Body(c, out, 0);
  return out;
}

/** 'TF1:' + Base45 of a complete 93-byte token. */
export function tf1ToText(bytes: Uint8Array): string {
  if (bytes.length !== TF1_BYTES) throw new CoreError('CORE_ERR_TF1_LENGTH', `${bytes.length} bytes`);
  return TF1_PREFIX + base45Encode(bytes);
}

/**
 * Longest Base45 text decodeTf1 will decode: 93 bytes → 46 pairs × 3 + 1
 * trailing byte × 2 = 140 characters (RFC 9285 §4). Plus a margin of one
 * group so a too-long token (94 bytes, 141 chars…) is reported as a length
 * error after decoding rather than before — the same code either way.
 */
const MAX_TEXT_CHARS = 144;

/**
 * Structural decode. Each reason has its own code, checked in this order:
 *
 *   CORE_ERR_TF1_PREFIX   text does not start with "TF1:" (case-sensitive:
 *                         Base45 is upper case only, and so is the prefix)
 *   CORE_ERR_TF1_BASE45   Base45 error (bad character, dangling character,
 *                         group out of range); the base45 code is in the detail
 *   CORE_ERR_TF1_LENGTH   not 93 bytes
 *   CORE_ERR_TF1_VERSION  byte 0 ≠ 1 — checked before anything else in the
 *                         bytes, since a later version may lay them out anew
 *   CORE_ERR_TF1_ALG      byte 1 ∉ {1, 2}
 *   CORE_ERR_TF1_COLOR    byte 20 ∉ {0, 1, 2}
 *   CORE_ERR_TF1_WINDOW   exp <= iat: the token is valid at no instant
 *                         (exp == iat included: [iat, exp) is empty)
 *
 * These are properties of the bytes alone, so they come before signature
 * checking (token.ts): a token with colour 3 carries a good signature in the
 * vectors and must still be named for its colour, not accepted.
 * Does NOT check signature, key id or time.
 */
export function decodeTf1(text: string): DecodedTf1 {
  if (typeof text !== 'string' || !text.startsWith(TF1_PREFIX)) throw new CoreError('CORE_ERR_TF1_PREFIX');
  // Base45 of 93 bytes is exactly 140 characters; anything longer than a
  // 93-byte token could be is refused before decoding (bounded work for
  // hostile input). The exact byte length is checked after decoding so that a
  // malformed Base45 tail is still reported as Base45.
  if (text.length > TF1_PREFIX.length + MAX_TEXT_CHARS) {
    throw new CoreError('CORE_ERR_TF1_LENGTH', `${text.length - TF1_PREFIX.length} Base45 characters`);
  }
  let bytes: Buffer;
  try {
    bytes = base45Decode(text.slice(TF1_PREFIX.length));
  } catch (e) {
    if (e instanceof CodedError) throw new CoreError('CORE_ERR_TF1_BASE45', e.code);
    throw e;
  }
  if (bytes.length !== TF1_BYTES) throw new CoreError('CORE_ERR_TF1_LENGTH', `${bytes.length} bytes`);
  const version = bytes[OFF_VERSION]!;
  if (version !== TF1_VERSION) throw new CoreError('CORE_ERR_TF1_VERSION', String(version));
  const alg = bytes[OFF_ALG]!;
  if (alg !== ALG_ED25519 && alg !== ALG_SM2) throw new CoreError('CORE_ERR_TF1_ALG', String(alg));
  const color = bytes[OFF_COLOR]!;
  if (color !== COLOR_GREEN && color !== COLOR_YELLOW && color !== COLOR_RED) {
    throw new CoreError('CORE_ERR_TF1_COLOR', String(color));
  }
  const iat = bytes.readUInt32BE(OFF_IAT);
  const exp = bytes.readUInt32BE(OFF_EXP);
  if (exp <= iat) throw new CoreError('CORE_ERR_TF1_WINDOW', `exp ${exp} <= iat ${iat}`);
  return {
    claims: {
      alg,
      kid: bytes.readUInt16BE(OFF_KID),
      uid: bytes.subarray(OFF_UID, OFF_UID + TF1_UID_BYTES),
      color,
      iat,
      exp,
    },
    body: bytes.subarray(0, TF1_BODY_BYTES),
    signature: bytes.subarray(TF1_BODY_BYTES, TF1_BYTES),
  };
}

