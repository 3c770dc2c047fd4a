import type { DisplaySweepMetrics } from '../sync/display-sweep.js';
import { type ProfileSummary } from './cpu-profile.js';
import { type PerfSummary } from './perf-profile.js';
import { machine, type Memory } from './proc-stat.js';
import { type WrkRun } from './wrk.js';
import { HOT_SESSIONS, LOAD_CORE, PROVINCE_QPS, SERVER_CORE, bytes, human, median, ms, type Options } from './edge-setup.js';
import { pairedRatio, type AtLoad, type ClosedRun, type TargetResult } from './edge-results.js';

/**
 * bench:edge (bench/edge.ts): the report — the JSON kept under bench/out
 * and the markdown the README's tables are copied from.
 */
export interface ReplicaInfo {
  readonly people: number;
  readonly reused: boolean;
  readonly buildSec: number;
  readonly phaseSec: Record<string, number>;
  readonly fileBytes: number;
  readonly diskBytes: number;
}

export interface Warmup {
  readonly requests: number;
  readonly sec: number;
  readonly perSec: number;
  readonly statuses: Record<string, number>;
}

// ─── the report ─────────────────────────────────────────────────────────────────

export interface Report {
  readonly date: string;
  readonly machine: ReturnType<typeof machine>;
  readonly loadAvgAtStart: number[];
  readonly options: Options;
  readonly tool: string;
  readonly replica: ReplicaInfo;
  readonly sessionCache: number;
  readonly bodyBytes: { hello: number; mean: number };
  readonly warmup: Warmup;
  readonly edge: TargetResult;
  readonly hello: TargetResult;
  readonly baseline: TargetResult;
  /** diagnostic: the edge with a 1,000-session active set (cache-resident) */
  readonly hot: TargetResult;
  /** hello-world at the offered load of the 80 % run: the machine's latency floor */
  readonly helloAtLoad: AtLoad;
  /** Redis server CPU per baseline request, when its process is readable here */
  readonly baselineRedisCpuShare: number | null;
  readonly atLoad: AtLoad;
  /** open loop at 80 % of the QPS the edge answered in this run (closed loop), edge and hello-world */
  readonly atObserved?: { readonly edge: AtLoad; readonly hello: AtLoad };
  /** display and hello-world driven by bench/open-loop.c in closed loop, alternating rounds; ratio = median of the per-round ratios */
  readonly closedC?: { readonly edge: ClosedRun[]; readonly hello: ClosedRun[]; readonly ratio: number };
  readonly scanGroups: { readonly commits: number; readonly events: number };
  /** the second scan run, at --scan-connections */
  readonly scanWide: { readonly connections: number; readonly run: WrkRun; readonly commits: number; readonly events: number } | null;
  /** the shipper's absorb of every scan of the runs (write-ahead files → LMDB spool), in the bench process */
  readonly absorb: { readonly events: number; readonly cpuMs: number; readonly wallMs: number };
  /** display, hello-world and baseline with --pipeline requests per write (bench/edge-pipeline.ts) */
  readonly pipelined: { readonly depth: number; readonly edge: WrkRun; readonly hello: WrkRun; readonly baseline: WrkRun; readonly baselineRedisCpuShare: number | null } | null;
  readonly sweep: { readonly entries: number; readonly fillMs: number; readonly ms: number; readonly metrics: DisplaySweepMetrics; readonly run: WrkRun } | null;
  readonly scan: TargetResult;
  readonly edgeMemory: Memory;
  readonly ratios: {
    readonly vsHelloQps: number;
    readonly vsHelloCpu: number;
    readonly vsBaselineQps: number;
    readonly vsBaselineCpu: number;
    readonly coresFor240k: number;
  };
  readonly profile: ProfileSummary | null;
  readonly profileFile: string | null;
  readonly perf: PerfSummary | null;
  /** the wrk run the profiles were taken during */
  readonly profiledRun: WrkRun | null;
}

export function check(ok: boolean): string {
  return ok ? 'met' : '**not met**';
}

export function markdown(r: Report): string {
  const m = r.machine;
  const o = r.options;
  const row = (label: string, t: TargetResult, vsHello: boolean): string =>
    `| ${label} | ${human(t.qps)} | ${ms(t.p50)} | ${ms(t.p99)} | ${ms(t.p999)} | ${(100 * t.serverCoreUse).toFixed(0)} % | ${human(t.reqPerCpuSec)} | ` +
    (vsHello ? `${pairedRatio(t.runs, r.hello.runs, 'qps').toFixed(2)} / ${pairedRatio(t.runs, r.hello.runs, 'reqPerCpuSec').toFixed(2)}` : '—') +
    ' |';
  const x = r.ratios;
  const L: string[] = [];
  L.push(`Machine: ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}; ${r.date}; load average at start ${r.loadAvgAtStart.map((v) => v.toFixed(1)).join(' ')} (shared machine).`);
  L.push(`Tool: ${r.tool}. Each server: ONE process pinned to core ${SERVER_CORE} (\`taskset -c ${SERVER_CORE}\`); wrk pinned to core ${LOAD_CORE}.`);
  L.push(`Flags: \`-t1 -c${o.connections} -d${o.duration}s --latency\`, a Lua request() picking one of ${human(o.sessions)} sessions at random per request (same script for every server); medians of ${o.rounds} alternating rounds (ratios: median of the per-round ratios).`);
  L.push(`Replica: ${human(r.replica.people)} people, ${bytes(r.replica.diskBytes)} data.mdb, built in ${r.replica.buildSec.toFixed(1)} s${r.replica.reused ? ' (reused from an earlier run)' : ''}. Display body ${r.bodyBytes.hello} B (mean ${r.bodyBytes.mean.toFixed(0)} B).`);
  L.push('');
  L.push('| server (one process, one core) | QPS | p50 | p99 | p99.9 | server core | req per CPU-second | × hello-world (QPS / per CPU-s) |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  L.push(row('uWS hello-world, same bytes (ceiling)', r.hello, false));
  L.push(row('**edge `GET /v1/code`, authenticated, random person**', r.edge, true));
  L.push(row('Fastify + ioredis, 1 Redis GET (baseline)', r.baseline, true));
  L.push(row('edge `POST /v1/scan`, durable spool', r.scan, true));
  L.push(row(`edge \`GET /v1/code\`, ${human(HOT_SESSIONS)}-session hot set (diagnostic: cache-resident)`, r.hot, true));
  L.push('');
  L.push('| target (issue 3) | measured | goal | |');
  L.push('|---|---:|---:|---|');
  L.push(`| display vs hello-world, per CPU-second (wrk + Lua) | ${x.vsHelloCpu.toFixed(2)} (QPS ${x.vsHelloQps.toFixed(2)}) | ≥ 0.9 | ${check(x.vsHelloCpu >= 0.9)} |`);
  if (r.closedC !== undefined) {
    const c = r.closedC;
    const med = (xs: ClosedRun[], f: (x: ClosedRun) => number): number => median(xs.map(f));
    L.push(
      `| display vs hello-world, per CPU-second, C client (bench/open-loop.c closed loop, -c${o.connections} depth 1; edge ${human(med(c.edge, (x) => x.reqPerCpuSec))} at ${(100 * med(c.edge, (x) => x.serverCoreUse)).toFixed(0)} % core, ` +
        `hello-world ${human(med(c.hello, (x) => x.reqPerCpuSec))} at ${(100 * med(c.hello, (x) => x.serverCoreUse)).toFixed(0)} %; client ${(100 * med(c.hello, (x) => x.clientCoreUse)).toFixed(0)} % of its core) | ${c.ratio.toFixed(2)} | ≥ 0.9 | ${check(c.ratio >= 0.9)} |`,
    );
  }
  L.push(`| display vs Fastify + Redis baseline, per CPU-second (hello-world: ${pairedRatio(r.hello.runs, r.baseline.runs, 'reqPerCpuSec').toFixed(1)} ×) | ${x.vsBaselineCpu.toFixed(1)} × (QPS ${x.vsBaselineQps.toFixed(1)} ×) | ≥ 4 × | ${check(x.vsBaselineCpu >= 4)} |`);
  L.push(`| p99 at ${(100 * r.atLoad.fraction).toFixed(0)} % of peak, open loop (${human(r.atLoad.run.achievedQps)} req/s; peak = ${human(r.edge.reqPerCpuSec)} req per CPU-s); hello-world at the same rate: p99 ${ms(r.helloAtLoad.run.p99)} | ${ms(r.atLoad.run.p99)} (p99.9 ${ms(r.atLoad.run.p999)}) | ≤ 1 ms | ${check(r.atLoad.run.p99 <= 1000)} |`);
  L.push(`| cores for ${human(PROVINCE_QPS)} QPS (240000 / req per CPU-s) | ${x.coresFor240k.toFixed(2)} | ≤ 1.3 | ${check(x.coresFor240k <= 1.3)} |`);
  L.push('');
  L.push(`Edge RSS after the runs: ${bytes(r.edgeMemory.rssKiB * 1024)} (anonymous ${bytes(r.edgeMemory.anonKiB * 1024)}, file-backed LMDB pages ${bytes(r.edgeMemory.fileKiB * 1024)} — page cache shared by all server processes of a node; session cache capacity ${human(r.sessionCache)} sessions).`);
  L.push(`Warm-up (first display of each active session: session HMAC, Ed25519 sign on the pool, render, LMDB put — same pinned core): ${human(r.warmup.perSec)} displays/s (${human(r.warmup.requests)} in ${r.warmup.sec.toFixed(1)} s).`);
  L.push(
    `80 % load method: open loop (bench/open-loop.c, C, epoll, wrk2-style; \`${r.atLoad.command}\`): ${human(r.atLoad.targetQps)} req/s scheduled at constant intervals (epoll_pwait2 ns timeouts) over ${r.atLoad.connections} keep-alive connections (a request due on a busy connection is pipelined), ` +
      `latency from each request's SCHEDULED time to its answer, 1 s warm-up not measured; server at ${(100 * r.atLoad.serverCoreUse).toFixed(0)} % of its core; the generator's own send lag (included in the latencies): p99 ${ms(r.atLoad.run.sendLagP99)}, max ${r.atLoad.run.lateMs.toFixed(1)} ms ` +
      `(edge run) / p99 ${ms(r.helloAtLoad.run.sendLagP99)}, max ${r.helloAtLoad.run.lateMs.toFixed(1)} ms (hello-world run); unanswered ${r.atLoad.run.unanswered} / ${r.helloAtLoad.run.unanswered}.`,
  );
  if (r.atObserved !== undefined) {
    const e = r.atObserved.edge;
    const h = r.atObserved.hello;
    L.push(
      `Open loop at 80 % of the QPS the edge answered in this run (${human(e.targetQps)} req/s — what the server's share of its core allowed): ` +
        `edge p50 ${ms(e.run.p50)}, p99 ${ms(e.run.p99)}, p99.9 ${ms(e.run.p999)} (${human(e.run.achievedQps)} req/s answered, server ${(100 * e.serverCoreUse).toFixed(0)} % core, generator send lag p99 ${ms(e.run.sendLagP99)}); ` +
        `hello-world p50 ${ms(h.run.p50)}, p99 ${ms(h.run.p99)}, p99.9 ${ms(h.run.p999)} (send lag p99 ${ms(h.run.sendLagP99)}).`,
    );
  }
  L.push(`Scans (group commit, edge/scan-spool.ts: one pwrite + fdatasync of a pre-zeroed write-ahead file per group): at -c${o.connections} ${human(r.scanGroups.events)} scans in ${human(r.scanGroups.commits)} fdatasyncs = ${r.scanGroups.commits > 0 ? (r.scanGroups.events / r.scanGroups.commits).toFixed(1) : '—'} scans a group; scan vs hello-world per CPU-second ${(r.scan.reqPerCpuSec / r.hello.reqPerCpuSec).toFixed(2)} (goal ≥ 0.6).`);
  if (r.scanWide !== null) {
    const w = r.scanWide;
    L.push(
      `Scans at -c${w.connections} (an edge core at province load holds thousands of connections): ${human(w.run.qps)} req/s, p99 ${ms(w.run.wrk.p99)}, server ${(100 * w.run.serverCoreUse).toFixed(0)} % core, ${human(w.run.reqPerCpuSec)} req per CPU-s = ${(w.run.reqPerCpuSec / r.hello.reqPerCpuSec).toFixed(2)} × hello-world; ${w.commits > 0 ? (w.events / w.commits).toFixed(1) : '—'} scans a group.`,
    );
  }
  L.push(`Absorb (the sync daemon's shipper moves the write-ahead records into the LMDB spool, one fsync'ed commit): ${human(r.absorb.events)} scans in ${r.absorb.cpuMs.toFixed(0)} ms CPU = ${((1000 * r.absorb.cpuMs) / Math.max(1, r.absorb.events)).toFixed(2)} µs a scan, off the answering process.`);
  if (r.pipelined !== null) {
    const p = r.pipelined;
    L.push(
      `Pipelined ${p.depth}-deep (same script, ${p.depth} requests per write; the kernel's and the wake-up's cost shared): edge ${human(p.edge.reqPerCpuSec)}, hello-world ${human(p.hello.reqPerCpuSec)}, Fastify + ioredis ${human(p.baseline.reqPerCpuSec)} req per server CPU-s` +
        `${p.baselineRedisCpuShare === null ? '' : ` (Redis used ${(100 * p.baselineRedisCpuShare).toFixed(0)} % of a core besides)`}: display ${(p.edge.reqPerCpuSec / p.hello.reqPerCpuSec).toFixed(2)} × hello-world, ${(p.edge.reqPerCpuSec / p.baseline.reqPerCpuSec).toFixed(1)} × the baseline.`,
    );
  }
  if (r.sweep !== null) {
    const w = r.sweep;
    L.push(
      `Display during a sweep of ${human(w.entries)} expired display entries (sync/display-sweep.ts, production pacing: ${w.metrics.steps} steps of ≤ 1000, longest ${w.metrics.maxStepMs.toFixed(1)} ms; ${human(w.metrics.scanned)} scanned, ${human(w.metrics.removed)} removed in ${(w.ms / 1000).toFixed(1)} s, filled in ${(w.fillMs / 1000).toFixed(1)} s): ` +
        `${human(w.run.qps)} req/s, ${human(w.run.reqPerCpuSec)} req per CPU-s (${(w.run.reqPerCpuSec / r.edge.reqPerCpuSec).toFixed(2)} × the edge's run without a sweep), p99 ${ms(w.run.wrk.p99)}.`,
    );
  }
  if (r.perf !== null && r.profiledRun !== null) {
    const usPerReq = 1e6 / r.profiledRun.reqPerCpuSec;
    const part = (prefix: string): number => Object.entries(r.perf!.categories).filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
    const lmdb = part('LMDB') + part('libc memcpy');
    const ours = part('our JavaScript');
    const kernel = part('kernel');
    L.push(
      `Where a display's CPU goes (perf, profiled run at ${human(r.profiledRun.reqPerCpuSec)} req per CPU-s = ${usPerReq.toFixed(1)} µs a request; hello-world ${(1e6 / r.hello.reqPerCpuSec).toFixed(1)} µs): ` +
        `kernel ${kernel.toFixed(0)} % (${((kernel * usPerReq) / 100).toFixed(1)} µs), LMDB lookup ${lmdb.toFixed(0)} % (${((lmdb * usPerReq) / 100).toFixed(2)} µs), ` +
        `our JavaScript ${ours.toFixed(0)} % (${((ours * usPerReq) / 100).toFixed(2)} µs); with a cache-resident active set the edge reaches ${pairedRatio(r.hot.runs, r.hello.runs, 'reqPerCpuSec').toFixed(2)} of hello-world per CPU-second.`,
    );
  }
  if (r.baselineRedisCpuShare !== null) {
    L.push(`Baseline with Redis's own CPU counted: ${human(r.baseline.qps / (r.baseline.serverCoreUse + r.baselineRedisCpuShare))} req per CPU-s (Redis used ${(100 * r.baselineRedisCpuShare).toFixed(0)} % of a core, unpinned).`);
  }
  return L.join('\n');
}
