import { TracingError } from './errors.js';

/**
 * The tracing capability's environment, read once at the entry point.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | TRACING_RETENTION_DAYS | 30 | how long scans are kept: a window (with margins) longer than this, or older, is refused |
 * | TRACING_MAX_VENUES | 200 | venues one task may name |
 * | TRACING_MAX_GROUP | 20000 | people one risk group's code change may hold |
 * | TRACING_INDEX_REFRESH_MS | 2000 | a search re-reads changed venues when the index is older than this |
 * | TRACING_INDEX_MAX_VENUES | 6000000 | above this many venues the in-memory fuzzy index is not built (≈0.25–0.28 KB each: 240 MB for 1M bench venues, 1388 MB for 5M — 991 MB of it typed arrays, off-heap; built in 113 s, search p99 13 ms, measured with bench/venue-search.ts; the 5M venues fit): the same search on the gram table in the database (venue-text-table.ts) |
 * | TRACING_ROLLUP_INTERVAL_MS | 600000 | how often the daily scan rollup looks for finished days to roll (0 = never: the dashboard reads only the live table) |
 * | TRACING_ROLLUP_LAG_HOURS | 2 | a China day is rolled this long after it ended, so late uploads from edges are in it |
 */
export interface TracingConfig {
  readonly retentionDays: number;
  readonly maxVenues: number;
  readonly maxGroup: number;
  readonly indexRefreshMs: number;
  readonly indexMaxVenues: number;
  readonly rollupIntervalMs: number;
  readonly rollupLagHours: number;
}

function int(env: Readonly<Record<string, string | undefined>>, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new TracingError('TRC_ERR_CONFIG', `${name} must be an integer from ${min} to ${max}`, name);
  }
  return n;
}

export function loadTracingConfig(env: Readonly<Record<string, string | undefined>>): TracingConfig {
  return {
    retentionDays: int(env, 'TRACING_RETENTION_DAYS', 30, 1, 3650),
    maxVenues: int(env, 'TRACING_MAX_VENUES', 200, 1, 5000),
    maxGroup: int(env, 'TRACING_MAX_GROUP', 20_000, 1, 1_000_000),
    indexRefreshMs: int(env, 'TRACING_INDEX_REFRESH_MS', 2000, 0, 3_600_000),
    indexMaxVenues: int(env, 'TRACING_INDEX_MAX_VENUES', 6_000_000, 0, 100_000_000),
    rollupIntervalMs: int(env, 'TRACING_ROLLUP_INTERVAL_MS', 600_000, 0, 86_400_000),
    rollupLagHours: int(env, 'TRACING_ROLLUP_LAG_HOURS', 2, 0, 72),
  };
}
