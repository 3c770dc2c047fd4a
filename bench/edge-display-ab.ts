import { randomBytes, randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { issueSession } from '../core/session-token.js';
import { writeBenchUid } from './build-replica.js';
import { killAllNow, startPinned, stopChild, type Served } from './edge-children.js';
import { closedRun, describeClosed, type ClosedRun } from './edge-results.js';
import { OUT, RIVALS_JS, SERVER_CORE, WORKER_JS, human, median, say } from './edge-setup.js';

/**
 * The display path (GET /v1/code) against uWS hello-world and, with
 * --compare, against another build's worker, per server CPU-second, with
 * the C closed-loop client (bench/open-loop.c --rate 0) — the quick A/B for
 * a change to the display path, without a whole bench:edge:
 *
 *   node dist/bench/edge-display-ab.js --dir <a bench:edge data dir> [--people 200000]
 *        [--sessions 20000] [--duration 4] [--rounds 3] [--connections 64] [--depth 1]
 *        [--compare /tmp/base/dist/edge/worker.js]
 *
 * Every server is ONE process pinned to core 1, the client pinned to core
 * 0; targets rotate round by round; ratios are medians of per-round ratios.
 * The replica is the one `bench:edge --dir <dir>` built (its node key and
 * display entries are reused; the first display of each new session signs).
 * Last line: the medians.
 */
function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1] ?? dflt;
}

async function warm(port: number, tokens: readonly string[]): Promise<Buffer> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32, pipelining: 1 });
  let next = 0;
  let first: Buffer | null = null;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < tokens.length; i = next++) {
      const r = await pool.request({ path: '/v1/code', method: 'GET', headers: { authorization: `Bearer ${tokens[i]!}` } });
      const body = Buffer.from(await r.body.arrayBuffer());
      if (r.statusCode !== 200) throw new Error(`warm-up: ${r.statusCode} ${body.toString().slice(0, 200)}`);
      first ??= body;
    }
  };
  try {
    await Promise.all(Array.from({ length: 64 }, lane));
  } finally {
    await pool.close();
  }
  return first!;
}

async function main(): Promise<void> {
  const dir = resolve(arg('dir', join(OUT, 'edge-data')));
  const people = Number(arg('people', '200000'));
  const nSessions = Number(arg('sessions', '20000'));
  const duration = Number(arg('duration', '4'));
  const rounds = Number(arg('rounds', '3'));
  const connections = Number(arg('connections', '64'));
  const depth = Number(arg('depth', '1'));
  const compare = process.argv.includes('--compare') ? resolve(arg('compare', '')) : null;

  const key = randomBytes(32);
  const exp = Math.floor(Date.now() / 1000) + 86_400;
  const chosen = new Set<number>();
  while (chosen.size < nSessions) chosen.add(randomInt(0, people));
  const uid = Buffer.alloc(16);
  const tokens = [...chosen].map((i) => {
    writeBenchUid(i, uid, 0);
    return issueSession(key, uid, exp);
  });
  const authFile = join(OUT, 'edge-display-ab-sessions.txt');
  writeFileSync(authFile, tokens.map((t) => `Bearer ${t}`).join('\n') + '\n');
  const env = {
    ...process.env, EDGE_HOST: '127.0.0.1', EDGE_PORT: '0', EDGE_WORKERS: '1', HC_DATA_DIR: dir,
    HC_SESSION_KEY: key.toString('hex'), EDGE_MAX_LAG_SEC: '604800', EDGE_SIGN_THREADS: '1', EDGE_SESSION_CACHE: String(Math.max(131_072, nSessions)),
  };
  say(`load average ${loadavg().map((v) => v.toFixed(1)).join(' ')}; ${human(nSessions)} sessions of ${human(people)} people in ${dir}`);
  const servers: Served[] = [];
  try {
    const edge = await startPinned('edge', SERVER_CORE, [], WORKER_JS, [], env);
    servers.push(edge);
    const body = await warm(edge.port, tokens);
    const targets: { name: string; s: Served }[] = [{ name: 'edge (this build)', s: edge }];
    if (compare !== null) {
      const other = await startPinned('edge (compared)', SERVER_CORE, [], compare, [], env);
      servers.push(other);
      await warm(other.port, tokens);
      targets.push({ name: `edge ${compare}`, s: other });
    }
    const bodyFile = join(OUT, 'edge-display-ab-body.json');
    writeFileSync(bodyFile, body);
    const hello = await startPinned('hello', SERVER_CORE, [], RIVALS_JS, ['hello', '--body-file', bodyFile], process.env);
    servers.push(hello);
    targets.push({ name: 'uWS hello-world', s: hello });
    for (const t of targets) await closedRun(t.s.port, authFile, t.s.pid, 2, connections, depth); // JIT, connections
    const runs = new Map<string, ClosedRun[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(k + round) % targets.length]!;
        const r = await closedRun(t.s.port, authFile, t.s.pid, duration, connections, depth);
        runs.get(t.name)!.push(r);
        say(`round ${round + 1}/${rounds} ${t.name.padEnd(24)} ${describeClosed(r)}`);
      }
    }
    const h = runs.get('uWS hello-world')!;
    const e = runs.get('edge (this build)')!;
    const ratio = (a: ClosedRun[], b: ClosedRun[]): number => median(a.map((r, i) => r.reqPerCpuSec / b[i]!.reqPerCpuSec));
    let line = `edge-display-ab: -c${connections} depth ${depth}, ${rounds} × ${duration} s: this build ${human(median(e.map((r) => r.reqPerCpuSec)))} req per CPU-s = ${ratio(e, h).toFixed(2)} × hello-world (${human(median(h.map((r) => r.reqPerCpuSec)))})`;
    if (compare !== null) {
      const c = runs.get(targets[1]!.name)!;
      line += `; compared build ${human(median(c.map((r) => r.reqPerCpuSec)))} = ${ratio(c, h).toFixed(2)} × hello-world; this / compared ${ratio(e, c).toFixed(3)}`;
    }
    process.stdout.write(`${line}; load average ${loadavg()[0]!.toFixed(1)}\n`);
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child, 5000)));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`edge-display-ab: ${(err as Error)?.stack ?? String(err)}\n`);
    killAllNow();
    process.exitCode = 1;
  });
}
