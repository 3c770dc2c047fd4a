import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, watchPage } from '../test/browser-fixture.js';
import { loadStackConfig } from '../stack-config.js';
import { startEmbeddedStack, type StackHandle } from '../stack.js';

/**
 * The real embedded stack (PGlite master, admin-api with the console, sync,
 * one edge serving the citizen page) on fixed free ports that are NOT the
 * defaults 8080/8081, with both front ends built into a temporary folder,
 * and headless Chromium. For the browser tests of issue 15.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BrowserStack {
  stack: StackHandle;
  browser: Browser;
  adminOrigin: string;
  edgeOrigin: string;
  creds: { username: string; password: string };
  dataDir: string;
  /** a page that records console errors and uncaught exceptions into `problems` */
  newPage(ctx: BrowserContext): Promise<Page & { problems: string[] }>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function build(args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`build failed: ${args.join(' ')}\n${r.stdout}${r.stderr}`);
}

export async function startBrowserStack(opts: { people?: number; venues?: number; env?: Record<string, string> } = {}): Promise<BrowserStack> {
  const browser = await launchChromium();
  const tmp = mkdtempSync(join(tmpdir(), 'hc-c15-'));
  const consoleDir = join(tmp, 'console');
  const appDir = join(tmp, 'app');
  // NODE_ENV: vitest sets 'test', and Vite would then bundle React's development build.
  build([join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'admin-api/console/vite.config.ts', '--outDir', consoleDir, '--emptyOutDir'],
    { ...process.env, NODE_ENV: 'production' });
  build([join(ROOT, 'edge', 'app', 'build.mjs'), appDir, '--quiet']);
  process.env.HC_CONSOLE_DIR = consoleDir;
  process.env.HC_APP_DIR = appDir;
  const adminPort = await freePort();
  const edgePort = await freePort();
  const dataDir = join(tmp, 'data');
  const config = loadStackConfig({
    HC_DATA_DIR: dataDir,
    EDGE_PORT: String(edgePort),
    ADMIN_PORT: String(adminPort),
    SYNC_PORT: '0',
    EDGE_WORKERS: '1',
    HC_DEMO_PEOPLE: String(opts.people ?? 300),
    HC_DEMO_VENUES: String(opts.venues ?? 60),
    ADMIN_LOG_LEVEL: 'warn',
    ...opts.env,
  });
  const stack = await startEmbeddedStack(config, { log: () => undefined, adminLogStream: { write: () => true } });
  // the edge answers /readyz 200 once its replica is loaded and current: before that the page shows "stale"
  const edgeOrigin = `http://127.0.0.1:${edgePort}`;
  for (let t = Date.now(); Date.now() - t < 90_000; ) {
    const r = await fetch(`${edgeOrigin}/readyz`).catch(() => null);
    if (r?.status === 200) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const creds = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as { username: string; password: string };
  return {
    stack,
    browser,
    adminOrigin: `http://127.0.0.1:${adminPort}`,
    edgeOrigin,
    creds,
    dataDir,
    async newPage(ctx) {
      const w = await watchPage(ctx);
      w.page.setDefaultTimeout(60_000);
      return Object.assign(w.page, { problems: w.problems });
    },
    async close() {
      delete process.env.HC_CONSOLE_DIR;
      delete process.env.HC_APP_DIR;
      await browser.close();
      await stack.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
