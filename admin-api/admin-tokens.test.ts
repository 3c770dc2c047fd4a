import { describe, expect, it } from 'vitest';
import { AdminTokens } from './admin-tokens.js';

const P = { username: 'ops1', role: 'operator' as const, regionPrefix: '' };

describe('AdminTokens', () => {
  it('issues 43-character base64url tokens that check back to the principal', () => {
    const t = new AdminTokens({ ttlSec: 3600, idleSec: 600 });
    const { token, expiresAt } = t.issue(P);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(t.check(token)).toMatchObject({ username: 'ops1', role: 'operator', expiresAt });
    expect(t.check(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBeNull();
    expect(t.check('short')).toBeNull();
  });

  it('expires after the idle timeout unless used, and after the absolute lifetime regardless', () => {
    let now = 1_700_000_000_000;
    const t = new AdminTokens({ ttlSec: 1000, idleSec: 300, now: () => now });
    const a = t.issue(P).token;
    const b = t.issue(P).token;
    for (let i = 0; i < 3; i++) {
      now += 299_000;
      expect(t.check(a)).not.toBeNull(); // kept alive by use
    }
    expect(t.check(b)).toBeNull(); // idle 897 s
    now += 110_000; // 1007 s since issue
    expect(t.check(a)).toBeNull();
  });

  it('revokes one token or every token of a user', () => {
    const t = new AdminTokens({ ttlSec: 1000, idleSec: 300 });
    const a = t.issue(P).token;
    const b = t.issue(P).token;
    const c = t.issue({ ...P, username: 'other' }).token;
    expect(t.revoke(a)).toBe(true);
    expect(t.check(a)).toBeNull();
    expect(t.revokeUser('ops1')).toBe(1);
    expect(t.check(b)).toBeNull();
    expect(t.check(c)).not.toBeNull();
  });

  it('never keeps more than maxSessions', () => {
    const t = new AdminTokens({ ttlSec: 1000, idleSec: 300, maxSessions: 3 });
    for (let i = 0; i < 10; i++) t.issue(P);
    expect(t.size).toBeLessThanOrEqual(3);
  });
});
