import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Secrets } from '../master/pii-crypto.js';
import { CitizenError } from './errors.js';

/**
 * Appeal photos, encrypted at rest under <dataDir>/citizen/photos/ (a photo
 * of an ID card or a test report is personal data like the identity itself).
 *
 * Key: HKDF-SHA256 of the master's current PII key (HC_PII_KEY, version v)
 * with the info 'healthcode/citizen-photo/v1' — a key of its own purpose,
 * never the PII key itself (one key, one algorithm use). File layout:
 *   version (1) ‖ IV (12) ‖ GCM tag (16) ‖ ciphertext, AAD = the file name,
 * so a file renamed or copied over another order's fails to decrypt.
 */
export const MAX_PHOTO_BYTES = 2 * 1024 * 1024;
const NAME = /^[0-9a-f]{32}$/;

export type PhotoType = 'image/jpeg' | 'image/png';

/** Image type from the magic bytes (never trust the declared type alone). */
export function sniffPhoto(b: Buffer): PhotoType | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  return null;
}

/** Decodes and checks a photo sent as base64: size first (413), then type (415). */
export function decodePhoto(data: unknown): { bytes: Buffer; type: PhotoType } {
  if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new CitizenError('CIT_ERR_INVALID', 'must be base64', 'photo');
  // size check before decoding: 4 characters carry 3 bytes
  if (Math.floor((data.length * 3) / 4) - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0) > MAX_PHOTO_BYTES) {
    throw new CitizenError('CIT_ERR_PHOTO_TOO_LARGE', undefined, 'photo');
  }
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length === 0) throw new CitizenError('CIT_ERR_INVALID', 'is empty', 'photo');
  const type = sniffPhoto(bytes);
  if (type === null) throw new CitizenError('CIT_ERR_PHOTO_TYPE', undefined, 'photo');
  return { bytes, type };
}

export class PhotoVault {
  private readonly dir: string;
  private readonly keys = new Map<number, Buffer>();
  private readonly version: number;

  constructor(dataDir: string, secrets: Pick<Secrets, 'piiKeys' | 'piiKeyVersion'>) {
    this.dir = join(dataDir, 'citizen', 'photos');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const [v, k] of secrets.piiKeys) this.keys.set(v, Buffer.from(hkdfSync('sha256', k, Buffer.alloc(0), 'healthcode/citizen-photo/v1', 32)));
    this.version = secrets.piiKeyVersion;
  }

  /** Writes the encrypted photo (0600, via a temporary file so a crash leaves no half file); returns its name. */
  put(bytes: Buffer): string {
    const name = randomBytes(16).toString('hex');
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.keys.get(this.version)!, iv);
    c.setAAD(Buffer.from(name, 'ascii'));
    const ct = Buffer.concat([c.update(bytes), c.final()]);
    const tmp = join(this.dir, `${name}.tmp`);
    writeFileSync(tmp, Buffer.concat([Buffer.from([this.version]), iv, c.getAuthTag(), ct]), { mode: 0o600 });
    renameSync(tmp, join(this.dir, name));
    return name;
  }

  get(name: string): Buffer {
    if (!NAME.test(name)) throw new CitizenError('CIT_ERR_INVALID', 'bad photo name', 'photo');
    const b = readFileSync(join(this.dir, name));
    const key = this.keys.get(b[0]!);
    if (key === undefined || b.length < 29) throw new CitizenError('CIT_ERR_CONFIG', 'photo key version not loaded');
    const d = createDecipheriv('aes-256-gcm', key, b.subarray(1, 13));
    d.setAAD(Buffer.from(name, 'ascii'));
    d.setAuthTag(b.subarray(13, 29));
    return Buffer.concat([d.update(b.subarray(29)), d.final()]);
  }

  /** Removes a photo whose order did not commit (best effort). */
  drop(name: string): void {
    try {
      unlinkSync(join(this.dir, name));
    } catch {
      // already gone
    }
  }

  path(name: string): string {
    return join(this.dir, name);
  }
}
