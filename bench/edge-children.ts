import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DisplaySweepMetrics } from '../sync/display-sweep.js';
import { LOAD_CORE, ROOT } from './edge-setup.js';

/**
 * bench:edge (bench/edge.ts): the processes it starts (servers pinned with
 * taskset, wrk, the sweep child) and the Redis keys it loads — always
 * stopped and deleted again, also on Ctrl-C.
 */
// ─── processes: started here, always stopped here ──────────────────────────────

export const children = new Set<ChildProcess>();

export interface Served {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
}

/**
 * Starts `node <nodeArgs> <script> <args>` pinned to `core` (taskset execs
 * node, so the pid and the IPC channel are node's) and waits for its
 * `{type:'ready', port}` message.
 */
export function startPinned(name: string, core: number, nodeArgs: string[], script: string, args: string[], env: NodeJS.ProcessEnv): Promise<Served> {
  return new Promise((resolveReady, reject) => {
    const child = spawn('taskset', ['-c', String(core), process.execPath, ...nodeArgs, script, ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env,
    });
    children.add(child);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not report ready within 120 s`));
    }, 120_000);
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'ready' && typeof m.port === 'number') {
        clearTimeout(timer);
        resolveReady({ name, child, pid: child.pid!, port: m.port });
      }
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready (${signal ?? `code ${code}`})`));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export const SWEEP_JS = join(ROOT, 'dist', 'bench', 'edge-sweep-child.js');

/** bench/edge-sweep-child.ts on the load core: stores the expired entries, then sweeps on 'go' until stopped. */
export function startSweepChild(dir: string, entries: number, firstIndex: number): Promise<{ child: ChildProcess; fillMs: number; stop(): Promise<{ ms: number; metrics: DisplaySweepMetrics }> }> {
  return new Promise((resolveFilled, reject) => {
    const child = spawn('taskset', ['-c', String(LOAD_CORE), process.execPath, SWEEP_JS, dir, String(entries), String(firstIndex)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    let swept: ((r: { ms: number; metrics: DisplaySweepMetrics }) => void) | null = null;
    const sweptP = new Promise<{ ms: number; metrics: DisplaySweepMetrics }>((r) => (swept = r));
    child.on('message', (m: { type?: string; ms?: number; metrics?: DisplaySweepMetrics }) => {
      if (m?.type === 'filled') {
        resolveFilled({
          child,
          fillMs: m.ms ?? 0,
          stop: () => {
            if (child.connected) child.send({ type: 'stop' });
            return sweptP;
          },
        });
      } else if (m?.type === 'swept') swept!({ ms: m.ms ?? 0, metrics: m.metrics! });
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      reject(new Error(`sweep child exited (${signal ?? `code ${code}`})`));
    });
  });
}

export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child);
      done();
      return;
    }
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      children.delete(child);
      done();
    });
    child.kill('SIGTERM');
  });
}

export function killAllNow(): void {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

/** wrk is started by runWrk; its pid is kept so Ctrl-C can end it too. */
let wrkPid = 0;
export function trackWrk(pid: number): void {
  wrkPid = pid;
}
export function killWrk(): void {
  if (wrkPid === 0) return;
  try {
    process.kill(wrkPid, 'SIGKILL');
  } catch {
    // it ended by itself
  }
  wrkPid = 0;
}

// ─── Redis keys: loaded under a unique prefix, always deleted ──────────────────

export class RedisBodies {
  readonly prefix = `hcbench:edge:${process.pid}:${randomBytes(4).toString('hex')}:`;
  private readonly keys: string[] = [];
  constructor(readonly redis: Redis) {}

  async load(tokens: readonly string[], bodies: readonly Buffer[]): Promise<void> {
    const CHUNK = 5000;
    for (let i = 0; i < tokens.length; i += CHUNK) {
      const p = this.redis.pipeline();
      for (let j = i; j < Math.min(tokens.length, i + CHUNK); j++) {
        const key = this.prefix + tokens[j]!;
        this.keys.push(key);
        // EX: even a bench killed with SIGKILL leaves nothing behind for long
        p.set(key, bodies[j]!, 'EX', 3600);
      }
      const r = await p.exec();
      const failed = r?.find(([err]) => err !== null);
      if (failed) throw failed[0]!;
    }
  }

  async clean(): Promise<number> {
    let n = 0;
    const CHUNK = 5000;
    while (this.keys.length > 0) {
      const batch = this.keys.splice(0, CHUNK);
      n += await this.redis.unlink(...batch);
    }
    return n;
  }
}
