import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter (token bucket)', () => {
  it('allows a burst, then refuses with the seconds until the next token', () => {
    let now = 1_000_000;
    const rl = new RateLimiter({ perMinute: 6, now: () => now });
    for (let i = 0; i < 6; i++) expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBe(10); // 6/min = one token per 10 s
    now += 5_000;
    expect(rl.take('a')).toBe(5);
    now += 5_000;
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBe(10);
  });

  it('keeps keys apart', () => {
    const now = 0;
    const rl = new RateLimiter({ perMinute: 1, now: () => now });
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBeGreaterThan(0);
    expect(rl.take('b')).toBe(0);
  });

  it('refills up to the burst only', () => {
    let now = 0;
    const rl = new RateLimiter({ perMinute: 60, burst: 2, now: () => now });
    now += 3_600_000;
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBe(1);
  });

  it('bounds memory: refilled buckets are dropped first, then the oldest', () => {
    let now = 0;
    const rl = new RateLimiter({ perMinute: 60, maxKeys: 8, now: () => now });
    for (let i = 0; i < 8; i++) rl.take(`k${i}`);
    now += 60_000; // all refilled
    rl.take('new');
    expect(rl.size).toBe(1);
    for (let i = 0; i < 8; i++) rl.take(`x${i}`); // none refilled at the same instant
    expect(rl.size).toBeLessThanOrEqual(8);
  });

  it('a clock stepped back neither refills nor drains', () => {
    let now = 1_000_000;
    const rl = new RateLimiter({ perMinute: 60, burst: 2, now: () => now });
    expect(rl.take('a')).toBe(0);
    now -= 3_600_000;
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBe(1);
  });

  it('refuses a non-positive rate', () => {
    expect(() => new RateLimiter({ perMinute: 0 })).toThrow(RangeError);
  });
});
