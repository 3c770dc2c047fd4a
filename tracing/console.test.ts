import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../bench/chromium.js';
import { loadStackConfig } from '../stack-config.js';
import { startEmbeddedStack, type StackHandle } from '../stack.js';
import { buildConsole, startConsoleFront, type ConsoleFront } from '../test/console-front.js';

/**
 * The tracing console pages in headless Chromium against the real embedded
 * stack (the tracing capability plugged in through capabilities.ts): the
 * dashboard draws its charts and the data-flow map from real counts, a
 * misspelt venue name is found and run as a task, a bad search shows the
 * Chinese error, the person and group pages answer. No console errors
 * other than the two refusals the test provokes.
 *
 * TRC_CONSOLE_SHOTS=/dir keeps screenshots of the pages.
 */
let tmp: string;
let browser: Browser;
let stack: StackHandle;
let front: ConsoleFront | undefined;
let base: string;
let creds: { username: string; password: string };

beforeAll(async () => {
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'trc-console-'));
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

describe('tracing console pages', () => {
  it('dashboard, 精准找人, 个人溯源 and 风险人群 work in the browser', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const shot = async (name: string) => {
      if (process.env.TRC_CONSOLE_SHOTS) await page.screenshot({ path: join(process.env.TRC_CONSOLE_SHOTS, `${name}.png`), fullPage: true });
    };
    await page.goto(`${base}/console/`);
    await page.fill('input[name=username]', creds.username);
    await page.fill('input[name=password]', creds.password);
    await page.click('form[aria-label="登录"] button[type=submit]');
    await page.waitForSelector('[data-testid=whoami]');

    await page.click('[data-page=tracing-dashboard]');
    await page.waitForSelector('[data-testid=trc-chart-trend] canvas', { timeout: 30_000 });
    await page.waitForSelector('[data-testid=trc-chart-cities] canvas');
    const map = await page.textContent('[data-testid=trc-flow-map]');
    expect(map).toContain('省级主库');
    expect(map).toContain('演示数据'); // the demo's facts, by their source
    expect(await page.textContent('[data-testid=trc-kpis]')).toMatch(/人员 200 人/);
    expect(await page.textContent('[data-testid=trc-batches]')).toContain('演示数据');
    // 全文检索 on the lineage section
    await page.fill('[data-testid=trc-full-search] input', '太古里');
    await page.click('[data-testid=trc-full-search] button[type=submit]');
    await page.waitForSelector('[data-testid=trc-full-search] >> text=春熙路太古里');
    expect(await page.textContent('[data-testid=trc-full-search]')).toContain('场所');
    await page.fill('[data-testid=trc-full-search] input', '   ');
    await page.click('[data-testid=trc-full-search] button[type=submit]');
    await page.waitForSelector('[data-testid=trc-full-search] >> text=请输入要检索的内容');
    await shot('dashboard');

    await page.click('[data-page=tracing-tasks]');
    await page.fill('input[name=venueSearch]', '太古理'); // misspelt
    await page.waitForSelector('[data-testid=trc-venue-hits] >> text=春熙路太古里');
    await page.click('[data-testid=trc-venue-hits] button');
    await page.fill('input[name=taskName]', '测试任务');
    await page.click('text=开始查找');
    await page.waitForSelector('text=任务已完成');
    expect(await page.textContent('[data-testid=trc-tasks]')).toContain('测试任务');
    await shot('tasks');
    await page.fill('input[name=venueSearch]', '😀');
    await page.waitForSelector('text=请输入场所名称'); // TRC_ERR_QUERY_EMPTY's Chinese text, not the code

    await page.click('[data-page=tracing-person]');
    await page.fill('input[name=traceIdNo]', '51010419850612106X');
    await page.click('form[aria-label="个人溯源查询"] button[type=submit]');
    await page.waitForSelector('text=查无此人');
    await page.click('[data-page=tracing-groups]');
    await page.waitForSelector('text=还没有风险人群');
    await shot('groups');
    // 大屏 last: it covers the whole window. Laid out at 1920×1080, scaled to fit.
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.click('[data-page=tracing-big-screen]');
    await page.waitForSelector('[data-testid=trc-big-numbers] >> text=当前红码');
    await page.waitForSelector('[data-testid=trc-big-screen] [data-testid=trc-flow-map]');
    expect(await page.textContent('[data-testid=trc-big-anomalies]')).toContain('今日异常数据');
    const boxB = (await page.locator('[data-testid=trc-big-screen]').boundingBox())!;
    expect(boxB.width).toBeLessThanOrEqual(1920);
    expect(boxB.height).toBeLessThanOrEqual(1080);
    await shot('big-screen');
    await page.close();
    // the emoji search and the empty 全文检索 (400) and the unknown person (404) are the only failed requests
    expect(problems.filter((p) => !/status of (400|404)/.test(p))).toEqual([]);
    expect(problems.length).toBeLessThanOrEqual(3);
  });
});
