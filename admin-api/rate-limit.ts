/**
 * Per-key token buckets: one limiter per route group keyed by client
 * address (app.ts), and one for POST /v1/session keyed by a keyed hash of
 * the identity (routes-session.ts).
 *
 * Each bucket holds up to `burst` tokens and refills at `perMinute` / 60 per
 * second; a request takes one token or is refused with the seconds until the
 * next token (the Retry-After of RFC 9110 §10.2.3, with 429 from RFC 6585 §4).
 * State is two numbers per key, refilled lazily on use: no timers.
 *
 * Memory is bounded: beyond `maxKeys` buckets the ones that have refilled
 * completely (indistinguishable from a new bucket) are dropped; if every
 * bucket is still draining, the oldest-inserted are dropped. A flood from
 * many addresses therefore costs bounded memory, and the worst it can do is
 * reset a few buckets early.
 *
 * In-process only: with several admin-api instances behind a balancer each
 * enforces its own share (the load balancer's own limits, deploy/, are the
 * outer line).
 */
export interface RateLimitOptions {
  readonly perMinute: number;
  /** bucket size; default perMinute */
  readonly burst?: number;
  readonly maxKeys?: number;
  /** unix milliseconds */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  /** unix ms of the last refill */
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(opts: RateLimitOptions) {
    if (!(opts.perMinute > 0)) throw new RangeError('perMinute must be positive');
    this.ratePerMs = opts.perMinute / 60_000;
    this.burst = opts.burst ?? opts.perMinute;
    this.maxKeys = opts.maxKeys ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /** Takes one token for `key`: 0 when allowed, else the whole seconds to wait (≥ 1). */
  take(key: string): number {
    const now = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      // a clock stepped back (NTP) refills nothing rather than draining the bucket
      const elapsed = now > b.at ? now - b.at : 0;
      b.tokens = Math.min(this.burst, b.tokens + elapsed * this.ratePerMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.ratePerMs / 1000));
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.ratePerMs >= this.burst) this.buckets.delete(k);
    }
    // Still full: drop the oldest quarter (Map iterates in insertion order).
    if (this.buckets.size >= this.maxKeys) {
      let drop = Math.ceil(this.maxKeys / 4);
      for (const k of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(k);
      }
    }
  }
}
