import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CapabilityHost } from '../../admin-api/capability.js';
import { migrateCapability } from '../../admin-api/capability.js';
import { raiseAlertEvent } from '../../master/alert-events.js';
import { AdminUsers } from '../../master/admin-users.js';
import { AuditLog } from '../../master/audit-log.js';
import { CodeService } from '../../master/code-service.js';
import { loadOrCreateSecrets } from '../../master/pii-crypto.js';
import { RuleVersions } from '../../master/rule-versions.js';
import { openPglite } from '../../master/sql-client.js';
import { MasterStore } from '../../master/store.js';
import { alertingCapability, type AlertingInstance } from '../alerting-capability.js';
import type { AlertingConfig } from '../config.js';

/**
 * bench:alerting — the issue's two numbers, on the real capability (PGlite
 * master, real engine loop at its default 1 s tick and the built-in rules'
 * 10 s group wait, the gateway simulator over HTTP):
 *
 *   1. condition → SMS at the gateway: N alert events raised at random
 *      moments (each its own problem, so each its own SMS); latency = the
 *      simulator's arrival time − the commit time of the event. p50/p99.
 *   2. monitor overhead: CPU of monitors.sample() (process, fds, disk,
 *      outbox, SMS queue; database statistics skip on PGlite) per sample,
 *      as a share of one core at the 15 s period; and the whole idle
 *      capability (engine ticks + monitors) over an idle window.
 *   3. a storm of STORM events of one kind → how many SMS (must be 1).
 *
 * ALERT_BENCH_N (default 60), ALERT_BENCH_QUICK=1 (20 events, shorter windows).
 * Last line: the result.
 */
const QUICK = process.env.ALERT_BENCH_QUICK === '1';
const N = Number(process.env.ALERT_BENCH_N ?? (QUICK ? 20 : 60));
const SPREAD_MS = QUICK ? 4000 : 15_000;
const IDLE_MS = QUICK ? 5000 : 15_000;
const STORM = QUICK ? 300 : 2000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hc-alert-bench-'));
  const db = await openPglite();
  const secrets = loadOrCreateSecrets(dataDir, {});
  const store = new MasterStore(db, secrets, {});
  await store.migrate();
  const codes = new CodeService(store, { log: () => undefined });
  const host: CapabilityHost = {
    db, store, codes, rules: new RuleVersions(store, codes), audit: new AuditLog(store, secrets),
    users: new AdminUsers(store), secrets, dataDir, mode: 'embedded',
    nowMs: () => Date.now(), log: () => undefined, committed: () => undefined,
  };
  await migrateCapability(db, alertingCapability);
  const cfg: AlertingConfig = alertingCapability.config({ ALERT_PHONES: '13912345678', SYNC_PORT: '0', ALERT_LOOPS: 'on' }, { dataDir, mode: 'embedded' });
  const inst = (await alertingCapability.create(host, cfg)) as AlertingInstance;
  const svc = inst.service;
  const sim = svc.sim!;
  const arrived = new Map<string, number>();
  sim.onDeliver = (m) => {
    const k = /探针(\d+)/.exec(m.text);
    if (k !== null) arrived.set(k[1]!, m.atMs);
  };
  await inst.start!();
  const idleShareOf = async (): Promise<number> => {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / (performance.now() - w0);
  };
  await new Promise((r) => setTimeout(r, 1500));
  const quietShare = await idleShareOf();
  process.stdout.write(`quiet: the running capability with nothing open (1 s tick + 15 s monitors, PGlite in-process) ${(quietShare * 100).toFixed(2)} % of a core over ${IDLE_MS / 1000} s\n`);

  // 1. latency
  const raisedAt = new Map<string, number>();
  const gaps = Array.from({ length: N }, () => Math.random() * SPREAD_MS).sort((a, b) => a - b);
  const t0 = Date.now();
  for (let i = 0; i < N; i++) {
    const wait = t0 + gaps[i]! - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await db.transaction((tx) => raiseAlertEvent(tx, { source: 'exchange', kind: `bench.probe${i}`, severity: 'critical', key: `k${i}`, summary: `探针${i} 触发` }));
    raisedAt.set(String(i), Date.now());
  }
  const deadline = Date.now() + 60_000;
  while (arrived.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const lat = [...raisedAt].filter(([k]) => arrived.has(k)).map(([k, at]) => (arrived.get(k)! - at) / 1000);
  const lost = N - lat.length;
  process.stdout.write(`latency: ${lat.length}/${N} delivered; p50 ${pct(lat, 50).toFixed(2)} s, p99 ${pct(lat, 99).toFixed(2)} s, max ${Math.max(...lat).toFixed(2)} s (group wait 10 s, tick ${cfg.tickMs} ms)\n`);

  // 3. storm
  const before = sim.delivered.length;
  await db.transaction(async (tx) => {
    for (let i = 0; i < STORM; i++) await raiseAlertEvent(tx, { source: 'citizen', kind: 'bench.storm', severity: 'critical', key: `s${i}`, summary: `风暴${i}` });
  });
  const stormDeadline = Date.now() + 40_000;
  while (sim.delivered.slice(before).filter((m) => m.text.includes('风暴')).length === 0 && Date.now() < stormDeadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 3000));
  const stormSms = sim.delivered.slice(before).filter((m) => m.text.includes('风暴')).length;
  process.stdout.write(`storm: ${STORM} events → ${stormSms} SMS\n`);

  // 2. monitor overhead
  await inst.stop!();
  const K = QUICK ? 20 : 60;
  let cpu = 0;
  for (let i = 0; i < K; i++) {
    const r = await svc.monitors.sample();
    cpu += r.costCpuSec;
  }
  const perSample = cpu / K;
  const monitorShare = perSample / (cfg.monitorIntervalMs / 1000);
  // the capability with the bench's alerts still open (every tick re-reads them)
  const inst2 = (await alertingCapability.create(host, cfg)) as AlertingInstance;
  await inst2.start!();
  await new Promise((r) => setTimeout(r, 1500));
  const busyShare = await idleShareOf();
  const openNow = (await svc.engine.counts()).firing;
  await inst2.stop!();
  process.stdout.write(`monitor: ${(perSample * 1000).toFixed(2)} ms CPU per sample (${K} samples) → ${(monitorShare * 100).toFixed(3)} % of a core at ${cfg.monitorIntervalMs / 1000} s; with ${openNow} alerts open the capability takes ${(busyShare * 100).toFixed(2)} % of a core\n`);

  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.stdout.write(
    `bench:alerting condition→SMS-at-gateway p99 ${pct(lat, 99).toFixed(2)} s (p50 ${pct(lat, 50).toFixed(2)} s, n=${lat.length}, lost ${lost}); storm ${STORM} events → ${stormSms} SMS; monitor overhead ${(monitorShare * 100).toFixed(3)} % of a core (whole alerting quiet ${(quietShare * 100).toFixed(2)} %, with ${openNow} open ${(busyShare * 100).toFixed(2)} %)\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:alerting failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
