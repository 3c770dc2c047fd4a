import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issueSession } from '../core/session-token.js';
import { MAX_CAPACITY, PROBE_WINDOW, SessionCache, SLOT_BYTES, UID_OFFSET } from './session-cache.js';

const KEY = randomBytes(32);
const NOW = 1_800_000_000;

function uid(i: number): Buffer {
  const u = Buffer.alloc(16);
  u.writeUInt32BE(i, 12);
  return u;
}

function token(i: number, expiresAt = NOW + 3600): string {
  return issueSession(KEY, uid(i), expiresAt);
}

/** A token from raw bytes (no valid MAC: the cache trusts its caller to have verified). */
function rawToken(bytes: Buffer): string {
  return bytes.toString('base64url');
}

describe('SessionCache', () => {
  it('finds a remembered token by its Bearer header and reads its uid and expiry in place', () => {
    const c = new SessionCache(4);
    const t = token(7);
    const slot = c.remember(t, NOW);
    expect(c.lookup(`Bearer ${t}`, NOW)).toBe(slot);
    expect(slot % SLOT_BYTES).toBe(0);
    expect(Buffer.from(c.table.subarray(slot + UID_OFFSET, slot + UID_OFFSET + 16))).toEqual(uid(7));
    expect(c.expiresAt(slot)).toBe(NOW + 3600);
    expect(c.sessionAt(slot)).toEqual({ uid: uid(7), expiresAt: NOW + 3600 });
    expect(c.size).toBe(1);
  });

  it('answers -1 for a token it never stored, including a forged one for a stored uid', () => {
    const c = new SessionCache(4);
    const t = token(1);
    c.remember(t, NOW);
    expect(c.lookup(`Bearer ${token(2)}`, NOW)).toBe(-1);
    const forged = Buffer.from(t, 'base64url');
    forged[36]! ^= 0x01; // last MAC byte
    expect(c.lookup(`Bearer ${rawToken(forged)}`, NOW)).toBe(-1);
    const otherKey = issueSession(randomBytes(32), uid(1), NOW + 3600);
    expect(c.lookup(`Bearer ${otherKey}`, NOW)).toBe(-1);
  });

  it('remembering the same token twice keeps one slot', () => {
    const c = new SessionCache(4);
    const t = token(3);
    expect(c.remember(t, NOW)).toBe(c.remember(t, NOW));
    expect(c.size).toBe(1);
  });

  it('never honours a session at or past its expiry', () => {
    const c = new SessionCache(4);
    const t = token(1, NOW + 100);
    c.remember(t, NOW);
    expect(c.lookup(`Bearer ${t}`, NOW + 99)).toBeGreaterThanOrEqual(0);
    expect(c.lookup(`Bearer ${t}`, NOW + 100)).toBe(-1);
    expect(c.find(t, NOW + 100)).toBe(-1);
  });

  it('the hot lookup takes only "Bearer <token>"; find takes the token of any spelling', () => {
    const c = new SessionCache(4);
    const t = token(5);
    const slot = c.remember(t, NOW);
    expect(c.lookup(`bearer ${t}`, NOW)).toBe(-1);
    expect(c.lookup(`Bearer  ${t}`, NOW)).toBe(-1);
    expect(c.lookup(t, NOW)).toBe(-1);
    expect(c.find(t, NOW)).toBe(slot);
  });

  it('refuses non-canonical, malformed and wrong-version tokens', () => {
    const c = new SessionCache(4);
    const t = token(9);
    c.remember(t, NOW);
    // the last character carries 2 bits and 4 zero bits: flipping a zero bit spells the same bytes non-canonically
    const last = t.charCodeAt(t.length - 1);
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const nonCanonical = t.slice(0, -1) + abc[abc.indexOf(String.fromCharCode(last)) | 1];
    expect(Buffer.from(nonCanonical, 'base64url')).toEqual(Buffer.from(t, 'base64url'));
    expect(c.lookup(`Bearer ${nonCanonical}`, NOW)).toBe(-1);
    expect(c.find(nonCanonical, NOW)).toBe(-1);
    expect(() => c.remember(nonCanonical, NOW)).toThrow(TypeError);
    for (const bad of [t.slice(1), `${t}A`, `${t.slice(0, 10)}+${t.slice(11)}`, `${t.slice(0, 10)}=${t.slice(11)}`, `${t.slice(0, 10)}é${t.slice(11)}`, `${t.slice(0, 10)}\u4e2d${t.slice(11)}`, '']) {
      expect(c.lookup(`Bearer ${bad}`, NOW)).toBe(-1);
      expect(c.find(bad, NOW)).toBe(-1);
      expect(() => c.remember(bad, NOW)).toThrow(TypeError);
    }
    // a character 128 (or 0x4e00) above a valid one has the same low 7 bits, which index the
    // decoding table: still refused, at every position, though the rest is the remembered token
    for (let i = 0; i < t.length; i++) {
      for (const up of [128, 0x4e00]) {
        const alias = t.slice(0, i) + String.fromCharCode(t.charCodeAt(i) + up) + t.slice(i + 1);
        expect(c.lookup(`Bearer ${alias}`, NOW)).toBe(-1);
        expect(c.find(alias, NOW)).toBe(-1);
      }
    }
    const v2 = Buffer.from(t, 'base64url');
    v2[0] = 2;
    expect(() => c.remember(rawToken(v2), NOW)).toThrow(TypeError);
  });

  it('keeps tokens that share a home slot apart', () => {
    const c = new SessionCache(64);
    const a = Buffer.from(token(1), 'base64url');
    const b = Buffer.from(a);
    b[36]! ^= 0xff; // same first MAC bytes (the home slot), different token
    const sa = c.remember(rawToken(a), NOW);
    const sb = c.remember(rawToken(b), NOW);
    expect(sa).not.toBe(sb);
    expect(c.lookup(`Bearer ${rawToken(a)}`, NOW)).toBe(sa);
    expect(c.lookup(`Bearer ${rawToken(b)}`, NOW)).toBe(sb);
  });

  it('stays within its fixed table whatever is inserted, and keeps recent sessions findable', () => {
    const c = new SessionCache(100);
    const bytes = c.table.byteLength;
    expect(bytes).toBe(256 * SLOT_BYTES);
    for (let i = 0; i < 10_000; i++) {
      const t = token(i);
      const slot = c.remember(t, NOW);
      expect(c.lookup(`Bearer ${t}`, NOW)).toBe(slot);
    }
    expect(c.table.byteLength).toBe(bytes);
    expect(c.size).toBeLessThanOrEqual(256);
    expect(c.evictions).toBeGreaterThan(0);
    expect(c.lookup(`Bearer ${token(9999)}`, NOW)).toBeGreaterThanOrEqual(0);
  });

  it('reuses an expired slot before evicting a live session', () => {
    const c = new SessionCache(1); // PROBE_WINDOW slots
    const home = Buffer.from(token(0), 'base64url');
    const variant = (k: number, exp: number): string => {
      const b = Buffer.from(home);
      b.writeUInt32BE(exp, 17);
      b[36] = k; // same home slot
      return rawToken(b);
    };
    const old = variant(0, NOW + 10);
    c.remember(old, NOW);
    for (let k = 1; k < PROBE_WINDOW; k++) c.remember(variant(k, NOW + 3600), NOW);
    expect(c.size).toBe(PROBE_WINDOW);
    const late = NOW + 20; // `old` has expired by now
    const fresh = variant(200, NOW + 3600);
    const slot = c.remember(fresh, late);
    expect(c.evictions).toBe(0);
    expect(c.lookup(`Bearer ${fresh}`, late)).toBe(slot);
    for (let k = 1; k < PROBE_WINDOW; k++) expect(c.lookup(`Bearer ${variant(k, NOW + 3600)}`, late)).toBeGreaterThanOrEqual(0);
    // a full window of live sessions: one is evicted, the newcomer is found
    const another = variant(201, NOW + 3600);
    c.remember(another, late);
    expect(c.evictions).toBe(1);
    expect(c.lookup(`Bearer ${another}`, late)).toBeGreaterThanOrEqual(0);
  });

  it('clear forgets everything', () => {
    const c = new SessionCache(4);
    const t = token(1);
    c.remember(t, NOW);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.lookup(`Bearer ${t}`, NOW)).toBe(-1);
  });

  it('refuses a capacity below one or above MAX_CAPACITY', () => {
    expect(() => new SessionCache(0)).toThrow(RangeError);
    expect(() => new SessionCache(1.5)).toThrow(RangeError);
    expect(() => new SessionCache(MAX_CAPACITY + 1)).toThrow(RangeError);
  });
  it('sweeps expired sessions in the background without hiding the live ones probed past them', () => {
    const c = new SessionCache(1); // one probe window: every token shares it
    const tokens = Array.from({ length: PROBE_WINDOW }, (_, i) => token(i + 1, i % 2 === 0 ? NOW + 10 : NOW + 3600));
    const slots = tokens.map((t) => c.remember(t, NOW));
    let at = 0;
    for (let k = 0; k < 5; k++) at = c.sweep(at, 4, NOW + 100); // in steps, wrapping
    expect(c.swept).toBe(PROBE_WINDOW / 2);
    for (let i = 0; i < PROBE_WINDOW; i++) {
      const live = i % 2 === 1;
      expect(c.lookup(`Bearer ${tokens[i]!}`, NOW + 100)).toBe(live ? slots[i] : -1);
      // an expired session's uid is gone from memory
      if (!live) expect(c.table.subarray(slots[i]! + UID_OFFSET, slots[i]! + UID_OFFSET + 16).every((b) => b === 0)).toBe(true);
    }
    c.sweep(0, 64, NOW + 100);
    expect(c.swept).toBe(PROBE_WINDOW / 2); // a wiped slot is not counted twice
    // the window is full: a wiped slot is reused by the next insert, no live session is evicted
    const fresh = c.remember(token(99), NOW + 100);
    expect(slots.filter((_, i) => i % 2 === 0)).toContain(fresh);
    expect(c.lookup(`Bearer ${token(99)}`, NOW + 100)).toBe(fresh);
    expect(c.evictions).toBe(0);
  });
});
