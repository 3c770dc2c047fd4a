import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, defaultConsoleDir, pickEncoding, registerConsole } from './console-static.js';

let dir: string;
let app: FastifyInstance;
const declared: { url: string; config: unknown }[] = [];
const INDEX = '<!doctype html><html lang="zh-CN"><title>健康码管理后台</title><script type="module" src="/console/assets/index-AbCd1234.js"></script></html>';
const JS = 'console.log("hello console");'.repeat(40);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hc-console-static-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'index-AbCd1234.js'), JS);
  writeFileSync(join(dir, 'assets', 'index-AbCd1234.js.br'), brotliCompressSync(JS));
  writeFileSync(join(dir, 'assets', 'index-AbCd1234.js.gz'), gzipSync(JS));
  writeFileSync(join(dir, 'robots.txt'), 'User-agent: *\nDisallow: /\n');
  app = Fastify({ logger: false });
  // what admin-api/app.ts does to every route: deny a route that declares no access level, mark every answer no-store
  app.addHook('onRoute', (r) => {
    if ((r.config as { access?: string } | undefined)?.access === undefined) throw new Error(`route ${r.url} declares no access level`);
    declared.push({ url: r.url, config: r.config });
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    void reply.header('cache-control', 'no-store');
    return payload;
  });
  expect(registerConsole(app, dir)).toBe(3);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('registerConsole', () => {
  it('redirects /console to /console/', async () => {
    const r = await app.inject({ url: '/console' });
    expect(r.statusCode).toBe(301);
    expect(r.headers.location).toBe('/console/');
  });

  it('serves index.html no-cache with the page security headers', async () => {
    for (const url of ['/console/', '/console/index.html']) {
      const r = await app.inject({ url });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.body).toBe(INDEX);
    }
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await app.inject({ url: '/console/' });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await app.inject({ url: '/console/', headers: { 'if-none-match': `W/${etag}` } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const other = await app.inject({ url: '/console/', headers: { 'if-none-match': '"nope"' } });
    expect(other.statusCode).toBe(200);
  });

  it('serves hashed assets immutable, precompressed by Accept-Encoding', async () => {
    const url = '/console/assets/index-AbCd1234.js';
    const br = await app.inject({ url, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(br.statusCode).toBe(200);
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(br.rawPayload.equals(brotliCompressSync(JS))).toBe(true);

    const gz = await app.inject({ url, headers: { 'accept-encoding': 'br;q=0, gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');

    const plain = await app.inject({ url });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(JS);
    expect(plain.headers['content-security-policy']).toBeUndefined();
  });

  it('serves an unhashed file revalidated, not immutable', async () => {
    const r = await app.inject({ url: '/console/robots.txt' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('declares public access and no rate group on every route', () => {
    // GET routes also get a HEAD twin
    expect(new Set(declared.map((d) => d.url))).toEqual(new Set(['/console', '/console/', '/console/index.html', '/console/*']));
    for (const d of declared) expect(d.config, d.url).toMatchObject({ access: 'public', rate: 'none' });
  });

  it('answers 404 ADM_ERR_NOT_FOUND for anything not in the build, including traversal attempts', async () => {
    for (const url of ['/console/assets/missing-12345678.js', '/console/..%2fpackage.json', '/console/assets/index-AbCd1234.js.br', '/console/assets/']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(404);
      expect(r.json().error, url).toBe('ADM_ERR_NOT_FOUND');
    }
    // '..' and '%2e%2e' are resolved by the URL parser before routing: they never reach /console/*
    for (const url of ['/console/../package.json', '/console/%2e%2e/package.json']) {
      const dots = await app.inject({ url });
      expect(dots.statusCode, url).toBe(404);
      expect(dots.body, url).not.toContain('"name"');
    }
  });

  it('without a built console answers 404 with the build command and keeps the app working', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'hc-console-none-'));
    const bare = Fastify({ logger: false });
    try {
      bare.get('/healthz', () => ({ ok: true }));
      expect(registerConsole(bare, join(empty, 'missing'))).toBe(0);
      await bare.ready();
      const r = await bare.inject({ url: '/console/' });
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ error: 'ADM_ERR_NOT_FOUND' });
      expect(r.json().message).toContain('npm run build:console');
      expect((await bare.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('defaultConsoleDir', () => {
  it('is HC_CONSOLE_DIR when set, else <repo>/dist/console', () => {
    expect(defaultConsoleDir({ HC_CONSOLE_DIR: '/srv/console' })).toBe('/srv/console');
    expect(defaultConsoleDir({ HC_CONSOLE_DIR: '  ' })).toBe(join(new URL('..', import.meta.url).pathname, 'dist', 'console'));
    expect(defaultConsoleDir({})).toBe(join(new URL('..', import.meta.url).pathname, 'dist', 'console'));
  });
});

describe('pickEncoding', () => {
  const both = { br: Buffer.from('b'), gz: Buffer.from('g') };
  it('prefers br, honours q=0 and missing siblings', () => {
    expect(pickEncoding(undefined, both)).toBeNull();
    expect(pickEncoding('gzip, br', both)).toBe('br');
    expect(pickEncoding('BR;q=0, gzip;q=0.5', both)).toBe('gzip');
    expect(pickEncoding('br', { br: null, gz: both.gz })).toBeNull();
    expect(pickEncoding('identity', both)).toBeNull();
    expect(pickEncoding('x-gzip', both)).toBe('gzip');
  });
});
