import { spawnSync } from 'node:child_process';

/**
 * Where a server's CPU goes, per request, by phase of the request's life
 * (edge-scan-gather `--phases`): `perf record -g` of the whole process
 * (kernel and every thread included, as the per-CPU-second figure counts
 * them), each sample's stack put in ONE phase by the first rule it
 * matches, and the shares turned into µs per request with the run's own
 * requests per CPU-second. Read a scan's table beside hello-world's from the
 * same round: the difference is what the scan path costs beyond answering
 * a request at all. Frames under uWS and libc have no frame pointers, so a
 * send syscall's stack ends at `__send`: it is its own phase.
 */
const PHASES: readonly [string, (stack: string) => boolean][] = [
  ['fdatasync (pool thread)', (s) => s.includes('fdatasync') && s.includes('start_thread')],
  ['V8 threads (JIT, GC)', (s) => s.includes('PlatformWorkerThread')],
  ['send syscall', (s) => s.includes('__send')],
  ['recv syscall', (s) => s.includes('__libc_recv')],
  ['epoll_wait', (s) => s.includes('epoll_pwait')],
  ['pwrite (write-ahead file)', (s) => s.includes('pwrite64')],
  ['scan handling (PendingScan.prepare)', (s) => s.includes('prepare file:')],
  ['fdatasync completion (answers, cork)', (s) => s.includes('uv__work_done')],
  ['immediates and timers', (s) => s.includes('CheckImmediate') || s.includes('RunTimers')],
  ['body (uWS onData)', (s) => s.includes('res_onData')],
  ['route handler (uWS → JS)', (s) => s.includes('uWS_App_') || s.includes('handler_traits<void, uWS::HttpR')],
];

export interface PhaseRow {
  readonly phase: string;
  readonly pct: number;
  readonly usPerRequest: number;
}

/** The phases of a `recordPerf(…, callGraph = true)` file, largest first; `reqPerCpuSec` of the same run scales them to µs per request. */
export function phases(file: string, reqPerCpuSec: number): PhaseRow[] | null {
  const r = spawnSync('perf', ['script', '-i', file, '-F', 'ip,sym'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) return null;
  const counts = new Map<string, number>();
  let total = 0;
  const add = (frames: string[]): void => {
    if (frames.length === 0) return;
    const s = frames.join(' ');
    const phase = PHASES.find(([, test]) => test(s))?.[0] ?? 'other (event loop, uWS dispatch)';
    counts.set(phase, (counts.get(phase) ?? 0) + 1);
    total++;
  };
  let frames: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const t = line.trim();
    if (t === '') {
      add(frames);
      frames = [];
    } else frames.push(t);
  }
  add(frames);
  if (total === 0) return null;
  const us = 1e6 / reqPerCpuSec;
  return [...counts]
    .map(([phase, n]) => ({ phase, pct: (100 * n) / total, usPerRequest: (us * n) / total }))
    .sort((a, b) => b.pct - a.pct);
}

export function formatPhases(label: string, rows: readonly PhaseRow[]): string {
  return `${label} (µs of server CPU per request):\n${rows.map((x) => `  ${x.usPerRequest.toFixed(2).padStart(7)} µs  ${x.pct.toFixed(1).padStart(5)} %  ${x.phase}`).join('\n')}\n`;
}
