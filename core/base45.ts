import { CoreError } from './errors.js';

/**
 * Base45, RFC 9285: the text form of TF1 tokens (DESIGN §4). Its 45
 * characters are exactly QR code's alphanumeric mode (ISO/IEC 18004), which
 * packs 2 characters into 11 bits: 93 token bytes → 140 characters → 770
 * bits (8.3 bits a byte). Base64 needs byte mode (lower-case letters) at
 * 8 bits a character: 124 characters → 992 bits (10.7 bits a byte).
 *
 *   bytes    [a b] [a b] … [a]            2 bytes → 3 chars, a final lone byte → 2 chars
 *   n = a·256 + b  (0 … 65535)            n = a  (0 … 255)
 *   chars    c d e   with n = c + d·45 + e·45²   (c d for the lone byte: n = c + d·45)
 *
 * The verify path of the edge decodes one token per request, so both
 * directions use precomputed tables, plain loops over char codes and a
 * preallocated output buffer — no regex, no per-character strings.
 */

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

/** value (0–44) → ASCII code of its character */
const ENCODE = new Uint8Array(45);
/** ASCII code (0–127) → value, or 255 for a character outside the alphabet */
const DECODE = new Uint8Array(128).fill(255);
for (let i = 0; i < 45; i++) {
  ENCODE[i] = ALPHABET.charCodeAt(i);
  DECODE[ALPHABET.charCodeAt(i)] = i;
}

/**
 * Encoder scratch: the characters are written here and copied out once as a
 * latin1 string, so a token costs no Buffer allocation (measured here: 93
 * bytes in ≈ 300 ns against ≈ 400 ns with a fresh Buffer each call). Safe to
 * share: encoding is synchronous and each worker thread has its own module.
 */
const SCRATCH = Buffer.allocUnsafeSlow(4096);

/** RFC 9285 §4: encode bytes as Base45 text. */
export function base45Encode(bytes: Uint8Array): string {
  const len = bytes.length;
  const pairs = len >> 1;
  const outLen = pairs * 3 + (len & 1) * 2;
  const out = outLen <= SCRATCH.length ? SCRATCH : Buffer.allocUnsafe(outLen);
  let o = 0;
  for (let i = 0; i < pairs * 2; i += 2) {
    let n = (bytes[i]! << 8) | bytes[i + 1]!;
    const c = n % 45;
    n = (n - c) / 45;
    const d = n % 45;
    out[o] = ENCODE[c]!;
    out[o + 1] = ENCODE[d]!;
    out[o + 2] = ENCODE[(n - d) / 45]!;
    o += 3;
  }
  if (len & 1) {
    const n = bytes[len - 1]!;
    const c = n % 45;
    out[o] = ENCODE[c]!;
    out[o + 1] = ENCODE[(n - c) / 45]!;
  }
  return out.toString('latin1', 0, outLen);
}

/** Value of the character at i, or throws CORE_ERR_BASE45_CHAR. */
function valueAt(text: string, i: number): number {
  const code = text.charCodeAt(i);
  const v = code < 128 ? DECODE[code]! : 255;
  if (v === 255) {
    throw new CoreError('CORE_ERR_BASE45_CHAR', `character ${JSON.stringify(text[i])} at position ${i}`);
  }
  return v;
}

/**
 * Strict: CORE_ERR_BASE45_CHAR for a character outside the 45-char alphabet (incl. lower case), CORE_ERR_BASE45_LENGTH
 * for length % 3 === 1 (dangling character), CORE_ERR_BASE45_OVERFLOW when a triplet > 65535 or a final pair > 255.
 *
 * The length is checked first (it needs no scan). Because every value
 * 0–65535 has exactly one triplet, strict decoding makes the text form
 * canonical: base45Encode(base45Decode(t)) === t for every accepted t.
 * The result may be a slice of Node's shared buffer pool (Buffer.allocUnsafe
 * for small sizes): use byteOffset/length, not `.buffer` alone.
 */
export function base45Decode(text: string): Buffer {
  if (typeof text !== 'string') throw new CoreError('CORE_ERR_BASE45_CHAR', `expected a string, got ${typeof text}`);
  const len = text.length;
  const rest = len % 3;
  if (rest === 1) throw new CoreError('CORE_ERR_BASE45_LENGTH', `length ${len} leaves one character over`);
  const triplets = (len - rest) / 3;
  const out = Buffer.allocUnsafe(triplets * 2 + (rest === 2 ? 1 : 0));
  let o = 0;
  let i = 0;
  for (; i < triplets * 3; i += 3) {
    const n = valueAt(text, i) + valueAt(text, i + 1) * 45 + valueAt(text, i + 2) * 2025;
    if (n > 0xffff) throw new CoreError('CORE_ERR_BASE45_OVERFLOW', `triplet at position ${i} is ${n} > 65535`);
    out[o] = n >> 8;
    out[o + 1] = n & 0xff;
    o += 2;
  }
  if (rest === 2) {
    const n = valueAt(text, i) + valueAt(text, i + 1) * 45;
    if (n > 0xff) throw new CoreError('CORE_ERR_BASE45_OVERFLOW', `final pair at position ${i} is ${n} > 255`);
    out[o] = n;
  }
  return out;
}
