import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { registerConsole } from '../admin-api/console-static.js';

/**
 * The web console as the browser tests see it in production: built by Vite,
 * served under /console/ by a front that plays the load balancer's part and
 * passes everything else to admin-api unchanged (same origin, so the
 * console's CSP and cookies behave as behind deploy/nginx).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Builds the console into `outDir`; throws with Vite's output when the build fails. */
export function buildConsole(outDir: string): void {
  // NODE_ENV: vitest sets 'test', and Vite would then bundle React's development build
  const vite = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'admin-api/console/vite.config.ts', '--outDir', outDir, '--emptyOutDir'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } },
  );
  if (vite.status !== 0) throw new Error(`console build failed:\n${vite.stdout}${vite.stderr}`);
}

export interface ConsoleFront {
  /** http://127.0.0.1:<port> — open `${origin}/console/` */
  readonly origin: string;
  close(): Promise<void>;
}

/** /console/ from the built assets in `consoleDir`, everything else proxied to `target` (admin-api's origin). */
export async function startConsoleFront(consoleDir: string, target: string): Promise<ConsoleFront> {
  const app = Fastify({ logger: false });
  registerConsole(app, consoleDir);
  await app.ready();
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/console' || url.startsWith('/console/')) {
      void app.inject({ method: req.method as 'GET', url, headers: req.headers })
        .then((r) => res.writeHead(r.statusCode, r.headers as http.OutgoingHttpHeaders).end(r.rawPayload))
        .catch(() => res.writeHead(502).end());
      return;
    }
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await new Promise((r) => server.close(r));
      await app.close();
    },
  };
}
