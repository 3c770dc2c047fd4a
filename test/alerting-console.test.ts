import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { alertingCapability, type AlertingInstance } from '../alerting/alerting-capability.js';
import type { AlertingService } from '../alerting/service.js';
import { launchChromium } from '../bench/chromium.js';
import { raiseAlertEvent } from '../master/alert-events.js';
import { buildConsole, startConsoleFront, type ConsoleFront } from './console-front.js';

/**
 * The four alerting pages of the web console (告警, 告警规则, 短信记录,
 * 监控概览) in headless Chromium against a real master (PGlite) with the
 * alerting capability: an open alert, a resolved one, their SMS at the
 * gateway simulator and a monitor reading exist before the pages load.
 * Each page must render in Chinese with China times, and show no raw
 * codes — no rule ids, states, severities, event kinds or error codes —
 * and no console errors (CSP violations are console errors).
 * A missing Chromium FAILS this file (bench/chromium.ts says how to install it).
 */
const ON_CALL = '13912345678';

let tmp: string;
let browser: Browser;
let f: Fixture;
let svc: AlertingService;
let front: ConsoleFront | undefined;
let base: string;

beforeAll(async () => {
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'hc-alerting-console-'));
  const consoleDir = join(tmp, 'console-dist');
  buildConsole(consoleDir);

  f = await startAdmin({ capabilities: [alertingCapability], capabilityEnv: { alerting: { ALERT_PHONES: ON_CALL, ALERT_LOOPS: 'off', SYNC_PORT: '0' } } });
  svc = (f.instances.alerting as AlertingInstance).service;
  // one alert that resolves (no event for its resolve-after), then one that stays open
  await raiseAlertEvent(f.db, { source: 'exchange', kind: 'exchange.reject_threshold', severity: 'critical', key: 'dept-1', summary: '卫健委数据导入拒绝率超过阈值' });
  await svc.engine.tick();
  f.clock.ms += 11_000;
  await svc.engine.tick();
  f.clock.ms += 301_000;
  await svc.engine.tick();
  await raiseAlertEvent(f.db, { source: 'alerting', kind: 'operator.mass_change', severity: 'critical', key: 'operator', summary: '账号 operator 在10分钟内人工转码或批量变更56次（阈值50次）' });
  await svc.engine.tick();
  f.clock.ms += 11_000;
  await svc.engine.tick();
  await svc.sms.flush();
  await svc.monitorOnce();
  expect(svc.sim!.delivered.length).toBeGreaterThanOrEqual(3); // fired, resolved, fired

  front = await startConsoleFront(consoleDir, f.base);
  base = front.origin;
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await front?.close();
  await f?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** What an official must never see on these pages: machine codes instead of words. */
const RAW = [
  /\b(firing|pending|resolved|critical|warning|info)\b/, // states and severities
  /\b(events-critical|events-warning|edge-down|publish-stalled|cpu-high|sms-stuck)\b/, // rule ids
  /\b(exchange|operator)\.[a-z_]+/, // event kinds
  /\b(ALR|ADM|MASTER|CORE)_ERR_[A-Z_]+/, // error codes
  /\d{4}-\d\d-\d\dT\d\d:\d\d/, // ISO / UTC timestamps
  /\bundefined\b|\bnull\b|\bNaN\b|\[object Object\]/,
];

describe('alerting console pages', () => {
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(`${base}/console/`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', f.passwords.admin);
    await page.click('form[aria-label="登录"] button[type=submit]');
    await page.waitForSelector('[data-testid=whoami]');
  }, 60_000);

  async function open(id: string, ready: string): Promise<string> {
    await page.click(`nav a[data-page="${id}"]`);
    await page.waitForFunction((want: string) => {
      const main = (globalThis as unknown as { document: { querySelector(s: string): { innerText: string } | null } }).document.querySelector('main');
      return main !== null && main.innerText.includes(want) && !main.innerText.includes('加载中');
    }, ready, { timeout: 20_000 });
    return page.innerText('main');
  }

  function noRawCodes(text: string): void {
    for (const re of RAW) expect(text, `${re} in:\n${text}`).not.toMatch(re);
    expect(text).toMatch(/[\u4e00-\u9fff]/);
  }

  it('告警: the open alert and the recently resolved one, in Chinese, China time', async () => {
    const text = await open('alerts', '当前告警（1）');
    expect(text).toContain('账号 operator 在10分钟内人工转码或批量变更56次');
    expect(text).toContain('卫健委数据导入拒绝率超过阈值');
    expect(text).toContain('严重事件');
    expect(text).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d/);
    noRawCodes(text);
  });

  it('告警规则: every built-in rule by its Chinese name', async () => {
    const text = await open('alert-rules', '边缘节点不可达');
    for (const name of ['严重事件', '边缘节点副本落后', '变更发布停滞', '告警短信积压']) expect(text).toContain(name);
    noRawCodes(text);
  });

  it('短信记录: the messages with masked phones only', async () => {
    const text = await open('sms-records', '【健康码告警】');
    expect(text).toContain('139****5678');
    expect(text).not.toContain(ON_CALL);
    noRawCodes(text);
  });

  it('监控概览: readings in Chinese, what is not available here and why', async () => {
    const text = await open('monitoring', '不可用');
    expect(text).toContain('内嵌数据库（PGlite）');
    noRawCodes(text);
    expect(problems).toEqual([]);
  });
});
