import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseCoding, loadAppAssets, type AppAssets, type AppResponse } from './app-assets.js';
import { EdgeError } from './errors.js';

// A real build (edge/app/build.mjs) into a temp dir: what the edge serves in production.
let dir: string;
let dist: string;
let app: AppAssets;
let chunk: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-app-assets-'));
  dist = join(dir, 'app');
  execFileSync(process.execPath, [new URL('./app/build.mjs', import.meta.url).pathname, dist, '--quiet'], { stdio: 'inherit' });
  app = loadAppAssets(dist);
  chunk = app.paths.find((p) => /^\/app\/scan-[A-Z0-9]+\.js$/.test(p))!;
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function header(r: AppResponse, name: string): string | undefined {
  const h = r.headers.find(([k]) => k.toLowerCase() === name.toLowerCase());
  return h?.[1];
}

function get(path: string, ae = 'gzip, deflate, br', inm?: string): AppResponse {
  const r = app.lookup(path, ae, inm);
  if (r === undefined) throw new Error(`${path} not handled`);
  return r;
}

function copyBuild(): string {
  const d = mkdtempSync(join(dir, 'copy-'));
  cpSync(dist, d, { recursive: true });
  return d;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeError);
    return (err as EdgeError).code;
  }
  return undefined;
}

describe('citizen page assets (edge/app-assets.ts)', () => {
  it('serves the page, the service worker and the content-hashed chunk', () => {
    expect(app.paths).toContain('/app/');
    expect(app.paths).toContain('/app/sw.js');
    expect(chunk).toBeDefined();
    const page = get('/app/', '');
    expect(page.status).toBe(200);
    expect(header(page, 'content-type')).toBe('text/html; charset=utf-8');
    expect(page.body.equals(readFileSync(join(dist, 'index.html')))).toBe(true);
    expect(get('/app/index.html', '').body.equals(page.body)).toBe(true);
    expect(header(get('/app/sw.js'), 'content-type')).toBe('text/javascript; charset=utf-8');
    expect(header(get(chunk), 'content-type')).toBe('text/javascript; charset=utf-8');
    for (const p of app.paths) expect(header(get(p), 'x-content-type-options')).toBe('nosniff');
  });

  it('chooses brotli, gzip or identity from Accept-Encoding, each decoding to the same bytes', () => {
    const plain = get('/app/', '').body;
    const br = get('/app/', 'gzip, deflate, br, zstd');
    expect(header(br, 'content-encoding')).toBe('br');
    expect(brotliDecompressSync(br.body).equals(plain)).toBe(true);
    expect(br.body.length).toBeLessThan(plain.length / 2);
    const gz = get('/app/', 'gzip');
    expect(header(gz, 'content-encoding')).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain)).toBe(true);
    const id = get('/app/', '');
    expect(header(id, 'content-encoding')).toBeUndefined();
    for (const p of app.paths) expect(header(get(p), 'vary')).toBe('Accept-Encoding');
  });

  it('follows the q-values, wildcards and exclusions of RFC 9110 §12.5.3', () => {
    const cases: [string | undefined, number][] = [
      [undefined, 0],
      ['', 0],
      ['br', 1],
      ['BR', 1],
      ['gzip', 2],
      ['x-gzip', 2],
      ['deflate', 0],
      ['identity', 0],
      ['*', 1],
      ['*;q=0', 0],
      ['br;q=0, gzip', 2],
      ['br;q=0.5, gzip;q=1', 2],
      ['gzip;q=0.5, br;q=0.8', 1],
      ['gzip, br', 1], // tie: the smaller
      ['gzip;q=0, *', 1],
      ['br;q=0, *;q=0.3', 2],
      ['br ; q=0.9 , gzip ; q=1.0', 2],
      ['br;level=5;q=1, gzip;q=0.1', 1],
      ['br;q=abc', 0],
      ['br;q=0.000', 0],
      [' , ,br', 1],
      ['identity;q=0', 0], // nothing acceptable: identity anyway (no 406)
    ];
    for (const [ae, want] of cases) expect([ae, chooseCoding(ae, true, true)]).toEqual([ae, want]);
    // codings we do not have are never chosen
    expect(chooseCoding('br', false, true)).toBe(0);
    expect(chooseCoding('br, gzip', false, true)).toBe(2);
    expect(chooseCoding('gzip', true, false)).toBe(0);
  });

  it('marks content-hashed files immutable and the page and service worker no-cache', () => {
    expect(header(get('/app/'), 'cache-control')).toBe('no-cache');
    expect(header(get('/app/sw.js'), 'cache-control')).toBe('no-cache');
    expect(header(get(chunk), 'cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('gives each encoding its own strong ETag and answers If-None-Match with 304', () => {
    const tags = ['', 'gzip', 'br'].map((ae) => header(get('/app/', ae), 'etag'));
    expect(new Set(tags).size).toBe(3);
    for (const t of tags) expect(t).toMatch(/^"[0-9a-f]{22}(-br|-gz)?"$/);
    const br = get(chunk, 'br');
    const etag = header(br, 'etag')!;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, `"nope",${etag}`, '*']) {
      const r = get(chunk, 'br', inm);
      expect(r.status).toBe(304);
      expect(r.body.length).toBe(0);
      expect(header(r, 'etag')).toBe(etag);
      expect(header(r, 'cache-control')).toBe('public, max-age=31536000, immutable');
      expect(header(r, 'content-type')).toBeUndefined();
    }
    // another encoding's tag, a prefix of the tag, or a different one: the full response
    expect(get(chunk, 'gzip', etag).status).toBe(200);
    expect(get(chunk, 'br', etag.slice(0, -2) + '"').status).toBe(200);
    expect(get(chunk, 'br', '"0000"').status).toBe(200);
  });

  it('answers 404 with the error code for unknown names and never walks out of the build', () => {
    const notFound = [
      '/app/nope.js',
      '/app/manifest.json',
      '/app/index.html.br',
      '/app/sw.js.gz',
      '/app/../package.json',
      '/app/..%2fpackage.json',
      '/app/%2e%2e/%2e%2e/etc/passwd',
      '/app/..\\..\\package.json',
      '/app//sw.js',
      '/app/./sw.js',
      '/app/sw.js/',
      '/app/SW.JS',
      '/app/sw.js%00',
      '/app/' + 'a'.repeat(5000),
    ];
    for (const p of notFound) {
      const r = get(p);
      expect([p, r.status]).toEqual([p, 404]);
      expect(header(r, 'content-type')).toBe('application/json');
      expect(JSON.parse(r.body.toString())).toMatchObject({ error: 'EDGE_ERR_APP_NOT_FOUND' });
    }
  });

  it('leaves other paths to the server, redirects /app to /app/ and ignores the query string', () => {
    for (const p of ['/', '/v1/code', '/v1/scan', '/healthz', '/apple', '/application/x', '/App/', '']) expect(app.lookup(p, 'br')).toBeUndefined();
    const r = get('/app');
    expect(r.status).toBe(301);
    expect(header(r, 'location')).toBe('/app/');
    expect(get('/app/?from=miniprogram', '').body.equals(get('/app/', '').body)).toBe(true);
    expect(get('/app?x=1').status).toBe(301);
  });

  it('serves the page under a CSP whose hashes match its inline script and style', () => {
    const page = get('/app/', '');
    const html = page.body.toString();
    const csp = header(page, 'content-security-policy')!;
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const b64 = (s: string) => createHash('sha256').update(s).digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${b64(script)}'`);
    expect(csp).toContain(`style-src 'sha256-${b64(style)}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self' *:8081");
    expect(header(page, 'referrer-policy')).toBe('no-referrer');
    expect(header(get('/app/sw.js'), 'content-security-policy')).toBeUndefined();
  });

  it('writes the login endpoint into the page, recompresses it and gives the service worker a new version', () => {
    const off = loadAppAssets(dist, { sessionUrl: null });
    const html = off.lookup('/app/', '')!.body.toString();
    expect(html).toContain('<meta name="hc-session-url" content="">');
    expect(brotliDecompressSync(off.lookup('/app/', 'br')!.body).toString()).toBe(html);
    expect(gunzipSync(off.lookup('/app/', 'gzip')!.body).toString()).toBe(html);
    expect(header(off.lookup('/app/', '')!, 'content-security-policy')).toContain("connect-src 'self'; ");
    expect(off.version).not.toBe(app.version);
    const sw = brotliDecompressSync(off.lookup('/app/sw.js', 'br')!.body).toString();
    expect(sw).toContain(off.version);
    expect(sw).not.toContain(app.version);
    expect(header(off.lookup('/app/', '')!, 'etag')).not.toBe(header(get('/app/', ''), 'etag'));
    // the chunk is untouched
    expect(off.lookup(chunk, 'br')!.body.equals(get(chunk, 'br').body)).toBe(true);

    const other = loadAppAssets(dist, { sessionUrl: 'https://id.example.gov.cn/v1/session?a=1&b="x"' });
    const h2 = other.lookup('/app/', '')!;
    expect(h2.body.toString()).toContain('content="https://id.example.gov.cn/v1/session?a=1&amp;b=&quot;x&quot;"');
    expect(header(h2, 'content-security-policy')).toContain("connect-src 'self' https://id.example.gov.cn;");
    expect(header(loadAppAssets(dist, { sessionUrl: '/v1/session' }).lookup('/app/', '')!, 'content-security-policy')).toContain("connect-src 'self'; ");
  });

  it('refuses a missing build with EDGE_ERR_APP_BUILD_MISSING', () => {
    expect(codeOf(() => loadAppAssets(join(dir, 'no-such-dir')))).toBe('EDGE_ERR_APP_BUILD_MISSING');
    const d = copyBuild();
    rmSync(join(d, 'sw.js'));
    expect(codeOf(() => loadAppAssets(d))).toBe('EDGE_ERR_APP_BUILD_MISSING');
    const e = copyBuild();
    rmSync(join(e, 'index.html.br'));
    expect(codeOf(() => loadAppAssets(e))).toBe('EDGE_ERR_APP_BUILD_MISSING');
  });

  it('refuses an inconsistent build with EDGE_ERR_APP_BUILD_INVALID', () => {
    // a file changed after the build
    const a = copyBuild();
    writeFileSync(join(a, 'sw.js'), readFileSync(join(a, 'sw.js'), 'utf8') + '//');
    expect(codeOf(() => loadAppAssets(a))).toBe('EDGE_ERR_APP_BUILD_INVALID');
    // a stale compressed variant (from an older build)
    const b = copyBuild();
    writeFileSync(join(b, 'index.html.br'), brotliCompressSync(Buffer.from('<!doctype html>old')));
    expect(codeOf(() => loadAppAssets(b))).toBe('EDGE_ERR_APP_BUILD_INVALID');
    // a corrupt gzip file
    const c = copyBuild();
    writeFileSync(join(c, 'index.html.gz'), Buffer.from('not gzip'));
    expect(codeOf(() => loadAppAssets(c))).toBe('EDGE_ERR_APP_BUILD_INVALID');
    // manifests that are not JSON, lack fields, or name a file outside the build
    const m = copyBuild();
    const good = JSON.parse(readFileSync(join(m, 'manifest.json'), 'utf8')) as { files: { file: string; path: string }[] };
    const bad: unknown[] = [
      'not json',
      { files: [] },
      { ...good, csp: null },
      { ...good, files: good.files.filter((f) => f.path !== '/app/') },
      { ...good, files: [...good.files, { ...good.files[1], file: '../package.json', path: '/app/p' }] },
      { ...good, files: [...good.files, { ...good.files[1], path: '/etc/passwd' }] },
      { ...good, files: [...good.files, { ...good.files[1], sha256: 'xyz' }] },
    ];
    for (const x of bad) {
      writeFileSync(join(m, 'manifest.json'), typeof x === 'string' ? x : JSON.stringify(x));
      expect([x, codeOf(() => loadAppAssets(m))]).toEqual([x, 'EDGE_ERR_APP_BUILD_INVALID']);
    }
    // a page without the login meta cannot be configured
    const n = copyBuild();
    const man = JSON.parse(readFileSync(join(n, 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string; size: number; br?: number; gz?: number }[] };
    const html = Buffer.from('<!doctype html><title>x</title>');
    writeFileSync(join(n, 'index.html'), html);
    const idx = man.files.find((f) => f.path === '/app/')!;
    Object.assign(idx, { sha256: createHash('sha256').update(html).digest('hex'), size: html.length });
    delete idx.br;
    delete idx.gz;
    writeFileSync(join(n, 'manifest.json'), JSON.stringify(man));
    expect(codeOf(() => loadAppAssets(n))).toBeUndefined();
    expect(codeOf(() => loadAppAssets(n, { sessionUrl: null }))).toBe('EDGE_ERR_APP_BUILD_INVALID');
  });
});
