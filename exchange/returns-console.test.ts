import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rid, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { launchChromium } from '../bench/chromium.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { chinaTime, csv, NAT_HEADER, residentId, upload } from './test-helpers.common.js';
import { buildConsole, startConsoleFront, type ConsoleFront } from '../test/console-front.js';

/**
 * The 数据返还 and 数据上报 console pages in headless Chromium against a
 * real back office (PGlite master, the exchange capability): a city officer
 * sees only its own region's to-do, the overdue return in red, downloads it
 * (recorded) and acknowledges it; the provincial admin edits a masking
 * policy; the uploads page lists the departments. The console is built with
 * Vite into a temporary folder and served by a small front (as the load
 * balancer does in production) that passes the API through.
 */
vi.setConfig({ testTimeout: 180_000 });

let f: Fixture;
let inst: ExchangeInstance;
let browser: Browser;
let tmp: string;
let front: ConsoleFront | undefined;
let base: string;

beforeAll(async () => {
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'hc-xret-'));
  const consoleDir = join(tmp, 'console');
  buildConsole(consoleDir);
  f = await startAdmin({ capabilities: [exchangeCapability], capabilityEnv: { exchange: { EXCHANGE_RETURN_POLL_MS: '0', EXCHANGE_INTAKE_POLL_MS: '0', EXCHANGE_FORWARD_POLL_MS: '0' } }, startCapabilities: true });
  inst = f.instances.exchange as unknown as ExchangeInstance;

  // the load balancer's part: /console/ from the build, the rest to admin-api
  front = await startConsoleFront(consoleDir, f.base);
  base = front.origin;

  // two cities, one batch concerning both; Chengdu's return is overdue
  expect((await f.call('PUT', '/admin/v1/exchange/return-recipients/cd', { token: f.tokens.admin, body: { name: '成都市卫生健康委员会', region: '5101' } })).status).toBe(200);
  expect((await f.call('PUT', '/admin/v1/exchange/return-recipients/lz', { token: f.tokens.admin, body: { name: '泸州市卫生健康委员会', region: '5105' } })).status).toBe(200);
  const at = chinaTime(f.clock.ms - 3600_000);
  const r = await upload(f, f.tokens.operator, { name: 'n.csv', data: csv([NAT_HEADER, `resident,${residentId(51)},欧阳娜娜,13900000051,${at},阴性,所`, `resident,${rid('51050219900101151')},李四,,${at},阴性,所`]) }, { dataset: 'nat-result', department: '省核酸检测平台' });
  expect(r.status).toBe(202);
  await inst.jobs.idle();
  expect(await inst.returns.produce()).toHaveLength(2);
  await f.db.query("UPDATE exchange_return_items SET due_at = $1 WHERE recipient_id = 'cd'", [new Date(f.clock.ms - 60_000)]);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await front?.close();
  await f?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function newPage(): Promise<Page & { problems: string[] }> {
  const ctx = await browser.newContext({ acceptDownloads: true });
  const page = (await ctx.newPage()) as Page & { problems: string[] };
  page.setDefaultTimeout(60_000);
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  return page;
}

async function login(page: Page, account: 'admin' | 'city_officer'): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.fill('input[name=username]', account);
  await page.fill('input[name=password]', f.passwords[account]);
  await page.click('form[aria-label="登录"] button[type=submit]');
  await page.waitForSelector('[data-testid=whoami]');
}

describe('数据返还 console', () => {
  it('a city officer sees its own overdue return, downloads it (recorded) and acknowledges it', async () => {
    const page = await newPage();
    await login(page, 'city_officer');
    await page.click('a[data-page=exchange-returns]');
    await page.waitForSelector('[data-testid=return-todo] tr[data-return]');
    const rows = await page.$$eval('[data-testid=return-todo] tr[data-return]', (trs) => trs.map((t) => t.textContent ?? ''));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('成都市卫生健康委员会');
    expect(rows[0]).toContain('逾期');
    expect(await page.textContent('body')).not.toContain('泸州市卫生健康委员会');
    expect(await page.$('[data-testid=return-todo] [data-overdue="1"]')).not.toBeNull();

    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=return-todo] button:has-text("下载 CSV")')]);
    expect(dl.suggestedFilename()).toMatch(/\.csv$/);
    const items = (await f.call('GET', '/admin/v1/exchange/return-items?recipient=cd', { token: f.tokens.admin })).body.items;
    expect(items[0]).toMatchObject({ downloads: 1, state: 'taken' });

    await page.click('[data-testid=return-todo] button:has-text("签收")');
    await page.waitForSelector('text=已签收：成都市卫生健康委员会');
    await page.waitForSelector('text=没有待签收的返还数据');
    expect((await f.call('GET', `/admin/v1/exchange/return-items/${items[0].id}`, { token: f.tokens.admin })).body).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'city_officer' });
    expect(page.problems).toEqual([]);
    await page.context().close();
  });

  it('the admin saves a new version of a masking policy; 数据上报 lists the departments', async () => {
    const page = await newPage();
    await login(page, 'admin');
    await page.click('a[data-page=exchange-returns]');
    await page.click('tr:has-text("泸州市卫生健康委员会") button:has-text("查看策略")');
    await page.waitForSelector('form[aria-label="脱敏策略"] select[name=phone]');
    expect(await page.inputValue('form[aria-label="脱敏策略"] select[name=phone]')).toBe('mask');
    await page.selectOption('form[aria-label="脱敏策略"] select[name=phone]', 'hash');
    await page.click('form[aria-label="脱敏策略"] button[type=submit]');
    await page.waitForSelector('text=已保存脱敏策略第 1 版');
    const p = await f.call('GET', '/admin/v1/exchange/return-recipients/lz/policy', { token: f.tokens.admin });
    expect(p.body.current).toMatchObject({ version: 1, policy: { phone: 'hash', idNo: 'mask' } });

    await page.click('a[data-page=exchange-uploads]');
    await page.waitForSelector('td:has-text("省核酸检测平台")');
    expect(page.problems).toEqual([]);
    await page.context().close();
  });
});
