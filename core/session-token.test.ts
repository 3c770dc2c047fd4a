import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CoreError } from './errors.js';
import { issueSession, SESSION_BYTES, SESSION_TEXT_LENGTH, verifySession } from './session-token.js';

const key = Buffer.from('5e55'.repeat(16), 'hex');
const uid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const now = 1_790_000_000;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CoreError);
    return (err as CoreError).code;
  }
  throw new Error('did not throw');
}

describe('session tokens', () => {
  it('round-trips uid and expiry in 50 base64url characters', () => {
    const t = issueSession(key, uid, now + 3600);
    expect(t).toHaveLength(SESSION_TEXT_LENGTH);
    expect(SESSION_TEXT_LENGTH).toBe(50);
    expect(t).toMatch(/^[A-Za-z0-9_-]{50}$/);
    const c = verifySession(key, t, now);
    expect(c.uid.equals(uid)).toBe(true);
    expect(c.expiresAt).toBe(now + 3600);
  });

  it('has the documented byte layout', () => {
    const bytes = Buffer.from(issueSession(key, uid, 0x01020304), 'base64url');
    expect(bytes).toHaveLength(SESSION_BYTES);
    expect(bytes[0]).toBe(1);
    expect(bytes.subarray(1, 17).equals(uid)).toBe(true);
    expect(bytes.readUInt32BE(17)).toBe(0x01020304);
  });

  it('is deterministic for the same inputs (HMAC, no randomness)', () => {
    expect(issueSession(key, uid, now)).toBe(issueSession(key, uid, now));
  });

  it('rejects an expired token with CORE_ERR_SESSION_EXPIRED (expiry is exclusive)', () => {
    const t = issueSession(key, uid, now);
    expect(codeOf(() => verifySession(key, t, now))).toBe('CORE_ERR_SESSION_EXPIRED');
    expect(codeOf(() => verifySession(key, t, now + 1))).toBe('CORE_ERR_SESSION_EXPIRED');
    expect(verifySession(key, t, now - 1).expiresAt).toBe(now);
  });

  it('rejects a token made with another key', () => {
    const t = issueSession(randomBytes(32), uid, now + 60);
    expect(codeOf(() => verifySession(key, t, now))).toBe('CORE_ERR_SESSION_BAD_MAC');
  });

  it('rejects every single-bit change of the signed bytes and of the MAC', () => {
    const bytes = Buffer.from(issueSession(key, uid, now + 60), 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = Buffer.from(bytes);
        b[i]! ^= 1 << bit;
        const code = codeOf(() => verifySession(key, b.toString('base64url'), now));
        expect(i === 0 ? ['CORE_ERR_SESSION_MALFORMED'] : ['CORE_ERR_SESSION_BAD_MAC']).toContain(code);
      }
    }
  });

  it('says bad mac, not expired, for a forged expired token', () => {
    const bytes = Buffer.from(issueSession(key, uid, now - 10), 'base64url');
    bytes[30]! ^= 1;
    expect(codeOf(() => verifySession(key, bytes.toString('base64url'), now))).toBe('CORE_ERR_SESSION_BAD_MAC');
  });

  it('rejects malformed text with CORE_ERR_SESSION_MALFORMED', () => {
    const t = issueSession(key, uid, now + 60);
    for (const bad of ['', 'x', t.slice(1), t + 'A', t.slice(0, 49) + '=', t.replace(/.$/, '+'), `Bearer ${t}`, ' '.repeat(50)]) {
      expect(codeOf(() => verifySession(key, bad, now))).toBe('CORE_ERR_SESSION_MALFORMED');
    }
    expect(codeOf(() => verifySession(key, 42 as unknown as string, now))).toBe('CORE_ERR_SESSION_MALFORMED');
  });

  it('rejects a non-canonical last character (spare bits set)', () => {
    const t = issueSession(key, uid, now + 60);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(t[49]!);
    // 37 bytes = 296 bits; the 50th character carries 2 data bits and 4 spare ones
    const twin = t.slice(0, 49) + alphabet[last | 1]!;
    expect(twin).not.toBe(t);
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(t, 'base64url'))).toBe(true);
    expect(codeOf(() => verifySession(key, twin, now))).toBe('CORE_ERR_SESSION_MALFORMED');
  });

  it('rejects an unknown version', () => {
    const bytes = Buffer.from(issueSession(key, uid, now + 60), 'base64url');
    bytes[0] = 2;
    expect(codeOf(() => verifySession(key, bytes.toString('base64url'), now))).toBe('CORE_ERR_SESSION_MALFORMED');
  });

  it('refuses short keys and bad inputs when issuing', () => {
    expect(codeOf(() => issueSession(randomBytes(31), uid, now))).toBe('CORE_ERR_SESSION_KEY');
    expect(codeOf(() => verifySession(randomBytes(16), 'x', now))).toBe('CORE_ERR_SESSION_KEY');
    expect(codeOf(() => issueSession(key, uid.subarray(0, 15), now))).toBe('CORE_ERR_SESSION_MALFORMED');
    expect(codeOf(() => issueSession(key, uid, -1))).toBe('CORE_ERR_SESSION_MALFORMED');
    expect(codeOf(() => issueSession(key, uid, 2 ** 32))).toBe('CORE_ERR_SESSION_MALFORMED');
    expect(codeOf(() => issueSession(key, uid, 1.5))).toBe('CORE_ERR_SESSION_MALFORMED');
  });

  it('answers CoreError with status 401 for every client-side failure', () => {
    const e = new CoreError('CORE_ERR_SESSION_EXPIRED');
    expect(e.statusCode).toBe(401);
    expect(new CoreError('CORE_ERR_SESSION_BAD_MAC').statusCode).toBe(401);
    expect(new CoreError('CORE_ERR_SESSION_MALFORMED').statusCode).toBe(401);
  });
});
