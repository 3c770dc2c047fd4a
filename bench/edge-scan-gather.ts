import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { issueSession } from '../core/session-token.js';
import { writeBenchUid } from './build-replica.js';
import { summariseCpuProfile } from './cpu-profile.js';
import { LOAD_CORE, OUT, RIVALS_JS, ROOT, SERVER_CORE, WORKER_JS } from './edge-setup.js';
import { startPinned, stopChild } from './edge-children.js';
import { pipelineScript } from './edge-pipeline.js';
import { havePerf, recordPerf, summarisePerf } from './perf-profile.js';
import { formatPhases, phases } from './edge-scan-phases.js';
import { runWrk, writeWrkScript } from './wrk.js';

/**
 * POST /v1/scan against EDGE_SCAN_GATHER_MS (edge/scan-spool.ts group
 * commit window), on a replica a bench:edge run built:
 *
 *   node dist/bench/edge-scan-gather.js [--dir bench/out/edge-data] [--people 10000000]
 *        [--gather 0,2] [--connections 16] [--duration 4] [--rounds 2] [--warmup 2]
 *        [--compare <another build's dist/edge/worker.js>] [--hello] [--perf] [--cpu-prof]
 *        [--route display] [--sessions 5000] [--pipeline 16]
 *
 * One edge server process (dist/edge/worker.js) pinned to core 1 per run,
 * wrk pinned to core 0, values alternated round by round. Per run: req/s,
 * requests per server CPU-second, and scans per fsync'ed commit from the
 * server's /metrics. Last line: the medians per gather value.
 *
 * `--compare`: each round also runs that worker (e.g. the previous commit's
 * build) at every gather value, alternating with this build's, so a change
 * to the scan path is measured against its predecessor in the same run.
 * `--hello`: each round also runs the uWS hello-world of bench:edge (GET,
 * a 275-byte display-sized body, same connections, same session headers)
 * on the same core, and the last line gives each build's scans per CPU-s
 * as a fraction of it (median of the per-round ratios).
 * `--route display`: GET /v1/code instead (the display path; the gather
 * value is then irrelevant, pass `--gather 0`), same sessions, same
 * hello-world, same A/B — the display's profile and same-run ratio without
 * a full bench:edge. The 2 s warm-up run of each server signs and stores
 * the first display of each session, so keep --sessions ≲ 20k there.
 * `--pipeline N`: every script (edge and hello-world) sends N requests back
 * to back per connection (bench/edge-pipeline.ts): the kernel's share is
 * then split over N, and the servers' own per-request work is compared.
 * `--warmup S`: seconds of each server's unmeasured first run (default
 * 2; with 5000 sessions a 2 s run at ≈ 5k scans/s leaves ≈ 15 % of them
 * to be verified for the first time inside the measured run).
 * `--phases`: instead of `--perf`, `perf record -g` of each run of this
 * build (and of hello-world with `--hello`) and a table of µs of server
 * CPU per request by phase — send, recv, the fdatasync's pool thread, the
 * scan handling, the answers after the fdatasync… (bench/edge-scan-phases.ts).
 * `--perf`: `perf record` of each run of this build (whole process, kernel
 * included; bench/perf-profile.ts), summarised by part after the run.
 */
function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1] ?? dflt;
}

function startWorker(dir: string, key: Buffer, gather: number, worker = WORKER_JS, nodeArgs: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolveReady, reject) => {
    const child = spawn('taskset', ['-c', String(SERVER_CORE), process.execPath, ...nodeArgs, worker], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, EDGE_HOST: '127.0.0.1', EDGE_PORT: '0', EDGE_WORKERS: '1', HC_DATA_DIR: dir, HC_SESSION_KEY: key.toString('hex'), EDGE_MAX_LAG_SEC: '604800', EDGE_SIGN_THREADS: '1', EDGE_SCAN_GATHER_MS: String(gather) },
    });
    child.on('message', (m: { type?: string; port?: number }) => m?.type === 'ready' && resolveReady({ child, port: m.port! }));
    child.on('exit', (code, signal) => reject(new Error(`edge worker exited (${signal ?? code})`)));
  });
}

function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const dir = resolve(arg('dir', join(OUT, 'edge-data')));
  const people = Number(arg('people', '10000000'));
  const gathers = arg('gather', '0,2').split(',').map(Number);
  const connections = Number(arg('connections', '16'));
  const duration = Number(arg('duration', '4'));
  const rounds = Number(arg('rounds', '2'));
  // each server's unmeasured first run: long enough that the measured run sees every session and venue
  // again (first sightings pay an HMAC verify and a venue read, and V8 is still compiling)
  const warmup = Number(arg('warmup', '2'));
  const key = randomBytes(32);
  const exp = Math.floor(Date.now() / 1000) + 86_400;
  const uid = Buffer.alloc(16);
  const headers: string[] = [];
  const route = arg('route', 'scan');
  if (route !== 'scan' && route !== 'display') throw new Error(`--route ${route}: scan or display`);
  const sessions = Number(arg('sessions', '5000'));
  for (let i = 0; i < sessions; i++) {
    // display: the same people every run, so the display entries the first run signs and stores serve the next runs
    writeBenchUid(route === 'display' ? Math.floor((i * people) / sessions) : randomInt(0, people), uid, 0);
    headers.push(`Bearer ${issueSession(key, uid, exp)}`);
  }
  const headersFile = join(OUT, 'edge-scan-gather-sessions.txt');
  const script = join(OUT, 'edge-scan-gather.lua');
  writeFileSync(headersFile, `${headers.join('\n')}\n`);
  if (route === 'scan') writeWrkScript({ path: script, headersFile, method: 'POST', urlPath: '/v1/scan', scanVenues: 100_000 });
  else writeWrkScript({ path: script, headersFile, method: 'GET', urlPath: '/v1/code' });
  const urlPath = route === 'scan' ? '/v1/scan' : '/v1/code';
  const pipeline = Number(arg('pipeline', '0'));
  if (pipeline > 1) pipelineScript(script, script, pipeline);
  const compare = arg('compare', '');
  const withPerf = process.argv.includes('--perf') && havePerf();
  const withCpuProf = process.argv.includes('--cpu-prof');
  const withPhases = process.argv.includes('--phases') && havePerf();
  const builds: [string, string][] = [['this build', WORKER_JS]];
  if (compare !== '') builds.push(['compared', resolve(compare)]);
  const cases = builds.flatMap(([label, js]) => gathers.map((g) => ({ label: `${label}, gather ${g} ms`, js, g })));
  const results = new Map<string, { perCpu: number[]; perCommit: number[]; qps: number[] }>();
  const withHello = process.argv.includes('--hello');
  const helloPerCpu: number[] = [];
  const helloScript = join(OUT, 'edge-scan-gather-hello.lua');
  const helloBody = join(OUT, 'edge-scan-gather-hello.json');
  if (withHello) {
    writeWrkScript({ path: helloScript, headersFile, method: 'GET', urlPath: '/v1/code' });
    if (pipeline > 1) pipelineScript(helloScript, helloScript, pipeline);
    // display-sized, like bench:edge's hello-world body (≈ 275 B)
    writeFileSync(helloBody, JSON.stringify({ color: 'green', reason: 'none', since: 1_780_000_000, until: null, name: '张*三', token: `TF1:${'A'.repeat(140)}`, expiresAt: 1_790_000_000, notices: [] }));
  }
  for (let r = 0; r < rounds; r++) {
    if (withHello) {
      const hello = await startPinned('hello', SERVER_CORE, [], RIVALS_JS, ['hello', '--body-file', helloBody], process.env);
      try {
        const url = `http://127.0.0.1:${hello.port}/v1/code`;
        await runWrk({ url, script: helloScript, connections, durationSec: warmup, core: LOAD_CORE, serverPid: hello.pid });
        const helloPerf = join(OUT, `edge-hello-${hello.pid}.perf`);
        const helloPerfDone = withPerf ? recordPerf(hello.pid, helloPerf, Math.max(1, duration - 1)) : withPhases ? recordPerf(hello.pid, helloPerf, Math.max(1, duration - 1), undefined, true) : Promise.resolve(false);
        const run = await runWrk({ url, script: helloScript, connections, durationSec: duration, core: LOAD_CORE, serverPid: hello.pid });
        if (withPhases && !withPerf && (await helloPerfDone)) {
          const rows = phases(helloPerf, run.reqPerCpuSec);
          if (rows !== null) process.stderr.write(formatPhases('hello-world', rows));
          rmSync(helloPerf, { force: true });
        }
        if (withPerf && (await helloPerfDone)) {
          // the ceiling's own profile, to read this build's beside it
          const p = summarisePerf(helloPerf, 15);
          if (p !== null) {
            process.stderr.write('hello-world perf:\n');
            for (const [c, v] of Object.entries(p.categories).sort((a, b) => b[1] - a[1])) process.stderr.write(`  ${v.toFixed(1).padStart(5)} %  ${c}\n`);
            for (const x of p.top) process.stderr.write(`  ${x.pct.toFixed(2).padStart(5)} %  ${x.dso}  ${x.sym.slice(0, 100)}\n`);
          }
          rmSync(helloPerf, { force: true });
        }
        helloPerCpu.push(run.reqPerCpuSec);
        process.stderr.write(`hello-world: ${run.qps.toFixed(0)} req/s, server ${(100 * run.serverCoreUse).toFixed(0)} % core, ${run.reqPerCpuSec.toFixed(0)} req per CPU-s\n`);
      } finally {
        await stopChild(hello.child);
      }
    }
    for (const { label, js, g } of r % 2 === 0 ? cases : [...cases].reverse()) {
      const profiled = (withPerf || withPhases) && js === WORKER_JS;
      const v8prof = withCpuProf && js === WORKER_JS;
      const profDir = join(OUT, 'edge-scan-cpuprof');
      const { child, port } = await startWorker(dir, key, g, js, profiled ? ['--perf-basic-prof-only-functions'] : v8prof ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []);
      try {
        const url = `http://127.0.0.1:${port}${urlPath}`;
        await runWrk({ url, script, connections, durationSec: warmup, core: LOAD_CORE, serverPid: child.pid! });
        const m0 = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const perfFile = join(OUT, `edge-scan-${child.pid}.perf`);
        const perfDone = !profiled ? Promise.resolve(false) : withPerf ? recordPerf(child.pid!, perfFile, Math.max(1, duration - 1)) : recordPerf(child.pid!, perfFile, Math.max(1, duration - 1), undefined, true);
        const run = await runWrk({ url, script, connections, durationSec: duration, core: LOAD_CORE, serverPid: child.pid! });
        if ((await perfDone) && !withPerf) {
          const rows = phases(perfFile, run.reqPerCpuSec);
          if (rows !== null) process.stderr.write(formatPhases(label, rows));
          rmSync(perfFile, { force: true });
          rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
        } else if (profiled) {
          const p = summarisePerf(perfFile, 30);
          if (p !== null) {
            for (const [c, v] of Object.entries(p.categories).sort((a, b) => b[1] - a[1])) process.stderr.write(`  ${v.toFixed(1).padStart(5)} %  ${c}\n`);
            for (const x of p.top) process.stderr.write(`  ${x.pct.toFixed(2).padStart(5)} %  ${x.dso}  ${x.sym.slice(0, 100)}\n`);
          }
          rmSync(perfFile, { force: true });
          rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
        }
        const m1 = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const commits = metricValue(m1, 'edge_spool_commits_total') - metricValue(m0, 'edge_spool_commits_total');
        const events = metricValue(m1, 'edge_spool_events_total') - metricValue(m0, 'edge_spool_events_total');
        const e = results.get(label) ?? { perCpu: [], perCommit: [], qps: [] };
        e.perCpu.push(run.reqPerCpuSec);
        e.perCommit.push(events / Math.max(1, commits));
        e.qps.push(run.qps);
        results.set(label, e);
        process.stderr.write(`${label}: ${run.qps.toFixed(0)} req/s, server ${(100 * run.serverCoreUse).toFixed(0)} % core, ${run.reqPerCpuSec.toFixed(0)} req per CPU-s, ${(events / Math.max(1, commits)).toFixed(1)} scans a commit, p99 ${(run.wrk.p99 / 1000).toFixed(2)} ms\n`);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      if (v8prof) {
        const f = readdirSync(profDir).find((n) => n.endsWith('.cpuprofile') && n.includes(`.${child.pid}.0.`));
        if (f !== undefined) {
          const sum = summariseCpuProfile(join(profDir, f), ROOT, undefined, 30);
          process.stderr.write(`  V8 profile ${f}: ${(sum.totalMs - sum.idleMs).toFixed(0)} ms busy\n`);
          for (const e of sum.top) process.stderr.write(`  ${e.pct.toFixed(1).padStart(5)} %  ${e.fn}  ${e.where}\n`);
        }
      }
    }
  }
  const parts = [...results].map(([label, e]) => {
    // per-round ratio to that round's hello-world, then the median (drifting background load cancels)
    const vsHello = helloPerCpu.length === e.perCpu.length ? `, ${median(e.perCpu.map((v, i) => v / helloPerCpu[i]!)).toFixed(2)} × hello-world` : '';
    return `${label}: ${median(e.perCpu).toFixed(0)} req per CPU-s${vsHello}, ${median(e.perCommit).toFixed(1)} scans a commit, ${median(e.qps).toFixed(0)} req/s`;
  });
  if (helloPerCpu.length > 0) parts.push(`hello-world: ${median(helloPerCpu).toFixed(0)} req per CPU-s`);
  process.stdout.write(`bench:edge-scan-gather (${route}${pipeline > 1 ? `, ${pipeline}-deep pipelining` : ''}, -c${connections}, ${rounds} rounds of ${duration} s, load average ${loadavg()[0]!.toFixed(1)}): ${parts.join('; ')}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`edge-scan-gather: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
