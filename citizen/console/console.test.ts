import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, startAdmin, type Account, type Fixture } from '../../admin-api/admin-fixture.common.js';
import { launchChromium } from '../../bench/chromium.js';
import { CITIZEN, type CitizenInstance } from '../capability.js';
import { seedKnowledgeBase } from '../kb-seed.js';
import { buildConsole, startConsoleFront, type ConsoleFront } from '../../test/console-front.js';

/**
 * The console pages 申诉工单, 知识库, 采样登记 in headless Chromium against
 * the real admin-api with the citizen capability (the console built by Vite
 * into this test's folder and served by admin-api/console-static.ts through
 * a small front, as test/console.test.ts does): a city officer works an order
 * from the list to 办结 and sees the statistics chart, a hotline seat searches
 * the knowledge base, an operator scans a sampling QR. Every page is watched
 * for console errors (CSP violations included).
 */
let tmp: string;
let browser: Browser;
let f: Fixture;
let front: ConsoleFront | undefined;
let base: string;
let citizenToken: string;

beforeAll(async () => {
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'cit-console-'));
  const dir = join(tmp, 'console-dist');
  buildConsole(dir);
  f = await startAdmin({ capabilities: [CITIZEN] });
  front = await startConsoleFront(dir, f.base);
  base = front.origin;
  citizenToken = (await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } })).body.token;
  await seedKnowledgeBase((f.instances.citizen as unknown as CitizenInstance).kb);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await f?.close();
  await front?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function loginPage(account: Account): Promise<{ page: Page; problems: string[]; close: () => Promise<void> }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(`${base}/console/`);
  await page.fill('input[name=username]', account);
  await page.fill('input[name=password]', f.passwords[account]);
  await page.click('form[aria-label="登录"] button[type=submit]');
  await page.waitForSelector('[data-testid=whoami]');
  return { page, problems, close: () => ctx.close() };
}

describe('citizen console pages in Chromium', () => {
  it('申诉工单: the city officer opens the order, sees the history, replies and closes it; statistics with a chart', async () => {
    const filed = await f.call('POST', '/citizen/v1/appeals', {
      headers: { authorization: `Bearer ${citizenToken}` }, body: { type: 'code_wrong', text: '我没有去过风险地区，为什么是黄码？' },
    });
    expect(filed.status).toBe(200);
    const { page, problems, close } = await loginPage('city_officer');
    try {
      await page.click('[data-page=appeals]');
      await page.waitForSelector('table >> text=健康码颜色有误');
      await page.click('button:has-text("办理")');
      await page.waitForSelector('[data-testid=appeal-text]');
      expect(await page.textContent('[data-testid=appeal-text]')).toBe('我没有去过风险地区，为什么是黄码？');
      expect(await page.textContent('main')).toContain('赋码记录');
      await page.click('button:has-text("受理")');
      await page.waitForSelector('text=已受理');
      await page.fill('textarea >> nth=0', '经核实您的健康码为绿码，请刷新页面查看。');
      await page.click('button:has-text("答复")');
      await page.waitForSelector('text=已答复，群众可在页面查看');
      await page.click('button:has-text("办结")');
      await page.waitForSelector('.msg-ok >> text=已办结');
      const mine = await f.call('GET', `/citizen/v1/appeals/${filed.body.id}`, { headers: { authorization: `Bearer ${citizenToken}` } });
      expect(mine.body).toMatchObject({ status: 'closed', reply: '经核实您的健康码为绿码，请刷新页面查看。' });
      await page.waitForSelector('svg.cit-chart rect:not([height="0"])');
      expect(await page.textContent('main')).toContain('工单统计');
      // HC_CITIZEN_SCREENSHOT=/path.png keeps a picture of the page for a human to look at
      if (process.env.HC_CITIZEN_SCREENSHOT) await page.screenshot({ path: process.env.HC_CITIZEN_SCREENSHOT, fullPage: true });
      const audit = await f.audit.list({ limit: 30, order: 'desc' });
      expect(audit.some((e) => e.action === 'appeal.view' && e.actor === 'city_officer')).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('知识库: a hotline seat searches (pinyin initials too) and reads an article; no edit controls without kb.write', async () => {
    const { page, problems, close } = await loginPage('hotline');
    try {
      await page.click('[data-page=kb]');
      await page.fill('input[placeholder^="例如"]', '健康码变黄');
      await page.waitForSelector('ol li button:has-text("为什么我的健康码变黄了")');
      await page.fill('input[placeholder^="例如"]', 'xck');
      await page.waitForSelector('ol li button:has-text("行程卡怎么查询")');
      await page.click('ol li button:has-text("行程卡怎么查询")');
      await page.waitForSelector('article >> text=短信验证码');
      expect(await page.locator('button:has-text("保存草稿")').count()).toBe(0);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('采样登记: an operator scans a traveller\'s QR; a forged one is refused in Chinese', async () => {
    const reg = await f.call('POST', '/citizen/v1/sampling', { headers: { authorization: `Bearer ${citizenToken}` }, body: {} });
    const { page, problems, close } = await loginPage('operator');
    try {
      await page.click('[data-page=sampling]');
      await page.fill('input[placeholder^="例如"]', '锦江区 3 号采样点');
      await page.fill('form[aria-label="采样点扫码"] input >> nth=0', 'CS1:FORGED');
      await page.click('button:has-text("确认采样")');
      await page.waitForSelector('.msg-error >> text=采样码无效或已过期');
      await page.fill('form[aria-label="采样点扫码"] input >> nth=0', reg.body.qr);
      await page.click('button:has-text("确认采样")');
      await page.waitForSelector('.msg-ok');
      expect(await page.textContent('.msg-ok')).toMatch(/^登记 \d+（张\*丰）已采样，等待结果/);
      await page.waitForSelector('table >> text=锦江区 3 号采样点');
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });
});
