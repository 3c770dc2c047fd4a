import { type HttpRequest, type HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { colorByte } from '../core/code-record.js';
import { DISPLAY_HEADER_BYTES, displayExpiresAt, encodeDisplayEntry } from '../core/replica-layout.js';
import { noticesChangeAt, renderDisplayBody, staleNotice, withNotice } from './display-body.js';
import { DisplayCache } from './display-cache.js';
import { EdgeError } from './errors.js';
import { JSON_TYPE, replyCorked, replyJson } from './http-reply.js';
import { ReplicaReader } from './replica-reader.js';
import { watchAbort } from './request-body.js';
import { UID_OFFSET } from './session-cache.js';
import { Edge, replyError, replyErrorLater, requireReader, session } from './edge-state.js';

/**
 * GET /v1/code (DESIGN §5): the hot path — a cached session and a body from
 * memory (edge/display-cache.ts) or from the replica — and the slow paths:
 * first sight of a session, a stale replica, a miss that signs on the pool.
 */

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
export function onCode(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  try {
    const auth = req.getHeader('authorization');
    const slot = edge.sessions.lookup(auth, edge.nowSec);
    if (slot >= 0 && !edge.stale) {
      const cache = edge.cache;
      if (cache !== null) {
        if (!edge.turnChecked) checkTurn(edge, cache);
        const kept = cache.body(edge.sessions.table, slot, edge.refreshBefore);
        if (kept !== undefined) {
          edge.metrics.displayHits++;
          res.writeHeader('content-type', JSON_TYPE).end(kept);
          return;
        }
      }
      // synchronously, before anything else reads: the body is a view of lmdb's shared buffer (FACTS)
      const reader = edge.reader!;
      const body = reader.freshDisplayBody(edge.sessions.table, slot + UID_OFFSET, edge.refreshBefore);
      if (body !== undefined) {
        // the validation above read the applied sequence in this same turn: the body is no older
        if (cache !== null && edge.turnChecked) cache.fill(edge.sessions.table, slot, body, reader.lastExpiresAt);
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

/**
 * Once per event-loop turn, before the first cached body is served: bring
 * the display cache to the replica's applied sequence (the change log names
 * what to drop). The flag is cleared in the check phase of this turn, so the
 * next turn validates again — after lmdb-js has renewed its read snapshot.
 */
function checkTurn(edge: Edge, cache: DisplayCache): void {
  const reader = edge.reader;
  if (reader === null) return;
  edge.turnChecked = true;
  setImmediate(endTurn, edge);
  cache.validate(reader.appliedSeq(), reader);
}

function endTurn(edge: Edge): void {
  edge.turnChecked = false;
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
