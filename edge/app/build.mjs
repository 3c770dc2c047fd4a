#!/usr/bin/env node
/**
 * Builds the citizen page (issue 6) from edge/app/src/ into dist/app/:
 *
 *   index.html          the page with app.css and app.js (+ the QR encoder)
 *                       inlined: one request for everything the code screen
 *                       needs (served no-cache, revalidated by ETag)
 *   scan-<hash>.js      the scan dialog, loaded on demand (immutable)
 *   sw.js               the service worker, stable name (no-cache)
 *   *.br, *.gz          brotli (quality 11) and gzip (level 9) next to each
 *                       file when smaller: compressed once here, never per request
 *   manifest.json       what edge/app-assets.ts serves: paths, types, hashes,
 *                       sizes, and the CSP hashes of the inline script and style
 *
 * Why inline instead of cacheable files: on a cold load at 400 ms RTT each
 * extra request on the critical path costs 0.4 s (issue 6 budget: 1.5 s to a
 * visible QR), while caching only helps the second visit — and the second
 * visit is served by the service worker anyway.
 *
 * Usage: node edge/app/build.mjs [outDir] [--quiet]   (default <repo>/dist/app)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const root = resolve(here, '..', '..');
const outArg = process.argv.slice(2).find((a) => !a.startsWith('--'));
const out = resolve(outArg ?? join(root, 'dist', 'app'));
// Android WebView / WeChat X5 / iOS WKWebView of the last years: module scripts and dynamic import.
const target = ['es2020'];

const sha256 = (buf) => createHash('sha256').update(buf).digest();

async function main() {
  const js = await esbuild.build({
    entryPoints: [join(src, 'app.js')],
    bundle: true,
    splitting: true,
    format: 'esm',
    minify: true,
    target,
    write: false,
    outdir: out,
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    legalComments: 'none',
    logLevel: 'warning',
  });
  let appJs = '';
  const chunks = [];
  for (const f of js.outputFiles) {
    const name = f.path.slice(out.length + 1);
    if (name === 'app.js') appJs = f.text;
    else chunks.push({ name, bytes: Buffer.from(f.contents) });
  }
  if (!appJs) throw new Error('esbuild produced no app.js');
  // A static import in the entry would be another request on the critical path.
  if (/\bimport\s*[{*\w]/.test(appJs.replace(/import\(/g, ''))) throw new Error('app.js has a static import: keep shared code out of scan.js');
  if (/<\/script/i.test(appJs)) throw new Error('app.js contains "</script": cannot inline it');

  const css = (await esbuild.transform(readFileSync(join(src, 'app.css'), 'utf8'), { loader: 'css', minify: true, target })).code.trim();
  if (/<\/style/i.test(css)) throw new Error('app.css contains "</style"');

  let html = readFileSync(join(src, 'index.html'), 'utf8');
  html = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/\n\s*/g, '')
    .replace('<link rel="stylesheet" href="./app.css">', () => `<style>${css}</style>`)
    .replace('<script type="module" src="./app.js"></script>', () => `<script type="module">${appJs.trim()}</script>`);
  if (!html.includes('<style>') || !html.includes('<script type="module">')) throw new Error('index.html: placeholders for app.css / app.js not found');

  const precache = ['/app/', ...chunks.map((c) => '/app/' + c.name)];
  const version = createHash('sha256')
    .update(html)
    .update(chunks.map((c) => sha256(c.bytes).toString('hex')).join())
    .digest('hex')
    .slice(0, 16);
  const sw = (
    await esbuild.transform(readFileSync(join(src, 'sw.js'), 'utf8'), {
      minify: true,
      target,
      define: { __VERSION__: JSON.stringify(version), __PRECACHE__: JSON.stringify(precache) },
    })
  ).code;

  const files = [
    { path: '/app/', file: 'index.html', type: 'text/html; charset=utf-8', immutable: false, bytes: Buffer.from(html) },
    { path: '/app/sw.js', file: 'sw.js', type: 'text/javascript; charset=utf-8', immutable: false, bytes: Buffer.from(sw) },
    ...chunks.map((c) => ({ path: '/app/' + c.name, file: c.name, type: 'text/javascript; charset=utf-8', immutable: true, bytes: c.bytes })),
  ];

  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const manifest = {
    version,
    // CSP hashes (CSP Level 3 §8.3 'sha256-…' of the exact element text) so the
    // page runs under script-src/style-src without 'unsafe-inline'.
    csp: {
      script: "'sha256-" + sha256(appJs.trim()).toString('base64') + "'",
      style: "'sha256-" + sha256(css).toString('base64') + "'",
    },
    files: [],
  };
  const rows = [];
  for (const f of files) {
    writeFileSync(join(out, f.file), f.bytes);
    const br = brotliCompressSync(f.bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: f.bytes.length },
    });
    const gz = gzipSync(f.bytes, { level: 9 });
    const entry = { path: f.path, file: f.file, type: f.type, immutable: f.immutable, sha256: sha256(f.bytes).toString('hex'), size: f.bytes.length };
    if (br.length < f.bytes.length) {
      writeFileSync(join(out, f.file + '.br'), br);
      entry.br = br.length;
    }
    if (gz.length < f.bytes.length) {
      writeFileSync(join(out, f.file + '.gz'), gz);
      entry.gz = gz.length;
    }
    manifest.files.push(entry);
    rows.push([f.path, f.bytes.length, entry.br ?? '-', entry.gz ?? '-']);
  }
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

  if (!process.argv.includes('--quiet')) {
    const w = [24, 8, 8, 8];
    const line = (r) => r.map((c, i) => String(c).padStart(i ? w[i] : 0).padEnd(i ? 0 : w[i])).join(' ');
    console.log(`citizen page → ${out} (version ${version})`);
    console.log(line(['path', 'bytes', 'br', 'gzip']));
    for (const r of rows) console.log(line(r));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
