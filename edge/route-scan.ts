import { type HttpRequest, type HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { type CodeRecord, type Venue } from '../core/code-record.js';
import { CodedError } from '../core/coded-error.js';
import { verifyTf1 } from '../core/token.js';
import type { Tf1Claims } from '../core/tf1.js';
import { activeNotices, entryNotice, riskNotice, staleNotice, type WireNotice } from './display-body.js';
import { EdgeError } from './errors.js';
import { replyCorked } from './http-reply.js';
import { type Route } from './metrics.js';
import { ReplicaReader } from './replica-reader.js';
import { declaredLength, MAX_BODY_BYTES, parseJsonObject, startBody, stringField, type PendingRequest } from './request-body.js';
import { MAX_VENUE_ID, MAX_TOKEN_TEXT, Edge, reloadKeySet, replyError, replyErrorLater, requireReader, session } from './edge-state.js';

/**
 * POST /v1/scan and POST /v1/verify (DESIGN §5): read the body, check it
 * against the replica, spool the event durably (group commit,
 * edge/scan-spool.ts: one pwrite + fdatasync of a pre-zeroed write-ahead file per tick), THEN answer — an answered scan is never lost.
 */

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

export function onScan(edge: Edge, res: HttpResponse, req: HttpRequest): void {
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
    await edge.spool.addScan('scan', s.uid, venue.id, record.color, Date.now());
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
