import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../bench/chromium.js';
import { loadStackConfig } from '../stack-config.js';
import { startEmbeddedStack, type StackHandle } from '../stack.js';
import { buildConsole, startConsoleFront, type ConsoleFront } from './console-front.js';

/**
 * The tracing 大屏 kiosk (console route #/tracing-big-screen, issue 11) in
 * headless Chromium at 1920×1080 against the real embedded stack: it covers
 * the whole screen (no console top bar or menu), dark, exactly 1920×1080,
 * Chinese, with the China-time clock, the 7-day trend chart, the flow map and
 * today's anomalies; it refreshes on its own (the page's clock is driven by
 * Playwright, so the test does not wait 30 s); Esc goes back to the console.
 * The screenshot is taken at 1920×1080 and checked to be that size and dark.
 *
 * TRC_KIOSK_SHOT=/path.png keeps the screenshot.
 */
let tmp: string;
let browser: Browser;
let stack: StackHandle;
let front: ConsoleFront | undefined;
let base: string;
let creds: { username: string; password: string };

beforeAll(async () => {
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'trc-kiosk-'));
  const consoleDir = join(tmp, 'console-dist');
  buildConsole(consoleDir);
  const dataDir = join(tmp, 'data');
  stack = await startEmbeddedStack(
    loadStackConfig({ HC_DATA_DIR: dataDir, EDGE_PORT: '0', ADMIN_PORT: '0', SYNC_PORT: '0', EDGE_WORKERS: '1', HC_DEMO_PEOPLE: '200', HC_DEMO_VENUES: '20', ADMIN_LOG_LEVEL: 'warn' }),
    { log: () => undefined, adminLogStream: { write: () => true } },
  );
  const admin = new URL(`http://127.0.0.1:${stack.adminPort}`);
  // the load balancer's part: /console/ from the build, the rest to admin-api
  front = await startConsoleFront(consoleDir, admin.origin);
  base = front.origin;
  creds = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as { username: string; password: string };
  const login = (await (await fetch(`${admin.origin}/admin/v1/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(creds),
  })).json()) as { token: string };
  const v = await fetch(`${admin.origin}/admin/v1/venues`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${login.token}` },
    body: JSON.stringify({ name: '春熙路太古里', region: '510104' }),
  });
  expect(v.status).toBe(201);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await front?.close();
  await stack?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// Browser globals used inside page.evaluate callbacks (this project compiles without the DOM lib).
declare const document: { elementFromPoint(x: number, y: number): { closest(sel: string): unknown } | null; body: unknown };
declare function getComputedStyle(el: unknown): { backgroundColor: string };

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('tracing 大屏 kiosk', () => {
  it('fills a 1920×1080 screen, dark and in Chinese, refreshes itself, Esc leaves', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.clock.install();
    await page.goto(`${base}/console/`);
    await page.fill('input[name=username]', creds.username);
    await page.fill('input[name=password]', creds.password);
    await page.click('form[aria-label="登录"] button[type=submit]');
    await page.waitForSelector('[data-testid=whoami]');

    // the dedicated route: a URL the wall's browser opens directly
    let flowCalls = 0;
    page.on('request', (r) => {
      if (r.url().includes('/admin/v1/tracing/stats/flow')) flowCalls++;
    });
    await page.goto(`${base}/console/#/tracing-big-screen`);
    await page.waitForSelector('[data-testid=trc-big-numbers] >> text=当前红码');
    await page.waitForSelector('[data-testid=trc-kiosk-trend] canvas', { timeout: 30_000 });
    await page.waitForSelector('[data-testid=trc-big-screen] [data-testid=trc-flow-map]');
    await page.waitForSelector('[data-testid=trc-kiosk-updated] >> text=数据更新于');
    const text = (await page.textContent('[data-testid=trc-kiosk]'))!;
    for (const want of ['健康码数据指挥大屏', '登记人员', '当前黄码', '今日回传扫码', '数据流通一张图', '近 7 日红黄码趋势', '今日异常数据', '退出大屏', '北京时间']) expect(text).toContain(want);
    expect(await page.textContent('[data-testid=trc-kiosk-clock]')).toMatch(/^\d{4}年\d{1,2}月\d{1,2}日 星期[日一二三四五六] \d{2}:\d{2}:\d{2}（北京时间）$/);

    // laid out at exactly the screen's size, and nothing of the console shows through
    const box = (await page.locator('[data-testid=trc-big-screen]').boundingBox())!;
    expect([box.x, box.y, Math.round(box.width), Math.round(box.height)]).toEqual([0, 0, 1920, 1080]);
    expect(await page.isVisible('[data-testid=trc-kiosk]')).toBe(true);
    const covered = await page.evaluate(() => [[5, 5], [1915, 5], [5, 1075], [1915, 1075], [960, 540]]
      .every(([x, y]) => document.elementFromPoint(x!, y!)?.closest('[data-testid=trc-kiosk]') != null));
    expect(covered).toBe(true);
    const bg = await page.locator('[data-testid=trc-kiosk]').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(bg).toBe('rgb(11, 18, 32)');

    const shot = await page.screenshot({ fullPage: false, ...(process.env.TRC_KIOSK_SHOT ? { path: process.env.TRC_KIOSK_SHOT } : {}) });
    expect(pngSize(shot)).toEqual({ width: 1920, height: 1080 });

    // auto-refresh: 30 s later (the page's clock, moved by the test) it asks again
    const before = flowCalls;
    expect(before).toBeGreaterThanOrEqual(1);
    const updated = await page.textContent('[data-testid=trc-kiosk-updated]');
    const next = page.waitForRequest((r) => r.url().includes('/admin/v1/tracing/stats/flow'));
    await page.clock.fastForward(31_000);
    await next;
    expect(flowCalls).toBeGreaterThan(before);
    await page.waitForFunction((u) => {
      const el = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('[data-testid=trc-kiosk-updated]');
      return el !== null && el.textContent !== u;
    }, updated);

    // Esc leaves the wall for the console's dashboard
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=trc-kpis]');
    expect(await page.isVisible('[data-testid=trc-kiosk]')).toBe(false);
    expect(await page.isVisible('[data-testid=whoami]')).toBe(true);
    await page.close();
    expect(problems).toEqual([]);
  });
});
