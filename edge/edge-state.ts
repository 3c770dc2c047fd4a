import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { KeySet } from '../core/key-set.js';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { verifySession } from '../core/session-token.js';
import type { SigningKey } from '../core/signing-key.js';
import { type AppAssets } from './app-assets.js';
import type { EdgeConfig } from './config.js';
import { DisplayCache } from './display-cache.js';
import { EdgeError } from './errors.js';
import { errorReply, replyCorked, replyJson } from './http-reply.js';
import { EdgeMetrics, type Route } from './metrics.js';
import { chooseSigningKey, NodeKeyWatcher, rotateIfDue } from './node-keys.js';
import { ReplicaReader } from './replica-reader.js';
import { VenueAnswers } from './scan-answer.js';
import { ScanSpool } from './scan-spool.js';
import { SessionCache, type CachedSession } from './session-cache.js';
import { SignPool } from './sign-pool.js';

/**
 * The edge server's state (edge/server.ts): what the request paths read as
 * plain fields, refreshed by a timer (tick, refreshState) — never per
 * request — and the answers and session checks every route shares.
 */
export const TICK_MS = 250;
/** replica state (lag, keys, node key file) is re-read every SLOW_EVERY ticks = 1 s */
const SLOW_EVERY = 4;
const KEY_ROTATION_CHECK_SEC = 3600;
/** Max length of a venue id (place code) and of a TF1 text (4 + 140 characters, some slack for a too-long token to be named by core) */
export const MAX_VENUE_ID = 64;
export const MAX_TOKEN_TEXT = 256;
/**
 * GET /v1/keys caching: a minute, then a conditional request (ETag). Short
 * on purpose: retiring a compromised node's key must reach scanners within
 * minutes, and a revalidation is a few hundred bytes.
 */
export const KEYS_CACHE_CONTROL = 'public, max-age=60';
export const WWW_AUTHENTICATE = 'Bearer realm="healthcode"';

export class Edge {
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
  /** display bodies in memory (edge/display-cache.ts), null when EDGE_DISPLAY_CACHE=0 */
  readonly cache: DisplayCache | null;
  /** the cache was validated against the replica in this event-loop turn */
  turnChecked = false;
  /** the venue parts of scan answers (edge/scan-answer.ts), validated by the applied sequence */
  readonly venueAnswers = new VenueAnswers();
  /** the venue answers were validated against the replica in this event-loop turn */
  scanTurnChecked = false;
  /** where the background session sweep continues (slot index) */
  sweepAt = 0;

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
    const n = config.displayCacheSize ?? config.sessionCacheSize;
    this.cache = n > 0 ? new DisplayCache(n, this.sessions.table) : null;
    this.keyWatcher = new NodeKeyWatcher(config.dataDir);
    this.marginSec = Math.max(1, Math.ceil(config.tokenTtlSec / 10));
  }
}

// ─── periodic state (timer, never per request) ───────────────────────────────

/** session slots swept per tick (250 ms): a 262 144-slot table (the default cache) every 8 s, ≈ 20 µs a tick */
const SESSION_SWEEP_SLOTS = 8192;

export function tick(edge: Edge): void {
  edge.nowSec = Math.floor(Date.now() / 1000);
  edge.refreshBefore = edge.nowSec + edge.marginSec;
  edge.sweepAt = edge.sessions.sweep(edge.sweepAt, SESSION_SWEEP_SLOTS, edge.nowSec);
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
export function refreshState(edge: Edge): void {
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

export function reloadKeySet(edge: Edge, reader: ReplicaReader): void {
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

export function keyOptions(config: EdgeConfig, now: number, published: KeySet) {
  const avoidKids = published.toPublicJson().keys.map((k) => k.kid);
  return { alg: config.signAlg, lifetimeSec: config.keyLifetimeDays * 86_400, now, avoidKids };
}

/**
 * Once per event-loop turn, before the first venue answer is used: bring
 * them to the replica's applied sequence (edge/scan-answer.ts). The flag is
 * cleared in the check phase of this turn, as for the display cache.
 */
export function checkScanTurn(edge: Edge, reader: ReplicaReader): void {
  edge.scanTurnChecked = true;
  setImmediate(endScanTurn, edge);
  edge.venueAnswers.validate(reader.appliedSeq());
}

function endScanTurn(edge: Edge): void {
  edge.scanTurnChecked = false;
}

// ─── answers ────────────────────────────────────────────────────────────────

export function logInternal(edge: Edge): (err: unknown) => void {
  return function logIt(err) {
    edge.log(`edge: internal error: ${(err as Error)?.stack ?? String(err)}`);
  };
}

/** Error answer inside the synchronous part of a handler (already corked). */
export function replyError(edge: Edge, res: HttpResponse, route: Route, err: unknown, close = false): void {
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
export function replyErrorLater(edge: Edge, res: HttpResponse, route: Route, err: unknown, close = false): void {
  const r = errorReply(err, logInternal(edge));
  edge.metrics.count(route, r.status);
  try {
    if (r.status === 401) replyCorked(res, 401, r.body, close, 'www-authenticate', WWW_AUTHENTICATE);
    else replyCorked(res, r.status, r.body, close);
  } catch {
    // aborted meanwhile
  }
}

export function requireReader(edge: Edge): ReplicaReader {
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

export function session(edge: Edge, header: string): CachedSession {
  const slot = edge.sessions.lookup(header, edge.nowSec);
  return slot >= 0 ? edge.sessions.sessionAt(slot) : authenticate(edge, header);
}
