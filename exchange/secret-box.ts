import { createHash } from 'node:crypto';
import type { PiiCrypto } from '../master/pii-crypto.js';

/**
 * Secrets the exchange keeps (password rules, recipients' SFTP keys and ZIP
 * passwords, rejected rows): AES-256-GCM with the master's current PII key
 * (pii-crypto.ts, so key rotation covers them), the AAD bound to what the
 * secret belongs to — a ciphertext copied to another row does not decrypt.
 */
function aad(label: string): Buffer {
  return createHash('sha256').update(label).digest().subarray(0, 16);
}

export function seal(crypto: PiiCrypto, label: string, plaintext: string): Buffer {
  return crypto.encrypt('name', aad(label), plaintext);
}

export function open(crypto: PiiCrypto, label: string, sealed: Buffer): string {
  return crypto.decrypt('name', aad(label), Buffer.from(sealed));
}
