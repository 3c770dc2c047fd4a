import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserStack, type BrowserStack } from './browser-stack.common.js';

/**
 * Issue 15 in headless Chromium against the real embedded stack on
 * non-default ports: the citizen page logs in through the configured admin
 * port and lists the demo identities; the console speaks Chinese only.
 */
let s: BrowserStack;

beforeAll(async () => {
  s = await startBrowserStack();
}, 240_000);

afterAll(async () => {
  await s?.close();
});

async function consoleLogin(page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${s.adminOrigin}/console/`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form[aria-label="登录"] button[type=submit]');
}

describe('citizen page', () => {
  it('logs in through the admin port the stack configured and offers the demo identities', async () => {
    const ctx = await s.browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await s.newPage(ctx);
    await page.goto(`${s.edgeOrigin}/app/`);
    await page.waitForSelector('#login:not([hidden])');
    expect(await page.getAttribute('meta[name="hc-session-url"]', 'content')).toBe(`:${new URL(s.adminOrigin).port}/v1/session`);
    await page.waitForSelector('#demo:not([hidden]) li button');
    const people = await page.$$eval('#demo li button', (bs) => bs.map((b) => b.textContent ?? ''));
    expect(people.length).toBeGreaterThanOrEqual(1);
    expect(people.some((t) => t.includes('绿码'))).toBe(true);
    await page.click('#demo li button');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#card:not([hidden])', { timeout: 30_000 });
    await page.waitForFunction("document.body.dataset.state === 'live'", undefined, { timeout: 30_000 });
    expect(await page.textContent('#color-label')).toContain('码');
    expect(page.problems).toEqual([]);
    await ctx.close();
  });
});

describe('console errors in Chinese', () => {
  it('a wrong password reads in Chinese, no code, no English', async () => {
    const ctx = await s.browser.newContext();
    const page = await s.newPage(ctx);
    await consoleLogin(page, s.creds.username, 'wrong-password-x');
    const text = (await page.textContent('[role=alert]', { timeout: 15_000 })) ?? '';
    expect(text).toContain('用户名或密码错误');
    expect(text).not.toMatch(/[A-Za-z]{3,}/);
    await ctx.close();
  });
});
