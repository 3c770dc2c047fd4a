import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { base45Decode, base45Encode } from '../core/base45.js';
import {
  generateSigningKey, signBody, signingKeyFromPrivate, verifyBody, type AlgName, type PublicKeyInfo, type SigningKey,
} from '../core/signing-key.js';
import { CitizenError } from './errors.js';

/**
 * The sampling QR (采样码), verifiable offline like TF1 (DESIGN §4) by any
 * sampling site that holds the public key (GET /citizen/v1/sampling/keys).
 * Binary, big-endian, then `CS1:` + Base45 (QR alphanumeric mode):
 *
 *   0       version = 1
 *   1       algorithm: 1 Ed25519, 2 SM2 with SM3 (core/signing-key.ts)
 *   2–3     key id
 *   4–11    registration id (uint64)
 *   12–27   uid of the person (pseudonymous, like TF1; never an identity)
 *   28–31   issued at, unix seconds
 *   32–35   expires at, unix seconds
 *   36–99   signature over bytes 0–35
 *
 * The key is generated on first start into <dataDir>/citizen/sampling-key.json
 * (mode 0600, written via a temporary file and rename); a key file readable
 * by group or others is refused, as OpenSSH refuses such private keys.
 */
export const QR_PREFIX = 'CS1:';
const SIGNED = 36;
const TOTAL = SIGNED + 64;
const ALG_BYTE: Record<AlgName, number> = { Ed25519: 1, SM2: 2 };

export interface SamplingClaims {
  readonly kid: number;
  readonly registrationId: number;
  readonly uid: Buffer;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export function encodeSamplingQr(key: SigningKey, c: Omit<SamplingClaims, 'kid'>): string {
  const b = Buffer.alloc(TOTAL);
  b[0] = 1;
  b[1] = ALG_BYTE[key.alg];
  b.writeUInt16BE(key.kid, 2);
  b.writeBigUInt64BE(BigInt(c.registrationId), 4);
  c.uid.copy(b, 12);
  b.writeUInt32BE(c.issuedAt, 28);
  b.writeUInt32BE(c.expiresAt, 32);
  signBody(key, b.subarray(0, SIGNED)).copy(b, SIGNED);
  return QR_PREFIX + base45Encode(b);
}

/** Checks format, key, signature and expiry at `now` (unix seconds); any failure → CIT_ERR_QR_INVALID. */
export function verifySamplingQr(text: unknown, keys: readonly PublicKeyInfo[], now: number): SamplingClaims {
  const bad = (why: string): CitizenError => new CitizenError('CIT_ERR_QR_INVALID', why, 'qr');
  if (typeof text !== 'string' || !text.startsWith(QR_PREFIX) || text.length > 400) throw bad('not a CS1 text');
  let b: Buffer;
  try {
    b = base45Decode(text.slice(QR_PREFIX.length));
  } catch {
    throw bad('not Base45');
  }
  if (b.length !== TOTAL || b[0] !== 1) throw bad('wrong length or version');
  const kid = b.readUInt16BE(2);
  const key = keys.find((k) => k.kid === kid && ALG_BYTE[k.alg] === b[1]);
  if (key === undefined) throw bad('unknown key');
  if (!verifyBody(key, b.subarray(0, SIGNED), b.subarray(SIGNED))) throw bad('bad signature');
  const expiresAt = b.readUInt32BE(32);
  if (expiresAt <= now) throw bad('expired');
  return { kid, registrationId: Number(b.readBigUInt64BE(4)), uid: Buffer.from(b.subarray(12, 28)), issuedAt: b.readUInt32BE(28), expiresAt };
}

/** Loads the sampling key of this master, generating it on first use. */
export function loadOrCreateSamplingKey(dataDir: string, alg: AlgName, nowSec: number): SigningKey {
  const dir = join(dataDir, 'citizen');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'sampling-key.json');
  if (existsSync(file)) {
    const st = lstatSync(file);
    if (!st.isFile() || (st.mode & 0o077) !== 0) throw new CitizenError('CIT_ERR_CONFIG', `${file} must be a regular file with mode 0600`);
    const j = JSON.parse(readFileSync(file, 'utf8')) as SigningKey;
    return signingKeyFromPrivate(j.alg, j.kid, j.privateKey, j.notBefore, j.notAfter);
  }
  // ten years: a QR lives days, the key is replaced by deleting the file (old QRs then stop verifying).
  // A random key id: every master generates its own key, all are published side by side.
  const key = generateSigningKey(alg, randomInt(1, 65_536), nowSec - 60, nowSec + 10 * 366 * 86_400);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(key));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  return key;
}

export function publicInfo(k: SigningKey): PublicKeyInfo {
  return { kid: k.kid, alg: k.alg, publicKey: k.publicKey, notBefore: k.notBefore, notAfter: k.notAfter };
}
