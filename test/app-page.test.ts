import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsQRImport from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeySet } from '../core/key-set.js';
import { verifyTf1 } from '../core/token.js';
import { launchChromium, NETWORK_NOISE, openPage, PHONE, type WatchedPage as Watched } from './browser-fixture.js';
import { ENTRY_VENUE, PERSON_NAME, startPageStack, type PageStack } from '../bench/page-stack.js';

/**
 * The citizen page (issue 6) in headless Chromium against the real edge
 * server and a real replica (bench/page-stack.ts): live code with a QR that
 * decodes to a token the node's key verifies, offline reload from the service
 * worker and the cached code, an expired cached token never shown as valid,
 * the 入川即检 notice appearing and clearing, the stale state.
 */

const jsQR = jsQRImport.default;

// Browser globals used inside page.evaluate callbacks (this project compiles without the DOM lib).
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { width: number; height: number; data: Uint8ClampedArray } } | null;
}
declare const document: { getElementById(id: string): ({ textContent: string | null } & Canvas) | null };
declare const localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
declare const navigator: {
  serviceWorker: { ready: Promise<unknown>; controller: unknown; addEventListener(type: string, f: (e: unknown) => void, o?: object): void };
};

let tmp: string;
let stack: PageStack;
let browser: Browser;

beforeAll(async () => {
  // Launch first: a missing Chromium fails here with the install hint.
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'hc-app-page-'));
  const appDir = join(tmp, 'app');
  execFileSync(process.execPath, [new URL('../edge/app/build.mjs', import.meta.url).pathname, appDir, '--quiet'], { stdio: 'inherit' });
  stack = await startPageStack({ appDir, maxLagSec: 30 });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function open(): Promise<Watched> {
  // a CSP violation or a script error is a console error; failed fetches while offline are expected
  return openPage(browser, { viewport: PHONE, ignore: NETWORK_NOISE });
}

async function state(page: Page, want: string): Promise<void> {
  await page.waitForSelector(`body[data-state="${want}"]`, { timeout: 20_000 });
}

/** The colour of the QR's dark modules: the top-left finder pattern's outer ring (module 0,0 after the 4-module quiet zone, scale 8). */
async function qrInk(page: Page): Promise<string> {
  return page.evaluate(() => {
    const d = document.getElementById('qr')!.getContext('2d')!.getImageData(4 * 8 + 2, 4 * 8 + 2, 1, 1).data;
    return '#' + Array.from(d.slice(0, 3), (v) => v.toString(16).padStart(2, '0')).join('');
  });
}

/** Reads the QR canvas back and decodes it with an independent decoder (jsQR). */
async function decodeQr(page: Page): Promise<string | undefined> {
  const img = await page.evaluate(() => {
    const c = document.getElementById('qr')!;
    if (c.width === 0) return null;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
    return { w: d.width, h: d.height, px: Array.from(d.data) };
  });
  if (img === null) return undefined;
  return jsQR(new Uint8ClampedArray(img.px), img.w, img.h)?.data;
}

async function liveCode(): Promise<{ token: string; expiresAt: number; notices: { kind: string }[] }> {
  const r = await fetch(`${stack.edgeOrigin}/v1/code`, { headers: { authorization: `Bearer ${stack.session}` } });
  expect(r.status).toBe(200);
  return (await r.json()) as { token: string; expiresAt: number; notices: { kind: string }[] };
}

/** First visit as a host app opens it, then waits until the service worker controls the page. */
async function firstVisit(w: Watched): Promise<void> {
  await w.page.goto(`${stack.base}/app/#token=${stack.session}`);
  await state(w.page, 'live');
  await w.page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((ok) => navigator.serviceWorker.addEventListener('controllerchange', ok, { once: true }));
    }
  });
}

describe('citizen page in Chromium against the real edge', () => {
  it('shows the live code: colour, masked name, a QR that decodes to a token the node key verifies', async () => {
    const w = await open();
    try {
      await firstVisit(w);
      const { page } = w;
      expect(await page.textContent('#color-label')).toBe('绿码');
      expect(await page.textContent('#name')).toBe(PERSON_NAME);
      expect(await page.textContent('#valid')).toContain('二维码有效至');
      const token = await page.getAttribute('#qr', 'data-token');
      expect(token).toMatch(/^TF1:[0-9A-Z $%*+\-./:]{140}$/);
      expect(await decodeQr(page)).toBe(token);
      // tinted with the code colour (issue 15 item 8), and still decodes (above)
      expect(await qrInk(page)).toBe('#1a7f37');
      // green: no guidance box; no masked ID without a login answer that carried one
      expect(await page.isVisible('#guide')).toBe(false);
      expect(await page.isVisible('#idno')).toBe(false);
      // the same token the edge serves, signed by this node's published key, for this person
      expect((await liveCode()).token).toBe(token);
      const claims = verifyTf1(token!, KeySet.fromPublicJson(stack.publicKeys()), Math.floor(Date.now() / 1000));
      expect(Buffer.from(claims.uid).equals(Buffer.from(stack.uid))).toBe(true);
      expect(claims.color).toBe(0);
      // the session token left the address bar and never went into a request URL
      expect(page.url()).toBe(`${stack.base}/app/`);
      expect(w.urls.some((u) => u.includes(stack.session))).toBe(false);
      expect(await page.evaluate(() => localStorage.getItem('hc.session'))).toBe(stack.session);
      // marks for bench/page.ts
      expect(await page.evaluate(() => performance.getEntriesByName('qr-drawn').length)).toBe(1);

      // the masked ID the development login kept (POST /v1/session's idMasked) shows on the card
      // for the same person only
      const owner = Buffer.from(stack.uid).toString('base64');
      await page.evaluate((o) => localStorage.setItem('hc.id', JSON.stringify({ o, k: 'resident', v: '5101**********106X' })), owner);
      await page.reload();
      await state(page, 'live');
      expect(await page.textContent('#idno')).toBe('身份证 5101**********106X');
      await page.evaluate(() => localStorage.setItem('hc.id', JSON.stringify({ o: 'someone-else', k: 'resident', v: '1101**********0011' })));
      await page.reload();
      await state(page, 'live');
      expect(await page.isVisible('#idno')).toBe(false);
      expect(w.problems).toEqual([]);
    } finally {
      await w.ctx.close();
    }
  });

  it('reloads with no network from the service worker and shows the cached code marked offline', async () => {
    const w = await open();
    try {
      await firstVisit(w);
      const token = await w.page.getAttribute('#qr', 'data-token');
      await w.ctx.setOffline(true);
      await w.page.reload();
      await state(w.page, 'offline');
      expect(await w.page.getAttribute('#qr', 'data-token')).toBe(token);
      expect(await decodeQr(w.page)).toBe(token);
      expect(await w.page.textContent('#color-label')).toBe('绿码');
      const status = await w.page.textContent('#status');
      expect(status).toContain('离线显示');
      expect(status).toMatch(/刚刚|分钟前/);
      // back online: the next refresh is live again
      await w.ctx.setOffline(false);
      await w.page.click('#refresh-btn');
      await state(w.page, 'live');
      expect(w.problems).toEqual([]);
    } finally {
      await w.ctx.close();
    }
  });

  it('keeps the offline copy for a renewed session of the same person, never for another person', async () => {
    const w = await open();
    const { page } = w;
    try {
      await firstVisit(w);
      const token = await page.getAttribute('#qr', 'data-token');
      await w.ctx.setOffline(true);
      // the host app hands over a renewed session (same uid, later expiry) while there is no network
      const renewed = stack.sessionFor(stack.uid, Math.floor(Date.now() / 1000) + 30 * 86_400);
      expect(renewed).not.toBe(stack.session);
      await page.goto(`${stack.base}/app/#token=${renewed}`);
      await state(page, 'offline');
      expect(await page.getAttribute('#qr', 'data-token')).toBe(token);
      expect(page.url()).toBe(`${stack.base}/app/`);
      // another person's session on this phone: nothing of the first person is shown
      const other = stack.sessionFor(new Uint8Array(16).fill(7), Math.floor(Date.now() / 1000) + 86_400);
      await page.goto(`${stack.base}/app/#token=${other}`);
      await state(page, 'error');
      expect(await page.isVisible('#card')).toBe(false);
      expect(await page.getAttribute('#qr', 'data-token')).toBeNull();
      expect(await page.textContent('#msg')).toContain('没有可显示的健康码');
    } finally {
      await w.ctx.close();
    }
  });

  it('never shows an expired cached token as valid', async () => {
    const w = await open();
    try {
      await firstVisit(w);
      const { expiresAt } = await liveCode();
      await w.ctx.setOffline(true);
      // the phone's clock, one minute after the cached token's expiry
      await w.page.clock.install({ time: new Date((expiresAt + 60) * 1000) });
      await w.page.reload();
      await state(w.page, 'expired');
      expect(await w.page.isVisible('#qr')).toBe(false);
      expect(await w.page.getAttribute('#qr', 'data-token')).toBeNull();
      expect(await decodeQr(w.page)).toBeUndefined();
      expect(await w.page.isVisible('#qr-void')).toBe(true);
      expect(await w.page.textContent('#color-label')).toBe('二维码已过期');
      expect(await w.page.textContent('#valid')).toContain('过期');
      // back online with the right time: a fresh token, live again
      await w.ctx.setOffline(false);
      await w.page.clock.setSystemTime(new Date());
      await w.page.click('#refresh-btn');
      await state(w.page, 'live');
      expect(await decodeQr(w.page)).toBe((await liveCode()).token);
    } finally {
      await w.ctx.close();
    }
  });

  it('shows the 入川即检 notice after scanning an entry venue and clears it when a code delta removes it', async () => {
    const w = await open();
    const { page } = w;
    try {
      await firstVisit(w);
      expect(await page.isVisible('#entry')).toBe(false);
      // scan the entry venue's place code (typed: headless Chromium has no camera)
      await page.click('#scan-btn');
      await page.fill('#scan input[name=code]', ENTRY_VENUE.id);
      await page.click('#scan button[type=submit]');
      await page.waitForSelector('#scan .result.ok');
      expect(await page.textContent('#scan .result')).toContain(ENTRY_VENUE.name);
      expect(await page.textContent('#scan .result')).toContain('入川即检');
      await page.click('#scan .close');
      await page.waitForSelector('#entry', { state: 'visible' });
      expect(await page.textContent('#entry-msg')).toContain('24 小时');

      // what the master's rule then publishes: the code carries the notice
      const until = Math.floor(Date.now() / 1000) + 24 * 3600;
      await stack.setCode({ notices: [{ kind: 'entry_test', message: '入川即检：请在 24 小时内就近完成一次核酸检测', until }] });
      await page.click('#entry-ok');
      expect(await page.isVisible('#entry')).toBe(false);
      await page.click('#refresh-btn');
      await page.waitForSelector('#notices li[data-kind="entry_test"]');
      // closed once, it stays closed for this notice; the list keeps it
      if (await page.isVisible('#entry')) await page.click('#entry-ok');
      await page.reload();
      await state(page, 'live');
      await page.waitForSelector('#notices li[data-kind="entry_test"]');
      expect(await page.isVisible('#entry')).toBe(false);

      // a negative test result: the master clears the notice
      await stack.setCode({ notices: [] });
      await page.click('#refresh-btn');
      await page.waitForSelector('#notices li[data-kind="entry_test"]', { state: 'detached' });
      expect(await page.isVisible('#entry')).toBe(false);
      expect((await liveCode()).notices).toEqual([]);

      // a new entry notice pops up again
      await stack.setCode({ notices: [{ kind: 'entry_test', message: '入川即检：请在 12 小时内就近完成一次核酸检测', until }] });
      await page.click('#refresh-btn');
      await page.waitForSelector('#entry', { state: 'visible' });
      expect(await page.textContent('#entry-msg')).toContain('12 小时');
      await stack.setCode({ notices: [] });
      await page.click('#entry-ok');
      await page.click('#refresh-btn');
      await page.waitForSelector('#notices li[data-kind="entry_test"]', { state: 'detached' });
      expect(w.problems).toEqual([]);
    } finally {
      await w.ctx.close();
    }
  });

  it('says so when the edge replica lags (stale), and turns yellow with the code', async () => {
    const w = await open();
    const { page } = w;
    try {
      await firstVisit(w);
      await stack.setSyncedAt(Date.now() - 3600_000, true);
      await stack.settle();
      await page.click('#refresh-btn');
      await state(page, 'stale');
      await page.waitForSelector('#notices li[data-kind="stale"]');
      // notices in Chinese only (issue 15 item 8)
      expect(await page.textContent('#notices li[data-kind="stale"]')).not.toMatch(/[A-Za-z]/);
      expect(await decodeQr(page)).toBe(await page.getAttribute('#qr', 'data-token'));
      await stack.setSyncedAt(Date.now(), false);
      await stack.settle();

      await stack.setCode({ color: 'yellow', reason: 'entry_test_overdue', until: Math.floor(Date.now() / 1000) + 7 * 86_400 });
      await page.click('#refresh-btn');
      await page.waitForFunction(() => document.getElementById('color-label')!.textContent === '黄码');
      await state(page, 'live');
      expect(await page.getAttribute('#color', 'class')).toContain('yellow');
      expect(await page.textContent('#reason')).toContain('入川未按时检测');
      const token = await page.getAttribute('#qr', 'data-token');
      expect(await decodeQr(page)).toBe(token);
      // yellow QR ink, guidance and the hotlines
      expect(await qrInk(page)).toBe('#9a6700');
      expect(await page.isVisible('#guide')).toBe(true);
      const guide = (await page.textContent('#guide'))!;
      expect(guide).toContain('核酸检测');
      expect(guide).toContain('12345');
      expect(guide).toContain('12320');
      expect(await page.getAttribute('#guide a[href="tel:12345"]', 'href')).toBe('tel:12345');
      if (process.env.HC_PAGE_SCREENSHOT) await page.screenshot({ path: `${process.env.HC_PAGE_SCREENSHOT}-yellow-phone.png`, fullPage: true });

      // red: red ink that still decodes, the red guidance; an unknown reason code is never shown raw
      await stack.setCode({ color: 'red', reason: 'observation', until: Math.floor(Date.now() / 1000) + 7 * 86_400 });
      await page.click('#refresh-btn');
      await page.waitForFunction(() => document.getElementById('color-label')!.textContent === '红码');
      const redToken = await page.getAttribute('#qr', 'data-token');
      expect(await decodeQr(page)).toBe(redToken);
      expect(await qrInk(page)).toBe('#c62828');
      expect(await page.textContent('#guide')).toContain('居家');
      expect(await page.textContent('#reason')).not.toMatch(/[A-Za-z]/);
      await page.setViewportSize({ width: 1280, height: 900 });
      expect(await decodeQr(page)).toBe(redToken);
      if (process.env.HC_PAGE_SCREENSHOT) await page.screenshot({ path: `${process.env.HC_PAGE_SCREENSHOT}-red-desktop.png`, fullPage: true });
      expect(verifyTf1(token!, KeySet.fromPublicJson(stack.publicKeys()), Math.floor(Date.now() / 1000)).color).toBe(1);
      await stack.setCode({ color: 'green', reason: 'normal', until: null });
    } finally {
      await w.ctx.close();
    }
  });

  it('refuses a session the edge does not accept and shows no code', async () => {
    const w = await open();
    try {
      await w.page.goto(`${stack.base}/app/#token=not-a-session`);
      await w.page.waitForSelector('body[data-state="login"], body[data-state="error"]');
      expect(await w.page.isVisible('#card')).toBe(false);
      expect(await w.page.textContent('#msg')).toContain('登录已失效');
      expect(await w.page.evaluate(() => localStorage.getItem('hc.session'))).toBeNull();
      // embedded default: the development login form is offered
      expect(await w.page.isVisible('#login')).toBe(true);
    } finally {
      await w.ctx.close();
    }
  });
});
