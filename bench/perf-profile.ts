import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/**
 * A whole-process CPU profile with Linux `perf` (package linux-perf), for
 * what the V8 profile cannot see: the kernel's share (socket send/receive,
 * epoll), LMDB's B-tree search in the native addon, uWS, and JIT-compiled JS
 * by name (the profiled process runs with `--perf-basic-prof-only-functions`,
 * which writes /tmp/perf-<pid>.map). Optional: the bench skips it when perf
 * is missing or not permitted (kernel.perf_event_paranoid).
 */
export interface PerfSymbol {
  readonly pct: number;
  readonly dso: string;
  readonly sym: string;
}

export interface PerfSummary {
  /** share of samples by category, % */
  readonly categories: Record<string, number>;
  readonly top: PerfSymbol[];
}

export function havePerf(): boolean {
  const r = spawnSync('perf', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/**
 * Starts `perf record -F 999 -p <pid> -o <file> -- sleep <sec>` (with `-g`
 * when `callGraph`: the stacks edge-scan-phases.ts sorts into phases);
 * resolves when it has written the file.
 */
export function recordPerf(pid: number, file: string, sec: number, onSpawn?: (c: ChildProcess) => void, callGraph = false): Promise<boolean> {
  return new Promise((resolve) => {
    const args = ['record', ...(callGraph ? ['-g'] : []), '-F', '999', '-p', String(pid), '-o', file, '--', 'sleep', String(sec)];
    const child = spawn('perf', args, { stdio: 'ignore' });
    onSpawn?.(child);
    const kill = setTimeout(() => child.kill('SIGKILL'), (sec + 20) * 1000);
    child.on('error', () => {
      clearTimeout(kill);
      resolve(false);
    });
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve(code === 0);
    });
  });
}

/**
 * Which part of the stack a sample belongs to. LMDB's C code lives in
 * lmdb-js's addon (node.abi*.node) and is named mdb_*; uWS in
 * uws_linux_*.node; our and lmdb-js's JavaScript in [JIT] with a `JS:` name.
 */
function category(dso: string, sym: string): string {
  if (dso.includes('kernel')) return 'kernel (TCP loopback, epoll, syscalls)';
  if (sym.startsWith('mdb_') || sym.includes('getByBinary') || sym.includes('DbiWrap')) return 'LMDB (B-tree search, value copy)';
  if (dso.startsWith('uws_')) return 'uWS (HTTP parsing, writes)';
  if (sym.startsWith('JS:')) {
    if (sym.includes('/dist/edge/') || sym.includes('/dist/core/')) return 'our JavaScript (edge/, core/)';
    if (sym.includes('node_modules/lmdb')) return 'lmdb-js JavaScript';
    return 'other JavaScript';
  }
  if (dso.startsWith('libc') && (sym.includes('memmove') || sym.includes('memcmp'))) return 'libc memcpy/memcmp (mostly LMDB)';
  if (dso === 'node' || dso.startsWith('[JIT]') || dso.startsWith('libstdc++') || dso.startsWith('libc')) return 'V8, Node and libc glue (JS ↔ native calls)';
  return 'other';
}

/** `perf report` of a recording: categories and the top symbols by self time. */
export function summarisePerf(file: string, top = 25): PerfSummary | null {
  const r = spawnSync('perf', ['report', '-i', file, '--no-children', '--sort', 'dso,sym', '--stdio', '-g', 'none'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return null;
  const rows: PerfSymbol[] = [];
  for (const line of r.stdout.split('\n')) {
    // "    9.33%  node.abi115.glibc.node  [.] mdb_node_search"
    const m = /^\s+([\d.]+)%\s+(\S.*?)\s+\[[.k]\]\s+(.+)$/.exec(line);
    if (m !== null) rows.push({ pct: Number(m[1]), dso: m[2]!.trim(), sym: m[3]!.trim() });
  }
  const categories: Record<string, number> = {};
  for (const x of rows) {
    const c = category(x.dso, x.sym);
    categories[c] = (categories[c] ?? 0) + x.pct;
  }
  return { categories, top: rows.slice(0, top) };
}
