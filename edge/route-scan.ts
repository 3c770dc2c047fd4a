import { type HttpRequest, type HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { type CodeRecord, type Venue } from '../core/code-record.js';
import { CodedError } from '../core/coded-error.js';
import { verifyTf1 } from '../core/token.js';
import type { Tf1Claims } from '../core/tf1.js';
import { activeNotices, staleNotice, type WireNotice } from './display-body.js';
import { EdgeError } from './errors.js';
import { JSON_TYPE, replyCorked } from './http-reply.js';
import { type Route } from './metrics.js';
import { ReplicaReader } from './replica-reader.js';
import { declaredLength, MAX_BODY_BYTES, parseJsonObject, plainVenueField, startBody, stringField, type PendingRequest } from './request-body.js';
import { scanAnswerBytes, scanFields, venueJson, venueParts } from './scan-answer.js';
import type { PendingScan, ScanSpool } from './scan-spool.js';
import { UID_OFFSET } from './session-cache.js';
import { MAX_VENUE_ID, MAX_TOKEN_TEXT, checkScanTurn, Edge, reloadKeySet, replyError, replyErrorLater, requireReader, session } from './edge-state.js';

/**
 * POST /v1/scan and POST /v1/verify (DESIGN §5): read the body, check it
 * against the replica, spool the event durably (group commit,
 * edge/scan-spool.ts: one pwrite + fdatasync of a pre-zeroed write-ahead file per tick), THEN answer — an answered scan is never lost.
 */

// ─── POST /v1/scan, POST /v1/verify ───────────────────────────────────────────

function scanNotices(edge: Edge, record: CodeRecord, venue: Venue, reader: ReplicaReader): { notices: WireNotice[]; riskArea: { region: string; level: string } | null } {
  const v = venueParts(venue, reader);
  const notices = activeNotices(record.notices, edge.nowSec);
  notices.push(...v.notices);
  if (edge.stale) notices.push(staleNotice(edge.lagSec));
  return { notices, riskArea: v.riskArea };
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

/**
 * HOT PATH. POST /v1/scan without promises: the venue id is read from the
 * body in uWS's onData (a one-chunk body in place, no copy) and the request
 * is queued on the spool (`addPending`); when the group is written,
 * `prepare` makes the answer and stages the record with this request as its
 * waiter, for every scan of the group in one loop, and `durable()` sends the
 * answer from the fdatasync's completion callback. Measured (edge/CLOSING.md,
 * session 2026-12-07 late): the promise form (await body, await group
 * promise, JSON.parse, msgpack decodes, JSON.stringify) spent 44 % of the
 * scan's CPU in V8/Node glue; h3/escan: per-group instead of per-scan
 * turn work, +5 % median over 12 A/B rounds (inside the machine's noise).
 */
export function onScan(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  const cl = req.getHeader('content-length');
  // a declared length of fewer digits than MAX_BODY_BYTES cannot exceed it (every real scan): no parse
  const len = cl.length < MAX_BODY_DIGITS ? -1 : declaredLength(cl);
  if (len > MAX_BODY_BYTES) {
    replyError(edge, res, '/v1/scan', new EdgeError('EDGE_ERR_BODY_TOO_LARGE', `Content-Length ${len}`), true);
    return;
  }
  const s = new ScanRequest(edge, res, req.getHeader('authorization'));
  res.onAborted(s.onAborted);
  res.onData(s.onData);
}

class ScanRequest implements PendingScan {
  aborted = false;
  /** the body was handled (answered or staged); later chunks are ignored */
  private done = false;
  private chunks: Buffer[] | null = null;
  private size = 0;
  /** the venue id read from the body (kept until `prepare`) */
  private venueId = '';
  /** the 200 answer, made before the fdatasync, sent after it */
  out: Buffer | null = null;

  constructor(
    readonly edge: Edge,
    readonly res: HttpResponse,
    readonly auth: string,
  ) {}

  readonly onAborted = (): void => {
    this.aborted = true;
    this.done = true;
  };

  readonly onData = (ab: ArrayBuffer, isLast: boolean): void => {
    if (this.done) return;
    const n = ab.byteLength;
    this.size += n;
    if (this.size > MAX_BODY_BYTES) {
      this.done = true;
      replyErrorLater(this.edge, this.res, '/v1/scan', new EdgeError('EDGE_ERR_BODY_TOO_LARGE'), true);
      return;
    }
    if (isLast && this.chunks === null) {
      // the whole body in one chunk (every real scan): read it in place — the ArrayBuffer is
      // detached when this callback returns (FACTS), and nothing below keeps a view of it
      this.done = true;
      this.handle(new Uint8Array(ab));
      return;
    }
    if (n > 0) (this.chunks ??= []).push(Buffer.from(ab.slice(0)));
    if (isLast) {
      this.done = true;
      const chunks = this.chunks ?? [];
      this.chunks = null;
      this.handle(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size));
    }
  };

  /** the body is complete: read the venue id now (the bytes go away), do the rest when the group is written */
  private handle(body: Uint8Array): void {
    try {
      this.venueId = plainVenueField(body, MAX_VENUE_ID) ?? stringField(parseJsonObject(Buffer.from(body.buffer, body.byteOffset, body.length)), 'venue', MAX_VENUE_ID);
    } catch (err) {
      // a 401 goes before anything about the body
      this.fail(sessionError(this.edge, this.auth) ?? err);
      return;
    }
    this.edge.spool.addPending(this);
  }

  /**
   * @internal ScanSpool: the group this scan joins is being written. Runs
   * for every scan of the group in one loop (same turn, one Date.now()).
   */
  prepare(spool: ScanSpool, atMs: number): void {
    if (this.aborted) return;
    const edge = this.edge;
    try {
      // the session first (401 before anything about the venue), by its slot: no uid copy
      let src: Uint8Array;
      let off: number;
      const slot = edge.sessions.lookup(this.auth, edge.nowSec);
      if (slot >= 0) {
        src = edge.sessions.table;
        off = slot + UID_OFFSET;
      } else {
        src = session(edge, this.auth).uid;
        off = 0;
      }
      const reader = requireReader(edge);
      if (!edge.scanTurnChecked) checkScanTurn(edge, reader);
      const va = edge.venueAnswers.get(this.venueId, reader);
      if (va === undefined) throw new EdgeError('EDGE_ERR_VENUE_UNKNOWN', undefined, 'venue');
      const bytes = reader.codeBytesAt(src, off);
      if (bytes === undefined) throw new EdgeError('EDGE_ERR_NOT_REGISTERED');
      const f = scanFields(bytes as Buffer);
      const color = f.color;
      this.out = scanAnswerBytes(f, va, edge.nowSec, edge.stale, edge.lagSec);
      // durable BEFORE the answer (DESIGN §1, §6): durable() answers after the group's fdatasync
      spool.addScanWaiter('scan', src, off, va.idBytes, color, atMs, this);
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (!this.aborted) replyErrorLater(this.edge, this.res, '/v1/scan', err);
  }

  /** @internal the group's fdatasync returned (ScanSpool): answer now, in the same wake-up */
  durable(err: Error | null): void {
    const edge = this.edge;
    if (err !== null) {
      if (!this.aborted) replyErrorLater(edge, this.res, '/v1/scan', err);
      return;
    }
    edge.metrics.scans++;
    if (this.aborted) return;
    sending = this;
    this.res.cork(sendScan);
    edge.metrics.scansAnswered++;
  }
}

/** The 401 a bad session gets, or null: a bad body is reported only for a valid session (rare path). */
function sessionError(edge: Edge, auth: string): unknown {
  if (edge.sessions.lookup(auth, edge.nowSec) >= 0) return null;
  try {
    session(edge, auth);
    return null;
  } catch (err) {
    return err;
  }
}

const MAX_BODY_DIGITS = String(MAX_BODY_BYTES).length;
/** the header as bytes: uWS takes them as they are (a string is converted to UTF-8 on every call) */
const CONTENT_TYPE = Buffer.from('content-type');
const JSON_TYPE_BYTES = Buffer.from(JSON_TYPE);

/** the request `sendScan` answers (set just before res.cork: no closure per answer) */
let sending: ScanRequest | null = null;

function sendScan(): void {
  const s = sending!;
  sending = null;
  s.res.writeHeader(CONTENT_TYPE, JSON_TYPE_BYTES).end(s.out!);
  s.out = null;
}

/**
 * Scanners are not authenticated at the edge: a verify reveals only the
 * current colour and masked name of the person whose token the scanner
 * holds — what the token itself already shows — and the venue id names the
 * place for tracing. A deployment that needs scanner identity terminates
 * mTLS (or a scanner API key) at the load balancer.
 */
export function onVerify(edge: Edge, res: HttpResponse, req: HttpRequest): void {
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
    await edge.spool.addScan('verify', uid, venue.id, record.color, Date.now());
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
