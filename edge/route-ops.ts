import { type HttpRequest, type HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { EdgeError } from './errors.js';
import { errorReply, JSON_TYPE, replyJson, STATUS_LINE } from './http-reply.js';
import { type Route } from './metrics.js';
import { KEYS_CACHE_CONTROL, Edge, refreshState, logInternal, replyError } from './edge-state.js';

/**
 * The operators' and scanners' routes (DESIGN §5): the key set with ETag
 * revalidation, liveness and readiness, Prometheus metrics, the citizen
 * page, and the 404/405 answers for everything else.
 */

// ─── keys, health, metrics, fallbacks ─────────────────────────────────────────

export function onKeys(edge: Edge, res: HttpResponse, req: HttpRequest): void {
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

export function onHealthz(edge: Edge, res: HttpResponse): void {
  edge.metrics.count('/healthz', 200);
  replyJson(res, 200, `{"status":"ok","pid":${process.pid}}`);
}

export function onReadyz(edge: Edge, res: HttpResponse): void {
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

export function onMetrics(edge: Edge, res: HttpResponse): void {
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
      spoolCommits: edge.spool.commits,
      spoolEvents: edge.spool.written,
      displayCache: edge.cache,
      sessionCacheEntries: edge.sessions.size,
      signingKeyPublished: edge.signing?.published ?? null,
      ready: !edge.stale,
    },
    edge.pool,
  );
  res.writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8').end(text);
}

/** GET/HEAD /app and /app/*: the citizen page, precompressed, from memory (edge/app-assets.ts). */
export function onApp(edge: Edge, res: HttpResponse, req: HttpRequest): void {
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

export function methodNotAllowed(edge: Edge, res: HttpResponse, route: Route, allow: string): void {
  edge.metrics.count(route, 405);
  const r = errorReply(new EdgeError('EDGE_ERR_METHOD', `${route} allows ${allow}`), logInternal(edge));
  replyJson(res, 405, r.body, false, 'allow', allow);
}

export function notFound(edge: Edge, res: HttpResponse, req: HttpRequest): void {
  replyError(edge, res, 'other', new EdgeError('EDGE_ERR_ROUTE', `${req.getMethod().toUpperCase()} ${req.getUrl()}`));
}
