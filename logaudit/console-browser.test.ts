import { createSocket } from 'node:dgram';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserStack, type BrowserStack } from '../admin-api/browser-stack.common.js';
import { LogAuditService } from './service.js';

/**
 * The 日志审计 console pages in headless Chromium against the real embedded
 * stack with the log audit intake on (LOGAUDIT_UDP): a brute force sent over
 * UDP is found on 日志检索, 设备与采集器 shows the device, the intake counters
 * and the scheduled daily report written for the day, 解析与规则目录 lists
 * what is shipped. Every page load is watched for console and page errors.
 */
let s: BrowserStack;
let svc: LogAuditService;

beforeAll(async () => {
  s = await startBrowserStack({ people: 50, venues: 5, env: { LOGAUDIT_UDP: '127.0.0.1:0' } });
  const inst = s.stack.master!.capabilities.find((c) => (c as { service?: unknown }).service instanceof LogAuditService) as unknown as { service: LogAuditService };
  svc = inst.service;
}, 240_000);

afterAll(async () => {
  await s?.close();
});

async function login(page: Page): Promise<void> {
  await page.goto(`${s.adminOrigin}/console/`);
  await page.fill('input[name=username]', s.creds.username);
  await page.fill('input[name=password]', s.creds.password);
  await page.click('form[aria-label="登录"] button[type=submit]');
  await page.waitForSelector('[data-testid=whoami]');
}

describe('日志审计 console pages', () => {
  it('search finds a brute force sent over UDP; devices, intake, daily reports and the catalogue show', async () => {
    const lines = Array.from({ length: 8 }, (_, i) => `<38>1 - web-77 sshd ${200 + i} - - Failed password for root from 203.0.113.77 port ${5000 + i} ssh2`);
    const sock = createSocket('udp4');
    await new Promise<void>((res) => {
      let left = lines.length;
      for (const l of lines) sock.send(Buffer.from(l), svc.ports.udp[0]!, '127.0.0.1', () => { if (--left === 0) { sock.close(); res(); } });
    });
    const until = Date.now() + 20_000;
    while (svc.engine!.counters.stored < 8 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await svc.engine!.idle();
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    expect(await svc.reports!.runDue(Date.parse(`${today}T01:05:00+08:00`) + 86_400_000)).toBe(today);

    const ctx = await s.browser.newContext();
    const page = await s.newPage(ctx);
    try {
      await login(page);
      const nav = await page.locator('nav a').allTextContents();
      for (const t of ['日志检索', '设备与采集器', '解析与规则目录']) expect(nav).toContain(t);

      await page.click('a[data-page=logaudit-search]');
      await page.fill('[data-testid=la-q]', 'source.ip:203.0.113.77 event.action:ssh-login-failed');
      await page.click('form button[type=submit]:has-text("检索")');
      await page.waitForSelector('td:has-text("SSH 登录失败")');
      expect(await page.locator('tbody tr:has-text("203.0.113.77")').count()).toBe(8);
      expect(await page.locator('tbody tr').first().textContent()).toContain('web-77');

      await page.click('a[data-page=logaudit-assets]');
      await page.waitForSelector('h2:has-text("定时日报")');
      await page.waitForSelector(`td:has-text("${today}")`);
      expect(await page.textContent('body')).toContain('每天北京时间 01:00 自动生成前一日的 Excel 与 PDF 日报');
      expect(await page.locator(`tr:has-text("${today}") button:has-text("下载")`).count()).toBe(2);
      await page.waitForSelector('td:has-text("入库")');
      await page.waitForSelector('td.mono:has-text("127.0.0.1")');

      await page.click('a[data-page=logaudit-catalog]');
      await page.waitForSelector('text=关联分析规则');
      await page.waitForSelector('td:has-text("SSH 暴力破解")');
      expect(page.problems).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
