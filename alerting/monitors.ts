import { readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { SqlClient } from '../master/sql-client.js';
import type { MetricSample } from './engine.js';
import type { SmsClient } from './sms-client.js';

/**
 * Monitors (监控): what the stack's health looks like right now, as samples
 * the engine's metric rules watch and the Prometheus endpoint exposes.
 *
 *   process   CPU (share of one core), RSS, open fds / limit, event-loop lag, data disk free
 *   database  connections / max, transactions open > 60 s, lock waits, new deadlocks,
 *             streaming-replication lag — PostgreSQL only (pg_stat_activity, pg_locks,
 *             pg_stat_database, pg_stat_replication); on PGlite they are reported
 *             'not available', not zero
 *   outbox    outbox sequence (outbox_counter) − the publisher's published seq
 *             (the master's sync status endpoint, GET /sync/v1/status); how long a
 *             backlog has waited without the published seq moving (a publisher that
 *             hangs on a dead Redis errs nowhere, it just stops); the publisher's
 *             delta-stream rate
 *   snapshot  age of the newest file in <dataDir>/snapshots (checkpoints follow
 *             changes, so on its own an old one is no fault: shown, not alerted)
 *   edges     each ALERT_EDGE_URLS edge's /metrics: edge_replica_applied_seq and
 *             edge_replica_lag_seconds; the entries it is behind = outbox seq − applied;
 *             each server process's CPU share, RSS and open fds (edge_process_*, the
 *             highest process a scrape reached: forked workers are not this process)
 *   sms       the oldest queued message's age
 *
 * A sample costs a few syscalls and ≤ 6 small queries; at the default 15 s
 * period that is far below 1 % of a core (bench:alerting measures it).
 */
export interface MonitorReading {
  readonly atMs: number;
  readonly samples: MetricSample[];
  /** metrics read this round (absent series of an observed metric are 'not true') */
  readonly observed: string[];
  /** metric group → why not available (Chinese) */
  readonly unavailable: Record<string, string>;
  /** CPU seconds the sampling itself took */
  readonly costCpuSec: number;
}

export interface MonitorOptions {
  readonly db: SqlClient;
  readonly dataDir: string;
  readonly sms: SmsClient;
  readonly edgeUrls: readonly string[];
  readonly syncStatusUrl: string | null;
  readonly syncToken: string | null;
  readonly now: () => number;
}

function openFdLimit(): number | null {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

async function getText(url: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(3000) });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.text();
}

/** The largest value of a Prometheus text metric over its series (several worker pids). */
export function promMax(text: string, name: string): number | null {
  let best: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) best = best === null ? v : Math.max(best, v);
  }
  return best;
}

/** Every series of a Prometheus text metric with its `pid` label (edge/metrics.ts labels each process). */
export function promSeries(text: string, name: string): { pid: string; value: number }[] {
  const out: { pid: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const pid = /pid="([^"]*)"/.exec(m[2] ?? '')?.[1] ?? '';
    const v = Number(m[3]);
    if (Number.isFinite(v)) out.push({ pid, value: v });
  }
  return out;
}

export class Monitors {
  private lastCpu = process.cpuUsage();
  private lastWall = performance.now();
  private lastDeadlocks: number | null = null;
  /** the published seq when a backlog was first seen without it moving, and since when */
  private stall: { pub: number; sinceMs: number } | null = null;
  private readonly loop: IntervalHistogram;
  private readonly fdLimit = openFdLimit();
  latest: MonitorReading | null = null;
  /** each edge server process's CPU seconds when last scraped (key edge|pid): a ratio needs two readings of one pid */
  private readonly edgeCpu = new Map<string, { cpuSec: number; wallMs: number }>();

  constructor(private readonly o: MonitorOptions) {
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
  }

  stop(): void {
    this.loop.disable();
  }

  /**
   * CPU share of one core of an edge's server processes since their previous
   * scrape, the highest over the pids this scrape reached (SO_REUSEPORT: a
   * scrape may reach a different worker each time); null until a pid is seen twice.
   */
  private edgeCpuRatio(edge: string, series: readonly { pid: string; value: number }[]): number | null {
    const wallMs = performance.now();
    let best: number | null = null;
    for (const { pid, value } of series) {
      const key = `${edge}|${pid}`;
      const prev = this.edgeCpu.get(key);
      this.edgeCpu.set(key, { cpuSec: value, wallMs });
      if (prev === undefined || wallMs <= prev.wallMs || value < prev.cpuSec) continue;
      const r = ((value - prev.cpuSec) * 1000) / (wallMs - prev.wallMs);
      best = best === null ? r : Math.max(best, r);
    }
    // a restarted worker's pid never comes back: keep the map to the processes still seen lately
    if (this.edgeCpu.size > 4096) this.edgeCpu.clear();
    return best;
  }

  async sample(): Promise<MonitorReading> {
    const cpu0 = process.cpuUsage();
    const samples: MetricSample[] = [];
    const observed: string[] = [];
    const unavailable: Record<string, string> = {};
    const put = (metric: string, value: number, labels: Record<string, string> = {}): void => {
      samples.push({ metric, labels, value });
      if (!observed.includes(metric)) observed.push(metric);
    };

    // process
    const wall = performance.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const wallMs = wall - this.lastWall;
    if (wallMs > 0) put('process_cpu_ratio', (cpu.user + cpu.system) / 1000 / wallMs);
    this.lastCpu = process.cpuUsage();
    this.lastWall = wall;
    put('process_rss_bytes', process.memoryUsage.rss());
    try {
      const fds = readdirSync('/proc/self/fd').length;
      put('process_open_fds', fds);
      if (this.fdLimit !== null) put('process_open_fds_ratio', fds / this.fdLimit);
    } catch {
      unavailable.fds = '本系统不提供 /proc，文件描述符数不可用';
    }
    put('event_loop_lag_seconds', this.loop.percentile(99) / 1e9);
    this.loop.reset();
    try {
      const s = statfsSync(this.o.dataDir);
      put('disk_free_ratio', s.bavail / s.blocks);
      put('disk_free_bytes', s.bavail * s.bsize);
    } catch {
      unavailable.disk = '数据目录不可读，磁盘空间不可用';
    }

    // database
    if (this.o.db.kind === 'pglite') {
      unavailable.database = '内嵌数据库（PGlite）不提供连接、长事务、锁与复制统计：不可用';
    } else {
      try {
        await this.database(put);
      } catch (err) {
        unavailable.database = `数据库统计查询失败：${(err as Error).message.slice(0, 100)}`;
      }
    }

    // outbox and edges
    let outboxSeq: number | null = null;
    try {
      const r = await this.o.db.query<{ seq: string | number }>(`SELECT seq FROM outbox_counter`);
      outboxSeq = Number(r.rows[0]?.seq ?? 0);
      put('outbox_seq', outboxSeq);
    } catch {
      unavailable.outbox = '读取 outbox 序号失败';
    }
    if (outboxSeq !== null) {
      if (this.o.syncStatusUrl === null) unavailable.outbox = '未配置同步状态地址：发布积压不可用';
      else {
        try {
          const headers: Record<string, string> = this.o.syncToken === null ? {} : { authorization: `Bearer ${this.o.syncToken}` };
          const st = JSON.parse(await getText(this.o.syncStatusUrl, headers)) as { publisher?: { publishedSeq?: number; deltasPerSec?: number } };
          const pub = st.publisher?.publishedSeq;
          if (typeof pub === 'number') {
            const backlog = Math.max(0, outboxSeq - pub);
            put('outbox_backlog', backlog);
            put('publish_stalled_seconds', this.stalledSeconds(backlog, pub));
          } else unavailable.outbox = '同步状态中没有发布序号：发布积压不可用';
          const rate = st.publisher?.deltasPerSec;
          if (typeof rate === 'number' && Number.isFinite(rate)) put('delta_stream_rate', rate);
        } catch (err) {
          unavailable.outbox = `同步状态不可达（${(err as Error).message.slice(0, 60)}）：发布积压不可用`;
        }
      }
    }
    if (this.o.edgeUrls.length === 0) unavailable.edges = '未配置 ALERT_EDGE_URLS：边缘副本落后不可用';
    await Promise.all(
      this.o.edgeUrls.map(async (base) => {
        const labels = { edge: new URL(base).host };
        try {
          const text = await getText(new URL('/metrics', base).toString());
          put('edge_scrape_failed', 0, labels);
          const applied = promMax(text, 'edge_replica_applied_seq');
          if (applied !== null && outboxSeq !== null) put('edge_replica_lag', Math.max(0, outboxSeq - applied), labels);
          const lagSec = promMax(text, 'edge_replica_lag_seconds');
          if (lagSec !== null) put('edge_replica_lag_seconds', lagSec, labels);
          // the forked server processes' own resources (edge/metrics.ts): the worst process the scrape reached
          const rss = promMax(text, 'edge_process_resident_memory_bytes');
          if (rss !== null) put('edge_process_rss_bytes', rss, labels);
          const fds = promMax(text, 'edge_process_open_fds');
          if (fds !== null) put('edge_process_open_fds', fds, labels);
          const cpuRatio = this.edgeCpuRatio(labels.edge, promSeries(text, 'edge_process_cpu_seconds_total'));
          if (cpuRatio !== null) put('edge_process_cpu_ratio', cpuRatio, labels);
        } catch {
          put('edge_scrape_failed', 1, labels);
        }
      }),
    );

    const snapAge = this.snapshotAgeSeconds();
    if (snapAge === null) unavailable.snapshot = '本节点没有快照目录或尚无快照：快照年龄不可用';
    else put('snapshot_age_seconds', snapAge);

    const q = await this.o.sms.queueDepth();
    put('sms_queue_depth', q.queued);
    put('sms_queue_oldest_seconds', q.oldestMs === null ? 0 : Math.max(0, (this.o.now() - q.oldestMs) / 1000));

    const cost = process.cpuUsage(cpu0);
    const reading: MonitorReading = { atMs: this.o.now(), samples, observed, unavailable, costCpuSec: (cost.user + cost.system) / 1e6 };
    this.latest = reading;
    return reading;
  }

  /** Seconds a non-empty backlog has waited while the published seq stood still (0 when none waits). */
  private stalledSeconds(backlog: number, pub: number): number {
    const now = this.o.now();
    if (backlog === 0) {
      this.stall = null;
      return 0;
    }
    if (this.stall === null || this.stall.pub !== pub) this.stall = { pub, sinceMs: now };
    return Math.max(0, (now - this.stall.sinceMs) / 1000);
  }

  /** Age of the newest snapshot file (null: no snapshot directory here, e.g. a host without the snapshot service). */
  private snapshotAgeSeconds(): number | null {
    const dir = join(this.o.dataDir, 'snapshots');
    let newest = 0;
    try {
      for (const f of readdirSync(dir)) {
        try {
          newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
        } catch {
          // removed between the listing and the stat: an older checkpoint being pruned
        }
      }
    } catch {
      return null;
    }
    return newest === 0 ? null : Math.max(0, (this.o.now() - newest) / 1000);
  }

  private async database(put: (m: string, v: number, l?: Record<string, string>) => void): Promise<void> {
    const db = this.o.db;
    const c = await db.query<{ n: string | number; max: string }>(`SELECT count(*) AS n, current_setting('max_connections') AS max FROM pg_stat_activity`);
    const n = Number(c.rows[0]!.n);
    put('db_connections', n);
    put('db_connections_ratio', n / Number(c.rows[0]!.max));
    const lt = await db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE xact_start IS NOT NULL AND state <> 'idle' AND now() - xact_start > interval '60 seconds' AND pid <> pg_backend_pid()`,
    );
    put('db_long_transactions', Number(lt.rows[0]!.n));
    const lw = await db.query<{ n: string | number }>(`SELECT count(*) AS n FROM pg_locks WHERE NOT granted`);
    put('db_lock_waits', Number(lw.rows[0]!.n));
    const dl = await db.query<{ d: string | number }>(`SELECT deadlocks AS d FROM pg_stat_database WHERE datname = current_database()`);
    const d = Number(dl.rows[0]?.d ?? 0);
    put('db_deadlocks_delta', this.lastDeadlocks === null ? 0 : Math.max(0, d - this.lastDeadlocks));
    this.lastDeadlocks = d;
    const rl = await db.query<{ n: string | number; lag: string | number | null }>(
      `SELECT count(*) AS n, max(extract(epoch FROM replay_lag)) AS lag FROM pg_stat_replication`,
    );
    if (Number(rl.rows[0]!.n) > 0) put('db_replication_lag_seconds', Number(rl.rows[0]!.lag ?? 0));
  }
}
