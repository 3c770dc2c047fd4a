import { cpuSeconds } from './proc-stat.js';
import { loadCommand, runLoad, type LoadOptions, type OpenLoopResult } from './edge-open-loop.js';
import { type WrkRun } from './wrk.js';
import { LOAD_CORE, LOAD_FRACTION, OPEN_LOOP_CONNECTIONS, human, ms, median } from './edge-setup.js';

/**
 * bench:edge (bench/edge.ts): one target's runs and their medians, and the
 * open-loop latency run at 80 % of peak.
 */
export interface TargetResult {
  readonly name: string;
  readonly runs: WrkRun[];
  readonly qps: number;
  readonly reqPerCpuSec: number;
  readonly serverCoreUse: number;
  readonly wrkCoreUse: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly statusErrors: number;
}

export function aggregate(name: string, runs: WrkRun[]): TargetResult {
  return {
    name,
    runs,
    qps: median(runs.map((r) => r.qps)),
    reqPerCpuSec: median(runs.map((r) => r.reqPerCpuSec)),
    serverCoreUse: median(runs.map((r) => r.serverCoreUse)),
    wrkCoreUse: median(runs.map((r) => r.wrkCoreUse)),
    p50: median(runs.map((r) => r.wrk.p50)),
    p99: median(runs.map((r) => r.wrk.p99)),
    p999: median(runs.map((r) => r.wrk.p999)),
    statusErrors: runs.reduce((s, r) => s + r.wrk.statusErrors + r.wrk.readErrors + r.wrk.writeErrors + r.wrk.connectErrors + r.wrk.timeouts, 0),
  };
}

export function pairedRatio(a: readonly WrkRun[], b: readonly WrkRun[], field: 'qps' | 'reqPerCpuSec'): number {
  return median(a.map((r, i) => r[field] / b[i]![field]));
}

export function describe(r: WrkRun): string {
  return `${human(r.qps).padStart(7)} req/s  p50 ${ms(r.wrk.p50)}  p99 ${ms(r.wrk.p99)}  p99.9 ${ms(r.wrk.p999)}  server ${(100 * r.serverCoreUse).toFixed(0)} % core → ${human(r.reqPerCpuSec)} req/CPU-s  wrk ${(100 * r.wrkCoreUse).toFixed(0)} %` +
    (r.wrk.statusErrors + r.wrk.readErrors + r.wrk.connectErrors + r.wrk.timeouts > 0
      ? `  ERRORS status ${r.wrk.statusErrors} read ${r.wrk.readErrors} connect ${r.wrk.connectErrors} timeout ${r.wrk.timeouts}`
      : '');
}

export interface AtLoad {
  readonly targetQps: number;
  readonly connections: number;
  readonly run: OpenLoopResult;
  /** server CPU over the run / wall time (1 = its whole core) */
  readonly serverCoreUse: number;
  /** achieved QPS / peak */
  readonly fraction: number;
  /** the generator's command line */
  readonly command: string;
}

/**
 * Latency at LOAD_FRACTION of peak with the open-loop generator
 * (bench/open-loop.c via bench/edge-open-loop.ts: constant rate, latency
 * from each request's scheduled time — wrk2's method; wrk's delay() ticks
 * in whole ms), pinned to the load core like wrk.
 */
export async function atLoad(port: number, authFile: string, serverPid: number, rate: number, duration: number, onSpawn?: (pid: number) => void): Promise<AtLoad> {
  const opts: LoadOptions = { host: '127.0.0.1', port, authFile, path: '/v1/code', rate, durationSec: duration, warmupSec: 1, connections: OPEN_LOOP_CONNECTIONS, core: LOAD_CORE };
  const c0 = readCpu(serverPid);
  const t0 = performance.now();
  const run = await runLoad(opts, onSpawn);
  const wall = (performance.now() - t0) / 1000;
  return { targetQps: rate, connections: OPEN_LOOP_CONNECTIONS, run, serverCoreUse: (readCpu(serverPid) - c0) / wall, fraction: run.achievedQps / (rate / LOAD_FRACTION), command: loadCommand(opts) };
}

export function describeOpen(r: AtLoad): string {
  const o = r.run;
  const bad = o.statusErrors + o.socketErrors + o.parseErrors + o.unanswered;
  return `${human(o.achievedQps).padStart(7)} req/s of ${human(o.offeredQps)} offered  p50 ${ms(o.p50)}  p99 ${ms(o.p99)}  p99.9 ${ms(o.p999)}  max ${ms(o.max)}  server ${(100 * r.serverCoreUse).toFixed(0)} % core  ` +
    `generator ${o.cpuSec.toFixed(1)} CPU-s, send lag p99 ${ms(o.sendLagP99)} (max ${o.lateMs.toFixed(1)} ms)` +
    (bad > 0 ? `  ERRORS status ${o.statusErrors} socket ${o.socketErrors} parse ${o.parseErrors} unanswered ${o.unanswered}` : '');
}

/** One closed-loop run of bench/open-loop.c (--rate 0) and the server CPU it cost. */
export interface ClosedRun {
  readonly run: OpenLoopResult;
  readonly serverCpuSec: number;
  /** answered requests per server CPU-second */
  readonly reqPerCpuSec: number;
  /** server CPU / the generator's wall time (1 = its whole core) */
  readonly serverCoreUse: number;
  /** the generator's CPU / its wall time: near 1 means the client, not the server, was the limit */
  readonly clientCoreUse: number;
  readonly command: string;
}

/**
 * The wrk comparison again with bench/open-loop.c as a closed-loop client
 * (`depth` requests in flight per connection, same Authorization file): a
 * few µs of client CPU per request instead of wrk's LuaJIT request(), so on
 * a quiet machine the server, not the client, fills its core (wrk -t1 with
 * the Lua script was at 94–96 % of its core, 2026-12-07 23:52). No warm-up
 * window (the wrk warm-up ran before): every answer of the run counts, so
 * requests / server CPU-s covers the same span.
 */
export async function closedRun(port: number, authFile: string, serverPid: number, duration: number, connections: number, depth: number, onSpawn?: (pid: number) => void): Promise<ClosedRun> {
  const opts: LoadOptions = { host: '127.0.0.1', port, authFile, path: '/v1/code', rate: 0, depth, durationSec: duration, warmupSec: 0, connections, core: LOAD_CORE };
  const c0 = readCpu(serverPid);
  const run = await runLoad(opts, onSpawn);
  const serverCpuSec = readCpu(serverPid) - c0;
  return {
    run,
    serverCpuSec,
    reqPerCpuSec: run.completed / Math.max(1e-9, serverCpuSec),
    serverCoreUse: serverCpuSec / run.wallSec,
    clientCoreUse: run.cpuSec / run.wallSec,
    command: loadCommand(opts),
  };
}

export function describeClosed(r: ClosedRun): string {
  const o = r.run;
  const bad = o.statusErrors + o.socketErrors + o.parseErrors + o.unanswered;
  return `${human(o.achievedQps).padStart(7)} req/s  p50 ${ms(o.p50)}  p99 ${ms(o.p99)}  server ${(100 * r.serverCoreUse).toFixed(0)} % core → ${human(r.reqPerCpuSec)} req/CPU-s  client ${(100 * r.clientCoreUse).toFixed(0)} %` +
    (bad > 0 ? `  ERRORS status ${o.statusErrors} socket ${o.socketErrors} parse ${o.parseErrors} unanswered ${o.unanswered}` : '');
}

export function readCpu(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}
