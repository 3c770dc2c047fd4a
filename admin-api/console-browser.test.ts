import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { shot as keepShot } from '../test/browser-fixture.js';
import { startBrowserStack, type BrowserStack } from './browser-stack.common.js';

/**
 * Issue 15 in headless Chromium against the real embedded stack on
 * non-default ports: the citizen page logs in through the configured admin
 * port and lists the demo identities; the console speaks Chinese only.
 */
let s: BrowserStack;

// Real browser against the real stack on a machine other test files load too: generous waits (no timing is asserted).
vi.setConfig({ testTimeout: 180_000 });

/** HC_C15_SHOTS=<dir>: keep screenshots of the screens the flows pass through (for a person to look at). */
async function shot(page: Page, name: string): Promise<void> {
  await keepShot(page, name, process.env.HC_C15_SHOTS);
}

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
    await shot(page, 'citizen-login-phone');
    const people = await page.$$eval('#demo li button', (bs) => bs.map((b) => b.textContent ?? ''));
    expect(people.length).toBeGreaterThanOrEqual(1);
    expect(people.some((t) => t.includes('绿码'))).toBe(true);
    // a wrong check digit: the admin API's Chinese text, the field named
    await page.fill('#login input[name=idNo]', '510104199001011231');
    await page.fill('#login input[name=name]', '张三');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#login-err:has-text("证件号码")');
    expect(await page.textContent('#login-err')).toMatch(/^证件号码：居民身份证号码/);
    await page.click('#demo li button');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#card:not([hidden])', { timeout: 30_000 });
    await page.waitForSelector('body[data-state=live]', { timeout: 30_000 }).catch(async (e: unknown) => {
      throw new Error(`state ${await page.getAttribute('body', 'data-state')}: ${await page.textContent('main')} ${page.problems.join(' | ')} (${String(e)})`);
    });
    expect(await page.textContent('#color-label')).toContain('码');
    await shot(page, 'citizen-code-phone');
    expect(page.problems.filter((p) => !/status of 400/.test(p))).toEqual([]); // the refused login above
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
    await shot(page, 'console-login-error');
    await ctx.close();
  });
});

/** Logs in through the API (fast) and puts the session where the console keeps it. */
async function apiLogin(username: string, password: string): Promise<string> {
  const r = await fetch(`${s.adminOrigin}/admin/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  expect(r.status).toBe(200);
  return ((await r.json()) as { token: string }).token;
}

async function adminCall(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${s.adminOrigin}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
}

describe('console screens for what the API does', () => {
  it('首页 shows codes by colour; 账号与角色 creates an account with a one-time password, changes its region, resets it', async () => {
    const ctx = await s.browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await s.newPage(ctx);
    await consoleLogin(page, s.creds.username, s.creds.password);
    await page.waitForSelector('[data-testid=color-counts] [data-color=green]');
    expect(Number((await page.textContent('[data-testid=color-counts] [data-color=green] .n'))!.replace(/,/g, ''))).toBeGreaterThan(0);

    await shot(page, 'console-home');
    await page.click('a[data-page=users]');
    await page.fill('input[name=new-username]', 'chengdu-officer');
    await page.selectOption('select[name=new-role]', 'city_officer');
    const picker = page.locator('[data-name=new-region]');
    await picker.locator('select').nth(0).selectOption('51');
    await picker.locator('select').nth(1).selectOption('5101');
    await page.click('form[aria-label="新建账号"] button[type=submit]');
    const secret = page.locator('[data-testid=one-time-password] code');
    await secret.waitFor();
    const password = (await secret.textContent())!;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const row = page.locator('[data-testid=users] tr[data-user="chengdu-officer"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('市级专员');
    expect(await row.textContent()).toContain('四川省成都市');
    await shot(page, 'console-users');
    // the new account works with that password
    await apiLogin('chengdu-officer', password);

    // reset its password: confirmed, a new one shown once
    await row.locator('button:has-text("重置密码")').click();
    await page.click('[data-testid=confirm]');
    await page.waitForFunction((old) => {
      const c = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('[data-testid=one-time-password] code');
      return c !== null && c.textContent !== old;
    }, password);
    expect(page.problems).toEqual([]);
    await ctx.close();
  });

  it('批量转码 needs a second officer: the requester cannot approve, another one can', async () => {
    const admin = await apiLogin(s.creds.username, s.creds.password);
    const made = await adminCall(admin, 'POST', '/admin/v1/users', { username: 'second-approver', role: 'operator' });
    expect(made.status).toBe(201);
    const { demoResidentId } = await import('../demo-data.js');
    const ids = [demoResidentId(10), demoResidentId(11)];

    const ctx = await s.browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await s.newPage(ctx);
    await consoleLogin(page, s.creds.username, s.creds.password);
    await page.click('a[data-page=bulk]');
    await page.fill('textarea[name=bulk-items]', ids.join('\n'));
    await page.check('input[name=bulk-color][value=yellow]');
    await page.selectOption('select[name=bulk-reason-pick]', 'close_contact');
    await page.click('form[aria-label="批量转码"] button[type=submit]');
    await page.waitForSelector('text=须由另一名工作人员审批后生效');
    const mine = page.locator('[data-testid=bulk-list] tr[data-bulk]');
    await mine.first().waitFor();
    expect(await mine.first().textContent()).toContain('须他人审批');
    expect(await mine.first().textContent()).toContain('密切接触者');
    await ctx.close();

    const ctx2 = await s.browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page2 = await s.newPage(ctx2);
    await consoleLogin(page2, 'second-approver', made.body.password as string);
    await page2.click('a[data-page=bulk]');
    await page2.click('[data-testid=bulk-list] [data-testid=approve]');
    await page2.click('[data-testid=confirm]');
    await page2.waitForSelector('text=已批准：2 人已转码');
    expect(page2.problems).toEqual([]);
    await ctx2.close();
  });

  it('解除人工转码 from the code page hands the code back to the rules', async () => {
    const { demoResidentId } = await import('../demo-data.js');
    const ctx = await s.browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await s.newPage(ctx);
    await consoleLogin(page, s.creds.username, s.creds.password);
    await page.click('a[data-page=codes]');
    await page.fill('input[name=idNo]', demoResidentId(10)); // turned yellow by the approved bulk change above
    await page.click('form[aria-label="赋码查询"] button[type=submit]');
    await page.waitForSelector('[data-testid=override]');
    expect(await page.textContent('[data-testid=override]')).toContain('密切接触者');
    await page.click('[data-testid=clear-override]');
    await page.click('[data-testid=confirm]');
    await page.waitForSelector('text=已解除人工转码');
    await page.waitForSelector('[data-testid=override]', { state: 'detached' });
    expect(page.problems).toEqual([]);
    await ctx.close();
  });

  it('imports venues from an Excel file, pages through them, exports the list and the audit log as XLSX', async () => {
    const ExcelJS = (await import('exceljs')).default;
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('场所');
    ws.addRow(['场所名称', '地区', '类型', '检测时限（小时）']);
    for (let i = 0; i < 60; i++) ws.addRow([`浏览器导入场所${String(i).padStart(2, '0')}`, '四川省成都市锦江区', i === 0 ? '入川卡口' : '普通场所', i === 0 ? 12 : null]);
    const file = Buffer.from(await wb.xlsx.writeBuffer());

    const ctx = await s.browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
    const page = await s.newPage(ctx);
    await consoleLogin(page, s.creds.username, s.creds.password);
    await page.click('a[data-page=venues]');
    await page.setInputFiles('input[name=venue-file]', { name: '场所.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: file });
    await page.waitForSelector('[data-testid=venue-parsed]');
    expect(await page.textContent('[data-testid=venue-parsed]')).toContain('可导入 60 行');
    await shot(page, 'console-venue-import');
    await page.click('[data-testid=venue-import]');
    await page.waitForSelector('text=已导入 60 个场所');

    await page.fill('input[name=q]', '浏览器导入');
    await page.waitForSelector('[data-testid=venue-total] >> text=共 60 个场所');
    // the region names arrive with a lazily loaded chunk and widen the columns: click once the rows are laid out
    await page.waitForSelector('[data-testid=venue-results] tr[data-venue] td span:text-is("四川省成都市锦江区")');
    await page.locator('[data-testid=venue-results] tr[data-venue] button:has-text("预览")').first().click();
    await page.waitForSelector('[data-testid=qr-img], [data-testid=qr-row] [role=alert]').catch(async (e: unknown) => {
      throw new Error(`no QR preview: ${(await page.innerHTML('[data-testid=venue-results]')).slice(0, 1500)} | ${page.problems.join(' | ')} (${String(e)})`);
    });
    // a refusal shows in the preview row: say which, rather than a bare timeout
    expect(await page.locator('[data-testid=qr-row] [role=alert]').count(), (await page.textContent('[data-testid=qr-row]')) ?? '').toBe(0);
    await shot(page, 'console-venues-preview');
    await page.click('[data-testid=next-page]');
    await page.waitForSelector('[data-testid=venue-total] >> text=第 2 / 2 页');
    await expect.poll(() => page.locator('[data-testid=venue-results] tr[data-venue]').count(), { timeout: 15_000 }).toBe(10);

    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-xlsx]')]);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile((await xlsx.path())!);
    const sheet = book.worksheets[0]!;
    expect(sheet.rowCount).toBe(61);
    expect(String(sheet.getRow(2).getCell(3).value)).toBe('四川省成都市锦江区');

    await page.click('a[data-page=audit]');
    await page.selectOption('select[name=action]', 'venues.import');
    await page.click('form[aria-label="筛选"] button[type=submit]');
    await page.waitForSelector('[data-testid=audit-table] tr[data-action="venues.import"]');
    expect(await page.locator('[data-testid=audit-table] tbody tr').count()).toBe(await page.locator('[data-testid=audit-table] tr[data-action="venues.import"]').count());
    const [audit] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=audit-export]')]);
    const ab = new ExcelJS.Workbook();
    await ab.xlsx.readFile((await audit.path())!);
    const as = ab.worksheets[0]!;
    expect(String(as.getRow(1).getCell(2).value)).toBe('时间（北京时间）');
    expect(String(as.getRow(2).getCell(5).value)).toBe('导入场所');
    expect(page.problems).toEqual([]);
    await ctx.close();
  });

  it('the docs page renders both API documents', async () => {
    const ctx = await s.browser.newContext();
    const page = await s.newPage(ctx);
    await page.goto(`${s.adminOrigin}/admin/docs/`);
    await page.waitForSelector('h2 >> text=赋码');
    expect(await page.textContent('#doc')).toContain('/admin/v1/codes/transcode');
    await shot(page, 'docs-admin');
    await page.click('a[data-doc=edge]');
    await page.waitForSelector('.path:text-is("/v1/verify")');
    expect(page.problems).toEqual([]);
    await ctx.close();
  });
});

describe('citizen card: 核酸 and 疫苗 (issue 15 item 8)', () => {
  /** a department file through the real import (exchange capability), waited until applied */
  async function importCsv(token: string, dataset: string, text: string): Promise<void> {
    const form = new FormData();
    form.append('dataset', dataset);
    form.append('department', '浏览器测试');
    form.append('file', new Blob([Buffer.from(text)]), `${dataset}.csv`);
    const r = await fetch(`${s.adminOrigin}/admin/v1/imports`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    expect(r.status).toBe(202);
    const id = ((await r.json()) as { id: string }).id;
    await expect.poll(async () => (await adminCall(token, 'GET', `/admin/v1/imports/${id}`)).body.status, { timeout: 60_000, interval: 300 }).toBe('done');
  }
  const china = (ms: number): string => new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

  it('shows the latest nucleic-acid result and the doses after login, keeps them offline, shows nothing when unknown', async () => {
    const { demoName, demoResidentId } = await import('../demo-data.js');
    const admin = await apiLogin(s.creds.username, s.creds.password);
    const id = demoResidentId(30);
    const name = demoName(30);
    const sampled = Math.floor((Date.now() - 20 * 3600_000) / 60_000) * 60_000;
    await importCsv(admin, 'nat-result', `idType,idNo,name,phone,sampledAt,result,lab\r\nresident,${id},${name},,${china(sampled - 48 * 3600_000)},阴性,成都检测所\r\nresident,${id},${name},,${china(sampled)},阴性,成都检测所\r\n`);
    const doses = ['第一剂', '第二剂', '加强针'].map((d, i) => `居民身份证,${id},${name},,${china(Date.now() - (300 - 100 * i) * 86_400_000)},${d},新冠病毒灭活疫苗,锦江区社区卫生服务中心`);
    await importCsv(admin, 'vaccination', ['证件类型,证件号码,姓名,手机号,接种时间,剂次,疫苗名称,接种单位', ...doses].join('\r\n') + '\r\n');
    const c = new Date(sampled + 8 * 3600_000);
    const want = `核酸检测：阴性 · ${c.getUTCMonth() + 1}月${c.getUTCDate()}日 ${String(c.getUTCHours()).padStart(2, '0')}:${String(c.getUTCMinutes()).padStart(2, '0')} 采样`;

    const ctx = await s.browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await s.newPage(ctx);
    await page.goto(`${s.edgeOrigin}/app/`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#login input[name=idNo]', id);
    await page.fill('#login input[name=name]', name);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('body[data-state=live]', { timeout: 30_000 });
    await page.waitForSelector('#nat:not([hidden])');
    expect(await page.textContent('#nat')).toBe(want);
    expect(await page.textContent('#vax')).toBe('疫苗接种：已完成 3 剂');
    await shot(page, 'citizen-card-nat-vaccination');

    // offline: the page from the service worker, the card and both lines from the kept copies
    await page.evaluate(async () => {
      const sw = (globalThis as unknown as { navigator: { serviceWorker: { ready: Promise<unknown>; controller: unknown; addEventListener(t: string, f: () => void, o: object): void } } }).navigator.serviceWorker;
      await sw.ready;
      if (!sw.controller) await new Promise<void>((ok) => sw.addEventListener('controllerchange', ok, { once: true }));
    });
    await ctx.setOffline(true);
    await page.reload();
    await page.waitForSelector('body[data-state=offline]', { timeout: 30_000 });
    expect(await page.textContent('#nat')).toBe(want);
    expect(await page.textContent('#vax')).toBe('疫苗接种：已完成 3 剂');
    await ctx.setOffline(false);

    // another person with nothing on record: neither line, and not the previous person's
    await page.click('#logout-btn');
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#login input[name=idNo]', demoResidentId(31));
    await page.fill('#login input[name=name]', demoName(31));
    const asked = page.waitForResponse((r) => r.url().endsWith('/citizen/v1/health-status') && r.request().method() === 'GET');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('body[data-state=live]', { timeout: 30_000 });
    expect((await asked).status()).toBe(200);
    expect(await page.isHidden('#nat')).toBe(true);
    expect(await page.isHidden('#vax')).toBe(true);
    expect(await page.textContent('#card')).not.toContain('核酸检测：');
    expect(page.problems.filter((p) => !/ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(p))).toEqual([]);
    await ctx.close();
  });
});

describe('venue 停用 and 恢复启用 (issue 15 item 4)', () => {
  it('disables from the list: flagged, no place code offered, scans refused at the edge in Chinese; enabled again, scans work', async () => {
    const admin = await apiLogin(s.creds.username, s.creds.password);
    const list = await adminCall(admin, 'GET', '/admin/v1/venues?limit=5');
    const venue = (list.body.venues as { id: string; name: string; disabledAt: number | null }[]).find((v) => v.disabledAt === null)!;
    const { demoName, demoResidentId } = await import('../demo-data.js');
    const login = await fetch(`${s.adminOrigin}/v1/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ idType: 'resident', idNo: demoResidentId(32), name: demoName(32) }),
    });
    const session = ((await login.json()) as { token: string }).token;
    const scan = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
      const r = await fetch(`${s.edgeOrigin}/v1/scan`, { method: 'POST', headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json' }, body: JSON.stringify({ venue: venue.id }) });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    await expect.poll(async () => (await scan()).status, { timeout: 60_000, interval: 300 }).toBe(200); // registered person on the edge

    const ctx = await s.browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await s.newPage(ctx);
    await consoleLogin(page, s.creds.username, s.creds.password);
    await page.click('a[data-page=venues]');
    await page.fill('input[name=q]', venue.name);
    const row = page.locator(`[data-testid=venue-results] tr[data-venue="${venue.id}"]`);
    await row.locator('button:has-text("停用")').click();
    await page.click('[data-testid=confirm]');
    await row.locator('[data-testid=venue-disabled]').waitFor();
    expect(await row.textContent()).toContain('已停用');
    expect(await row.locator('button:has-text("海报")').count()).toBe(0);
    expect(await row.locator('button:has-text("PNG")').count()).toBe(0);
    await shot(page, 'console-venue-disabled');

    await expect.poll(async () => (await scan()).status, { timeout: 60_000, interval: 300 }).toBe(404);
    expect((await scan()).body).toMatchObject({ error: 'EDGE_ERR_VENUE_UNKNOWN', zh: expect.stringContaining('场所码无效') });

    await row.locator('[data-testid=venue-enable]').click();
    await row.locator('[data-testid=venue-disabled]').waitFor({ state: 'detached' });
    await row.locator('button:has-text("海报")').waitFor();
    await expect.poll(async () => (await scan()).status, { timeout: 60_000, interval: 300 }).toBe(200);
    expect(page.problems).toEqual([]);
    await ctx.close();
  });
});

describe('导出 Excel from every console table (issue 15)', () => {
  it('downloads each table from its screen and reads it back: the Chinese headers of export-columns.ts, the rows on screen', async () => {
    const ExcelJS = (await import('exceljs')).default;
    const { EXPORT_TABLES } = await import('./console/src/export-columns.js');
    const { demoResidentId } = await import('../demo-data.js');
    const ctx = await s.browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
    const page = await s.newPage(ctx);
    await consoleLogin(page, s.creds.username, s.creds.password);
    await page.waitForSelector('[data-testid=color-counts]');
    const screens: { page: string; table: keyof typeof EXPORT_TABLES; ready: () => Promise<void> }[] = [
      { page: 'users', table: 'users', ready: async () => void (await page.waitForSelector('[data-testid=users] tr[data-user]')) },
      { page: 'rules', table: 'rules', ready: async () => void (await page.waitForSelector('[data-testid=export-xlsx]')) },
      { page: 'risk', table: 'risk', ready: async () => void (await page.waitForSelector('[data-testid=export-xlsx]')) },
      {
        page: 'codes', table: 'history',
        ready: async () => {
          await page.fill('input[name=idNo]', demoResidentId(1));
          await page.click('form[aria-label="赋码查询"] button[type=submit]');
          await page.waitForSelector('[data-testid=export-xlsx]');
        },
      },
      { page: 'venues', table: 'venues', ready: async () => void (await page.waitForSelector('[data-testid=venue-results] tr[data-venue]')) },
    ];
    for (const sc of screens) {
      await page.click(`a[data-page=${sc.page}]`);
      await sc.ready();
      const button = page.locator('[data-testid=export-xlsx]');
      expect(await button.count()).toBe(1);
      const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
      expect(download.suggestedFilename()).toMatch(new RegExp(`^${EXPORT_TABLES[sc.table].title}-\\d{4}-\\d{2}-\\d{2}\\.xlsx$`));
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile((await download.path())!);
      const ws = wb.worksheets[0]!;
      expect(ws.name).toBe(EXPORT_TABLES[sc.table].title);
      const header = EXPORT_TABLES[sc.table].columns.map((_, i) => ws.getRow(1).getCell(i + 1).value);
      expect(header, sc.page).toEqual([...EXPORT_TABLES[sc.table].columns]);
      expect(ws.rowCount, sc.page).toBeGreaterThan(1);
    }
    expect(page.problems).toEqual([]);
    await ctx.close();
  });
});

describe('登记改名 by an official (issue 15 item 7)', () => {
  it('renames from the code page; the edge shows the new masked name; a login with the old name is refused', async () => {
    const { demoName, demoResidentId } = await import('../demo-data.js');
    const { maskName } = await import('../core/identity.js');
    const id = demoResidentId(33);
    const session = async (name: string): Promise<{ status: number; token?: string }> => {
      const r = await fetch(`${s.adminOrigin}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ idType: 'resident', idNo: id, name }) });
      return { status: r.status, ...((await r.json()) as { token?: string }) };
    };
    const first = await session(demoName(33));
    expect(first.status).toBe(200);
    const NEW = '司马新名';

    const ctx = await s.browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await s.newPage(ctx);
    await consoleLogin(page, s.creds.username, s.creds.password);
    await page.click('a[data-page=codes]');
    await page.fill('input[name=idNo]', id);
    await page.click('form[aria-label="赋码查询"] button[type=submit]');
    await page.waitForSelector('form[aria-label="登记改名"]');
    await page.fill('input[name=new-name]', NEW);
    await page.fill('input[name=rename-basis]', '户籍变更证明 2026-123');
    await page.click('form[aria-label="登记改名"] button[type=submit]');
    await page.waitForSelector(`text=已登记改名，显示姓名为 ${maskName(NEW)}`);
    await page.waitForSelector(`[data-testid=person]:has-text("${maskName(NEW)}")`);
    await shot(page, 'console-rename');
    expect(page.problems).toEqual([]);
    await ctx.close();

    // the edge: the new masked name arrives with the code delta
    await expect.poll(async () => {
      const r = await fetch(`${s.edgeOrigin}/v1/code`, { headers: { authorization: `Bearer ${first.token}` } });
      return r.status === 200 ? ((await r.json()) as { name: string }).name : r.status;
    }, { timeout: 60_000, interval: 300 }).toBe(maskName(NEW));
    expect((await session(demoName(33))).status).toBe(401);
    expect((await session(NEW)).status).toBe(200);
  });
});
