import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBrowserStack, type BrowserStack } from '../admin-api/browser-stack.common.js';

/**
 * The 赋码核查 console page in headless Chromium against the real embedded
 * stack (with the exchange plugged in through capabilities.ts): create a
 * rule, run a task, read the problems first, drill down to the persons,
 * download the PDF report — no console errors, no raw codes on screen.
 */
let s: BrowserStack;

// Real browser against the real stack on a shared machine: generous waits (no timing is asserted).
vi.setConfig({ testTimeout: 180_000 });

beforeAll(async () => {
  s = await startBrowserStack({ people: 50, venues: 5 });
  // a positive result that was stored but never evaluated: the task must report it
  await s.stack.master!.db.query(
    "INSERT INTO facts (person_id, kind, at, source, result) VALUES (1, 'nucleic_acid', now() - interval '1 hour', 'import:nat-result', 'positive')",
  );
}, 240_000);

afterAll(async () => {
  await s?.close();
});

async function login(page: Page): Promise<void> {
  await page.goto(`${s.adminOrigin}/console/`);
  await page.fill('input[name=username]', s.creds.username);
  await page.fill('input[name=password]', s.creds.password);
  await page.click('form[aria-label="登录"] button[type=submit]');
}

describe('赋码核查 page', () => {
  it('creates a rule, runs it, shows the problems first with drill-down and downloads the PDF', async () => {
    const ctx = await s.browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await s.newPage(ctx);
    await login(page);
    await page.click('a[data-page=exchange-verify]');
    const form = page.locator('form[aria-label="新建核查规则"]');
    await form.locator('input').first().fill('浏览器核查规则');
    // also what the embedded edge and the snapshot follower actually serve, and every morning at 08:00
    await form.locator('label:has-text("比对边缘节点实际数据") input[type=checkbox]').check();
    await form.locator('select[aria-label="定时执行"]').selectOption('daily');
    await form.locator('input[aria-label="每天执行时间"]').fill('08:00');
    await form.locator('button[type=submit]').click();
    const row = page.locator('tr[data-rule]', { hasText: '浏览器核查规则' });
    await row.waitFor();
    const ruleText = (await row.textContent()) ?? '';
    expect(ruleText).toContain('最近 1 天');
    expect(ruleText).toContain('边缘节点实际数据');
    expect(ruleText).toMatch(/每天 08:00，下次 \d{4}-\d{2}-\d{2} 08:00/);
    await row.locator('button:has-text("执行核查")').click();
    await page.waitForSelector('[data-status=done]', { timeout: 120_000 });
    const problems = (await page.textContent('[data-testid=verify-problems]')) ?? '';
    expect(problems).toMatch(/应赋码未赋码：\d+ 人/);
    // the edge replicas sync wrote serve the master's codes: nothing reported there
    expect(problems).not.toMatch(/边缘节点/);
    const basis = (await page.textContent('[data-testid=verify-basis]')) ?? '';
    expect(basis).toMatch(/依据现行赋码规则版本 \S+ 判定/);
    expect(basis).toMatch(/比对边缘节点副本：edge（开始时已应用至序号 \d+）、snapshot-follower（开始时已应用至序号 \d+）/);
    const rows = page.locator('[data-testid=verify-rows] tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(1);
    expect(await rows.first().textContent()).toMatch(/居民身份证/);
    // HC_VERIFY_SHOT=/path.png keeps a screenshot of the report for a person to look at
    if (process.env.HC_VERIFY_SHOT) await page.screenshot({ path: process.env.HC_VERIFY_SHOT, fullPage: true });
    const main = (await page.textContent('main')) ?? '';
    expect(main).not.toMatch(/expected_not_assigned|assigned_without_basis|assigned_not_distributed|edge_not_applied|EXC_ERR/);

    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("导出报告（PDF）")')]);
    const pdf = readFileSync((await dl.path())!);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.toString('latin1')).toMatch(/\/BaseFont \/[A-Z]{6}\+WenQuanYi/);

    // the rule's schedule changed in the console (PUT): every 6 hours from now
    await row.locator('button:has-text("修改")').click();
    await page.waitForSelector('text=修改核查规则：浏览器核查规则');
    await form.locator('select[aria-label="定时执行"]').selectOption('every');
    await form.locator('input[aria-label="间隔小时"]').fill('6');
    await form.locator('button[type=submit]').click();
    await page.waitForSelector('text=核查规则“浏览器核查规则”已修改');
    expect(await row.textContent()).toMatch(/每 6 小时，下次 \d{4}-\d{2}-\d{2}/);
    expect(page.problems).toEqual([]);
    await ctx.close();
  });
});
