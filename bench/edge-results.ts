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

export function readCpu(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}
