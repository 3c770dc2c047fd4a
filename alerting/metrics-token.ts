import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The static Prometheus scrape token (ALERT_METRICS_TOKEN): Prometheus's
 * `authorization: {credentials: …}` is a fixed secret, while console
 * sessions expire — so the scrape gets its own route and its own token.
 *
 * Compared in constant time over SHA-256 digests: equal lengths always,
 * so neither the content nor the length of the configured token leaks
 * through the answer time.
 */
export function metricsTokenMatches(configured: string | null, presented: string | null): boolean {
  if (configured === null || presented === null) return false;
  const a = createHash('sha256').update(configured, 'utf8').digest();
  const b = createHash('sha256').update(presented, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The bearer credential of an Authorization header, or null. */
export function bearerOf(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m === null ? null : m[1]!;
}
