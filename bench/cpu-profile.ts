import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/**
 * Summary of a V8 `.cpuprofile` (what `node --cpu-prof` writes on exit):
 * self time per function, from the sample stream (`samples[i]` is the node
 * that was on top of the stack for `timeDeltas[i]` µs). Native work that V8
 * cannot attribute shows up as its pseudo-frames: `(program)` (native code
 * outside JS — here uWS/libuv/epoll and the kernel's socket writes),
 * `(garbage collector)` and `(idle)`.
 */
export interface ProfileEntry {
  readonly fn: string;
  readonly where: string;
  readonly selfMs: number;
  /** share of the non-idle samples */
  readonly pct: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly top: ProfileEntry[];
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  /** µs, V8 TimeTicks (CLOCK_MONOTONIC on Linux) */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Only samples stamped within [fromUs, toUs] (CLOCK_MONOTONIC µs, process.hrtime) count, when given. */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

export function summariseCpuProfile(path: string, root: string, window?: ProfileWindow, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, CpuProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let totalUs = 0;
  let idleUs = 0;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]!);
    // timeDeltas[i] is the time since the previous sample: it belongs to sample i-1's frame in
    // principle, but at a fixed interval the difference is one sample in thousands.
    const dt = Math.max(0, p.timeDeltas[i] ?? 0);
    at += p.timeDeltas[i] ?? 0;
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) continue;
    if (node === undefined) continue;
    const cf = node.callFrame;
    totalUs += dt;
    if (cf.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    const url = cf.url.startsWith('file://') ? relative(root, new URL(cf.url).pathname) : cf.url;
    const where = url === '' ? '' : `${url}:${cf.lineNumber + 1}`;
    const key = `${cf.functionName}@${where}`;
    let e = self.get(key);
    if (e === undefined) self.set(key, (e = { fn: cf.functionName || '(anonymous)', where, us: 0 }));
    e.us += dt;
  }
  const busyUs = totalUs - idleUs;
  const entries = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, selfMs: e.us / 1000, pct: busyUs > 0 ? (100 * e.us) / busyUs : 0 }));
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, top: entries };
}
