import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * bench:edge (bench/edge.ts): its constants, options and output helpers.
 */
export const HERE = fileURLToPath(new URL('.', import.meta.url));
/** repository root: this file runs as dist/bench/edge.js */
export const ROOT = resolve(HERE, '..', '..');
export const WORKER_JS = join(ROOT, 'dist', 'edge', 'worker.js');
export const RIVALS_JS = join(ROOT, 'dist', 'bench', 'edge-rivals.js');
export const OUT = join(ROOT, 'bench', 'out');
export const LOAD_CORE = 0;
export const SERVER_CORE = 1;
/** the throughput the province needs at peak (issue 3, Targets) */
export const PROVINCE_QPS = 240_000;
export const LOAD_FRACTION = 0.8;
/** connections of the open-loop generator (requests due on a busy one are pipelined) */
export const OPEN_LOOP_CONNECTIONS = 64;
export const HOT_SESSIONS = 1000;

export const USAGE = `usage: node dist/bench/edge.js [--short] [--people 10000000] [--sessions 200000] [--connections 64]
                             [--duration 10] [--rounds 3] [--reuse] [--no-profile] [--sweep-entries 1000000]
                             [--dir bench/out/edge-data] [--redis redis://127.0.0.1:6379]
                             [--scan-connections 256] [--pipeline 16]
`;

export interface Options {
  people: number;
  sessions: number;
  connections: number;
  duration: number;
  rounds: number;
  reuse: boolean;
  profile: boolean;
  dir: string;
  redis: string;
  /** expired display entries stored for the sweep run (0 = no sweep run) */
  sweepEntries: number;
  /**
   * connections of the second scan run (0 = none): at 240k QPS an edge core
   * holds thousands of keep-alive connections, so groups of many scans form
   */
  scanConnections: number;
  /** depth of the pipelined display comparison (0 = none), bench/edge-pipeline.ts */
  pipeline: number;
}

export function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    people: 10_000_000,
    sessions: 200_000,
    connections: 64,
    duration: 10,
    rounds: 3,
    reuse: false,
    profile: true,
    dir: join(OUT, 'edge-data'),
    redis: 'redis://127.0.0.1:6379',
    sweepEntries: 1_000_000,
    scanConnections: 256,
    pipeline: 16,
  };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    const value = (): string => {
      const v = argv[++k];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const count = (min: number, max: number): number => {
      const v = value().replace(/_/g, '');
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`${a} needs a whole number ${min}–${max}, got ${v}`);
      return Number(v);
    };
    if (a === '--people') o.people = count(1000, 0xffff_ffff);
    else if (a === '--sessions') o.sessions = count(100, 5_000_000);
    else if (a === '--connections') o.connections = count(1, 10_000);
    else if (a === '--duration') o.duration = count(2, 600);
    else if (a === '--rounds') o.rounds = count(1, 20);
    else if (a === '--reuse') o.reuse = true;
    else if (a === '--sweep-entries') o.sweepEntries = count(0, 100_000_000);
    else if (a === '--scan-connections') o.scanConnections = count(0, 10_000);
    else if (a === '--pipeline') o.pipeline = count(0, 256);
    else if (a === '--short') {
      // a quick look on a shared machine (minutes, not tens of them): small replica, one short round, no profile
      Object.assign(o, { people: 200_000, sessions: 20_000, duration: 4, rounds: 1, profile: false, sweepEntries: 200_000 });
    }
    else if (a === '--no-profile') o.profile = false;
    else if (a === '--dir') o.dir = resolve(value());
    else if (a === '--redis') o.redis = value();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.sessions > o.people) throw new Error(`--sessions ${o.sessions} > --people ${o.people}`);
  return o;
}

// ─── output helpers ───────────────────────────────────────────────────────────

export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function human(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : n >= 100 ? n.toFixed(0) : n.toFixed(2);
}

export function bytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

export function ms(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
