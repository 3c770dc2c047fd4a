import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConsole } from '../admin-api/console-static.js';
import { launchChromium } from '../bench/chromium.js';
import { loadStackConfig } from '../stack-config.js';
import { startEmbeddedStack, type StackHandle } from '../stack.js';

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
const ROOT = fileURLToPath(new URL('..', import.meta.url));
let tmp: string;
let browser: Browser;
let stack: StackHandle;
let front: { server: http.Server; app: FastifyInstance };
let base: string;
let creds: { username: string; password: string };

beforeAll(async () => {
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'trc-console-'));
  const consoleDir = join(tmp, 'console-dist');
  const vite = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'admin-api/console/vite.config.ts', '--outDir', consoleDir, '--emptyOutDir'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } },
  );
  if (vite.status !== 0) throw new Error(`console build failed:\n${vite.stdout}${vite.stderr}`);
  const dataDir = join(tmp, 'data');
  stack = await startEmbeddedStack(
    loadStackConfig({ HC_DATA_DIR: dataDir, EDGE_PORT: '0', ADMIN_PORT: '0', SYNC_PORT: '0', EDGE_WORKERS: '1', HC_DEMO_PEOPLE: '200', HC_DEMO_VENUES: '20', ADMIN_LOG_LEVEL: 'warn' }),
    { log: () => undefined, adminLogStream: { write: () => true } },
  );
  const admin = new URL(`http://127.0.0.1:${stack.adminPort}`);
  // the load balancer's part: /console/ from the build, the rest to admin-api
  const app = Fastify({ logger: false });
  registerConsole(app, consoleDir);
  await app.ready();
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/console' || url.startsWith('/console/')) {
      void app.inject({ method: req.method as 'GET', url, headers: req.headers })
        .then((r) => {
          res.writeHead(r.statusCode, r.headers as http.OutgoingHttpHeaders);
          res.end(r.rawPayload);
        })
        .catch(() => res.writeHead(502).end());
      return;
    }
    const up = http.request({ host: admin.hostname, port: admin.port, method: req.method, path: url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  front = { server, app };
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
  if (front) {
    await new Promise((r) => front.server.close(r));
    await front.app.close();
  }
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
    await page.close();
    // the emoji search (400) and the unknown person (404) are the only refusals
    expect(problems.filter((p) => !/status of (400|404)/.test(p))).toEqual([]);
    expect(problems.length).toBeLessThanOrEqual(2);
  });
});
