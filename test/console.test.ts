import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, shot, watchPage, type WatchedPage } from './browser-fixture.js';
import { buildConsole, startConsoleFront, type ConsoleFront } from './console-front.js';
import { residentIdCheckChar } from '../core/identity.js';
import { loadStackConfig } from '../stack-config.js';
import { startEmbeddedStack, type StackHandle } from '../stack.js';

/**
 * The back-office web console (issue 5 item 8) in headless Chromium against
 * the real embedded stack (stack.ts: PGlite master, admin-api, sync, one
 * edge): log in with the generated admin credentials, query a person, change
 * the code to red through the UI, see red on the edge's GET /v1/code (sync is
 * asynchronous: polled), verify the audit chain through the UI; then the
 * rules editor's dry run with its chart, risk areas, venues with a QR
 * download, role-based navigation, logout on 401 and on inactivity.
 *
 * A missing Chromium FAILS this file (bench/chromium.ts says how to install
 * it); it never skips. Every page load is watched for console errors, page
 * errors and CSP violations.
 *
 * Set HC_CONSOLE_SCREENSHOT=/path.png to keep a screenshot of the code page.
 */

let consoleDir: string;

// Browser globals used inside page.evaluate callbacks (this project compiles without the DOM lib).
declare const sessionStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void };
declare const document: { querySelector(sel: string): unknown };

const PERSON_ID = ((f17: string) => f17 + residentIdCheckChar(f17))('51010419910315123');
const PERSON_NAME = '赵六一';

let tmp: string;
let browser: Browser;
let stack: StackHandle;
let front: ConsoleFront | null = null;
let base: string; // origin the browser loads the console and API from
let adminOrigin: string;
let edgeOrigin: string;
let creds: { username: string; password: string };
let sessionToken: string;

/** Problems a page reported: console errors (CSP violations are console errors), uncaught exceptions (test/browser-fixture.ts). */
const watched = new WeakMap<Page, WatchedPage>();

async function newPage(ctx: BrowserContext): Promise<Page> {
  const w = await watchPage(ctx);
  watched.set(w.page, w);
  return w.page;
}

/** Problems except the expected 401 of a test that provokes one. */
function problemsOf(page: Page, allow: RegExp | null = null): string[] {
  return watched.get(page)?.problemsExcept(allow) ?? [];
}

async function login(page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form[aria-label="登录"] button[type=submit]');
  await page.waitForSelector('[data-testid=whoami]');
}

async function edgeCode(token: string): Promise<{ status: number; body: { color?: string; reason?: string; error?: string } }> {
  const r = await fetch(`${edgeOrigin}/v1/code`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: (await r.json()) as { color?: string; reason?: string; error?: string } };
}

/** Polls the edge until `want` holds (sync is asynchronous), up to `ms`. */
async function pollEdge(token: string, want: (b: { status: number; body: { color?: string } }) => boolean, ms = 15_000) {
  const until = Date.now() + ms;
  let last = await edgeCode(token);
  while (!want(last) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    last = await edgeCode(token);
  }
  return last;
}

beforeAll(async () => {
  // Launch first: a missing Chromium fails here with the install hint.
  browser = await launchChromium();

  // What `npm run build:console` does, into this test's own folder (never dist/: other test
  // files may be serving it), served through HC_CONSOLE_DIR (admin-api/console-static.ts).
  tmp = mkdtempSync(join(tmpdir(), 'hc-console-'));
  consoleDir = join(tmp, 'console-dist');
  buildConsole(consoleDir);
  process.env.HC_CONSOLE_DIR = consoleDir;

  const dataDir = join(tmp, 'data');
  const config = loadStackConfig({
    HC_DATA_DIR: dataDir,
    EDGE_PORT: '0',
    ADMIN_PORT: '0',
    SYNC_PORT: '0',
    EDGE_WORKERS: '1',
    HC_DEMO_PEOPLE: '200',
    HC_DEMO_VENUES: '20',
    ADMIN_LOG_LEVEL: 'warn',
  });
  const log: string[] = [];
  stack = await startEmbeddedStack(config, { log: (l) => log.push(l), adminLogStream: { write: () => true } });
  adminOrigin = `http://127.0.0.1:${stack.adminPort}`;
  edgeOrigin = `http://127.0.0.1:${stack.edgePort}`;

  const probe = await fetch(`${adminOrigin}/console/`);
  if (probe.status === 200 && (probe.headers.get('content-type') ?? '').startsWith('text/html')) {
    base = adminOrigin;
  } else {
    // stack.ts does not mount the console on admin-api: the load balancer's part (test/console-front.ts)
    front = await startConsoleFront(consoleDir, adminOrigin);
    base = front.origin;
  }

  const credFile = join(dataDir, 'admin-credentials.json');
  expect(statSync(credFile).mode & 0o777).toBe(0o600);
  creds = JSON.parse(readFileSync(credFile, 'utf8')) as { username: string; password: string };

  // A citizen logs in for the first time (领码): registered green, reaches the edge through sync.
  const s = await fetch(`${adminOrigin}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ idType: 'resident', idNo: PERSON_ID, name: PERSON_NAME }),
  });
  expect(s.status).toBe(200);
  sessionToken = ((await s.json()) as { token: string }).token;
  const first = await pollEdge(sessionToken, (r) => r.status === 200);
  expect(first.status, JSON.stringify(first.body)).toBe(200);
  expect(first.body.color).toBe('green');
}, 180_000);

afterAll(async () => {
  delete process.env.HC_CONSOLE_DIR;
  await browser?.close();
  await front?.close();
  await stack?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('web console', () => {
  it('is built lean: the charting library loads only with the rules page', () => {
    const html = readFileSync(join(consoleDir, 'index.html'), 'utf8');
    const files = readdirSync(join(consoleDir, 'assets'));
    const entry = /assets\/(index-[^"]+\.js)/.exec(html)?.[1];
    expect(entry).toBeDefined();
    const chart = files.find((f) => /^change-chart-.+\.js$/.test(f));
    expect(chart, 'echarts is split into its own chunk').toBeDefined();
    expect(html).not.toContain(chart!);
    const entryBytes = statSync(join(consoleDir, 'assets', entry!)).size;
    const entryBr = statSync(join(consoleDir, 'assets', `${entry!}.br`)).size;
    // React 19 production + the pages: ~275 kB raw, ~75 kB brotli when measured; a development
    // React build or a stray import of server code would blow through these budgets
    expect(entryBytes).toBeLessThan(350_000);
    expect(entryBr).toBeLessThan(100_000);
    // a warning only React's development build carries
    expect(readFileSync(join(consoleDir, 'assets', entry!), 'utf8')).not.toContain('Each child in a list should have a unique');
  });

  it('logs in, changes a code to red with a reason, the edge shows red, the audit chain verifies', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await newPage(ctx);
    try {
      await login(page, creds.username, creds.password);
      expect(await page.textContent('[data-testid=whoami]')).toBe(creds.username);

      // 赋码查询: by certificate; the screen masks the identity
      await page.click('a[data-page=codes]');
      await page.selectOption('select[name=mode]', 'cert');
      await page.fill('input[name=idNo]', PERSON_ID);
      await page.click('form[aria-label="赋码查询"] button[type=submit]');
      await page.waitForSelector('[data-testid=code-result] [data-color=green]');
      const person = await page.textContent('[data-testid=person]');
      expect(person).toContain('赵*一');
      expect(person).toContain(`${PERSON_ID.slice(0, 4)}**********${PERSON_ID.slice(14)}`);
      expect(person).not.toContain(PERSON_ID);

      // 转码 → confirmation dialog → red
      await page.check('input[name=color][value=red]');
      await page.fill('input[name=reason]', 'manual_review');
      await page.click('form[aria-label="转码"] button[type=submit]');
      await page.waitForSelector('[role=dialog]');
      expect(await page.textContent('[role=dialog]')).toContain('人工复核');
      await page.click('[data-testid=confirm]');
      await page.waitForSelector('[data-testid=code-result] [data-color=red]');
      await page.waitForSelector('[data-testid=override]');
      expect(await page.textContent('[data-testid=history]')).toContain('人工复核');
      await shot(page, { path: process.env.HC_CONSOLE_SCREENSHOT });

      // the citizen's code on the edge turns red (the delta travels master → bus → edge replica)
      const red = await pollEdge(sessionToken, (r) => r.status === 200 && r.body.color === 'red');
      expect(red.status).toBe(200);
      expect(red.body.color).toBe('red');
      expect(red.body.reason).toBe('manual_review');

      // 审计日志: the transcode is in the log, the chain verifies
      await page.click('a[data-page=audit]');
      await page.waitForSelector('[data-testid=audit-table] tr[data-action="codes.transcode"]');
      const row = await page.textContent('[data-testid=audit-table] tr[data-action="codes.transcode"]');
      expect(row).toContain(creds.username);
      expect(row).not.toContain(PERSON_ID);
      await page.click('[data-testid=verify]');
      const verdict = page.locator('[data-testid=verify-result]');
      await verdict.waitFor();
      expect(await verdict.getAttribute('data-ok')).toBe('true');
      expect(await verdict.textContent()).toContain('校验通过');
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('rules: live validation by path, upload, dry run drawn as a chart, publish staged for a future start', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await newPage(ctx);
    try {
      await login(page, creds.username, creds.password);
      await page.click('a[data-page=rules]');
      await page.waitForSelector('[data-testid=rule-versions] .tag-ok');
      // the structured editor first: a parameter by its Chinese name, written through to the rule set
      await page.waitForSelector('[data-testid=rule-form] input[name=param-closeContactDays]');
      expect(await page.textContent('[data-testid=rule-form]')).toContain('密切接触者管控天数');
      expect(await page.textContent('[data-testid=rule-form]')).toContain('最近一次密接的时间');
      await page.fill('[data-testid=rule-form] input[name=param-closeContactDays]', '10');
      await page.click('[data-testid=rule-view-toggle]'); // JSON view, the option
      const editor = page.locator('textarea.code-editor');
      await page.waitForFunction(() => (document.querySelector('textarea.code-editor') as { value: string } | null)?.value.includes('"closeContactDays": 10'));
      const ruleSet = JSON.parse(await editor.inputValue()) as { version: string; rules: { when: unknown; color: string }[] };

      // a bad colour: reported at its path and line before anything is sent
      const bad = structuredClone(ruleSet);
      bad.rules[1]!.color = 'purple';
      await editor.fill(JSON.stringify(bad, null, 2));
      const problem = page.locator('[data-testid=rule-problem]');
      await problem.waitFor();
      expect(await problem.textContent()).toContain('rules[1].color');
      expect(await problem.textContent()).toMatch(/第 \d+ 行/);
      expect(await page.isDisabled('[data-testid=upload]')).toBe(true);

      // broken JSON: the place is found without JSON.parse's help
      await editor.fill('{\n  "version": "x",\n  "params": {,\n}');
      expect(await problem.textContent()).toContain('第 3 行');

      // a version that turns everyone red by rule: the dry run has something to draw (nothing is published)
      const everyoneRed = structuredClone(ruleSet);
      everyoneRed.version = 'console-test.1';
      everyoneRed.rules[0]!.when = true;
      await editor.fill(JSON.stringify(everyoneRed, null, 2));
      await page.click('[data-testid=upload]');
      await page.waitForSelector('text=已上传规则版本 console-test.1');
      await page.click('[data-testid=rule-versions] tr:has-text("console-test.1") button:has-text("试算")');
      await page.waitForSelector('[data-testid=change-chart] canvas');
      const summary = await page.textContent('[data-testid=dry-summary]');
      const changed = Number(/其中 (\d+) 人/.exec(summary ?? '')?.[1]);
      expect(changed).toBeGreaterThan(100);

      // publish it staged a day ahead (edges hold it until then; nothing changes now)
      await page.click('[data-testid=rule-versions] tr:has-text("console-test.1") button:has-text("发布")');
      await page.waitForSelector('[role=dialog]');
      const d = new Date(Date.now() + 86_400_000);
      const p2 = (n: number) => String(n).padStart(2, '0');
      await page.fill('[role=dialog] input[name=activeFrom]', `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}`);
      await page.click('[data-testid=confirm]');
      await page.waitForSelector('text=规则版本 console-test.1 已发布，将于');
      await page.waitForSelector('[data-testid=rule-versions] tr:has-text("console-test.1") .tag-warn');
      expect(await page.textContent('[data-testid=rule-versions] tr:has-text("2026.1")')).toContain('生效中');
      expect((await edgeCode(sessionToken)).body.color).toBe('red'); // still the manual change, not the staged rule
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('risk areas: import shows the diff, publish puts them in force', async () => {
    const ctx = await browser.newContext();
    const page = await newPage(ctx);
    try {
      await login(page, creds.username, creds.password);
      await page.click('a[data-page=risk]');
      // the region picker by name (四川省 → 成都市 → 双流区 → first township), level, start date: no codes, no Unix seconds
      const picker = page.locator('[data-name=risk-region]');
      await picker.locator('select').nth(0).selectOption('5101');
      await picker.locator('select').nth(1).selectOption('510116');
      await picker.locator('select').nth(2).selectOption('510116001');
      await page.selectOption('select[name=risk-level]', 'medium');
      await page.click('[data-testid=risk-add]');
      await page.waitForSelector('[data-testid=risk-draft] >> text=双流区');
      await page.click('button:has-text("预览差异")');
      await page.waitForSelector('[data-testid=risk-diff] tr.row-add');
      expect(await page.textContent('[data-testid=risk-diff] tr.row-add')).toContain('四川省成都市双流区');
      await page.click('[data-testid=risk-publish]');
      await page.click('[data-testid=confirm]');
      await page.waitForSelector('[data-testid=risk-current] >> text=双流区');
      expect(await page.textContent('[data-testid=risk-current]')).not.toContain('510116001');
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('venues: create an entry venue with hours, find it by part of its name, download its QR as PNG and SVG', async () => {
    const ctx = await browser.newContext({ acceptDownloads: true });
    const page = await newPage(ctx);
    try {
      await login(page, creds.username, creds.password);
      await page.click('a[data-page=venues]');
      await page.fill('input[name=venueName]', '控制台测试入川卡口');
      const picker = page.locator('[data-name=region]');
      await picker.locator('select').nth(0).selectOption('51');
      await picker.locator('select').nth(1).selectOption('5101');
      await picker.locator('select').nth(2).selectOption('510116');
      await page.selectOption('select[name=kind]', 'entry');
      await page.fill('input[name=entryTestHours]', '48');
      await page.click('form[aria-label="新建场所"] button[type=submit]');
      await page.waitForSelector('text=已创建场所');
      await page.fill('input[name=q]', '测试入川');
      const row = page.locator('[data-testid=venue-results] tr:has-text("控制台测试入川卡口")');
      await row.waitFor();
      expect(await row.textContent()).toContain('48 小时内检测');

      const [png] = await Promise.all([page.waitForEvent('download'), row.locator('button:has-text("PNG")').click()]);
      expect(png.suggestedFilename()).toMatch(/\.png$/);
      const pngBytes = readFileSync((await png.path())!);
      expect(pngBytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');

      const [svg] = await Promise.all([page.waitForEvent('download'), row.locator('button:has-text("SVG")').click()]);
      expect(readFileSync((await svg.path())!, 'utf8')).toContain('<svg');

      expect(await row.textContent()).toContain('四川省成都市双流区');
      await row.locator('button:has-text("预览")').click();
      await page.waitForSelector('[data-testid=qr-img]');
      // the preview opens right under the row that was clicked, not below the whole list
      expect(await page.evaluate(() => (document.querySelector('tr.qr-row') as { previousElementSibling: { textContent: string } } | null)?.previousElementSibling.textContent ?? '')).toContain('控制台测试入川卡口');
      const [poster] = await Promise.all([page.waitForEvent('download'), row.locator('button:has-text("海报")').click()]);
      expect(readFileSync((await poster.path())!).subarray(0, 5).toString()).toBe('%PDF-');
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('shows an auditor only the audit log', async () => {
    const adminToken = ((await (
      await fetch(`${adminOrigin}/admin/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(creds),
      })
    ).json()) as { token: string }).token;
    const made = await fetch(`${adminOrigin}/admin/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ username: 'console-auditor', role: 'auditor' }),
    });
    expect(made.status).toBe(201);
    const { password } = (await made.json()) as { password: string };

    const ctx = await browser.newContext();
    const page = await newPage(ctx);
    try {
      await login(page, 'console-auditor', password);
      const nav = await page.locator('nav a').allTextContents();
      // the auditor reads the audit log (and the capabilities' pages its role grants, e.g. 日志审计, 告警), never the code pages
      expect(nav[0]).toBe('首页');
      expect(nav).toContain('审计日志');
      for (const hidden of ['赋码查询与转码', '规则', '风险区域', '场所码', '账号与角色', '批量转码与审批']) expect(nav).not.toContain(hidden);
      // the landing page: no code counts for an auditor, the latest audit entries instead
      await page.waitForSelector('[data-testid=recent-audit]');
      expect(await page.locator('[data-testid=color-counts]').count()).toBe(0);
      await page.click('a[data-page=audit]');
      await page.waitForSelector('[data-testid=audit-table]');
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('ends the session on a 401 from the server and says why', async () => {
    const ctx = await browser.newContext();
    const page = await newPage(ctx);
    try {
      await login(page, creds.username, creds.password);
      // the server forgets the token (as after a restart or an idle timeout there)
      await page.evaluate(() => {
        const s = JSON.parse(sessionStorage.getItem('hc-console-session') ?? '{}') as { token: string };
        s.token = 'A'.repeat(43);
        sessionStorage.setItem('hc-console-session', JSON.stringify(s));
      });
      await page.reload();
      // the landing page's first call (GET /admin/v1/overview) meets the 401
      await page.waitForSelector('[data-testid=session-notice]');
      expect(await page.textContent('[data-testid=session-notice]')).toContain('登录已失效');
      expect(await page.isVisible('input[name=password]')).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('hc-console-session'))).toBeNull();
      expect(problemsOf(page, /status of 401/)).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('logs out after the idle timeout without activity', async () => {
    const ctx = await browser.newContext();
    const page = await newPage(ctx);
    try {
      await page.clock.install();
      await login(page, creds.username, creds.password);
      // admin-api's ADMIN_IDLE_TIMEOUT_SEC default is 15 minutes; the login answer carries it
      await page.clock.fastForward('14:00');
      expect(await page.isVisible('[data-testid=whoami]')).toBe(true);
      await page.clock.fastForward('01:10');
      await page.waitForSelector('[data-testid=session-notice]');
      expect(await page.textContent('[data-testid=session-notice]')).toContain('15 分钟未操作');
      expect(await page.evaluate(() => sessionStorage.getItem('hc-console-session'))).toBeNull();
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
