import { createHash, randomBytes } from 'node:crypto';
import type { Role } from './roles.js';

/**
 * Back-office bearer tokens: opaque random values held in this process.
 *
 * Why opaque and in memory rather than signed (JWT-like): the idle timeout
 * needs per-token state (last use) anyway, logout and "disable this user now"
 * must take effect at once, and there is no second party that has to check
 * the token offline. 32 random bytes (256 bits, base64url → 43 characters)
 * are unguessable (OWASP Session Management: ≥ 64 bits of entropy).
 * Only SHA-256 of each token is kept, so a memory dump does not hand out
 * live tokens.
 *
 * Consequences, documented in README.md: a restart logs everyone out, and
 * several admin-api instances need sticky sessions. The back office is a
 * few hundred officers: one instance (plus a standby) carries it.
 */
export interface AdminPrincipal {
  readonly username: string;
  readonly role: Role;
  /** GB/T 2260 prefix the account is scoped to; '' = whole province */
  readonly regionPrefix: string;
}

export interface AdminSession extends AdminPrincipal {
  /** unix seconds */
  readonly issuedAt: number;
  readonly expiresAt: number;
  lastUsed: number;
}

export interface AdminTokenOptions {
  readonly ttlSec: number;
  readonly idleSec: number;
  /** unix milliseconds */
  readonly now?: () => number;
  readonly maxSessions?: number;
}

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

const TOKEN_TEXT = /^[A-Za-z0-9_-]{43}$/;

export class AdminTokens {
  private readonly sessions = new Map<string, AdminSession>();
  private readonly ttl: number;
  private readonly idle: number;
  private readonly now: () => number;
  private readonly max: number;

  constructor(opts: AdminTokenOptions) {
    this.ttl = opts.ttlSec;
    this.idle = opts.idleSec;
    this.now = opts.now ?? Date.now;
    this.max = opts.maxSessions ?? 10_000;
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  issue(p: AdminPrincipal): { token: string; expiresAt: number; session: AdminSession } {
    const now = this.seconds();
    if (this.sessions.size >= this.max) this.sweep(now);
    const token = randomBytes(32).toString('base64url');
    const session: AdminSession = {
      username: p.username,
      role: p.role,
      regionPrefix: p.regionPrefix,
      issuedAt: now,
      expiresAt: now + this.ttl,
      lastUsed: now,
    };
    this.sessions.set(digest(token), session);
    return { token, expiresAt: session.expiresAt, session };
  }

  /** The live session of `token` (and marks it used), or null when unknown, expired or idle too long. */
  check(token: string): AdminSession | null {
    if (!TOKEN_TEXT.test(token)) return null;
    const key = digest(token);
    const s = this.sessions.get(key);
    if (s === undefined) return null;
    const now = this.seconds();
    if (now >= s.expiresAt || now - s.lastUsed >= this.idle) {
      this.sessions.delete(key);
      return null;
    }
    s.lastUsed = now;
    return s;
  }

  revoke(token: string): boolean {
    return TOKEN_TEXT.test(token) && this.sessions.delete(digest(token));
  }

  /** Ends every session of a user (disabled, role changed, password reset). */
  revokeUser(username: string): number {
    let n = 0;
    for (const [k, s] of this.sessions) {
      if (s.username === username) {
        this.sessions.delete(k);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(now: number): void {
    for (const [k, s] of this.sessions) {
      if (now >= s.expiresAt || now - s.lastUsed >= this.idle) this.sessions.delete(k);
    }
    if (this.sessions.size >= this.max) {
      // Every session is live: drop the least recently issued rather than refuse logins.
      const first = this.sessions.keys().next();
      if (!first.done) this.sessions.delete(first.value);
    }
  }
}
