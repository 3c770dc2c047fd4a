import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * bench:edge's load generator for latency at 80 % of peak (issue 14) and
 * its cheap closed-loop client: bench/open-loop.c, compiled here at run
 * time with the machine's `cc` into bench/out/ (cached by the source's
 * hash) and run pinned to the load core with taskset, like wrk.
 *
 * Why C (session 2026-12-07 late): the Node generator this file held
 * before fell 8–14 ms behind its own schedule at 80 % of the edge's peak
 * (≈ 45k req/s) on the quiet machine, so hello-world ITSELF measured a
 * 9–10 ms p99 — the generator was the floor. wrk2 is not packaged here and
 * wrk's delay() ticks in whole milliseconds. The C program's method is in
 * its header comment: wrk2-style constant-rate schedule, latency from each
 * request's SCHEDULED time, HdrHistogram-style log-linear histogram.
 */
export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  /** one Authorization header value per line (the file wrk's Lua script reads) */
  readonly authFile: string;
  readonly path: string;
  /** requests per second offered (open loop); 0 = closed loop, `depth` in flight per connection */
  readonly rate: number;
  readonly depth?: number;
  readonly durationSec: number;
  /** not measured: connections and the server's JIT warm, the schedule settles */
  readonly warmupSec?: number;
  readonly connections: number;
  /** core to pin the generator to (taskset -c), or none */
  readonly core?: number;
}

/** bench/open-loop.c's JSON line (latencies in µs) */
export interface OpenLoopResult {
  readonly mode: 'open' | 'closed';
  readonly offeredQps: number;
  readonly connections: number;
  readonly durationSec: number;
  /** requests scheduled (open) or sent (closed) inside the measured window */
  readonly sent: number;
  /** of those, answered */
  readonly completed: number;
  /** of those, without an answer when the run ended (drain: 2 s) or their connection closed */
  readonly unanswered: number;
  readonly achievedQps: number;
  /** answers with a status outside 2xx */
  readonly statusErrors: number;
  readonly socketErrors: number;
  readonly parseErrors: number;
  /**
   * latency percentiles, µs, from scheduled (open) or actual (closed) send to the answer; unanswered
   * requests count with their wait so far (a lower bound), so an overloaded server is not flattered
   */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
  /** how late the generator sent, µs past the schedule: its own floor, included in the latencies */
  readonly sendLagP50: number;
  readonly sendLagP99: number;
  /** the most it was late, ms */
  readonly lateMs: number;
  /** the generator's own CPU seconds (user + system) */
  readonly cpuSec: number;
  readonly wallSec: number;
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** bench/open-loop.c, from bench/ (vitest, source) or dist/bench/ (compiled) */
export function openLoopSource(): string {
  for (const p of [join(HERE, 'open-loop.c'), resolve(HERE, '..', '..', 'bench', 'open-loop.c')]) if (existsSync(p)) return p;
  throw new Error(`bench/open-loop.c not found next to ${HERE}`);
}

/**
 * The compiled generator: bench/out/open-loop-<sha256 of the source, 12 hex>,
 * built with `cc -O2` on first use. Fails loudly if there is no C compiler.
 */
export function openLoopBinary(): string {
  const src = openLoopSource();
  const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 12);
  const outDir = join(dirname(src), 'out');
  const bin = join(outDir, `open-loop-${hash}`);
  if (existsSync(bin)) return bin;
  const probe = spawnSync('cc', ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined) {
    throw new Error('cc is not installed: bench:edge compiles its load generator bench/open-loop.c at run time. Install a C compiler:  apt-get install -y gcc');
  }
  mkdirSync(outDir, { recursive: true });
  // compile to a private name, then rename: two benches starting at once never run a half-written file
  const tmp = `${bin}.${process.pid}.tmp`;
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', tmp, src], { encoding: 'utf8' });
  if (cc.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`cc -O2 ${src} failed (exit ${cc.status ?? cc.signal}):\n${cc.stderr}`);
  }
  renameSync(tmp, bin);
  return bin;
}

export function loadArgs(o: LoadOptions): string[] {
  return [
    '--host', o.host, '--port', String(o.port), '--auth-file', o.authFile, '--path', o.path,
    '--rate', String(Math.round(o.rate)), '--depth', String(o.depth ?? 1),
    '--duration', String(o.durationSec), '--warmup', String(o.warmupSec ?? 1), '--connections', String(o.connections),
  ];
}

/** The command line runLoad runs, for the report. */
export function loadCommand(o: LoadOptions): string {
  return [...(o.core === undefined ? [] : ['taskset', '-c', String(o.core)]), 'bench/out/open-loop', ...loadArgs(o)].join(' ');
}

/** Runs the generator (pinned with taskset when `core` is given) and parses its JSON line. */
export function runLoad(o: LoadOptions, onSpawn?: (pid: number) => void): Promise<OpenLoopResult> {
  const bin = openLoopBinary();
  const args = loadArgs(o);
  const [cmd, argv] = o.core === undefined ? [bin, args] : ['taskset', ['-c', String(o.core), bin, ...args]];
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    // bounded: warm-up + run + drain (2 s) + slack
    const limitMs = 1000 * ((o.warmupSec ?? 1) + o.durationSec + 2 + 15);
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`open-loop exited (${signal ?? `code ${code}`}): ${err.trim()}`));
        return;
      }
      try {
        resolveRun(JSON.parse(out.trim().split('\n').pop()!) as OpenLoopResult);
      } catch {
        reject(new Error(`open-loop printed no JSON: ${out.slice(0, 200)} ${err.slice(0, 200)}`));
      }
    });
  });
}
