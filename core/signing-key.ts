import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { sm2 } from 'sm-crypto-v2';
import { CoreError } from './errors.js';

/**
 * TF1 signing keys (DESIGN §4) and the two signature algorithms.
 *
 * Ed25519 (RFC 8032) through node:crypto. SM2 with SM3 (GM/T 0003-2012,
 * GB/T 32918) through `sm-crypto-v2`: node's EC curve "SM2" signed with
 * "sm3" is plain ECDSA without the Z value and does not verify in other SM2
 * implementations (FACTS.md, Crypto).
 *
 * Key material formats — what `/v1/keys` serves (DESIGN §5) and what a node
 * keeps of its own key:
 *
 *   publicKey   base64url (RFC 4648 §5, no padding) of the raw key:
 *                 Ed25519  32 bytes (RFC 8032 §5.1.5 encoding)
 *                 SM2      65 bytes 04‖x‖y (uncompressed, SEC 1 §2.3.3)
 *   privateKey  64 hex digits:
 *                 Ed25519  the 32-byte seed (RFC 8032 §5.1.5 "private key")
 *                 SM2      d, 1 ≤ d ≤ n−2 (GM/T 0003.1 §6.1)
 *   signature   64 bytes: Ed25519 R‖S, SM2 r‖s as two 32-byte big-endian
 *               integers (not DER, so the TF1 token has a fixed length)
 *
 * Speed (measured here, one core): building an Ed25519 KeyObject from DER
 * per signature gives 3.1k signs/s against 47k/s with a cached one, and SM2
 * verification without a precomputed table for the public point runs at
 * ~380/s against ~2,200/s with one. So everything derived from a key is
 * built once and cached (module-level maps keyed by the key string; KeySet
 * keeps its own per kid). With the caches our wrappers run at node's own
 * rate: Ed25519 sign ≈ 47k/s, verify ≈ 16k/s; SM2 sign ≈ 3.9k/s, verify ≈ 2.2k/s.
 */

export type AlgName = 'Ed25519' | 'SM2';

export interface PublicKeyInfo {
  kid: number;
  alg: AlgName;
  /** base64url raw: 32 B Ed25519, 65 B uncompressed SM2 */
  publicKey: string;
  /** unix seconds: first second a token may be issued (iat >= notBefore) */
  notBefore: number;
  /** unix seconds: no token of this key lives past it (exp <= notAfter) */
  notAfter: number;
}

export interface SigningKey extends PublicKeyInfo {
  /** hex: Ed25519 seed (32 B) or SM2 d (32 B). Never leaves the node that generated it. */
  privateKey: string;
}

/** GM/T 0003.5 default distinguishing identifier (ENTL = 128 bits), used for Z. */
export const SM2_DEFAULT_USER_ID = '1234567812345678';

/** Order n of the SM2 recommended curve (GM/T 0003.5 §3), big-endian. */
const SM2_N = Buffer.from('fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123', 'hex');
/** n − 1: the largest valid private key is n − 2, i.e. d < n − 1. */
const SM2_N_MINUS_1 = Buffer.from('fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54122', 'hex');

/** DER prefixes that wrap raw Ed25519 keys (RFC 8410 §7 and §10.3). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const SIGNATURE_BYTES = 64;
const PRIVATE_HEX = /^[0-9a-fA-F]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Unpadded base64url length of a 32-byte Ed25519 key and a 65-byte SM2 point: ⌈8n/6⌉. */
const ED25519_PUBLIC_CHARS = 43;
const SM2_PUBLIC_CHARS = 87;

const UINT16_MAX = 0xffff;
const UINT32_MAX = 0xffffffff;

/**
 * Window for the SM2 public point's precomputed multiples (noble-curves wNAF).
 * Measured here per key: w=4 69 KB, 1.8k verifies/s; w=6 207 KB, 2.2k/s;
 * w=8 650 KB, 2.5k/s. Every edge node has keys of its own and every node
 * holds every public key, so the table is paid per node-key: w=6 keeps a
 * thousand SM2 keys at ~200 MB, and only keys actually used get one.
 */
const SM2_PRECOMPUTE_WINDOW = 6;

type Sm2Point = ReturnType<typeof sm2.precomputePublicKey>;

function isUint(n: unknown, max: number): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
}

function keyError(field: string, detail: string): CoreError {
  return new CoreError('CORE_ERR_KEY_INVALID', detail, field);
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/** 1 ≤ x < bound, for 32-byte big-endian x (byte compare, no BigInt; not constant-time: it sees signatures, and a private key once when it is loaded). */
function inRangeNonZero(x: Uint8Array, bound: Buffer): boolean {
  let zero = true;
  for (let i = 0; i < 32; i++) {
    if (x[i] !== 0) {
      zero = false;
      break;
    }
  }
  return !zero && Buffer.compare(x, bound) < 0;
}

// ─── validation ──────────────────────────────────────────────────────────────

const PUBLIC_FIELDS = new Set(['kid', 'alg', 'publicKey', 'notBefore', 'notAfter']);

function checkAlg(alg: unknown, field: string): AlgName {
  if (alg !== 'Ed25519' && alg !== 'SM2') throw keyError(field, 'alg must be "Ed25519" or "SM2"');
  return alg;
}

function checkWindow(kid: unknown, notBefore: unknown, notAfter: unknown, path: string): void {
  if (!isUint(kid, UINT16_MAX)) throw keyError(join(path, 'kid'), 'kid must be an integer 0..65535');
  if (!isUint(notBefore, UINT32_MAX)) throw keyError(join(path, 'notBefore'), 'notBefore must be unix seconds (uint32)');
  if (!isUint(notAfter, UINT32_MAX)) throw keyError(join(path, 'notAfter'), 'notAfter must be unix seconds (uint32)');
  if (notAfter <= notBefore) throw keyError(join(path, 'notAfter'), 'notAfter must be after notBefore');
}

/**
 * Strict base64url decode of a public key: URL-safe alphabet only, no
 * padding, exact length for the algorithm, canonical (re-encodes to the same
 * text — Buffer's decoder silently ignores stray bits and characters).
 * SM2 points must be uncompressed and on the curve.
 */
function decodePublicKey(alg: AlgName, text: unknown, field: string): Buffer {
  if (typeof text !== 'string') throw keyError(field, 'publicKey must be a base64url string');
  const chars = alg === 'Ed25519' ? ED25519_PUBLIC_CHARS : SM2_PUBLIC_CHARS;
  if (text.length !== chars || !BASE64URL.test(text)) {
    throw keyError(field, `publicKey must be ${chars} base64url characters for ${alg}`);
  }
  const raw = Buffer.from(text, 'base64url');
  if (raw.toString('base64url') !== text) throw keyError(field, 'publicKey is not canonical base64url');
  if (alg === 'SM2') {
    if (raw[0] !== 0x04) throw keyError(field, 'SM2 publicKey must be an uncompressed point (04‖x‖y)');
    let onCurve: boolean;
    try {
      onCurve = sm2.verifyPublicKey(raw.toString('hex'));
    } catch {
      onCurve = false;
    }
    if (!onCurve) throw keyError(field, 'SM2 publicKey is not a point on the curve');
  }
  return raw;
}

/**
 * Validates one `/v1/keys` entry and returns a fresh object with exactly the
 * five public fields. `path` prefixes the field in errors (`keys[2]`).
 * Unknown fields are refused: a key set is security configuration, and a
 * field this build does not understand (say, a future "revoked") must not be
 * silently ignored.
 */
export function parsePublicKeyInfo(json: unknown, path = ''): PublicKeyInfo {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw keyError(path === '' ? 'key' : path, 'key must be an object');
  }
  const o = json as Record<string, unknown>;
  for (const name of Object.keys(o)) {
    if (!PUBLIC_FIELDS.has(name)) throw keyError(join(path, name), 'unknown field');
  }
  const alg = checkAlg(o.alg, join(path, 'alg'));
  checkWindow(o.kid, o.notBefore, o.notAfter, path);
  decodePublicKey(alg, o.publicKey, join(path, 'publicKey'));
  return Object.freeze({
    kid: o.kid as number,
    alg,
    publicKey: o.publicKey as string,
    notBefore: o.notBefore as number,
    notAfter: o.notAfter as number,
  });
}

// ─── signing ────────────────────────────────────────────────────────────────

interface Sm2Signer {
  /** d as lower-case hex, what sm-crypto-v2 takes */
  readonly d: string;
  /** Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), GM/T 0003.2 §5.5 */
  readonly z: Buffer;
}

/** Caches keyed by the private key hex. Bounded: a node has a handful of keys. */
const CACHE_LIMIT = 1024;
const edSigners = new Map<string, KeyObject>();
const sm2Signers = new Map<string, Sm2Signer>();

function remember<V>(map: Map<string, V>, k: string, v: V): V {
  if (map.size >= CACHE_LIMIT) map.clear();
  map.set(k, v);
  return v;
}

function edPrivateKeyObject(seedHex: string): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(seedHex, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });
}

function checkPrivateHex(hex: unknown): asserts hex is string {
  if (typeof hex !== 'string' || !PRIVATE_HEX.test(hex)) throw keyError('privateKey', 'privateKey must be 64 hex digits');
}

// On a cache miss the private key is checked, so a hand-built SigningKey with
// a bad privateKey fails with CORE_ERR_KEY_INVALID, not an OpenSSL error.
function edSigner(seedHex: string): KeyObject {
  let k = edSigners.get(seedHex);
  if (k === undefined) {
    checkPrivateHex(seedHex);
    k = remember(edSigners, seedHex, edPrivateKeyObject(seedHex));
  }
  return k;
}

function sm2Signer(dHex: string): Sm2Signer {
  let s = sm2Signers.get(dHex);
  if (s === undefined) {
    checkPrivateHex(dHex);
    const d = dHex.toLowerCase();
    if (!inRangeNonZero(Buffer.from(d, 'hex'), SM2_N_MINUS_1)) throw keyError('privateKey', 'SM2 private key must satisfy 1 <= d <= n-2');
    s = remember(sm2Signers, dHex, { d, z: Buffer.from(sm2.getZ(sm2.getPublicKeyFromPrivateKey(d), SM2_DEFAULT_USER_ID)) });
  }
  return s;
}

/** e = SM3(Z_A ‖ M), GM/T 0003.2 §6.1 steps A1–A2 (node's OpenSSL SM3: 1.6× sm-crypto-v2's here). */
function sm2Digest(z: Buffer, msg: Uint8Array): Buffer {
  return createHash('sm3').update(z).update(msg).digest();
}

function derivePublicKey(alg: AlgName, privateHex: string): string {
  if (alg === 'Ed25519') {
    const spki = createPublicKey(edSigner(privateHex)).export({ format: 'der', type: 'spki' });
    return spki.subarray(ED25519_SPKI_PREFIX.length).toString('base64url');
  }
  return Buffer.from(sm2.getPublicKeyFromPrivateKey(privateHex.toLowerCase()), 'hex').toString('base64url');
}

/** Builds a SigningKey from its private half; the public key is derived, never trusted from outside. */
export function signingKeyFromPrivate(
  alg: AlgName,
  kid: number,
  privateKeyHex: string,
  notBefore: number,
  notAfter: number,
): SigningKey {
  checkAlg(alg, 'alg');
  checkWindow(kid, notBefore, notAfter, '');
  checkPrivateHex(privateKeyHex);
  const privateKey = privateKeyHex.toLowerCase();
  if (alg === 'SM2' && !inRangeNonZero(Buffer.from(privateKey, 'hex'), SM2_N_MINUS_1)) {
    throw keyError('privateKey', 'SM2 private key must satisfy 1 <= d <= n-2');
  }
  return Object.freeze({ kid, alg, publicKey: derivePublicKey(alg, privateKey), notBefore, notAfter, privateKey });
}

/** A fresh key from the OS CSPRNG (node:crypto randomBytes). */
export function generateSigningKey(alg: AlgName, kid: number, notBefore: number, notAfter: number): SigningKey {
  checkAlg(alg, 'alg');
  let secret = randomBytes(32);
  // SM2: rejection sampling into [1, n−2]; a retry happens with probability ~2⁻³², never in practice.
  while (alg === 'SM2' && !inRangeNonZero(secret, SM2_N_MINUS_1)) secret = randomBytes(32);
  return signingKeyFromPrivate(alg, kid, secret.toString('hex'), notBefore, notAfter);
}

/** 64-byte signature over `body`: Ed25519 (deterministic) or SM2 r‖s (randomised k). */
export function signBody(key: SigningKey, body: Uint8Array): Buffer {
  if (key.alg === 'Ed25519') return sign(null, body, edSigner(key.privateKey));
  const s = sm2Signer(key.privateKey);
  // hash:false — we pass e = SM3(Z‖M) ourselves (Z cached per key); der:false — raw r‖s hex.
  const hex = sm2.doSignature(sm2Digest(s.z, body), s.d, { hash: false, der: false });
  return Buffer.from(hex, 'hex');
}

// ─── verification ────────────────────────────────────────────────────────────

/**
 * Everything needed to verify with one public key, built once: the node
 * KeyObject (Ed25519), or the SM2 point with its precomputed table and Z.
 */
export class PublicKeyVerifier {
  readonly alg: AlgName;
  private readonly ed: KeyObject | null;
  private readonly sm2Point: Sm2Point | null;
  private readonly sm2Z: Buffer | null;

  /** Throws CORE_ERR_KEY_INVALID when the key does not decode. */
  constructor(alg: AlgName, publicKey: string) {
    this.alg = checkAlg(alg, 'alg');
    const raw = decodePublicKey(alg, publicKey, 'publicKey');
    if (alg === 'Ed25519') {
      this.ed = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
      this.sm2Point = null;
      this.sm2Z = null;
    } else {
      const hex = raw.toString('hex');
      this.ed = null;
      this.sm2Point = sm2.precomputePublicKey(hex, SM2_PRECOMPUTE_WINDOW);
      this.sm2Z = Buffer.from(sm2.getZ(hex, SM2_DEFAULT_USER_ID));
    }
  }

  verify(body: Uint8Array, sig: Uint8Array): boolean {
    if (sig.length !== SIGNATURE_BYTES) return false;
    if (this.ed !== null) return verify(null, body, this.ed, sig);
    return verifySm2(this.sm2Point!, this.sm2Z!, body, sig);
  }
}

/**
 * GM/T 0003.2 §7.1. Steps B1/B2 (r, s ∈ [1, n−1]) are ours: sm-crypto-v2
 * skips them, and without them s + n (it fits 32 bytes whenever
 * s < 2²⁵⁶ − n ≈ 2²²⁴) would be a second valid encoding of one signature,
 * since s only enters the equations mod n.
 */
function verifySm2(point: Sm2Point, z: Buffer, body: Uint8Array, sig: Uint8Array): boolean {
  if (!inRangeNonZero(sig.subarray(0, 32), SM2_N) || !inRangeNonZero(sig.subarray(32, 64), SM2_N)) return false;
  const sigHex = Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('hex');
  return sm2.doVerifySignature(sm2Digest(z, body), sigHex, point, { hash: false, der: false });
}

const edVerifiers = new Map<string, PublicKeyVerifier>();
const sm2Verifiers = new Map<string, PublicKeyVerifier>();

/** The cached PublicKeyVerifier for a public key (module-level, keyed by the base64url text). */
export function verifierFor(key: PublicKeyInfo): PublicKeyVerifier {
  const map = key.alg === 'Ed25519' ? edVerifiers : key.alg === 'SM2' ? sm2Verifiers : undefined;
  if (map === undefined) throw keyError('alg', 'alg must be "Ed25519" or "SM2"');
  return map.get(key.publicKey) ?? remember(map, key.publicKey, new PublicKeyVerifier(key.alg, key.publicKey));
}

/** True when `sig` is a valid signature of `body` under `key`. Throws only for a malformed key. */
export function verifyBody(key: PublicKeyInfo, body: Uint8Array, sig: Uint8Array): boolean {
  return verifierFor(key).verify(body, sig);
}
