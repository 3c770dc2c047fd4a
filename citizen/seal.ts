import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { Secrets } from '../master/pii-crypto.js';
import { CitizenError } from './errors.js';

/**
 * AES-256-GCM sealing of the citizen services' own sensitive values (SMS
 * outbox entries) and a keyed hash for short secrets (SMS codes), each with
 * a key of its own purpose derived by HKDF-SHA256 from the master's secrets
 * (never the PII or lookup key itself: one key, one use).
 *
 *   sealed = key version (1) ‖ IV (12) ‖ tag (16) ‖ ciphertext;  AAD = purpose label
 */
export class Sealer {
  private readonly keys = new Map<number, Buffer>();
  private readonly version: number;
  private readonly macKey: Buffer;

  constructor(secrets: Pick<Secrets, 'piiKeys' | 'piiKeyVersion' | 'lookupKey'>, private readonly purpose: string) {
    for (const [v, k] of secrets.piiKeys) this.keys.set(v, Buffer.from(hkdfSync('sha256', k, Buffer.alloc(0), `healthcode/citizen/${purpose}/enc`, 32)));
    this.version = secrets.piiKeyVersion;
    this.macKey = Buffer.from(hkdfSync('sha256', secrets.lookupKey, Buffer.alloc(0), `healthcode/citizen/${purpose}/mac`, 32));
  }

  seal(plaintext: string): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.keys.get(this.version)!, iv);
    c.setAAD(Buffer.from(this.purpose));
    const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return Buffer.concat([Buffer.from([this.version]), iv, c.getAuthTag(), ct]);
  }

  open(blob: Uint8Array): string {
    const b = Buffer.from(blob);
    const key = this.keys.get(b[0]!);
    if (key === undefined || b.length < 29) throw new CitizenError('CIT_ERR_CONFIG', 'sealed value: key version not loaded');
    const d = createDecipheriv('aes-256-gcm', key, b.subarray(1, 13));
    d.setAAD(Buffer.from(this.purpose));
    d.setAuthTag(b.subarray(13, 29));
    return Buffer.concat([d.update(b.subarray(29)), d.final()]).toString('utf8');
  }

  mac(...parts: (string | Uint8Array)[]): Buffer {
    const h = createHmac('sha256', this.macKey);
    for (const p of parts) {
      const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      h.update(Buffer.from([b.length >> 8, b.length & 0xff])).update(b);
    }
    return h.digest();
  }
}
