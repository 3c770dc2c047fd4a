/**
 * Verified citizen sessions, so a repeat display pays one Map lookup instead
 * of base64url decoding + HMAC-SHA256 (≈ 2 µs, FACTS) on every request.
 *
 * Keyed by the raw `Authorization` header value as uWS hands it over
 * ("Bearer <token>"): the hot path looks it up without slicing a new string.
 * Only headers that verified are ever stored, so the cache cannot be filled
 * with garbage by unauthenticated callers.
 *
 * Bounded by generations (the "two-generation" or "segmented clear" cache):
 * new entries go into `young`; when `young` holds `capacity` entries it
 * becomes `old` and the previous `old` is dropped whole. A hit in `old` is
 * moved back to `young`, so an active session survives. Memory stays below
 * 2 × capacity entries, no per-entry LRU bookkeeping, and a hit in `young`
 * allocates nothing: it returns the entry object stored on insertion.
 *
 * Expiry is checked on every hit: a cached session is never honoured past
 * its `expiresAt`.
 */
export interface CachedSession {
  /** 16-byte uid, the replica key */
  readonly uid: Buffer;
  /** unix seconds */
  readonly expiresAt: number;
}

export class SessionCache {
  readonly capacity: number;
  private young = new Map<string, CachedSession>();
  private old = new Map<string, CachedSession>();
  /** generations dropped so far (metrics) */
  rotations = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`session cache capacity ${capacity}`);
    this.capacity = capacity;
  }

  /** The session for this header if cached and not expired at `nowSec`. */
  get(header: string, nowSec: number): CachedSession | undefined {
    let s = this.young.get(header);
    if (s === undefined) {
      s = this.old.get(header);
      if (s === undefined) return undefined;
      this.old.delete(header);
      if (s.expiresAt <= nowSec) return undefined;
      this.insert(header, s);
      return s;
    }
    if (s.expiresAt <= nowSec) {
      this.young.delete(header);
      return undefined;
    }
    return s;
  }

  set(header: string, session: CachedSession): void {
    this.insert(header, session);
  }

  /** Entries held (both generations). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  private insert(header: string, session: CachedSession): void {
    if (this.young.size >= this.capacity) {
      this.old = this.young;
      this.young = new Map();
      this.rotations++;
    }
    this.young.set(header, session);
  }
}
