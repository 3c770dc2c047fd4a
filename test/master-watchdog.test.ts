import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDrill } from '../alerting/drill-run.js';
import { pickScenarios } from '../alerting/drill-scenarios.js';
import { DrillStack, mainScript } from '../alerting/drill-stack.js';
import { startGatewaySim, type GatewaySim } from '../alerting/gateway-sim.js';

/**
 * The master watchdog as it ships: dist/main.js processes (own redis-server,
 * PGlite master, two HC_ROLE=edge processes each running the watchdog), the
 * master SIGKILLed and started again. The on-call phone (the gateway
 * simulator) must get exactly one page for the outage though two edges saw
 * it, and exactly one "[已恢复]". Nothing about how fast: only what arrives.
 */
const dir = mkdtempSync(join(tmpdir(), 'hc-watchdog-test-'));
const KEY = 'w'.repeat(48);
let gw: GatewaySim | null = null;
let stack: DrillStack | null = null;
afterAll(async () => {
  await stack?.close();
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('master watchdog in the edge processes (live stack)', () => {
  it('master killed → one page from two watchdogs; master back → one resolve', async () => {
    gw = await startGatewaySim({ key: KEY });
    stack = await DrillStack.start({
      dir,
      edges: 2,
      demoPeople: 50,
      smsGatewayUrl: gw.url,
      smsGatewayKey: KEY,
      alertPhones: '13800138009',
      // the master's own engine stays quiet for this test: its pages are not what is counted
      masterEnv: { ALERT_LOOPS: 'off' },
      edgeWatchdog: { forSec: 5, intervalMs: 500 },
      log: () => undefined,
    });
    const watchdogSms = (): string[] => gw!.delivered.filter((d) => d.id.startsWith('mw-')).map((d) => d.text);
    expect(watchdogSms()).toEqual([]);

    await stack.killMaster();
    await expect.poll(watchdogSms, { timeout: 120_000, interval: 250 }).toHaveLength(1);
    expect(watchdogSms()[0]).toMatch(/^\[严重\]主节点无应答：127\.0\.0\.1:\d+ 自 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 起无应答/);
    expect(watchdogSms()[0]).toMatch(/边缘节点 edge-[12] 看门狗/);
    // both edges reached the gateway with the same id: one request was a duplicate (or both before the second saw it)
    await expect.poll(() => gw!.requests, { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(2);
    expect(watchdogSms()).toHaveLength(1);

    await stack.startMaster();
    await expect.poll(watchdogSms, { timeout: 120_000, interval: 250 }).toHaveLength(2);
    expect(watchdogSms()[1]).toMatch(/^\[已恢复\]主节点恢复应答：/);
    // a few more probe periods: nothing else arrives
    await new Promise((r) => setTimeout(r, 3000));
    expect(watchdogSms()).toHaveLength(2);
    expect(gw.delivered.every((d) => d.phones.length === 1 && d.phones[0] === '13800138009')).toBe(true);
  }, 600_000);
});

describe('master watchdog configuration at an edge start', () => {
  it('a bad WATCHDOG_* stops `HC_ROLE=edge` with exit code 2 and the variable named', () => {
    const base = {
      PATH: process.env.PATH ?? '',
      HC_ROLE: 'edge',
      HC_DATA_DIR: join(dir, 'cfg-edge'),
      REDIS_URL: 'redis://127.0.0.1:1',
      HC_SYNC_URL: 'http://127.0.0.1:1',
      HC_SYNC_TOKEN: 'b'.repeat(64),
      HC_SESSION_KEY: 'a'.repeat(64),
      HC_NODE_ID: 'cfg-edge',
      EDGE_PORT: '0',
      EDGE_WORKERS: '1',
      WATCHDOG_MASTER_URL: 'http://127.0.0.1:1/healthz',
      SMS_GATEWAY_URL: 'http://127.0.0.1:1/sms',
      SMS_GATEWAY_KEY: KEY,
      ALERT_PHONES: '13800138009',
    };
    for (const [patch, field] of [[{ WATCHDOG_FOR_SEC: 'soon' }, 'WATCHDOG_FOR_SEC'], [{ ALERT_PHONES: '' }, 'ALERT_PHONES']] as const) {
      const r = spawnSync(process.execPath, [mainScript()], { env: { ...base, ...patch }, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`configuration error (${field})`);
    }
  });
});

describe('drill scenario master-outage', () => {
  it('passes: one watchdog page, displays and scans keep answering, resolve SMS, changes reach the edges after the restart', async () => {
    const out = await runDrill({ dir: join(dir, 'drill'), reportsDir: join(dir, 'reports'), scenarios: pickScenarios('master-outage'), edges: 2, demoPeople: 100, log: () => undefined });
    const s = out.report.scenarios[0]!;
    expect([s.id, s.passed, s.failures]).toEqual(['master-outage', true, []]);
    expect(s.alerts[0]!.smsText).toMatch(/^\[严重\]主节点无应答/);
    expect(s.alerts[0]!.resolveSmsAtMs).not.toBeNull();
    expect(s.probes.display.total).toBeGreaterThan(0);
    expect(s.probes.display.ok).toBe(s.probes.display.total);
    expect(s.probes.scan.ok).toBe(s.probes.scan.total);
  }, 600_000);
});
