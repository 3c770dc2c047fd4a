import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Access, RateGroup } from './context.js';
import { AdminError } from './errors.js';
import { errorBody } from './error-handler.js';

/**
 * Serves the built web console (admin-api/console → dist/console/, `npm run
 * build:console`) at /console/.
 *
 *   /console              301 → /console/
 *   /console/             index.html          Cache-Control: no-cache (revalidate by ETag:
 *   /console/index.html                       a deploy is visible on the next load)
 *   /console/assets/*     <name>-<hash>.js|css  public, max-age=31536000, immutable (RFC 8246:
 *                                             the name changes with the content, so a cached
 *                                             copy is never wrong)
 *   anything else         404 {error: ADM_ERR_NOT_FOUND}
 *
 * Every file is read into memory once, at registration: the console is a few
 * hundred kilobytes, and a request never touches the disk or builds a path
 * from user input (no traversal to guard against — a URL either names a key
 * of the map or is a 404). The build writes .br and .gz siblings; the one the
 * client accepts is sent (`Vary: Accept-Encoding`), never compressed per request.
 *
 * Inside admin-api (app.ts): the routes declare `access: 'public'` (the
 * deny-by-default onRoute hook refuses routes without one — the console's
 * files hold no data; every API call it makes carries its own token) and no
 * rate group. app.ts's onSend hook marks every answer `no-store` (API answers
 * carry personal data); these routes live in their own encapsulated context
 * whose onSend hook runs after it and puts the console's cache policy back.
 *
 * Headers for the page (OWASP Secure Headers): a CSP that allows only this
 * origin's scripts, styles and API, blob: images (QR previews), no framing
 * (clickjacking a transcode button), no referrer (URLs never carry identities,
 * but the console's address need not leak either), nosniff.
 */

export const CONSOLE_PREFIX = '/console';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface Asset {
  readonly type: string;
  readonly etag: string;
  readonly cache: string;
  readonly raw: Buffer;
  readonly br: Buffer | null;
  readonly gz: Buffer | null;
}

/** Vite's output names: `<name>-<8+ chars of base64url hash>.<ext>` under assets/. */
const HASHED = /^assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

function extOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot === -1 ? '' : path.slice(dot);
}

function readOrNull(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Reads a built console directory into the map the routes serve from. Empty map when not built. */
export function loadConsoleAssets(distDir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(join(distDir, 'index.html'))) return out;
  for (const file of walk(distDir)) {
    if (file.endsWith('.br') || file.endsWith('.gz')) continue;
    const rel = relative(distDir, file).split(sep).join('/');
    const raw = readOrNull(file);
    if (raw === null) continue; // removed since the listing (a rebuild running): not served
    const br = readOrNull(file + '.br');
    const gz = readOrNull(file + '.gz');
    out.set(rel, {
      type: TYPES[extOf(rel)] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 27)}"`,
      cache: HASHED.test(rel) ? IMMUTABLE : REVALIDATE,
      raw,
      br,
      gz,
    });
  }
  return out;
}

/**
 * The built console to serve: `HC_CONSOLE_DIR` when set (a deployment that
 * ships the console separately; the browser test's own build), else where
 * `npm run build:console` puts it, <repo>/dist/console. This file runs both
 * compiled (dist/admin-api/console-static.js → ../console) and from source
 * under vitest (admin-api/console-static.ts → ../dist/console).
 */
export function defaultConsoleDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.HC_CONSOLE_DIR?.trim();
  if (configured) return configured;
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = join(here, '..', 'console');
  if (existsSync(join(compiled, 'index.html'))) return compiled;
  return join(here, '..', 'dist', 'console');
}

/** Which stored encoding to send for an Accept-Encoding header (q=0 honoured). */
export function pickEncoding(accept: string | undefined, asset: { br: Buffer | null; gz: Buffer | null }): 'br' | 'gzip' | null {
  if (!accept) return null;
  const ok = new Set<string>();
  for (const part of accept.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    if (name) ok.add(name.trim());
  }
  if (asset.br && ok.has('br')) return 'br';
  if (asset.gz && (ok.has('gzip') || ok.has('x-gzip'))) return 'gzip';
  return null;
}

function notFound(reply: FastifyReply, detail?: string): FastifyReply {
  const e = new AdminError('ADM_ERR_NOT_FOUND', detail);
  return reply.code(e.statusCode).type('application/json; charset=utf-8').send(errorBody(e));
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  // weak comparison (RFC 9110 §13.1.2): W/"x" matches "x"
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function send(req: FastifyRequest, reply: FastifyReply, asset: Asset, isPage: boolean): FastifyReply {
  policy.set(req, asset.cache);
  reply.header('cache-control', asset.cache);
  reply.header('etag', asset.etag);
  reply.header('x-content-type-options', 'nosniff');
  if (asset.br || asset.gz) reply.header('vary', 'Accept-Encoding');
  if (isPage) {
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
  }
  if (etagMatches(req.headers['if-none-match'], asset.etag)) return reply.code(304).send();
  reply.type(asset.type);
  const enc = pickEncoding(req.headers['accept-encoding'], asset);
  if (enc === 'br') return reply.header('content-encoding', 'br').send(asset.br);
  if (enc === 'gzip') return reply.header('content-encoding', 'gzip').send(asset.gz);
  return reply.send(asset.raw);
}

/**
 * Adds the /console routes to `app` (call before `app.ready()`/`listen()`;
 * they are registered as an encapsulated plugin, loaded at ready).
 * Without a built console (no index.html in distDir) /console/ answers 404
 * ADM_ERR_NOT_FOUND saying how to build it, and a warning is logged: the API
 * itself works without its console.
 * Returns how many files it serves.
 */
export function registerConsole(app: FastifyInstance, distDir: string = defaultConsoleDir()): number {
  const assets = loadConsoleAssets(distDir);
  const index = assets.get('index.html');
  if (!index) app.log.warn({ distDir }, 'web console not built (npm run build:console): /console/ answers 404');

  const opts = { config: ROUTE_CONFIG, schema: { hide: true } };
  void app.register(async (child) => {
    child.addHook('onSend', restoreCachePolicy);
    // Fastify's router: '/console' and '/console/' are distinct routes (ignoreTrailingSlash off).
    child.get(CONSOLE_PREFIX, opts, (_req, reply) => reply.redirect(`${CONSOLE_PREFIX}/`, 301));
    const page = (req: FastifyRequest, reply: FastifyReply) => {
      if (!index) return notFound(reply, 'the web console is not built: run npm run build:console');
      return send(req, reply, index, true);
    };
    child.get(`${CONSOLE_PREFIX}/`, opts, page);
    child.get(`${CONSOLE_PREFIX}/index.html`, opts, page);
    child.get(`${CONSOLE_PREFIX}/*`, opts, (req, reply) => {
      const rel = (req.params as { '*': string })['*'];
      const asset = assets.get(rel);
      if (!asset || rel === 'index.html') return notFound(reply);
      return send(req, reply, asset, asset.type.startsWith('text/html'));
    });
  });
  return assets.size;
}

const ROUTE_CONFIG: { access: Access; rate: RateGroup } = { access: 'public', rate: 'none' };

/** The cache policy `send` chose, by request: a parent onSend hook may have overwritten the header since. */
const policy = new WeakMap<FastifyRequest, string>();

async function restoreCachePolicy(req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  const p = policy.get(req);
  if (p !== undefined) void reply.header('cache-control', p);
  return payload;
}
