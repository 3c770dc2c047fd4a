import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium } from '../bench/chromium.js';

/**
 * What every browser test needs, in one place (not a test file): Debian's
 * Chromium with the standard flags (bench/chromium.ts, shared/FACTS.md; a
 * missing binary fails with the install hint, never a skip), a page at phone
 * or desktop size that records what went wrong on it, and screenshots kept
 * on request for a person to look at.
 *
 * "Went wrong": console errors (a CSP violation is one) and uncaught
 * exceptions. A test that provokes an expected failure (a refused login's
 * 401, a fetch while offline) filters it with `ignore` or `problemsExcept`.
 */
export { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium };

/** a mid-size phone in portrait, CSS pixels */
export const PHONE = { width: 390, height: 844 } as const;
/** an office monitor */
export const DESKTOP = { width: 1280, height: 900 } as const;

/** What a failed fetch while offline or a refused request logs: expected in tests that provoke them. */
export const NETWORK_NOISE = /ERR_INTERNET_DISCONNECTED|Failed to load resource/;

export interface WatchOptions {
  /** console errors matching this are not recorded */
  ignore?: RegExp;
}

export interface WatchedPage {
  ctx: BrowserContext;
  page: Page;
  /** every URL the page requested, in order */
  urls: string[];
  /** console errors and uncaught exceptions, as "console: …" / "pageerror: …" */
  problems: string[];
  /** the problems not matching `allow` */
  problemsExcept(allow: RegExp | null): string[];
}

/** A new page in an existing context, recording requests and problems. */
export async function watchPage(ctx: BrowserContext, opts: WatchOptions = {}): Promise<WatchedPage> {
  const page = await ctx.newPage();
  const urls: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !(opts.ignore?.test(m.text()) ?? false)) problems.push(`console: ${m.text()}`);
  });
  return { ctx, page, urls, problems, problemsExcept: (allow) => problems.filter((p) => allow === null || !allow.test(p)) };
}

/** A fresh context (no storage shared with other tests) at `viewport` (PHONE, DESKTOP, or null for Playwright's default) and a watched page in it. */
export async function openPage(
  browser: Browser, opts: WatchOptions & { viewport?: { width: number; height: number } | null; context?: BrowserContextOptions } = {},
): Promise<WatchedPage> {
  const ctx = await browser.newContext({ ...(opts.viewport ? { viewport: opts.viewport } : {}), ...opts.context });
  return watchPage(ctx, opts);
}

/**
 * Keeps a full-page screenshot when asked: `where` a name, written as
 * `<HC_SHOTS>/<name>.png` when HC_SHOTS (a folder) is set; or `{ path }`, a
 * file, when that path is set. Otherwise nothing. Returns the file written.
 */
export async function shot(page: Page, where: string | { path: string | undefined }, dir = process.env.HC_SHOTS): Promise<string | null> {
  let path: string | null;
  if (typeof where === 'string') {
    if (!dir) return null;
    mkdirSync(dir, { recursive: true });
    path = join(dir, `${where}.png`);
  } else {
    path = where.path || null;
  }
  if (path === null) return null;
  await page.screenshot({ path, fullPage: true });
  return path;
}
