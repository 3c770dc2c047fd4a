import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jsQRImport from 'jsqr';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, startAdmin, type Fixture } from '../../admin-api/admin-fixture.common.js';
import { launchChromium } from '../../bench/chromium.js';
import { PiiCrypto } from '../../master/pii-crypto.js';
import { CITIZEN, type CitizenInstance } from '../capability.js';
import { seedKnowledgeBase } from '../kb-seed.js';
import { verifySamplingQr } from '../sampling-qr.js';

/**
 * The citizen page's 便民服务 dialog (citizen/app/services.js) in headless
 * Chromium against the real admin-api with the citizen capability, cross
 * origin with CORS like the page on the edge, under a CSP as strict as the
 * page's (no inline style, network only to the two origins): an appeal with
 * script refused then filed, help listed, searched and shown offline from the
 * kept copy, the travel card after the (development-marked) SMS code with the
 * risk city starred, and the sampling QR drawn and decoded back to a QR that
 * verifies with the published key.
 */
const jsQR = jsQRImport.default;

// Browser globals used inside page.evaluate callbacks (this project compiles without the DOM lib).
interface Canvas {
  width: number;
  height: number;
  dataset: Record<string, string>;
  getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { width: number; height: number; data: Uint8ClampedArray } };
}
declare const document: { querySelector(sel: string): (Canvas & { textContent: string | null }) | null };
declare const window: { openSvc(o: Record<string, unknown>): void };

let f: Fixture;
let browser: Browser;
let harness: http.Server;
let origin = '';
let session = '';
const PHONE = '13922223333';
const ROOT = new URL('../../', import.meta.url);

function html(): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>便民服务</title></head>
<body><dialog id="svc"></dialog><script type="module" src="/harness.js"></script></body></html>`;
}

const HARNESS_JS = `import { open } from '/services.js';
import { drawQr, encodeQr } from '/qr.js';
const when = (s) => new Date(s * 1000).toISOString();
window.openSvc = (o) => open(Object.assign({ dialog: document.getElementById('svc'), when, drawQr, encodeQr }, o));`;

beforeAll(async () => {
  browser = await launchChromium();
  harness = http.createServer((req, res) => {
    const files: Record<string, [string, string]> = {
      '/': ['text/html; charset=utf-8', html()],
      '/harness.js': ['text/javascript', HARNESS_JS],
      '/services.js': ['text/javascript', readFileSync(new URL('citizen/app/services.js', ROOT), 'utf8')],
      '/qr.js': ['text/javascript', readFileSync(new URL('edge/app/src/qr.js', ROOT), 'utf8')],
    };
    const hit = files[(req.url ?? '/').split('?')[0]!];
    if (hit === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': hit[0],
      // as strict as the citizen page's CSP (edge/app-assets.ts): no inline style or script, network to the API origin only
      'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'none'; img-src 'self' data:; connect-src 'self' ${f.base}`,
    }).end(hit[1]);
  });
  await new Promise<void>((ok) => harness.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(harness.address() as AddressInfo).port}`;
  f = await startAdmin({ capabilities: [CITIZEN], config: { corsOrigins: [origin] } });
  session = (await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } })).body.token;
  // the embedded demo's help articles (kb-seed.ts): written once, into an empty knowledge base only
  const kb = (f.instances.citizen as unknown as CitizenInstance).kb;
  expect(await seedKnowledgeBase(kb)).toBeGreaterThan(3);
  expect(await seedKnowledgeBase(kb)).toBe(0);
  const hash = new PiiCrypto(f.secrets).lookupHash(`P:${PHONE}`);
  const day = (ago: number): string => new Date(f.clock.ms - ago * 86_400_000 + 8 * 3600_000).toISOString().slice(0, 10);
  await f.db.query("INSERT INTO carrier_stays (phone_hash, carrier, region, day, source) VALUES ($1, 'cucc', '5101', $2::date, 'import:carrier'), ($1, 'cucc', '4201', $3::date, 'import:carrier')",
    [hash, day(0), day(3)]);
  await f.db.query("INSERT INTO risk_areas (region, level, since) VALUES ('420106', 'medium', now())");
});

afterAll(async () => {
  await browser?.close();
  await f?.close();
  await new Promise<void>((ok) => (harness ? harness.close(() => ok()) : ok()));
});

async function page(): Promise<{ ctx: BrowserContext; p: Page; problems: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const p = await ctx.newPage();
  const problems: string[] = [];
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    // refused requests (4xx answers) log "Failed to load resource"; the dialog shows them, they are expected
    if (m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await p.goto(`${origin}/`);
  await p.waitForFunction(() => typeof (window as { openSvc?: unknown }).openSvc === 'function');
  return { ctx, p, problems };
}

async function openTab(p: Page, tab: string): Promise<void> {
  await p.evaluate(([s, b, t]) => window.openSvc({ session: s, apiBase: b, tab: t }), [session, f.base, tab]);
}

describe('便民服务 dialog in Chromium', () => {
  it('我要申诉: script in the text gets the Chinese error; a proper appeal is filed and listed', async () => {
    const { ctx, p, problems } = await page();
    try {
      await openTab(p, 'appeals');
      await p.fill('textarea[name=text]', '<script>alert(1)</script>');
      await p.click('button:has-text("提交申诉")');
      await p.waitForSelector('.result.bad');
      expect(await p.textContent('.result.bad')).toBe('内容中不能包含网页代码或脚本，请只填写文字');
      await p.selectOption('select[name=type]', 'test_result');
      await p.fill('textarea[name=text]', '昨天做的核酸，结果一直没有更新');
      await p.fill('input[name=contact]', '13800001234');
      await p.click('button:has-text("提交申诉")');
      await p.waitForSelector('.result.ok');
      expect(await p.textContent('.result.ok')).toMatch(/^已提交（工单 \d+）/);
      await p.waitForSelector('[data-status=open]');
      expect(await p.textContent('[data-status=open]')).toContain('核酸结果未更新 · 待受理');
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('咨询帮助: lists and searches the published articles, and shows the kept copy offline', async () => {
    const { ctx, p, problems } = await page();
    try {
      await openTab(p, 'help');
      await p.waitForSelector('.svc-title');
      expect(await p.locator('.svc-title').count()).toBeGreaterThan(3);
      expect(await p.locator('.svc-cat').allTextContents()).toEqual(expect.arrayContaining(['赋码规则', '核酸检测', '常见问题']));
      await p.fill('input[type=search]', '健康码变黄');
      await p.waitForFunction(() => document.querySelector('.svc-title')?.textContent?.startsWith('为什么我的健康码变黄了') === true);
      await ctx.setOffline(true);
      await openTab(p, 'help');
      await p.waitForSelector('.result.ok');
      expect(await p.textContent('.result.ok')).toBe('当前离线，显示的是上次获取的内容');
      expect(await p.locator('.svc-title').count()).toBeGreaterThan(3);
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('行程卡: the development code is clearly marked; a wrong code is refused; the card stars the risk city', async () => {
    const { ctx, p, problems } = await page();
    try {
      await openTab(p, 'travel');
      await p.fill('input[placeholder=手机号]', PHONE);
      await p.click('button:has-text("获取验证码")');
      await p.waitForSelector('.svc-dev:not([hidden])');
      const dev = (await p.textContent('.svc-dev'))!;
      expect(dev).toMatch(/^【开发环境，仅供测试】验证码：\d{6}$/);
      const code = dev.slice(-6);
      await p.fill('input[placeholder=短信验证码]', code === '000000' ? '111111' : '000000');
      await p.click('button:has-text("查询行程卡")');
      await p.waitForSelector('.result.bad');
      expect(await p.textContent('.result.bad')).toBe('验证码错误或已过期');
      await p.fill('input[placeholder=短信验证码]', code);
      await p.click('button:has-text("查询行程卡")');
      await p.waitForSelector('[data-risk=medium]');
      if (process.env.HC_CITIZEN_SCREENSHOT) await p.screenshot({ path: process.env.HC_CITIZEN_SCREENSHOT.replace(/\.png$/, '-travel.png') });
      expect(await p.textContent('[data-risk=medium]')).toMatch(/^\* 湖北省武汉市（.*） 中风险$/);
      expect(await p.textContent('h3')).toBe('139****3333 的动态行程卡');
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('采样登记: draws the signed sampling QR, which decodes and verifies with the published key', async () => {
    const { ctx, p, problems } = await page();
    try {
      await openTab(p, 'sampling');
      await p.click('button:has-text("登记并生成采样码")');
      await p.waitForSelector('[data-status=registered]');
      const img = await p.evaluate(() => {
        const c = document.querySelector('canvas.svc-qr')!;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        return { w: d.width, h: d.height, px: Array.from(d.data), qr: c.dataset.qr };
      });
      const text = jsQR(new Uint8ClampedArray(img.px), img.w, img.h)?.data;
      expect(text).toBe(img.qr);
      const keys = (await f.call('GET', '/citizen/v1/sampling/keys')).body.keys;
      expect(verifySamplingQr(text, keys, Math.floor(f.clock.ms / 1000)).registrationId).toBeGreaterThan(0);
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
