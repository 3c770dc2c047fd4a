import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import uWS, { type TemplatedApp, type us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import { KeySet } from '../core/key-set.js';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { loadAppAssets, type AppAssets } from './app-assets.js';
import type { EdgeConfig } from './config.js';
import { EdgeError } from './errors.js';
import { ensureNodeKeys } from './node-keys.js';
import type { Route } from './metrics.js';
import { ReplicaReader } from './replica-reader.js';
import { ScanSpool } from './scan-spool.js';
import { SignPool } from './sign-pool.js';
import { TICK_MS, Edge, tick, refreshState, keyOptions } from './edge-state.js';
import { onCode } from './route-display.js';
import { onScan, onVerify } from './route-scan.js';
import { methodNotAllowed, notFound, onApp, onHealthz, onKeys, onMetrics, onReadyz } from './route-ops.js';

/**
 * The edge HTTP server (DESIGN §1, §5): uWebSockets.js answering display,
 * scan, verify and keys from the node's memory-mapped LMDB replica. It never
 * calls the master or Redis; it signs only through the piscina pool.
 *
 * Display hot path (GET /v1/code), all synchronous, no closure or object
 * of ours made per request (uWS hands out the header as a string):
 *
 *   Authorization header ─▶ SessionCache.lookup (decode the token, probe one
 *                             64-byte slot, expiry check)
 *     ─▶ DisplayCache.body(slot)  (the arena entry the slot names: uid check,
 *                             expiry check; validated once per turn against
 *                             the replica's change log — edge/display-cache.ts)
 *     ─▶ else ReplicaReader.freshDisplayBody(slot's uid, now + refresh margin)
 *                             (one LMDB get; the uid is read in place), kept
 *                             in the DisplayCache for the next display
 *     ─▶ res.end(the body)   — the exact JSON body, sent as stored
 *
 * Everything else is the slow path: a session not cached yet (HMAC check),
 * no stored display or one near expiry (sign on the pool, render, store,
 * answer — concurrent misses for one uid share one signature), a stale
 * replica (answers carry a notice), scans and verifies (body, spool commit).
 *
 * Token lifetime: TOKEN_TTL_SEC (default 3600 s), never past the signing
 * key's notAfter. A token is re-signed when less than 10 % of its lifetime
 * is left: a QR shown at the last moment still has ≥ 6 minutes to be read
 * in a queue, and an active person costs at most one signature per ~54
 * minutes of use — 20M daily users ≈ 20–40M Ed25519 signatures a day
 * (≈ 500/s at most across the fleet, FACTS: 33k/s per core). Longer tokens
 * would widen the window in which an OFFLINE scanner accepts a code that has
 * since turned red (online /v1/verify always answers the current colour).
 */
export interface EdgeDeps {
  /** An open replica reader (the embedded stack shares its process with the sync writer). Default: open `<dataDir>/replica`, retried every second until it exists. */
  readonly reader?: ReplicaReader;
  /** An open scan spool. Default: `<dataDir>/spool`. */
  readonly spool?: ScanSpool;
  /** Bind with SO_REUSEPORT sharing (forked server processes of one node). Default false: exclusive bind, so a clash with another program fails the start (FACTS: uWS). */
  readonly sharedPort?: boolean;
  /** Rotate this node's keys when due (default true; false in forked servers, whose supervisor does it). */
  readonly manageKeys?: boolean;
  /** Log line sink (default stderr). */
  readonly log?: (line: string) => void;
  /**
   * True when a ReplicaWriter writes the same replica from THIS process (the
   * embedded stack, tests). Display puts then avoid lmdb-js callback
   * transactions: measured with lmdb 3.5.6, a `transaction(cb)` pending while
   * the same process runs a `transactionSync` on the env either blocks the
   * process for good (two roots) or is silently dropped (one root). The
   * server then stores with a plain put, re-reads the code once the put has
   * committed, and overwrites the entry with an expired one if the code
   * changed meanwhile. Default false: edge servers are their own processes
   * and use the atomic check-and-put (ReplicaReader.putDisplay ifCodeSeq).
   */
  readonly writerInProcess?: boolean;
  /**
   * The citizen page served at /app/ (issue 6). Default: the build in
   * dist/app (edge/app/build.mjs, part of `npm run build`); when it is not
   * built, /app/ answers 404 and a line is logged. null: no page.
   */
  readonly app?: AppAssets | null;
}

/**
 * dist/app beside the compiled server (dist/edge/server.js), or under dist/ when running from source;
 * HC_APP_DIR overrides it (like HC_CONSOLE_DIR for the console: tests serve their own build).
 */
export function defaultAppDir(): string {
  const dir = process.env.HC_APP_DIR;
  if (dir !== undefined && dir !== '') return dir;
  return fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../dist/app/' : '../app/', import.meta.url));
}

function loadDefaultApp(log: (line: string) => void, sessionUrl?: string | null): AppAssets | null {
  const dir = defaultAppDir();
  if (!existsSync(join(dir, 'manifest.json'))) {
    log(`edge: citizen page not built (${dir}): /app/ answers 404 — run npm run build`);
    return null;
  }
  try {
    return loadAppAssets(dir, sessionUrl === undefined ? {} : { sessionUrl });
  } catch (err) {
    log(`edge: citizen page build in ${dir} refused: ${(err as Error).message}`);
    return null;
  }
}

export interface EdgeServer {
  readonly port: number;
  close(): Promise<void>;
}

function buildApp(edge: Edge): TemplatedApp {
  const app = uWS.App();
  // One closure per route, made once at start; the handlers they call are top-level functions.
  app.get('/v1/code', (res, req) => onCode(edge, res, req));
  app.post('/v1/scan', (res, req) => onScan(edge, res, req));
  app.post('/v1/verify', (res, req) => onVerify(edge, res, req));
  app.get('/v1/keys', (res, req) => onKeys(edge, res, req));
  app.get('/healthz', (res) => onHealthz(edge, res));
  app.get('/readyz', (res) => onReadyz(edge, res));
  app.get('/metrics', (res) => onMetrics(edge, res));
  app.get('/app', (res, req) => onApp(edge, res, req));
  app.get('/app/*', (res, req) => onApp(edge, res, req));
  app.head('/app', (res, req) => onApp(edge, res, req));
  app.head('/app/*', (res, req) => onApp(edge, res, req));
  // uWS prefers method-specific routes over `any` on the same pattern: these catch the other methods.
  const allowed: ReadonlyArray<readonly [Route, string]> = [
    ['/v1/code', 'GET'],
    ['/v1/scan', 'POST'],
    ['/v1/verify', 'POST'],
    ['/v1/keys', 'GET'],
    ['/healthz', 'GET'],
    ['/readyz', 'GET'],
    ['/metrics', 'GET'],
  ];
  for (const [route, allow] of allowed) app.any(route, (res) => methodNotAllowed(edge, res, route, allow));
  app.any('/*', (res, req) => notFound(edge, res, req));
  return app;
}

// ─── start / stop ────────────────────────────────────────────────────────────

/** uWS ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT (docs/index.d.ts; the runtime export is missing from the types). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/** uWS 20.30's App has close() (stops listening, closes every connection); its .d.ts does not list it. */
function closeApp(app: TemplatedApp): void {
  (app as unknown as { close(): void }).close();
}

function listen(app: TemplatedApp, host: string, port: number, shared: boolean): Promise<us_listen_socket | false> {
  return new Promise((resolve) => {
    if (shared) app.listen(host, port, resolve);
    // (host, port, options, cb): exists in the native addon, missing from its .d.ts
    else (app.listen as unknown as (h: string, p: number, o: number, cb: (s: us_listen_socket | false) => void) => void)(host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, resolve);
  });
}

/**
 * Starts one edge server. Port 0 picks a free port (read back from the
 * listen socket). Creates this node's signing key on first start.
 */
export async function startEdgeServer(config: EdgeConfig, deps: EdgeDeps = {}): Promise<EdgeServer> {
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const nowSec = Math.floor(Date.now() / 1000);
  let reader: ReplicaReader | null = deps.reader ?? null;
  const ownsReader = deps.reader === undefined;
  const spool = deps.spool ?? ScanSpool.open(config.dataDir, config.scanGatherMs ?? 0);
  const ownsSpool = deps.spool === undefined;
  let pool: SignPool | null = null;
  try {
    if (ownsReader) {
      try {
        reader = ReplicaReader.open(join(config.dataDir, REPLICA_DIR));
      } catch (err) {
        if (!(err instanceof EdgeError) || err.code !== 'EDGE_ERR_REPLICA_MISSING') throw err;
        log(`edge: starting without a replica (${err.message}); /readyz answers 503 until sync bootstraps it`);
      }
    }
    const published = (() => {
      try {
        const raw = reader?.keys();
        return raw === undefined || raw === null ? new KeySet([]) : KeySet.fromPublicJson(raw);
      } catch {
        return new KeySet([]);
      }
    })();
    ensureNodeKeys(config.dataDir, keyOptions(config, nowSec, published));
    pool = new SignPool({ dataDir: config.dataDir, threads: config.signThreads });
    const edge = new Edge(config, reader, ownsReader, spool, ownsSpool, pool, deps.manageKeys ?? true, deps.writerInProcess ?? false, log);
    edge.lastRotationCheck = deps.manageKeys === false ? Number.MAX_SAFE_INTEGER : 0;
    edge.app = deps.app === undefined ? loadDefaultApp(log, config.appSessionUrl) : deps.app;
    refreshState(edge);
    const app = buildApp(edge);
    const socket = await listen(app, config.host, config.port, deps.sharedPort ?? false);
    if (socket === false) {
      closeApp(app);
      throw new EdgeError('EDGE_ERR_CONFIG', `cannot listen on ${config.host}:${config.port} (in use, or not an address of this host)`, 'EDGE_PORT');
    }
    const port = uWS.us_socket_local_port(socket);
    const timer = setInterval(tick, TICK_MS, edge);
    timer.unref();
    let closing: Promise<void> | null = null;
    return {
      port,
      close(): Promise<void> {
        closing ??= (async () => {
          clearInterval(timer);
          closeApp(app);
          await edge.pool.close();
          if (edge.ownsSpool) await edge.spool.close();
          if (edge.ownsReader && edge.reader !== null) await edge.reader.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await pool?.close();
    if (ownsSpool) await spool.close();
    if (ownsReader && reader !== null) await reader.close();
    throw err;
  }
}
