import type { HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { EdgeError } from './errors.js';

/**
 * Reading a small JSON request body from uWS (POST /v1/scan, /v1/verify).
 *
 * uWS hands the body over in chunks whose ArrayBuffers are detached after
 * each callback (FACTS), so every chunk is copied. Bodies are capped at
 * MAX_BODY_BYTES: a scan is `{"venue": "…"}` and a verify carries one
 * 144-character token; anything bigger is either a mistake or an attack, and
 * reading stops at the first byte over the cap (the caller answers 413 and
 * closes the connection, so the rest is never read).
 *
 * `onAborted` must be registered before the handler returns or awaits
 * (FACTS); `startBody` does both registrations synchronously.
 */
export const MAX_BODY_BYTES = 4096;

/** Per-request state of an asynchronous answer. */
export class PendingRequest {
  aborted = false;
  /** body read finished (complete, too large or aborted): later chunks are ignored */
  done = false;
  tooLarge = false;
  body: Buffer | null = null;
  private chunks: Buffer[] = [];
  private size = 0;
  private settle: (() => void) | null = null;
  readonly finished: Promise<void>;

  constructor(readonly res: HttpResponse) {
    this.finished = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
  }

  /** @internal uWS onData */
  chunk(ab: ArrayBuffer, isLast: boolean): void {
    if (this.done) return;
    this.size += ab.byteLength;
    if (this.size > MAX_BODY_BYTES) {
      this.tooLarge = true;
      this.finish();
      return;
    }
    // copy: the ArrayBuffer is detached when this callback returns
    if (ab.byteLength > 0) this.chunks.push(Buffer.from(ab.slice(0)));
    if (isLast) {
      this.body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
      this.finish();
    }
  }

  /** @internal uWS onAborted */
  abort(): void {
    this.aborted = true;
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.chunks = [];
    this.settle?.();
    this.settle = null;
  }
}

/** Registers the abort and data handlers; await `.finished`, then look at aborted / tooLarge / body. */
export function startBody(res: HttpResponse): PendingRequest {
  const p = new PendingRequest(res);
  res.onAborted(function onBodyAborted() {
    p.abort();
  });
  res.onData(function onBodyData(ab, isLast) {
    p.chunk(ab, isLast);
  });
  return p;
}

/** Registers only an abort handler (answers that await without a body: display misses). */
export function watchAbort(res: HttpResponse): PendingRequest {
  const p = new PendingRequest(res);
  res.onAborted(function onAborted() {
    p.abort();
  });
  return p;
}

/** The declared Content-Length, or -1 when absent or unparsable (then the streamed size decides). */
export function declaredLength(header: string): number {
  if (header === '' || !/^\d{1,15}$/.test(header)) return -1;
  return Number(header);
}

/** The body as a JSON object, or EDGE_ERR_JSON. */
export function parseJsonObject(body: Buffer | null): Record<string, unknown> {
  if (body === null || body.length === 0) throw new EdgeError('EDGE_ERR_JSON', 'empty body');
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new EdgeError('EDGE_ERR_JSON', (err as Error).message);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EdgeError('EDGE_ERR_JSON', 'expected a JSON object');
  return v as Record<string, unknown>;
}

/** A required string field of 1..max characters, or EDGE_ERR_FIELD naming it. */
export function stringField(o: Record<string, unknown>, name: string, max: number): string {
  const v = o[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw new EdgeError('EDGE_ERR_FIELD', `must be a string of 1–${max} characters`, name);
  }
  return v;
}

/**
 * HOT PATH of POST /v1/scan: the value of a body that is exactly
 * `{"venue":"<id>"}` (JSON whitespace allowed around the tokens) with an id
 * of 1..max printable ASCII characters and no escapes, read straight from
 * the bytes uWS handed over (no copy, no JSON.parse, no object). null for
 * anything else — the caller then takes the general path
 * (parseJsonObject + stringField), which also names the error.
 */
export function plainVenueField(b: Uint8Array, max: number): string | null {
  const n = b.length;
  let p = skipWs(b, 0);
  if (b[p] !== 0x7b) return null; // {
  p = skipWs(b, p + 1);
  // "venue"
  if (p + 7 > n || b[p] !== 0x22 || b[p + 1] !== 0x76 || b[p + 2] !== 0x65 || b[p + 3] !== 0x6e || b[p + 4] !== 0x75 || b[p + 5] !== 0x65 || b[p + 6] !== 0x22) return null;
  p = skipWs(b, p + 7);
  if (b[p] !== 0x3a) return null; // :
  p = skipWs(b, p + 1);
  if (b[p] !== 0x22) return null;
  const start = p + 1;
  let q = start;
  for (; q < n; q++) {
    const c = b[q]!;
    if (c === 0x22) break;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return null; // control, non-ASCII, escape: the general path decides
  }
  if (q >= n || q === start || q - start > max) return null;
  p = skipWs(b, q + 1);
  if (b[p] !== 0x7d) return null; // }
  if (skipWs(b, p + 1) !== n) return null;
  return Buffer.from(b.buffer, b.byteOffset + start, q - start).toString('latin1');
}

function skipWs(b: Uint8Array, p: number): number {
  for (;;) {
    const c = b[p];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return p;
    p++;
  }
}
