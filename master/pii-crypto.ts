import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { MasterError } from './errors.js';

/**
 * Encryption at rest of the identity fields (certificate number, phone,
 * name) and the keyed hashes that find a person without decrypting anyone.
 * DESIGN §2: no certificate number, phone or full name in clear in any
 * table, file or log — what the master keeps is only what this file makes.
 *
 * Three independent secrets (one per purpose: never reuse a key across
 * algorithms):
 *
 *   HC_PII_KEY      AES-256-GCM key(s) for the *_enc columns (32 bytes)
 *   HC_LOOKUP_KEY   HMAC-SHA256 key for cert_hash / phone_hash (32 bytes)
 *   HC_UID_PEPPER   HMAC pepper of the uid (core/identity.ts uidOf, ≥ 32 bytes)
 *
 * HC_PII_KEY is either one key in hex (key version 1) or a list
 * `v:hex,v:hex,…` whose first entry is the current version: to rotate, put
 * the new key first, re-encrypt, then drop the old one. Versions 1–255.
 */

export const SECRET_VARS = ['HC_PII_KEY', 'HC_LOOKUP_KEY', 'HC_UID_PEPPER'] as const;
export type SecretVar = (typeof SECRET_VARS)[number];

export interface Secrets {
  /** every loaded PII key by version */
  readonly piiKeys: ReadonlyMap<number, Buffer>;
  /** the version new ciphertexts are made with */
  readonly piiKeyVersion: number;
  readonly lookupKey: Buffer;
  readonly uidPepper: Buffer;
  /** where they came from: all three from the environment, or the secrets file */
  readonly source: 'env' | 'file' | 'generated';
}

export const SECRETS_FILE = 'secrets.json';

const KEY_BYTES = 32;
const MIN_PEPPER_BYTES = 32;
const MAX_PEPPER_BYTES = 128;
const HEX = /^[0-9a-fA-F]+$/;

function invalid(name: SecretVar, where: string, why: string): MasterError {
  // Never echo the value: it is a secret.
  return new MasterError('MASTER_ERR_SECRET_INVALID', `${name} (${where}): ${why}`, name);
}

function parseHex(name: SecretVar, where: string, value: string, min: number, max: number): Buffer {
  const s = value.trim();
  if (s.length === 0) throw invalid(name, where, 'is empty');
  if (!HEX.test(s) || s.length % 2 !== 0) throw invalid(name, where, 'must be hexadecimal digits (an even number of them)');
  const bytes = s.length / 2;
  if (bytes < min || bytes > max) {
    const want = min === max ? `${min} bytes (${2 * min} hex digits)` : `${min}–${max} bytes`;
    throw invalid(name, where, `must be ${want}, got ${bytes} bytes`);
  }
  const buf = Buffer.from(s, 'hex');
  // A key of one repeated byte (000…, fff…) is a placeholder, not a secret.
  if (buf.every((b) => b === buf[0])) throw invalid(name, where, 'is one byte repeated: generate a random value');
  return buf;
}

function parsePiiKeys(where: string, value: string): { keys: Map<number, Buffer>; current: number } {
  const keys = new Map<number, Buffer>();
  const s = value.trim();
  if (!s.includes(':')) {
    keys.set(1, parseHex('HC_PII_KEY', where, s, KEY_BYTES, KEY_BYTES));
    return { keys, current: 1 };
  }
  let current = 0;
  for (const part of s.split(',')) {
    const m = /^\s*(\d{1,3}):([^,]*)$/.exec(part);
    const version = m === null ? NaN : Number(m[1]);
    if (m === null || !(version >= 1 && version <= 255)) {
      throw invalid('HC_PII_KEY', where, 'a key list must look like 2:<hex>,1:<hex> with versions 1–255');
    }
    if (keys.has(version)) throw invalid('HC_PII_KEY', where, `key version ${version} is given twice`);
    keys.set(version, parseHex('HC_PII_KEY', where, m[2]!, KEY_BYTES, KEY_BYTES));
    if (current === 0) current = version;
  }
  return { keys, current };
}

function fromValues(values: Record<SecretVar, string>, where: string, source: Secrets['source']): Secrets {
  const { keys, current } = parsePiiKeys(where, values.HC_PII_KEY);
  const lookupKey = parseHex('HC_LOOKUP_KEY', where, values.HC_LOOKUP_KEY, KEY_BYTES, KEY_BYTES);
  const uidPepper = parseHex('HC_UID_PEPPER', where, values.HC_UID_PEPPER, MIN_PEPPER_BYTES, MAX_PEPPER_BYTES);
  for (const k of keys.values()) {
    if (k.equals(lookupKey)) throw invalid('HC_LOOKUP_KEY', where, 'equals a PII key: use independent keys');
  }
  if (uidPepper.equals(lookupKey)) throw invalid('HC_UID_PEPPER', where, 'equals HC_LOOKUP_KEY: use independent keys');
  return { piiKeys: keys, piiKeyVersion: current, lookupKey, uidPepper, source };
}

/**
 * The secrets of this master, in order of preference:
 *
 * 1. Environment: all three of HC_PII_KEY, HC_LOOKUP_KEY, HC_UID_PEPPER (a
 *    vault or Kubernetes secret). Some but not all set is an error naming
 *    the missing ones — silently generating the rest would, the day the file
 *    is lost, make every stored record undecryptable or every uid change.
 * 2. `<dataDir>/secrets.json` (same three names), which must be a regular
 *    file of this user with no group/other permission bits (OpenSSH's rule
 *    for private keys): a looser file is refused, never used.
 * 3. Neither: three random values are generated and written to that file
 *    with mode 0600 (embedded default, DESIGN §5 "no fixed default anywhere").
 *
 * Back the file up with the database: without it the *_enc columns cannot
 * be read and the uids of new registrations no longer match the old ones.
 */
export function loadOrCreateSecrets(dataDir: string, env: NodeJS.ProcessEnv = process.env): Secrets {
  const present = SECRET_VARS.filter((n) => env[n] !== undefined && env[n] !== '');
  if (present.length === SECRET_VARS.length) {
    return fromValues(
      { HC_PII_KEY: env.HC_PII_KEY!, HC_LOOKUP_KEY: env.HC_LOOKUP_KEY!, HC_UID_PEPPER: env.HC_UID_PEPPER! },
      'environment',
      'env',
    );
  }
  if (present.length > 0) {
    const missing = SECRET_VARS.filter((n) => !present.includes(n));
    throw new MasterError(
      'MASTER_ERR_SECRET_INVALID',
      `${missing.join(', ')} not set while ${present.join(', ')} is: set all of ${SECRET_VARS.join(', ')} or none`,
      missing[0],
    );
  }
  const path = join(dataDir, SECRETS_FILE);
  const existing = readSecretsFile(path);
  if (existing !== undefined) return existing;
  return createSecretsFile(dataDir, path);
}

/** undefined when the file does not exist. */
function readSecretsFile(path: string): Secrets | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MasterError('MASTER_ERR_SECRETS_FILE', `${path}: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new MasterError('MASTER_ERR_SECRETS_FILE', `${path} is not a regular file`);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new MasterError(
      'MASTER_ERR_SECRETS_FILE',
      `${path} has mode 0${mode.toString(8)}: group or others may read it; run chmod 600 ${path} (and consider the keys exposed)`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new MasterError('MASTER_ERR_SECRETS_FILE', `${path} is owned by uid ${st.uid}, this process runs as uid ${uid}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new MasterError('MASTER_ERR_SECRETS_FILE', `${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MasterError('MASTER_ERR_SECRETS_FILE', `${path} is not a JSON object`);
  }
  const o = parsed as Record<string, unknown>;
  const where = `file ${path}`;
  for (const n of SECRET_VARS) {
    if (typeof o[n] !== 'string') throw invalid(n, where, 'is missing or not a string');
  }
  return fromValues(
    { HC_PII_KEY: o.HC_PII_KEY as string, HC_LOOKUP_KEY: o.HC_LOOKUP_KEY as string, HC_UID_PEPPER: o.HC_UID_PEPPER as string },
    where,
    'file',
  );
}

/**
 * Writes a temporary file (O_EXCL, mode 0600 — the umask can only remove
 * bits), fsyncs it, then hard-links it to the final name: link() fails if the
 * name exists, so two processes starting at once cannot both win and nobody
 * ever sees a half-written file.
 */
function createSecretsFile(dataDir: string, path: string): Secrets {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const values: Record<SecretVar, string> = {
    HC_PII_KEY: randomBytes(KEY_BYTES).toString('hex'),
    HC_LOOKUP_KEY: randomBytes(KEY_BYTES).toString('hex'),
    HC_UID_PEPPER: randomBytes(KEY_BYTES).toString('hex'),
  };
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(values, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    unlinkSync(tmp);
    return readSecretsFile(path)!; // another process created it first: use theirs
  }
  unlinkSync(tmp);
  fsyncDir(dataDir);
  return fromValues(values, `file ${path}`, 'generated');
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory; the file itself is synced
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Field encryption
// ---------------------------------------------------------------------------

export type PiiField = 'cert' | 'phone' | 'name';

/**
 * Ciphertext of one field (bytea):
 *
 *   0         1                      13                        29
 *   ┌─────────┬──────────────────────┬─────────────────────────┬──────────────┐
 *   │ key ver │ IV (12 bytes, random) │ GCM tag (16 bytes)      │ ciphertext   │
 *   └─────────┴──────────────────────┴─────────────────────────┴──────────────┘
 *
 * AES-256-GCM (NIST SP 800-38D) with a 96-bit random IV. AAD = key version ‖
 * field name ‖ 0x00 ‖ uid, so a ciphertext copied to another row or column
 * fails to decrypt instead of showing one person's phone as another's.
 * Random IVs are safe for 2^32 encryptions per key (SP 800-38D §8.3); 114 M
 * people × 3 fields is 2^28.4: rotate the key (a new version) before 2^32.
 */
const HEADER = 1 + 12 + 16;
/** IVs drawn from the CSPRNG at once (PiiCrypto.nextIv) */
const IV_POOL = 1024;

function aad(version: number, field: PiiField, uid: Uint8Array): Buffer {
  const f = Buffer.from(field, 'ascii');
  const out = Buffer.allocUnsafe(1 + f.length + 1 + uid.length);
  out[0] = version;
  f.copy(out, 1);
  out[1 + f.length] = 0;
  out.set(uid, 2 + f.length);
  return out;
}

export class PiiCrypto {
  private readonly keys: ReadonlyMap<number, Buffer>;
  private readonly version: number;
  private readonly lookupKey: Buffer;

  constructor(secrets: Pick<Secrets, 'piiKeys' | 'piiKeyVersion' | 'lookupKey'>) {
    if (!secrets.piiKeys.has(secrets.piiKeyVersion)) {
      throw new MasterError('MASTER_ERR_SECRET_INVALID', `current key version ${secrets.piiKeyVersion} is not loaded`, 'HC_PII_KEY');
    }
    this.keys = secrets.piiKeys;
    this.version = secrets.piiKeyVersion;
    this.lookupKey = secrets.lookupKey;
  }

  /**
   * Random 96-bit IVs, drawn IV_POOL at a time from the CSPRNG and each used once: one randomBytes(12) per
   * field cost ≈ 3 µs of the ≈ 11 µs an encrypt took (exchange bulk import, 3 fields a person; measured).
   */
  private ivPool = Buffer.alloc(0);
  private ivAt = 0;

  private nextIv(): Buffer {
    if (this.ivAt + 12 > this.ivPool.length) {
      this.ivPool = randomBytes(12 * IV_POOL);
      this.ivAt = 0;
    }
    const iv = this.ivPool.subarray(this.ivAt, this.ivAt + 12);
    this.ivAt += 12;
    return iv;
  }

  encrypt(field: PiiField, uid: Uint8Array, plaintext: string): Buffer {
    const iv = this.nextIv();
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.version)!, iv);
    cipher.setAAD(aad(this.version, field, uid));
    const ct = cipher.update(plaintext, 'utf8');
    const fin = cipher.final(); // empty for GCM
    const out = Buffer.allocUnsafe(HEADER + ct.length + fin.length);
    out[0] = this.version;
    iv.copy(out, 1);
    cipher.getAuthTag().copy(out, 13);
    ct.copy(out, HEADER);
    fin.copy(out, HEADER + ct.length);
    return out;
  }

  decrypt(field: PiiField, uid: Uint8Array, blob: Uint8Array): string {
    if (blob.length < HEADER) throw new MasterError('MASTER_ERR_DECRYPT', `${field}: ${blob.length} bytes is shorter than the header`);
    const version = blob[0]!;
    const key = this.keys.get(version);
    if (key === undefined) throw new MasterError('MASTER_ERR_DECRYPT', `${field}: key version ${version} is not loaded`);
    const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    const decipher = createDecipheriv('aes-256-gcm', key, b.subarray(1, 13));
    decipher.setAAD(aad(version, field, uid));
    decipher.setAuthTag(b.subarray(13, HEADER));
    try {
      return Buffer.concat([decipher.update(b.subarray(HEADER)), decipher.final()]).toString('utf8');
    } catch {
      throw new MasterError('MASTER_ERR_DECRYPT', `${field}: authentication failed (wrong key, tampered, or another row's value)`);
    }
  }

  /**
   * Keyed hash for exact look-up: HMAC-SHA256(lookup key, person-key form),
   * 'C:<type>:<number>' for a certificate, 'P:<11 digits>' for a phone — the
   * same canonical strings as core/identity.ts personKey, so the prefix keeps
   * the two kinds apart. Unlike a plain hash it cannot be reversed by hashing
   * all 10^11 phone numbers without the key.
   */
  lookupHash(canonical: string): Buffer {
    return createHmac('sha256', this.lookupKey).update(canonical, 'utf8').digest();
  }
}
