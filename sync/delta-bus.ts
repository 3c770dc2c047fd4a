import { SyncError } from './errors.js';

/**
 * The delta bus: the one interface between the master and the edges
 * (DESIGN §1, §6), in both directions:
 *
 *   master ──deltas──▶ every edge      one stream, plain XREAD: EVERY reader sees EVERY entry
 *   edges  ──scans───▶ the master      one stream, plain XREAD by the master's scan importer
 *
 * Two implementations behind it: `bus-redis.ts` (cluster mode, Redis Streams
 * via ioredis) and `bus-memory.ts` (embedded mode, in-process). One shared
 * suite (`delta-bus.common.ts`) runs against both.
 *
 * ## Deltas
 *
 * One entry carries one encoded batch (`encodeDeltaBatch`, core/delta.ts) of
 * the dense sequences `fromSeq..toSeq`. The entry id is `<toSeq>-0`, so:
 *
 *  - re-publishing is idempotent: a batch whose `toSeq` is at or below the
 *    stream's top is answered `'duplicate'` (FACTS: XADD with an id ≤ top
 *    fails — that means "already published", not an error);
 *  - the stream is dense BY CONSTRUCTION: a batch that does not start right
 *    after the top (`fromSeq !== top + 1`) is refused with `'not-next'`
 *    (checked atomically — a Lua script in Redis). This catches a publisher
 *    whose idea of the top is stale, e.g. after a Redis failover dropped the
 *    last acknowledged entries (FACTS: asynchronous replication): it re-reads
 *    the top and re-publishes from the outbox, which stays the source of
 *    truth. The one exception is an EMPTY stream (top 0), which accepts any
 *    start: a new stream begins wherever the outbox's retained rows begin.
 *  - the entry also carries `fromSeq` next to the payload, so a reader sees
 *    a trimmed position without decoding: after applying seq S it reads
 *    entries after S; if the first one has `fromSeq > S + 1` the deltas in
 *    between were trimmed away (MAXLEN) → re-bootstrap from a snapshot.
 *    An entry with `fromSeq ≤ S < toSeq` (the reader bootstrapped from a
 *    snapshot taken mid-batch, or a re-publish after a failover used other
 *    batch boundaries) is normal: apply only the deltas with seq > S.
 *
 * "Top" is the highest `toSeq` ever accepted (Redis: the stream's
 * last-generated-id), not the last entry still held: trimming never lowers it.
 *
 * Positions are plain sequence numbers (an edge keeps its applied seq in its
 * LMDB, DESIGN §6), so the delta half of the interface speaks in seqs and
 * the `<seq>-0` ids stay inside the Redis implementation.
 *
 * ## Scans — exactly once, with the least machinery
 *
 *   edge spool ──appendScans (at least once)──▶ stream ──readScans──▶ importer
 *                                                   one master transaction:
 *                                                   INSERT … ON CONFLICT (event id) DO NOTHING
 *                                                   + UPDATE importer position = last entry id
 *
 * Decision: NO consumer group. The importer reads with plain XREAD after the
 * position it stores IN THE MASTER DB, in the same transaction as the rows it
 * inserts. A crash before the commit loses both the rows and the position
 * move, so the same entries are read again; after the commit it never sees
 * them again: exactly once from stream to table, with no Redis-side state.
 * A consumer group (XREADGROUP + XACK) would be at-least-once anyway (a crash
 * between the insert's commit and the XACK redelivers the entries), so it
 * would still need the dedup — plus a pending-entries list, XAUTOCLAIM for
 * dead consumers and group creation on every new stream. Its one advantage,
 * splitting entries between several importers, is not needed: one batched
 * INSERT/COPY per read keeps up with 43 M scans a day (≈ 500/s) many times
 * over; a standby importer just waits on the position row's lock.
 * The edge side is at-least-once (it deletes a spooled scan only after
 * `appendScans` resolved, and may re-append after a crash in between), so
 * the importer dedups on the scan's event id — which the table has anyway.
 * Imported entries are removed with `trimScans(throughId)`.
 *
 * ## Blocking and closing
 *
 * `blockMs` > 0 waits up to that long when nothing is there yet and returns
 * as soon as something is; 0 returns at once (NOT Redis' "block forever":
 * every wait is bounded so a reader loop can check its own stop flag).
 * `close()` wakes every blocked reader (it resolves `[]`); any call after
 * `close()` throws SYNC_ERR_BUS_CLOSED. Failures to reach the bus throw
 * SYNC_ERR_BUS_UNAVAILABLE; the caller retries (the publisher and the edge
 * daemon both back off and retry, never crash).
 *
 * Payload buffers returned by the in-memory bus are shared between readers:
 * treat them as read-only.
 */

/**
 * One delta batch as held on the bus. `payload` = `encodeDeltaBatch(deltas with seq fromSeq..toSeq)`,
 * or its packed form (`encodePackedBatch`, sync/delta-packed.ts); the bus never looks inside.
 */
export interface DeltaEntry {
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly payload: Buffer;
}

/** One scan-stream entry. `id` is the bus's own (Redis: `<ms>-<n>`); treat it as opaque. */
export interface BusEntry {
  readonly id: string;
  readonly payload: Buffer;
}

/**
 * - `published`: appended.
 * - `duplicate`: `toSeq` ≤ top — these seqs are on the bus already (e.g. a
 *   retried XADD whose first reply was lost, or another publisher).
 * - `not-next`: `fromSeq !== top + 1` while `toSeq > top` — appending would
 *   leave a gap or an overlap. Re-read `lastDeltaSeq()` and publish from there.
 */
export type PublishResult = 'published' | 'duplicate' | 'not-next';

/** Read scans from the beginning of the stream. */
export const SCANS_START = '0-0';

export interface DeltaBus {
  /** Append one batch (see PublishResult). `batch` is `encodeDeltaBatch(...)` of `fromSeq..toSeq`. */
  publishDeltas(batch: Buffer, fromSeq: number, toSeq: number): Promise<PublishResult>;
  /**
   * Up to `count` entries with `toSeq > afterSeq`, oldest first; waits up to
   * `blockMs` when there are none. Plain XREAD: every reader sees every entry.
   */
  readDeltas(afterSeq: number, count: number, blockMs: number): Promise<DeltaEntry[]>;
  /** `fromSeq` of the oldest entry still held, or null when the stream is empty (trim detection). */
  firstDeltaSeq(): Promise<number | null>;
  /** The top: highest `toSeq` ever accepted, 0 for a new stream. Where a publisher resumes. */
  lastDeltaSeq(): Promise<number>;
  /** Keep about the newest `maxLen` (≥ 1) entries (Redis: `MAXLEN ~`, whole macro nodes; memory: exact). */
  trimDeltas(maxLen: number): Promise<void>;

  /** Scans edge → master: at least once (the importer dedups on the event id). One entry per payload. */
  appendScans(payloads: readonly Buffer[]): Promise<void>;
  /** Up to `count` scan entries after `afterId` (exclusive; SCANS_START for all), waiting up to `blockMs`. */
  readScans(afterId: string, count: number, blockMs: number): Promise<BusEntry[]>;
  /** Remove the scan entries with id ≤ `throughId` (after the importer committed them). */
  trimScans(throughId: string): Promise<void>;

  /** Wake blocked readers (they get []), release connections. Idempotent. */
  close(): Promise<void>;
}

// ── argument checks shared by both implementations ───────────────────────────
// A bad argument is a bug in the caller, never bad data from outside: 500.

export function checkSeq(n: number, what: string, min: number): void {
  if (!Number.isSafeInteger(n) || n < min) {
    throw new SyncError('SYNC_ERR_BUS_ARGUMENT', `${what} must be an integer ≥ ${min}, got ${String(n)}`);
  }
}

export function checkRange(fromSeq: number, toSeq: number): void {
  checkSeq(fromSeq, 'fromSeq', 1);
  checkSeq(toSeq, 'toSeq', 1);
  if (toSeq < fromSeq) throw new SyncError('SYNC_ERR_BUS_ARGUMENT', `toSeq ${toSeq} < fromSeq ${fromSeq}`);
}

export function checkRead(count: number, blockMs: number): void {
  checkSeq(count, 'count', 1);
  checkSeq(blockMs, 'blockMs', 0);
}

/** A stream id as two safe integers. Redis ids are `<ms>-<seq>` (64-bit each); `<ms>` alone means `<ms>-0`. */
export interface StreamId {
  readonly hi: number;
  readonly lo: number;
}

const STREAM_ID = /^(\d{1,15})(?:-(\d{1,15}))?$/;

export function parseStreamId(id: string): StreamId {
  const m = typeof id === 'string' ? STREAM_ID.exec(id) : null;
  if (m === null) throw new SyncError('SYNC_ERR_BUS_ARGUMENT', `not a stream id: ${JSON.stringify(id)}`);
  return { hi: Number(m[1]), lo: m[2] === undefined ? 0 : Number(m[2]) };
}

export function compareStreamIds(a: StreamId, b: StreamId): number {
  return a.hi !== b.hi ? a.hi - b.hi : a.lo - b.lo;
}

/** The smallest id greater than `id` (for "everything ≤ id" with Redis' inclusive MINID). */
export function nextStreamId(id: StreamId): string {
  return `${id.hi}-${id.lo + 1}`;
}

/**
 * The trim check an edge makes on the first entry it reads after applying
 * `appliedSeq`: true when the deltas right after it are no longer on the bus
 * (→ re-bootstrap from a snapshot).
 */
export function isTrimmedPast(appliedSeq: number, first: DeltaEntry): boolean {
  return first.fromSeq > appliedSeq + 1;
}
