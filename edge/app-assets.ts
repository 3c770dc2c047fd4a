import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';
import { EdgeError } from './errors.js';

/**
 * The citizen page (issue 6) as the edge serves it: every file of the build in
 * dist/app/ (edge/app/build.mjs) held in memory with its brotli and gzip
 * variants, compressed once at build time, never per request. The server
 * mounts it for paths under /app/:
 *
 *   const app = loadAppAssets('dist/app');
 *   // in the uWS handler, synchronously:
 *   const r = app.lookup(req.getUrl(), req.getHeader('accept-encoding'), req.getHeader('if-none-match'));
 *   if (r) { res.writeStatus(STATUS[r.status]); for (const [k, v] of r.headers) res.writeHeader(k, v); res.end(r.body); }
 *
 * No Content-Length in `headers`: uWS (and node:http's `end(buf)`) set it.
 * HEAD: send the headers and an empty body (RFC 9110 §9.3.2).
 *
 * Caching (RFC 9111 §5.2.2, RFC 8246):
 *   /app/             the page: `no-cache` — revalidated on every visit with
 *                     its ETag (a 304 is ~200 bytes); it must never be stale
 *                     because it names the current content-hashed files
 *   /app/sw.js        `no-cache`: the browser compares it byte for byte to
 *                     find updates (Service Workers spec, "Update")
 *   /app/<name>-<hash>.js   `public, max-age=31536000, immutable`
 *
 * Each encoding is its own representation with its own strong ETag
 * (RFC 9110 §8.8.3.3: a strong validator changes with the content coding),
 * and `Vary: Accept-Encoding` tells caches so.
 *
 * Path safety: lookup is an exact match against the paths the manifest lists,
 * never a file-system access, so `..`, `%2e%2e`, `//` or backslashes can name
 * nothing else — they are 404 like any unknown name.
 */

export interface AppResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

export interface AppAssets {
  /** Build version (hash of everything the service worker precaches). */
  readonly version: string;
  /** Paths served, e.g. ['/app/', '/app/sw.js', '/app/scan-AB12CD34.js']. */
  readonly paths: readonly string[];
  /**
   * The response for a request path (query string ignored). `undefined` when
   * the path is not the page's (not `/app` and not under `/app/`): the caller
   * routes it elsewhere. Unknown names under `/app/` get a 404.
   */
  lookup(urlPath: string, acceptEncoding?: string, ifNoneMatch?: string): AppResponse | undefined;
}

export interface AppAssetsOptions {
  /**
   * Where the page's development login form posts (`<meta name="hc-session-url">`).
   * undefined: as built ("auto" = same host, port 8081, the embedded admin-api);
   * null or '': no login form (production: the host app passes `#token=…`);
   * ':<port>/<path>': the page's own host on that port (the stack's admin port);
   * a URL: that endpoint (absolute, or relative to the page).
   */
  readonly sessionUrl?: string | null;
}

/** Shape of dist/app/manifest.json as build.mjs writes it. */
interface ManifestFile {
  path: string;
  file: string;
  type: string;
  immutable: boolean;
  sha256: string;
  size: number;
  br?: number;
  gz?: number;
}
interface Manifest {
  version: string;
  csp: { script: string; style: string };
  files: ManifestFile[];
}

type Coding = 0 | 1 | 2; // identity, br, gzip
const IDENTITY: Coding = 0;
const BR: Coding = 1;
const GZIP: Coding = 2;

interface Variant {
  readonly etag: string;
  readonly ok: AppResponse;
  readonly notModified: AppResponse;
}

interface Asset {
  /** indexed by Coding; undefined when that coding is not smaller than identity */
  readonly variants: readonly (Variant | undefined)[];
}

const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
const CACHE_REVALIDATE = 'no-cache';
const EMPTY = Buffer.alloc(0);

function readBuild(dir: string, file: string): Buffer {
  try {
    return readFileSync(join(dir, file));
  } catch (err) {
    throw new EdgeError('EDGE_ERR_APP_BUILD_MISSING', `${join(dir, file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function invalid(detail: string): never {
  throw new EdgeError('EDGE_ERR_APP_BUILD_INVALID', detail);
}

function checkManifest(raw: Buffer, where: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(raw.toString('utf8'));
  } catch {
    invalid(`${where} is not JSON`);
  }
  const o = m as Partial<Manifest>;
  if (typeof o !== 'object' || o === null || typeof o.version !== 'string' || !Array.isArray(o.files)) invalid(`${where}: version/files`);
  if (typeof o.csp !== 'object' || o.csp === null || typeof o.csp.script !== 'string' || typeof o.csp.style !== 'string') invalid(`${where}: csp`);
  for (const f of o.files) {
    if (
      typeof f !== 'object' || f === null ||
      typeof f.path !== 'string' || !f.path.startsWith('/app/') ||
      typeof f.file !== 'string' || !/^[A-Za-z0-9._-]+$/.test(f.file) || f.file.startsWith('.') ||
      typeof f.type !== 'string' || typeof f.immutable !== 'boolean' ||
      typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256) || typeof f.size !== 'number'
    ) {
      invalid(`${where}: file entry ${JSON.stringify(f)}`);
    }
  }
  if (!o.files.some((f) => f.path === '/app/')) invalid(`${where}: no /app/ entry`);
  return o as Manifest;
}

function sha256hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** CSP connect-src entry for the login endpoint. */
function sessionSource(url: string | null | undefined): string {
  if (url === undefined) return ' *:8081'; // "auto": same host, port 8081 — the host is only known in the browser
  if (url === null || url === '') return '';
  const port = /^:([0-9]{1,5})\//.exec(url); // ':8091/v1/session': same host as the page, that port
  if (port !== null) return ` *:${port[1]}`;
  try {
    return ' ' + new URL(url).origin;
  } catch {
    return ''; // relative: covered by 'self'
  }
}

/**
 * Content-Security-Policy of the page (CSP Level 3): scripts and styles only
 * from the build (inline ones by hash), network only to this origin and the
 * login endpoint. The page keeps a session token in localStorage; this keeps
 * an injected script from running or sending it anywhere.
 */
function pageCsp(m: Manifest, sessionUrl: string | null | undefined): string {
  return [
    "default-src 'none'",
    `script-src 'self' ${m.csp.script}`,
    `style-src ${m.csp.style}`,
    "img-src 'self' data:",
    `connect-src 'self'${sessionSource(sessionUrl)}`,
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

function compressBr(b: Buffer): Buffer {
  return brotliCompressSync(b, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: b.length },
  });
}

function makeVariant(
  coding: Coding,
  body: Buffer,
  tag: string,
  type: string,
  cacheControl: string,
  vary: boolean,
  extra: readonly (readonly [string, string])[],
): Variant {
  const etag = `"${tag}${coding === BR ? '-br' : coding === GZIP ? '-gz' : ''}"`;
  const common: (readonly [string, string])[] = [
    ['Cache-Control', cacheControl],
    ['ETag', etag],
  ];
  if (vary) common.push(['Vary', 'Accept-Encoding']);
  const ok: (readonly [string, string])[] = [['Content-Type', type]];
  if (coding === BR) ok.push(['Content-Encoding', 'br']);
  else if (coding === GZIP) ok.push(['Content-Encoding', 'gzip']);
  ok.push(...common, ['X-Content-Type-Options', 'nosniff'], ...extra);
  return {
    etag,
    ok: { status: 200, headers: ok, body },
    // RFC 9110 §15.4.5: a 304 carries the validators and caching fields of the 200 it stands for
    notModified: { status: 304, headers: common, body: EMPTY },
  };
}

/**
 * Parses Accept-Encoding (RFC 9110 §12.5.3) into the coding to send: the
 * acceptable one with the highest q among those we have; on a tie the
 * smaller (br, then gzip, then identity). `*` stands for any coding not named;
 * identity is acceptable unless excluded by `identity;q=0` or `*;q=0`, and is
 * sent anyway when nothing else is (§12.5.3 allows ignoring the header rather
 * than answering 406).
 */
export function chooseCoding(acceptEncoding: string | undefined, haveBr: boolean, haveGzip: boolean): Coding {
  if (!acceptEncoding || (!haveBr && !haveGzip)) return IDENTITY;
  let qBr = -1;
  let qGz = -1;
  let qStar = -1;
  const h = acceptEncoding.toLowerCase();
  let i = 0;
  const n = h.length;
  while (i < n) {
    // one element: token [; q=value] [; other params]
    while (i < n && (h.charCodeAt(i) === 32 || h.charCodeAt(i) === 9 || h.charCodeAt(i) === 44)) i++;
    const start = i;
    while (i < n && h.charCodeAt(i) !== 44 && h.charCodeAt(i) !== 59 && h.charCodeAt(i) !== 32 && h.charCodeAt(i) !== 9) i++;
    const name = h.slice(start, i);
    let q = 1;
    while (i < n && h.charCodeAt(i) !== 44) {
      if (h.charCodeAt(i) === 59) {
        i++;
        while (i < n && (h.charCodeAt(i) === 32 || h.charCodeAt(i) === 9)) i++;
        if (h.charCodeAt(i) === 113 /* q */ && h.charCodeAt(i + 1) === 61 /* = */) {
          i += 2;
          const vs = i;
          while (i < n && h.charCodeAt(i) !== 44 && h.charCodeAt(i) !== 59 && h.charCodeAt(i) !== 32) i++;
          const v = Number(h.slice(vs, i));
          q = Number.isFinite(v) && v >= 0 && v <= 1 ? v : 0;
          continue;
        }
      }
      i++;
    }
    if (name === 'br') qBr = q;
    else if (name === 'gzip' || name === 'x-gzip') qGz = q;
    else if (name === '*') qStar = q;
  }
  if (qBr < 0) qBr = qStar;
  if (qGz < 0) qGz = qStar;
  if (!haveBr) qBr = -1;
  if (!haveGzip) qGz = -1;
  // identity keeps its implicit acceptability (q just above 0) unless named; ties go to the smaller coding
  if (qBr > 0 && qBr >= qGz) return BR;
  if (qGz > 0) return GZIP;
  return IDENTITY;
}

/** If-None-Match (RFC 9110 §13.1.2): `*` or a list of entity tags, compared weakly. */
function matchesEtag(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === '*') return true;
  let from = 0;
  for (;;) {
    const at = ifNoneMatch.indexOf(etag, from);
    if (at < 0) return false;
    // the match must be a whole tag: preceded by start, ',', ' ' or 'W/', followed by end, ',' or ' '
    const before = at === 0 ? '' : ifNoneMatch[at - 1];
    const after = ifNoneMatch[at + etag.length];
    if ((before === '' || before === ',' || before === ' ' || before === '/') && (after === undefined || after === ',' || after === ' ')) return true;
    from = at + 1;
  }
}

const NOT_FOUND: AppResponse = {
  status: 404,
  headers: [
    ['Content-Type', 'application/json'],
    ['Cache-Control', 'no-cache'],
    ['X-Content-Type-Options', 'nosniff'],
  ],
  body: Buffer.from(JSON.stringify(new EdgeError('EDGE_ERR_APP_NOT_FOUND').toJSON())),
};

const REDIRECT: AppResponse = {
  status: 301,
  headers: [
    ['Location', '/app/'],
    ['Cache-Control', 'public, max-age=86400'],
  ],
  body: EMPTY,
};

class LoadedAppAssets implements AppAssets {
  readonly version: string;
  readonly paths: readonly string[];
  private readonly byPath: Map<string, Asset>;

  constructor(version: string, byPath: Map<string, Asset>) {
    this.version = version;
    this.byPath = byPath;
    this.paths = [...byPath.keys()].filter((p) => p !== '/app/index.html');
  }

  lookup(urlPath: string, acceptEncoding?: string, ifNoneMatch?: string): AppResponse | undefined {
    const q = urlPath.indexOf('?');
    const path = q < 0 ? urlPath : urlPath.slice(0, q);
    if (!path.startsWith('/app')) return undefined;
    if (path.length === 4) return REDIRECT; // '/app' → '/app/': relative URLs in the page resolve against /app/
    if (path.charCodeAt(4) !== 47 /* / */) return undefined; // '/apple' is not ours
    const asset = this.byPath.get(path);
    if (asset === undefined) return NOT_FOUND;
    const v = asset.variants[chooseCoding(acceptEncoding, asset.variants[BR] !== undefined, asset.variants[GZIP] !== undefined)]!;
    if (ifNoneMatch && matchesEtag(ifNoneMatch, v.etag)) return v.notModified;
    return v.ok;
  }
}

/**
 * Loads and checks the build in `distDir` (default layout: dist/app/): every
 * file the manifest lists must be there with the recorded SHA-256, and each
 * .br / .gz must decompress to it (a stale compressed file from an older
 * build would otherwise be served to most browsers). Throws
 * EDGE_ERR_APP_BUILD_MISSING / EDGE_ERR_APP_BUILD_INVALID at start, never at
 * request time.
 */
export function loadAppAssets(distDir: string, options: AppAssetsOptions = {}): AppAssets {
  const manifest = checkManifest(readBuild(distDir, 'manifest.json'), join(distDir, 'manifest.json'));
  const { sessionUrl } = options;
  const rewrite = sessionUrl !== undefined;
  // a different login endpoint is a different page: give it its own version so
  // that a service worker holding the old page installs the new one
  const version = rewrite ? sha256hex(Buffer.from(`${manifest.version}|${sessionUrl ?? ''}`)).slice(0, 16) : manifest.version;
  const byPath = new Map<string, Asset>();

  for (const f of manifest.files) {
    let body = readBuild(distDir, f.file);
    if (body.length !== f.size || sha256hex(body) !== f.sha256) invalid(`${f.file}: size or SHA-256 differs from manifest.json`);
    let br: Buffer | undefined;
    let gz: Buffer | undefined;
    if (f.br !== undefined) {
      br = readBuild(distDir, f.file + '.br');
      let same = false;
      try {
        same = brotliDecompressSync(br).equals(body);
      } catch {
        same = false;
      }
      if (!same) invalid(`${f.file}.br does not decompress to ${f.file}`);
    }
    if (f.gz !== undefined) {
      gz = readBuild(distDir, f.file + '.gz');
      let same = false;
      try {
        same = gunzipSync(gz).equals(body);
      } catch {
        same = false;
      }
      if (!same) invalid(`${f.file}.gz does not decompress to ${f.file}`);
    }

    const extra: [string, string][] = [];
    if (f.path === '/app/') {
      extra.push(['Content-Security-Policy', pageCsp(manifest, sessionUrl)], ['Referrer-Policy', 'no-referrer']);
      if (rewrite) {
        const html = body.toString('utf8');
        const meta = /<meta name="hc-session-url" content="[^"]*">/;
        if (!meta.test(html)) invalid('index.html has no <meta name="hc-session-url">');
        body = Buffer.from(html.replace(meta, `<meta name="hc-session-url" content="${escapeAttr(sessionUrl ?? '')}">`));
      }
    } else if (f.path === '/app/sw.js' && rewrite) {
      const js = body.toString('utf8');
      if (!js.includes(manifest.version)) invalid('sw.js does not carry the build version');
      body = Buffer.from(js.split(manifest.version).join(version));
    }
    if (rewrite && (f.path === '/app/' || f.path === '/app/sw.js')) {
      // the page changed: its compressed forms are made here, once, at start
      br = f.br !== undefined ? compressBr(body) : undefined;
      gz = f.gz !== undefined ? gzipSync(body, { level: 9 }) : undefined;
    }

    const tag = sha256hex(body).slice(0, 22);
    const cacheControl = f.immutable ? CACHE_IMMUTABLE : CACHE_REVALIDATE;
    const vary = br !== undefined || gz !== undefined;
    const variants: (Variant | undefined)[] = [
      makeVariant(IDENTITY, body, tag, f.type, cacheControl, vary, extra),
      br && makeVariant(BR, br, tag, f.type, cacheControl, vary, extra),
      gz && makeVariant(GZIP, gz, tag, f.type, cacheControl, vary, extra),
    ];
    const asset: Asset = { variants };
    byPath.set(f.path, asset);
    if (f.path === '/app/') byPath.set('/app/index.html', asset);
  }
  return new LoadedAppAssets(version, byPath);
}
