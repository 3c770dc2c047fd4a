import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time and memory of a process from Linux procfs, for "requests per
 * server CPU-second" (FACTS: uWS "Measuring" — when wrk saturates its own
 * core, QPS alone says nothing about the server; CPU per request does).
 *
 * /proc/<pid>/stat (proc(5)): after the command name in parentheses, which
 * may itself contain spaces and parentheses, the fields continue at field 3
 * (state). utime is field 14 and stime field 15, in clock ticks
 * (sysconf(_SC_CLK_TCK), 100 on Linux/x86-64), and they cover ALL threads of
 * the process — the signing pool and lmdb's write thread included.
 */
let ticksPerSec = 0;

function clockTicks(): number {
  if (ticksPerSec === 0) {
    try {
      ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSec = 100;
    }
  }
  return ticksPerSec;
}

/** user + system CPU seconds used so far by process `pid` (all its threads). */
export function cpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime = field 14 → rest[11], stime = field 15 → rest[12]
  return (Number(rest[11]) + Number(rest[12])) / clockTicks();
}

export interface Memory {
  /** resident set, KiB (VmRSS) */
  readonly rssKiB: number;
  /** peak resident set, KiB (VmHWM) */
  readonly peakKiB: number;
  /** anonymous pages (heap, stacks), KiB — what the process really owns */
  readonly anonKiB: number;
  /** file-backed pages, KiB — for the edge mostly the LMDB map: page cache shared by every process of the node */
  readonly fileKiB: number;
}

/** Memory of `pid` from /proc/<pid>/status (proc(5): VmRSS, VmHWM, RssAnon, RssFile). */
export function memory(pid: number): Memory {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m === null ? 0 : Number(m[1]);
  };
  return { rssKiB: kib('VmRSS'), peakKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile') };
}

/** A one-line description of the machine for the results table. */
export function machine(): { cpu: string; cores: number; kernel: string; node: string } {
  let cpu = 'unknown CPU';
  let cores = 0;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    cores = (info.match(/^processor\s*:/gm) ?? []).length;
  } catch {
    // not Linux: the bench refuses to run before this matters
  }
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // leave empty
  }
  return { cpu, cores, kernel, node: process.version };
}
