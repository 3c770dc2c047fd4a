import { readdirSync } from 'node:fs';
import { SIGN_LATENCY_BUCKETS_MS } from './sign-pool.js';

/**
 * Prometheus text exposition (format 0.0.4) of one edge server process.
 *
 * Counters are plain numbers bumped in place; the display hot path touches
 * exactly one (`displayHits`) and nothing is formatted until a scrape.
 * Each process of a node answers for itself (label `pid`): with SO_REUSEPORT
 * a scrape lands on one process, so scrape often or sum the `pid` series
 * over time; the display path stays free of cross-process coordination.
 */
export const ROUTES = ['/v1/code', '/v1/scan', '/v1/verify', '/v1/keys', '/healthz', '/readyz', '/metrics', '/app', 'other'] as const;
export type Route = (typeof ROUTES)[number];

export interface Gauges {
  readonly lagSec: number | null;
  readonly appliedSeq: number;
  readonly spoolDepth: number;
  /** durable spool writes of this process (one pwrite + fdatasync of its write-ahead file) and the events they carried (group commit: events / commits = mean group) */
  readonly spoolCommits?: number;
  readonly spoolEvents?: number;
  /** the in-memory display bodies (edge/display-cache.ts), when enabled */
  readonly displayCache?: { readonly hits: number; readonly fills: number; readonly dropped: number; readonly flushes: number } | null;
  readonly sessionCacheEntries: number;
  readonly signingKeyPublished: boolean | null;
  readonly ready: boolean;
}

export interface SignStats {
  readonly latencyBuckets: Float64Array;
  readonly latencySumMs: number;
  readonly latencyCount: number;
  readonly failures: number;
  readonly tasks: number;
}

export class EdgeMetrics {
  /** GET /v1/code answered from the stored bytes (counted apart: the hot path does one increment) */
  displayHits = 0;
  /** displays that had to sign (absent, expiring, or notice expired) */
  displayMisses = 0;
  /** displays answered while the replica was stale (with the stale notice) */
  displayStale = 0;
  /** misses that joined a signature already in flight for the same uid */
  displayCoalesced = 0;
  scans = 0;
  /** POST /v1/scan answered 200 (counted apart like displayHits: one increment on the scan path, no key string) */
  scansAnswered = 0;
  verifies = 0;
  private readonly requests = new Map<string, number>();

  /** One answered request other than a display hit. */
  count(route: Route, status: number): void {
    const k = `${route} ${status}`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  render(g: Gauges, sign: SignStats): string {
    const pid = process.pid;
    const L: string[] = [];
    L.push('# HELP edge_requests_total Requests answered, by route and HTTP status.');
    L.push('# TYPE edge_requests_total counter');
    const all = new Map(this.requests);
    const hitKey = '/v1/code 200';
    all.set(hitKey, (all.get(hitKey) ?? 0) + this.displayHits);
    if (this.scansAnswered > 0) all.set('/v1/scan 200', (all.get('/v1/scan 200') ?? 0) + this.scansAnswered);
    for (const [k, v] of [...all].sort()) {
      const [route, status] = k.split(' ');
      L.push(`edge_requests_total{pid="${pid}",route="${route}",status="${status}"} ${v}`);
    }
    L.push('# HELP edge_display_total Displays (GET /v1/code answered 200) by how they were served.');
    L.push('# TYPE edge_display_total counter');
    L.push(`edge_display_total{pid="${pid}",result="hit"} ${this.displayHits}`);
    L.push(`edge_display_total{pid="${pid}",result="miss"} ${this.displayMisses}`);
    L.push(`edge_display_total{pid="${pid}",result="stale"} ${this.displayStale}`);
    L.push(`edge_display_total{pid="${pid}",result="coalesced"} ${this.displayCoalesced}`);
    L.push('# HELP edge_scans_total Scan events spooled, by kind.');
    L.push('# TYPE edge_scans_total counter');
    L.push(`edge_scans_total{pid="${pid}",kind="scan"} ${this.scans}`);
    L.push(`edge_scans_total{pid="${pid}",kind="verify"} ${this.verifies}`);
    L.push('# HELP edge_sign_latency_seconds Time from a signature request to its token (queue + batch + pool), per token.');
    L.push('# TYPE edge_sign_latency_seconds histogram');
    let cum = 0;
    for (let i = 0; i < SIGN_LATENCY_BUCKETS_MS.length; i++) {
      cum += sign.latencyBuckets[i]!;
      L.push(`edge_sign_latency_seconds_bucket{pid="${pid}",le="${SIGN_LATENCY_BUCKETS_MS[i]! / 1000}"} ${cum}`);
    }
    cum += sign.latencyBuckets[SIGN_LATENCY_BUCKETS_MS.length]!;
    L.push(`edge_sign_latency_seconds_bucket{pid="${pid}",le="+Inf"} ${cum}`);
    L.push(`edge_sign_latency_seconds_sum{pid="${pid}"} ${sign.latencySumMs / 1000}`);
    L.push(`edge_sign_latency_seconds_count{pid="${pid}"} ${sign.latencyCount}`);
    L.push('# HELP edge_sign_failures_total Tokens whose signing failed.');
    L.push('# TYPE edge_sign_failures_total counter');
    L.push(`edge_sign_failures_total{pid="${pid}"} ${sign.failures}`);
    L.push('# HELP edge_sign_tasks_total Batches sent to the signing pool.');
    L.push('# TYPE edge_sign_tasks_total counter');
    L.push(`edge_sign_tasks_total{pid="${pid}"} ${sign.tasks}`);
    L.push('# HELP edge_replica_lag_seconds Now minus the last time sync knew the replica was level (NaN: never synced).');
    L.push('# TYPE edge_replica_lag_seconds gauge');
    L.push(`edge_replica_lag_seconds{pid="${pid}"} ${g.lagSec === null ? 'NaN' : g.lagSec}`);
    L.push('# HELP edge_replica_applied_seq Last outbox sequence applied to the replica.');
    L.push('# TYPE edge_replica_applied_seq gauge');
    L.push(`edge_replica_applied_seq{pid="${pid}"} ${g.appliedSeq}`);
    L.push('# HELP edge_ready 1 when /readyz answers 200.');
    L.push('# TYPE edge_ready gauge');
    L.push(`edge_ready{pid="${pid}"} ${g.ready ? 1 : 0}`);
    L.push('# HELP edge_spool_depth Scan events waiting to be shipped to the master.');
    L.push('# TYPE edge_spool_depth gauge');
    L.push(`edge_spool_depth{pid="${pid}"} ${g.spoolDepth}`);
    L.push('# HELP edge_spool_commits_total Durable spool writes of this process (pwrite + fdatasync of its write-ahead file); each carries every scan of its tick (group commit).');
    L.push('# TYPE edge_spool_commits_total counter');
    L.push(`edge_spool_commits_total{pid="${pid}"} ${g.spoolCommits ?? 0}`);
    L.push('# HELP edge_spool_events_total Scan events written by those commits.');
    L.push('# TYPE edge_spool_events_total counter');
    L.push(`edge_spool_events_total{pid="${pid}"} ${g.spoolEvents ?? 0}`);
    if (g.displayCache) {
      const c = g.displayCache;
      L.push('# HELP edge_display_cache_total In-memory display bodies: served, filled from LMDB, dropped by the change log, whole-cache drops.');
      L.push('# TYPE edge_display_cache_total counter');
      L.push(`edge_display_cache_total{pid="${pid}",event="hit"} ${c.hits}`);
      L.push(`edge_display_cache_total{pid="${pid}",event="fill"} ${c.fills}`);
      L.push(`edge_display_cache_total{pid="${pid}",event="drop"} ${c.dropped}`);
      L.push(`edge_display_cache_total{pid="${pid}",event="flush"} ${c.flushes}`);
    }
    L.push('# HELP edge_session_cache_entries Verified sessions cached.');
    L.push('# TYPE edge_session_cache_entries gauge');
    L.push(`edge_session_cache_entries{pid="${pid}"} ${g.sessionCacheEntries}`);
    L.push('# HELP edge_signing_key_published 1 when the key this node signs with is in the published key set.');
    L.push('# TYPE edge_signing_key_published gauge');
    L.push(`edge_signing_key_published{pid="${pid}"} ${g.signingKeyPublished === null ? 'NaN' : g.signingKeyPublished ? 1 : 0}`);
    // this server process's own resources: a forked worker is invisible to the master's process monitor (alerting/monitors.ts reads these)
    const cpu = process.cpuUsage();
    L.push('# HELP edge_process_cpu_seconds_total CPU time (user + system) of this server process.');
    L.push('# TYPE edge_process_cpu_seconds_total counter');
    L.push(`edge_process_cpu_seconds_total{pid="${pid}"} ${(cpu.user + cpu.system) / 1e6}`);
    L.push('# HELP edge_process_resident_memory_bytes Resident memory of this server process.');
    L.push('# TYPE edge_process_resident_memory_bytes gauge');
    L.push(`edge_process_resident_memory_bytes{pid="${pid}"} ${process.memoryUsage.rss()}`);
    L.push('# HELP edge_process_open_fds Open file descriptors of this server process (NaN without /proc).');
    L.push('# TYPE edge_process_open_fds gauge');
    L.push(`edge_process_open_fds{pid="${pid}"} ${openFds()}`);
    return `${L.join('\n')}\n`;
  }
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return Number.NaN;
  }
}
