import { describe, expect, it } from 'vitest';
import { SessionCache, type CachedSession } from './session-cache.js';

function session(i: number, expiresAt = 2_000_000_000): CachedSession {
  const uid = Buffer.alloc(16);
  uid.writeUInt32BE(i, 12);
  return { uid, expiresAt };
}

describe('SessionCache', () => {
  it('returns the very object stored (a hit allocates nothing)', () => {
    const c = new SessionCache(4);
    const s = session(1);
    c.set('Bearer a', s);
    expect(c.get('Bearer a', 1)).toBe(s);
    expect(c.get('Bearer b', 1)).toBeUndefined();
  });

  it('never returns an expired session, and forgets it', () => {
    const c = new SessionCache(4);
    c.set('Bearer a', session(1, 100));
    expect(c.get('Bearer a', 99)).toBeDefined();
    expect(c.get('Bearer a', 100)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('stays bounded at two generations of `capacity` entries', () => {
    const c = new SessionCache(100);
    for (let i = 0; i < 10_000; i++) {
      c.set(`Bearer ${i}`, session(i));
      expect(c.size).toBeLessThanOrEqual(200);
    }
    expect(c.rotations).toBe(99);
    // the newest entries survive, the oldest are gone
    expect(c.get('Bearer 9999', 1)).toBeDefined();
    expect(c.get('Bearer 9850', 1)).toBeDefined();
    expect(c.get('Bearer 0', 1)).toBeUndefined();
  });

  it('keeps a session in use alive across generations', () => {
    const c = new SessionCache(10);
    const hot = session(-1 >>> 0);
    c.set('Bearer hot', hot);
    for (let i = 0; i < 1000; i++) {
      c.set(`Bearer ${i}`, session(i));
      expect(c.get('Bearer hot', 1)).toBe(hot);
    }
  });

  it('checks expiry on a hit in the old generation too', () => {
    const c = new SessionCache(1);
    c.set('Bearer a', session(1, 50));
    c.set('Bearer b', session(2)); // a moves to the old generation
    expect(c.get('Bearer a', 60)).toBeUndefined();
    expect(c.get('Bearer a', 10)).toBeUndefined(); // dropped on the expired hit
  });

  it('refuses a capacity below one', () => {
    expect(() => new SessionCache(0)).toThrow(RangeError);
    expect(() => new SessionCache(1.5)).toThrow(RangeError);
  });
});
