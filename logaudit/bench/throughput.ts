import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateCapability } from '../../admin-api/capability.js';
import { runMigrations } from '../../master/migrations.js';
import { openPglite } from '../../master/sql-client.js';
import { logauditCapability } from '../capability.js';
import { loadLogAuditConfig } from '../config.js';
import { gzipSync } from 'node:zlib';
import { DecoderSet } from '../decoders.js';
import { headerPlan, lastAtMs, normaliseInto } from '../normalise.js';
import { RowBatch } from '../row-format.js';
import { LogAuditService } from '../service.js';
import { Correlator, loadRules } from '../sigma.js';

/**
 * `npm run bench:logaudit`: the central system in this process (intake on
 * UDP and TCP, normalise with every decoder, correlate 100+ rules, store in
 * the signed day files, alerts into a PGlite master's alert_events), and a
 * separate sender process (sender.ts) pushing a mixed stream.
 *
 *   LA_EVENTS       events to send (default 200000; use 20000 for a quick run)
 *   LA_ATTACK_EVERY an SSH brute force from a new address every N events (default 5000)
 *   LA_UDP_RATE     UDP datagrams/s the sender paces itself to (default 20000; TCP goes as fast as back-pressure allows)
 *
 * Last line: logaudit: N events in S s = R events/s parsed+stored, p99 alert latency X ms, dropped D;
 *   server CPU C s = E events per CPU-second per core (P % of the same-run pipeline ceiling K); load average L
 * (S runs from the first event received to the last one stored; D = sent − stored; C = user+system
 * time of this process, all its threads, over the same span; E = N ÷ C — the issue's "per core";
 * K = normalise + correlate + encode + gzip of the same corpus on one thread, no sockets or database;
 * L = 1-minute load average at the end, the machine is shared.)
 */
async function main(): Promise<void> {
  const total = Number(process.env.LA_EVENTS ?? 200_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'la-bench-'));
  const db = await openPglite();
  await runMigrations(db);
  await migrateCapability(db, logauditCapability);
  const cfg = loadLogAuditConfig({ LOGAUDIT_UDP: '127.0.0.1:0', LOGAUDIT_TCP: '127.0.0.1:0', LOGAUDIT_QUEUE_HIGH: '100000' }, { dataDir });
  const svc = new LogAuditService(cfg, { db, now: Date.now, log: (l) => process.stderr.write(l + '\n') });
  await svc.start();
  const engine = svc.engine!;
  let firstAt = 0;
  let cpu0 = process.cpuUsage();
  let ticks0 = threadTicks();
  const probe = setInterval(() => { if (firstAt === 0 && engine.counters.received > 0) { firstAt = Date.now(); cpu0 = process.cpuUsage(); ticks0 = threadTicks(); clearInterval(probe); } }, 1);
  const senderPath = fileURLToPath(new URL('./sender.js', import.meta.url));
  const child = fork(senderPath, [], {
    env: { ...process.env, LA_UDP_PORT: String(svc.ports.udp[0]), LA_TCP_PORT: String(svc.ports.tcp[0]), LA_EVENTS: String(total) },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise<void>((r) => child.on('exit', () => r()));
  const sent = JSON.parse(out.trim().split('\n').pop()!) as { udp: number; tcp: number; attacks: number };
  // everything that arrived is stored (or counted as shed); give stragglers 2 s of quiet
  let last = -1;
  let cpuDone = process.cpuUsage(cpu0);
  let ticksDone = threadTicks();
  while (engine.counters.received !== last) {
    last = engine.counters.received;
    await engine.idle(120_000);
    cpuDone = process.cpuUsage(cpu0);
    ticksDone = threadTicks();
    await new Promise((r) => setTimeout(r, 2000));
  }
  const doneAt = Date.now();
  clearInterval(probe);
  const stored = engine.counters.stored;
  // user+system time of this process (all its threads: event loop, UDP reader, libuv pool): the per-core figure
  const cpuSecs = (cpuDone.user + cpuDone.system) / 1e6;
  const secs = (doneAt - 2000 - firstAt) / 1000;
  const p99 = pct99(engine.alertLatencies);
  const hitP99 = pct99(engine.hitDelays);
  const load = loadavg()[0]!.toFixed(1);
  const dropped = sent.udp + sent.tcp - stored;
  const alerts = (await db.query<{ n: string | number }>("SELECT count(*) AS n FROM alert_events WHERE source = 'logaudit'")).rows[0]!.n;
  const byRule = (await db.query<{ r: string; n: string | number }>("SELECT coalesce(details->>'rule', kind) AS r, count(*) AS n FROM alert_events WHERE source = 'logaudit' GROUP BY 1 ORDER BY 2 DESC LIMIT 5")).rows;
  process.stderr.write(`p99 receipt → rule hit ${Math.round(hitP99)} ms (queue wait + normalise), receipt → alert row committed ${Math.round(p99)} ms\n`);
  process.stderr.write(`server CPU by thread: ${threadSplit(ticks0, ticksDone)}\n`);
  process.stderr.write(`alerts by rule (top 5): ${byRule.map((x) => `${x.r} ${String(x.n)}`).join(', ')}\n`);
  process.stderr.write(`sent udp ${sent.udp} tcp ${sent.tcp}; received ${engine.counters.received} (UDP dropped by the kernel before we could read: ${String(engine.health().udpKernelDrops)}), spooled ${engine.counters.spooled}, shed ${engine.counters.shed}; brute forces sent ${sent.attacks}, alerts raised ${alerts}; decoded ${stored - engine.counters.undecoded - engine.counters.unparsed}/${stored}\n`);
  const batches = engine.store.days().reduce((n, d) => n + engine.store.readIndex(d).length, 0);
  process.stderr.write(`store batches written ${batches} (mean ${Math.round(stored / Math.max(1, batches))} events per gzip member)\n`);
  await svc.stop();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
  const ceiling = pipelineCeiling(Math.min(total, 100_000));
  // the same-run ceiling: normalise + correlate + encode + gzip in one thread, no sockets, queues or database
  const ofCeiling = `${(stored / cpuSecs / ceiling * 100).toFixed(0)} % of the same-run pipeline ceiling ${ceiling}`;
  // issue 13's format first; then the per-core figure (events ÷ CPU-seconds of this process, all threads), the ceiling, the load
  process.stdout.write(`logaudit: ${stored} events in ${secs.toFixed(2)} s = ${Math.round(stored / secs)} events/s parsed+stored, p99 alert latency ${Math.round(p99)} ms, dropped ${dropped}; server CPU ${cpuSecs.toFixed(2)} s = ${Math.round(stored / cpuSecs)} events per CPU-second per core (${ofCeiling}); load average ${load}\n`);
}

function pct99(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]! : NaN;
}

/** CPU ticks (user+system, 10 ms each) of this process's main thread and of all its other threads (/proc/self/task); zeros off Linux */
function threadTicks(): { main: number; other: number; byTid: Map<string, number> } {
  const out = { main: 0, other: 0, byTid: new Map<string, number>() };
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const t = Number(f[11]) + Number(f[12]);
      out.byTid.set(tid, t);
      if (Number(tid) === process.pid) out.main += t;
      else out.other += t;
    }
  } catch { /* not Linux */ }
  return out;
}

/** where the CPU went between two threadTicks() (threads that ended in between are missing from `other`) */
function threadSplit(a: ReturnType<typeof threadTicks>, b: ReturnType<typeof threadTicks>): string {
  const others = [...b.byTid].filter(([t]) => Number(t) !== process.pid).map(([t, v]) => v - (a.byTid.get(t) ?? 0)).filter((v) => v > 0).sort((x, y) => y - x);
  return `main thread ${((b.main - a.main) / 100).toFixed(2)} s, other threads (UDP reader, gzip/libuv pool, V8 GC and compiler helpers) ${((b.other - a.other) / 100).toFixed(2)} s [${others.map((v) => (v / 100).toFixed(2)).join(' ')}]`;
}

/** The processing core alone on the same corpus: what the intake, queues and alert writes are measured against. */
function pipelineCeiling(n: number): number {
  const decoders = DecoderSet.load();
  const rules = loadRules();
  const correlator = new Correlator(rules);
  // the same event shape the engine builds (engine.ts: correlation + asset fields only)
  const plan = headerPlan(new Set([...correlator.fieldsUsed, 'host.name', 'observer.vendor', 'observer.product']));
  const corpus: Buffer[] = [];
  for (const f of decoders.families) for (const t of f.types) for (const x of t.samples) corpus.push(Buffer.from(x.line));
  const opts = { tzOffsetMin: 480, maxSkewMs: 86_400_000 };
  const t0 = Date.now();
  const c0 = process.cpuUsage();
  const batch = new RowBatch();
  for (let i = 0; i < n; i++) {
    const m = { bytes: corpus[i % corpus.length]!, from: '127.0.0.1', transport: 'udp' as const, receivedMs: t0 + i / 20 };
    const event = normaliseInto(m, decoders, opts, () => undefined, plan, batch);
    correlator.feed(event, m.receivedMs, lastAtMs());
    if (batch.length === 4000) gzipSync(batch.take(), { level: 1 });
  }
  if (batch.length > 0) gzipSync(batch.take(), { level: 1 });
  const c = process.cpuUsage(c0);
  return Math.round(n / ((c.user + c.system) / 1e6));
}

void main();
