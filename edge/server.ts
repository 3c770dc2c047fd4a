import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import { colorByte, type CodeRecord, type Venue } from '../core/code-record.js';
import { CodedError } from '../core/coded-error.js';
import { KeySet } from '../core/key-set.js';
import { DISPLAY_HEADER_BYTES, displayExpiresAt, encodeDisplayEntry, REPLICA_DIR } from '../core/replica-layout.js';
import { verifySession } from '../core/session-token.js';
import type { SigningKey } from '../core/signing-key.js';
import { verifyTf1 } from '../core/token.js';
import type { Tf1Claims } from '../core/tf1.js';
import { loadAppAssets, type AppAssets } from './app-assets.js';
import type { EdgeConfig } from './config.js';
import {
  activeNotices,
  entryNotice,
  noticesChangeAt,
  renderDisplayBody,
  riskNotice,
  staleNotice,
  withNotice,
  type WireNotice,
} from './display-body.js';
import { EdgeError } from './errors.js';
import { errorReply, JSON_TYPE, replyCorked, replyJson, STATUS_LINE } from './http-reply.js';
import { EdgeMetrics, type Route } from './metrics.js';
import { chooseSigningKey, ensureNodeKeys, NodeKeyWatcher, rotateIfDue } from './node-keys.js';
import { ReplicaReader } from './replica-reader.js';
import { declaredLength, MAX_BODY_BYTES, parseJsonObject, startBody, stringField, watchAbort, type PendingRequest } from './request-body.js';
import { ScanSpool } from './scan-spool.js';
import { SessionCache, UID_OFFSET, type CachedSession } from './session-cache.js';
import { SignPool } from './sign-pool.js';

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
 *     ─▶ ReplicaReader.freshDisplayBody(slot's uid, now + refresh margin)
 *                             (one LMDB get; the uid is read in place)
 *     ─▶ res.end(bytes 6.. of the entry)   — the exact JSON body, sent as stored
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

const TICK_MS = 250;
/** replica state (lag, keys, node key file) is re-read every SLOW_EVERY ticks = 1 s */
const SLOW_EVERY = 4;
const KEY_ROTATION_CHECK_SEC = 3600;
/** Max length of a venue id (place code) and of a TF1 text (4 + 140 characters, some slack for a too-long token to be named by core) */
const MAX_VENUE_ID = 64;
const MAX_TOKEN_TEXT = 256;
/**
 * GET /v1/keys caching: a minute, then a conditional request (ETag). Short
 * on purpose: retiring a compromised node's key must reach scanners within
 * minutes, and a revalidation is a few hundred bytes.
 */
const KEYS_CACHE_CONTROL = 'public, max-age=60';
const WWW_AUTHENTICATE = 'Bearer realm="healthcode"';

class Edge {
  reader: ReplicaReader | null;
  readonly sessions: SessionCache;
  readonly metrics = new EdgeMetrics();
  readonly keyWatcher: NodeKeyWatcher;
  readonly inflight = new Map<string, Promise<Buffer>>();
  readonly marginSec: number;
  nowSec = 0;
  /** a stored display is served as is while its expiry > refreshBefore = now + margin */
  refreshBefore = 0;
  stale = true;
  lagSec: number | null = null;
  appliedSeq = 0;
  keySet = new KeySet([]);
  keysRaw = '';
  keysBody = '{"keys":[]}';
  keysEtag = '';
  signing: { key: SigningKey; published: boolean } | null = null;
  ticks = 0;
  lastRotationCheck = 0;
  lastKeyReload = 0;
  readerError = '';
  /** the citizen page (issue 6), or null when not served */
  app: AppAssets | null = null;

  constructor(
    readonly config: EdgeConfig,
    reader: ReplicaReader | null,
    readonly ownsReader: boolean,
    readonly spool: ScanSpool,
    readonly ownsSpool: boolean,
    readonly pool: SignPool,
    readonly manageKeys: boolean,
    readonly writerInProcess: boolean,
    readonly log: (line: string) => void,
  ) {
    this.reader = reader;
    this.sessions = new SessionCache(config.sessionCacheSize);
    this.keyWatcher = new NodeKeyWatcher(config.dataDir);
    this.marginSec = Math.max(1, Math.ceil(config.tokenTtlSec / 10));
  }
}

// ─── periodic state (timer, never per request) ───────────────────────────────

function tick(edge: Edge): void {
  edge.nowSec = Math.floor(Date.now() / 1000);
  edge.refreshBefore = edge.nowSec + edge.marginSec;
  if (++edge.ticks % SLOW_EVERY === 0) {
    try {
      refreshState(edge);
    } catch (err) {
      edge.log(`edge: refreshing replica state failed: ${(err as Error).stack ?? String(err)}`);
    }
  }
}

function tryOpenReader(edge: Edge): void {
  try {
    edge.reader = ReplicaReader.open(join(edge.config.dataDir, REPLICA_DIR));
    edge.readerError = '';
  } catch (err) {
    const msg = (err as Error).message;
    if (msg !== edge.readerError) edge.log(`edge: replica not available yet: ${msg}`);
    edge.readerError = msg;
  }
}

/** Lag, staleness, key set, node keys: what the request paths read as plain fields. */
function refreshState(edge: Edge): void {
  const nowMs = Date.now();
  edge.nowSec = Math.floor(nowMs / 1000);
  edge.refreshBefore = edge.nowSec + edge.marginSec;
  if (edge.reader === null && edge.ownsReader) tryOpenReader(edge);
  const reader = edge.reader;
  if (reader === null) {
    edge.stale = true;
    edge.lagSec = null;
  } else {
    reader.refresh();
    const syncedAt = reader.syncedAt();
    edge.lagSec = syncedAt === undefined ? null : Math.max(0, (nowMs - syncedAt) / 1000);
    // Never synced = unknown freshness = stale: decide explicitly, don't assume.
    edge.stale = edge.lagSec === null || edge.lagSec > edge.config.maxLagSec;
    edge.appliedSeq = reader.appliedSeq();
    reloadKeySet(edge, reader);
  }
  edge.keyWatcher.refresh();
  if (edge.manageKeys && edge.nowSec - edge.lastRotationCheck >= KEY_ROTATION_CHECK_SEC) {
    edge.lastRotationCheck = edge.nowSec;
    const rotated = rotateIfDue(edge.config.dataDir, keyOptions(edge.config, edge.nowSec, edge.keySet));
    if (rotated !== null) {
      edge.log(`edge: generated node key ${rotated.kid}, in force from ${rotated.notBefore}: register its public half`);
      edge.keyWatcher.refresh();
    }
  }
  const keySet = edge.keySet;
  edge.signing = chooseSigningKey(edge.keyWatcher.current(), edge.nowSec, function isPublished(kid, publicKey) {
    return keySet.get(kid)?.publicKey === publicKey;
  });
}

function reloadKeySet(edge: Edge, reader: ReplicaReader): void {
  const raw = reader.keys();
  const text = JSON.stringify(raw ?? null);
  if (text === edge.keysRaw) return;
  edge.keysRaw = text;
  try {
    edge.keySet = raw === undefined || raw === null ? new KeySet([]) : KeySet.fromPublicJson(raw);
  } catch (err) {
    // keep verifying with the last good set; the operator sees the log
    edge.log(`edge: replica key set rejected, keeping the previous one: ${(err as Error).message}`);
    return;
  }
  edge.keysBody = JSON.stringify(edge.keySet.toPublicJson());
  edge.keysEtag = `"${createHash('sha256').update(edge.keysBody).digest('base64url').slice(0, 22)}"`;
}

function keyOptions(config: EdgeConfig, now: number, published: KeySet) {
  const avoidKids = published.toPublicJson().keys.map((k) => k.kid);
  return { alg: config.signAlg, lifetimeSec: config.keyLifetimeDays * 86_400, now, avoidKids };
}

// ─── answers ────────────────────────────────────────────────────────────────

function logInternal(edge: Edge): (err: unknown) => void {
  return function logIt(err) {
    edge.log(`edge: internal error: ${(err as Error)?.stack ?? String(err)}`);
  };
}

/** Error answer inside the synchronous part of a handler (already corked). */
function replyError(edge: Edge, res: HttpResponse, route: Route, err: unknown, close = false): void {
  const r = errorReply(err, logInternal(edge));
  edge.metrics.count(route, r.status);
  try {
    if (r.status === 401) replyJson(res, 401, r.body, close, 'www-authenticate', WWW_AUTHENTICATE);
    else replyJson(res, r.status, r.body, close);
  } catch {
    // the response was already ended or aborted: nothing left to tell the client
  }
}

/** Error answer after an await: corked. */
function replyErrorLater(edge: Edge, res: HttpResponse, route: Route, err: unknown, close = false): void {
  const r = errorReply(err, logInternal(edge));
  edge.metrics.count(route, r.status);
  try {
    if (r.status === 401) replyCorked(res, 401, r.body, close, 'www-authenticate', WWW_AUTHENTICATE);
    else replyCorked(res, r.status, r.body, close);
  } catch {
    // aborted meanwhile
  }
}

function requireReader(edge: Edge): ReplicaReader {
  if (edge.reader === null) throw new EdgeError('EDGE_ERR_REPLICA_MISSING', edge.readerError || undefined);
  return edge.reader;
}

// ─── sessions ───────────────────────────────────────────────────────────────

const BEARER = /^bearer +/i;

/**
 * Slow path of session checking: any header spelling the scheme allows,
 * the cache by token, else HMAC verify and remember. Throws 401 errors.
 */
function authenticate(edge: Edge, header: string): CachedSession {
  if (header === '') throw new EdgeError('EDGE_ERR_UNAUTHENTICATED');
  const m = BEARER.exec(header);
  if (m === null) throw new EdgeError('EDGE_ERR_UNAUTHENTICATED', 'Authorization scheme must be Bearer');
  const token = header.slice(m[0].length).trim();
  const slot = edge.sessions.find(token, edge.nowSec);
  if (slot >= 0) return edge.sessions.sessionAt(slot);
  const claims = verifySession(edge.config.sessionKey, token, edge.nowSec);
  edge.sessions.remember(token, edge.nowSec);
  return claims;
}

function session(edge: Edge, header: string): CachedSession {
  const slot = edge.sessions.lookup(header, edge.nowSec);
  return slot >= 0 ? edge.sessions.sessionAt(slot) : authenticate(edge, header);
}

// ─── GET /v1/code ───────────────────────────────────────────────────────────

/**
 * HOT PATH. A cached session and a fresh stored display: one table probe,
 * one LMDB lookup, one send — no allocation of ours. uWS corks the
 * synchronous part of a handler (status, header and body leave in one
 * send) and writes Content-Length itself. Everything else — first sight of
 * a session, a bad one, a stale replica, no display or one due for
 * re-signing — goes to displaySlow.
 *
 * Header names and values stay JS strings: uWS converts a short string on
 * the stack (v8::String::Utf8Value), while each Uint8Array argument costs a
 * v8::ArrayBuffer::GetBackingStore (an atomic shared_ptr copy). Measured
 * with perf on this path: pre-encoded header buffers cost ≈ 1.7 % of its
 * CPU, the strings ≈ 1.3 % — no gain, so the plain form stays.
 */
function onCode(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  try {
    const auth = req.getHeader('authorization');
    const slot = edge.sessions.lookup(auth, edge.nowSec);
    if (slot >= 0 && !edge.stale) {
      // synchronously, before anything else reads: the body is a view of lmdb's shared buffer (FACTS)
      const body = edge.reader!.freshDisplayBody(edge.sessions.table, slot + UID_OFFSET, edge.refreshBefore);
      if (body !== undefined) {
        edge.metrics.displayHits++;
        res.writeHeader('content-type', JSON_TYPE).end(body);
        return;
      }
    }
    displaySlow(edge, res, auth);
  } catch (err) {
    replyError(edge, res, '/v1/code', err);
  }
}

function displaySlow(edge: Edge, res: HttpResponse, auth: string): void {
  const s = session(edge, auth);
  if (edge.stale) {
    displayStale(edge, res, s.uid);
    return;
  }
  const view = edge.reader!.displayFast(s.uid);
  if (view !== undefined && displayExpiresAt(view) > edge.refreshBefore) {
    edge.metrics.displayHits++;
    res.writeHeader('content-type', JSON_TYPE).end(view.subarray(DISPLAY_HEADER_BYTES, view.length));
    return;
  }
  void displayMiss(edge, res, s.uid);
}

/** Stale replica: the stored body (if still good) with the stale notice added; else sign as for a miss. */
function displayStale(edge: Edge, res: HttpResponse, uid: Buffer): void {
  const view = requireReader(edge).displayFast(uid);
  if (view !== undefined && displayExpiresAt(view) > edge.refreshBefore) {
    const body = withNotice(view.subarray(DISPLAY_HEADER_BYTES, view.length), staleNotice(edge.lagSec));
    edge.metrics.displayStale++;
    edge.metrics.count('/v1/code', 200);
    replyJson(res, 200, body);
    return;
  }
  void displayMiss(edge, res, uid);
}

async function displayMiss(edge: Edge, res: HttpResponse, uid: Buffer): Promise<void> {
  const p = watchAbort(res);
  edge.metrics.displayMisses++;
  try {
    const body = await renderCoalesced(edge, uid);
    if (p.aborted) return;
    if (edge.stale) {
      edge.metrics.displayStale++;
      replyCorked(res, 200, withNotice(body, staleNotice(edge.lagSec)));
    } else {
      replyCorked(res, 200, body);
    }
    edge.metrics.count('/v1/code', 200);
  } catch (err) {
    if (!p.aborted) replyErrorLater(edge, res, '/v1/code', err);
  }
}

/** One signature per uid at a time: concurrent misses (a person's app retrying, a refresh storm) share it. */
function renderCoalesced(edge: Edge, uid: Buffer): Promise<Buffer> {
  const k = uid.toString('latin1');
  let pr = edge.inflight.get(k);
  if (pr !== undefined) {
    edge.metrics.displayCoalesced++;
    return pr;
  }
  pr = renderDisplay(edge, uid);
  edge.inflight.set(k, pr);
  const done = function dropInflight(): void {
    edge.inflight.delete(k);
  };
  pr.then(done, done);
  return pr;
}

async function renderDisplay(edge: Edge, uid: Buffer): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    const reader = requireReader(edge);
    const record = reader.code(uid);
    if (record === undefined) throw new EdgeError('EDGE_ERR_NOT_REGISTERED');
    const signing = edge.signing;
    if (signing === null) throw new EdgeError('EDGE_ERR_SIGNING', 'no node key in force');
    const iat = edge.nowSec;
    const exp = Math.min(iat + edge.config.tokenTtlSec, signing.key.notAfter);
    if (exp <= iat) throw new EdgeError('EDGE_ERR_SIGNING', `key ${signing.key.kid} ends now`);
    const token = await edge.pool.sign(signing.key.kid, { uid, color: colorByte(record.color), iat, exp });
    // The daemon may have changed the code while we signed: look again.
    reader.refresh();
    const current = reader.code(uid);
    if (current === undefined) throw new EdgeError('EDGE_ERR_NOT_REGISTERED');
    if (current.seq !== record.seq && attempt < 2) continue;
    const body = renderDisplayBody(record, token, exp, iat);
    // Stored expiry: the token's, or earlier when a notice ends first — shifted by the
    // margin so the hot path (expiry > now + margin) re-renders right when the notice ends.
    const storedUntil = Math.min(exp, noticesChangeAt(record.notices, iat) + edge.marginSec);
    const entry = encodeDisplayEntry(storedUntil, signing.key.kid, body);
    // Writer in this process: the answer waits for put + recheck. Otherwise a code change applied
    // right after the answer (a test's next line, an operator's click) could be overtaken by the
    // still-queued put, and the next display would serve the old colour until the recheck's undo
    // lands — seen as an intermittent failure of test/edge-server.test.ts "shows the new colour
    // after a code change" under load. Misses only; edge processes (below) never wait.
    if (edge.writerInProcess) await storeThenRecheck(edge, reader, uid, entry, record.seq);
    // not awaited: the answer does not wait for the write; ifCodeSeq: dropped if the code changed
    // meanwhile (replica-layout invariant)
    else reader.putDisplay(uid, entry, record.seq).catch(function putFailed(err: unknown) {
      edge.log(`edge: storing a display entry failed: ${(err as Error).message}`);
    });
    return body;
  }
}

/** A display entry that has always expired: the next display re-renders. */
const EXPIRED_ENTRY = encodeDisplayEntry(0, 0, Buffer.alloc(0));

/** See EdgeDeps.writerInProcess: put, then undo if the code moved while the put was in flight. */
async function storeThenRecheck(edge: Edge, reader: ReplicaReader, uid: Buffer, entry: Buffer, seq: number): Promise<void> {
  try {
    await reader.putDisplay(uid, entry);
    reader.refresh();
    if (reader.code(uid)?.seq !== seq) await reader.putDisplay(uid, EXPIRED_ENTRY);
  } catch (err) {
    edge.log(`edge: storing a display entry failed: ${(err as Error).message}`);
  }
}

// ─── POST /v1/scan, POST /v1/verify ───────────────────────────────────────────

function venueJson(v: Venue): { id: string; name: string; kind: string } {
  return { id: v.id, name: v.name, kind: v.kind };
}

function scanNotices(edge: Edge, record: CodeRecord, venue: Venue, reader: ReplicaReader): { notices: WireNotice[]; riskArea: { region: string; level: string } | null } {
  const notices = activeNotices(record.notices, edge.nowSec);
  if (venue.kind === 'entry') notices.push(entryNotice(venue));
  const area = reader.riskAreaCovering(venue.region);
  if (area !== undefined) {
    const n = riskNotice(area);
    if (n !== null) notices.push(n);
  }
  if (edge.stale) notices.push(staleNotice(edge.lagSec));
  return { notices, riskArea: area === undefined ? null : { region: area.region, level: area.level } };
}

/** Synchronous part shared by the POST routes: early 413 on a declared oversize body, else start reading. */
function startPost(edge: Edge, res: HttpResponse, req: HttpRequest, route: Route): PendingRequest | null {
  const len = declaredLength(req.getHeader('content-length'));
  if (len > MAX_BODY_BYTES) {
    replyError(edge, res, route, new EdgeError('EDGE_ERR_BODY_TOO_LARGE', `Content-Length ${len}`), true);
    return null;
  }
  return startBody(res);
}

function onScan(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  const auth = req.getHeader('authorization');
  const p = startPost(edge, res, req, '/v1/scan');
  if (p !== null) void finishScan(edge, p, auth);
}

async function finishScan(edge: Edge, p: PendingRequest, auth: string): Promise<void> {
  await p.finished;
  if (p.aborted) return;
  try {
    if (p.tooLarge) throw new EdgeError('EDGE_ERR_BODY_TOO_LARGE');
    const s = session(edge, auth);
    const body = parseJsonObject(p.body);
    const venueId = stringField(body, 'venue', MAX_VENUE_ID);
    const reader = requireReader(edge);
    const venue = reader.venue(venueId);
    if (venue === undefined) throw new EdgeError('EDGE_ERR_VENUE_UNKNOWN', undefined, 'venue');
    const record = reader.code(s.uid);
    if (record === undefined) throw new EdgeError('EDGE_ERR_NOT_REGISTERED');
    const { notices, riskArea } = scanNotices(edge, record, venue, reader);
    // durable BEFORE the answer (DESIGN §1, §6): an answered scan is never lost
    await edge.spool.append({ kind: 'scan', uid: s.uid, venue: venue.id, at: Date.now(), color: record.color });
    edge.metrics.scans++;
    if (p.aborted) return;
    const out = JSON.stringify({ color: record.color, name: record.name, venue: venueJson(venue), riskArea, notices });
    replyCorked(p.res, 200, out);
    edge.metrics.count('/v1/scan', 200);
  } catch (err) {
    if (!p.aborted) replyErrorLater(edge, p.res, '/v1/scan', err, p.tooLarge);
  }
}

/**
 * Scanners are not authenticated at the edge: a verify reveals only the
 * current colour and masked name of the person whose token the scanner
 * holds — what the token itself already shows — and the venue id names the
 * place for tracing. A deployment that needs scanner identity terminates
 * mTLS (or a scanner API key) at the load balancer.
 */
function onVerify(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  const p = startPost(edge, res, req, '/v1/verify');
  if (p !== null) void finishVerify(edge, p);
}

/** verifyTf1 against the replica's key set; a kid we do not know yet triggers one early reload (at most once a second). */
function verifyToken(edge: Edge, token: string, reader: ReplicaReader): Tf1Claims {
  try {
    return verifyTf1(token, edge.keySet, edge.nowSec);
  } catch (err) {
    if (!(err instanceof CodedError) || err.code !== 'CORE_ERR_TF1_KID' || edge.nowSec === edge.lastKeyReload) throw err;
    edge.lastKeyReload = edge.nowSec;
    reader.refresh();
    reloadKeySet(edge, reader);
    return verifyTf1(token, edge.keySet, edge.nowSec);
  }
}

async function finishVerify(edge: Edge, p: PendingRequest): Promise<void> {
  await p.finished;
  if (p.aborted) return;
  try {
    if (p.tooLarge) throw new EdgeError('EDGE_ERR_BODY_TOO_LARGE');
    const body = parseJsonObject(p.body);
    const token = stringField(body, 'token', MAX_TOKEN_TEXT);
    const venueId = stringField(body, 'venue', MAX_VENUE_ID);
    const reader = requireReader(edge);
    const venue = reader.venue(venueId);
    if (venue === undefined) throw new EdgeError('EDGE_ERR_VENUE_UNKNOWN', undefined, 'venue');
    const claims = verifyToken(edge, token, reader);
    const uid = Buffer.from(claims.uid);
    // the token says what the colour WAS when signed; the replica says what it is now
    const record = reader.code(uid);
    if (record === undefined) throw new EdgeError('EDGE_ERR_NOT_REGISTERED');
    const { notices, riskArea } = scanNotices(edge, record, venue, reader);
    await edge.spool.append({ kind: 'verify', uid, venue: venue.id, at: Date.now(), color: record.color });
    edge.metrics.verifies++;
    if (p.aborted) return;
    const tokenColor = claims.color === 0 ? 'green' : claims.color === 1 ? 'yellow' : 'red';
    const out = JSON.stringify({
      valid: true,
      color: record.color,
      tokenColor,
      changed: tokenColor !== record.color,
      reason: record.reason,
      since: record.since,
      until: record.until,
      name: record.name,
      kid: claims.kid,
      issuedAt: claims.iat,
      expiresAt: claims.exp,
      venue: venueJson(venue),
      riskArea,
      notices,
    });
    replyCorked(p.res, 200, out);
    edge.metrics.count('/v1/verify', 200);
  } catch (err) {
    if (!p.aborted) replyErrorLater(edge, p.res, '/v1/verify', err, p.tooLarge);
  }
}

// ─── keys, health, metrics, fallbacks ─────────────────────────────────────────

function onKeys(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  const inm = req.getHeader('if-none-match');
  if (inm !== '' && edge.keysEtag !== '' && inm.includes(edge.keysEtag)) {
    edge.metrics.count('/v1/keys', 304);
    res.writeStatus(STATUS_LINE[304]!).writeHeader('etag', edge.keysEtag).writeHeader('cache-control', KEYS_CACHE_CONTROL).endWithoutBody();
    return;
  }
  edge.metrics.count('/v1/keys', 200);
  res
    .writeStatus(STATUS_LINE[200]!)
    .writeHeader('content-type', JSON_TYPE)
    .writeHeader('etag', edge.keysEtag)
    .writeHeader('cache-control', KEYS_CACHE_CONTROL)
    .end(edge.keysBody);
}

function onHealthz(edge: Edge, res: HttpResponse): void {
  edge.metrics.count('/healthz', 200);
  replyJson(res, 200, `{"status":"ok","pid":${process.pid}}`);
}

function onReadyz(edge: Edge, res: HttpResponse): void {
  try {
    refreshState(edge);
  } catch (err) {
    replyError(edge, res, '/readyz', err);
    return;
  }
  const detail = {
    lagSec: edge.lagSec,
    maxLagSec: edge.config.maxLagSec,
    appliedSeq: edge.appliedSeq,
    signingKid: edge.signing?.key.kid ?? null,
    signingKeyPublished: edge.signing?.published ?? null,
  };
  if (edge.stale) {
    const why = edge.reader === null
      ? `replica not loaded (${edge.readerError || 'absent'})`
      : edge.lagSec === null
        ? 'replica was never synced'
        : `replica lags ${Math.round(edge.lagSec)} s, more than EDGE_MAX_LAG_SEC=${edge.config.maxLagSec}`;
    edge.metrics.count('/readyz', 503);
    replyJson(res, 503, JSON.stringify({ error: 'EDGE_ERR_NOT_READY', message: why, ready: false, ...detail }));
    return;
  }
  edge.metrics.count('/readyz', 200);
  replyJson(res, 200, JSON.stringify({ ready: true, ...detail }));
}

function onMetrics(edge: Edge, res: HttpResponse): void {
  edge.metrics.count('/metrics', 200);
  let spoolDepth = -1;
  try {
    spoolDepth = edge.spool.depth();
  } catch {
    // reported as -1
  }
  const text = edge.metrics.render(
    {
      lagSec: edge.lagSec,
      appliedSeq: edge.appliedSeq,
      spoolDepth,
      sessionCacheEntries: edge.sessions.size,
      signingKeyPublished: edge.signing?.published ?? null,
      ready: !edge.stale,
    },
    edge.pool,
  );
  res.writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8').end(text);
}

/** GET/HEAD /app and /app/*: the citizen page, precompressed, from memory (edge/app-assets.ts). */
function onApp(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  const r = edge.app?.lookup(req.getUrl(), req.getHeader('accept-encoding'), req.getHeader('if-none-match'));
  if (r === undefined) {
    replyError(edge, res, '/app', new EdgeError('EDGE_ERR_ROUTE', `${req.getUrl()}: the citizen page is not built on this node`));
    return;
  }
  const head = req.getMethod() === 'head';
  try {
    res.writeStatus(r.status === 301 ? '301 Moved Permanently' : STATUS_LINE[r.status] ?? `${r.status} Unknown`);
    for (const [name, value] of r.headers) res.writeHeader(name, value);
    // 304 carries no body and must not claim Content-Length: 0 (RFC 9110 §15.4.5)
    // (uWS 20.30 aborts the process on endWithoutBody(length): measured, so HEAD goes without a length)
    if (r.status === 304 || head) res.endWithoutBody();
    else res.end(r.body);
    edge.metrics.count('/app', r.status);
  } catch (err) {
    edge.log(`edge: /app reply failed: ${(err as Error).stack}`);
    throw err;
  }
}

function methodNotAllowed(edge: Edge, res: HttpResponse, route: Route, allow: string): void {
  edge.metrics.count(route, 405);
  const r = errorReply(new EdgeError('EDGE_ERR_METHOD', `${route} allows ${allow}`), logInternal(edge));
  replyJson(res, 405, r.body, false, 'allow', allow);
}

function notFound(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  replyError(edge, res, 'other', new EdgeError('EDGE_ERR_ROUTE', `${req.getMethod().toUpperCase()} ${req.getUrl()}`));
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
  const spool = deps.spool ?? ScanSpool.open(config.dataDir);
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
