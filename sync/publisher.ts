import { encodeDeltaBatch, type Delta } from '../core/delta.js';
import type { DeltaBus } from './delta-bus.js';
import { SyncError } from './errors.js';
import { encodePackedPart, joinPackedParts } from './delta-packed.js';
import { Backoff } from './retry-backoff.js';

/**
 * The publisher (DESIGN §6): tails the master's outbox and copies it to the
 * delta bus in batches.
 *
 *   outbox rows (seq 1, 2, 3 …, gap-free)                      delta bus
 *   readOutbox(pos, readLimit) ─▶ dense prefix ─▶ chunks ─▶ publishDeltas(batch, from, to)
 *                                                 ≤ maxDeltasPerEntry deltas
 *                                                 ≤ maxBytesPerEntry bytes
 *
 * Position: the bus holds it. At start and after every error the publisher
 * re-reads the bus's top (`lastDeltaSeq()`) and continues at top + 1. The
 * outbox stays the source of truth (FACTS: a Redis failover can drop
 * acknowledged entries): a bus that lost its tail simply gets it again —
 * the bus refuses a batch that does not follow its top ('not-next') and the
 * publisher re-reads the top. A 'duplicate' (another publisher, or a re-sent
 * XADD after a dropped connection) also just means "re-read the top".
 *
 * Never skips a seq: when the outbox returns a hole (seq N+2 while N+1 is
 * missing — a transaction holding N+1 not committed yet), only the dense
 * prefix goes out and the publisher polls until the hole is filled, reporting
 * SYNC_ERR_OUTBOX_GAP through `onError` if it lasts (the master fills a
 * rolled-back number with a `noop` delta). A bus whose top is beyond the
 * outbox's max (master restored from an older backup, or a stream of another
 * installation) stops publishing with SYNC_ERR_BUS_AHEAD: publishing would
 * silently drop every seq up to that top.
 *
 * Never crashes: every error of the source or the bus goes to `onError` and
 * is retried with exponential backoff (minBackoffMs doubling to maxBackoffMs),
 * reset after a success.
 *
 * Waking: `kick()` after a commit (the embedded master and an admin-api in
 * the same process call it: propagation then costs one outbox read, no
 * polling delay). In cluster mode the admin-api may run in other processes,
 * so the publisher also polls the outbox every `pollMs` (default 50 ms: a
 * primary-key range read, 20 queries/s, and ≤ 50 ms added latency — inside
 * the 100 ms p99 budget of DESIGN/issue 4). PostgreSQL LISTEN/NOTIFY would
 * save the polling but needs a dedicated connection that PGlite and pooled
 * proxies (pgbouncer in transaction mode) do not give; polling works with
 * any PostgreSQL-protocol database, which DESIGN §1 asks for.
 *
 * Batching: a mass change of 1M codes is ≈ 100 MB of deltas. At the defaults
 * (4096 deltas or 1 MiB per entry) it goes out as ≈ 250 entries, not 1M.
 * A single delta bigger than maxBytesPerEntry (a huge rule set) goes alone.
 *
 * Trimming: every `trimEveryEntries` entries, the stream is trimmed to about
 * `retainEntries` entries (MAXLEN ~). Keep that window longer than the
 * snapshot interval: a node bootstrapped from the newest snapshot must find
 * the deltas after it on the bus, or it re-bootstraps forever.
 */

/** What the publisher needs from the master: a narrow view of the outbox (see outbox-master.ts for MasterStore). */
export interface OutboxSource {
  /** Deltas with seq > afterSeq, in seq order, at most `limit`. */
  readOutbox(afterSeq: number, limit: number): Promise<Delta[]>;
  /** The highest committed outbox seq (0 when empty). */
  maxSeq(): Promise<number>;
  /**
   * Seqs at or below this were pruned from the outbox (0 or absent: nothing
   * was). Only used when the bus is empty (a new or wiped Redis): the stream
   * then starts right after it instead of waiting forever for seq 1.
   */
  prunedThrough?(): Promise<number>;
}

export interface PublisherOptions {
  readonly bus: DeltaBus;
  readonly source: OutboxSource;
  /** deltas per bus entry, default 4096 */
  readonly maxDeltasPerEntry?: number;
  /** bytes per bus entry (encoded), default 1 MiB */
  readonly maxBytesPerEntry?: number;
  /** outbox rows per read, default 16384 */
  readonly readLimit?: number;
  /** poll the outbox this often when idle (0: only on kick()), default 50 */
  readonly pollMs?: number;
  /** trim the stream to about this many entries, default 100000 (0: never trim) */
  readonly retainEntries?: number;
  /** trim after this many published entries, default 1000 */
  readonly trimEveryEntries?: number;
  /** re-check the bus's top this often when idle (catches a bus that lost its tail), default 1000 */
  readonly verifyEveryMs?: number;
  /** while the outbox has a hole, re-read it this often, default 20 */
  readonly gapRetryMs?: number;
  /** report a hole lasting longer than this as SYNC_ERR_OUTBOX_GAP, default 5000 */
  readonly gapReportMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** every error (retried; the publisher never stops on one) */
  readonly onError?: (err: Error) => void;
  /**
   * Wire form of the entries (default 'objects', core/delta.ts). 'packed'
   * (sync/delta-packed.ts) carries each code as the replica's value bytes,
   * encoded once here, so edges apply without msgpack work; builds from
   * before it refuse such entries (CORE_ERR_FORMAT_VERSION) and stall, so
   * switch it on only once every edge runs a build that reads it.
   */
  readonly deltaForm?: 'objects' | 'packed';
}

export type PublisherState = 'starting' | 'publishing' | 'idle' | 'waiting-for-gap' | 'backoff' | 'stopped';

export interface PublisherMetrics {
  readonly state: PublisherState;
  /** last seq known to be on the bus */
  readonly publishedSeq: number;
  /** last known max seq of the outbox */
  readonly outboxSeq: number;
  /** outboxSeq − publishedSeq */
  readonly lagDeltas: number;
  readonly entriesPublished: number;
  readonly deltasPublished: number;
  readonly bytesPublished: number;
  /** averages over the last 5 whole seconds */
  readonly entriesPerSec: number;
  readonly deltasPerSec: number;
  readonly errors: number;
  readonly lastError: string | null;
  /** times the bus's top moved under the publisher (failover, another publisher) and it re-read it */
  readonly resyncs: number;
  /** the seq the publisher waits for while the outbox has a hole, else null */
  readonly waitingForSeq: number | null;
}

const RATE_WINDOW_S = 5;
const RATE_BUCKETS = 8;

/** Counts per wall-clock second in a small ring; rate = sum of the last RATE_WINDOW_S whole seconds / RATE_WINDOW_S. */
export class RateMeter {
  private readonly stamps = new Float64Array(RATE_BUCKETS).fill(-1);
  private readonly counts = new Float64Array(RATE_BUCKETS);

  add(n: number, nowMs: number): void {
    const sec = Math.floor(nowMs / 1000);
    const i = sec % RATE_BUCKETS;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.counts[i] = 0;
    }
    this.counts[i]! += n;
  }

  perSecond(nowMs: number): number {
    const sec = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let s = sec - RATE_WINDOW_S; s < sec; s++) {
      const i = s % RATE_BUCKETS;
      if (this.stamps[i] === s) sum += this.counts[i]!;
    }
    return sum / RATE_WINDOW_S;
  }
}

const UNKNOWN = -1;

export class Publisher {
  private readonly bus: DeltaBus;
  private readonly source: OutboxSource;
  private readonly maxDeltas: number;
  private readonly maxBytes: number;
  private readonly readLimit: number;
  private readonly pollMs: number;
  private readonly retainEntries: number;
  private readonly trimEvery: number;
  private readonly verifyEveryMs: number;
  private readonly gapRetryMs: number;
  private readonly gapReportMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly onError: (err: Error) => void;
  private readonly packed: boolean;

  /** next outbox read starts after this; UNKNOWN = re-read the bus's top first */
  private position = UNKNOWN;
  private published = 0;
  /** the bus's top as this publisher last saw or made it (verify() compares) */
  private busTop = 0;
  private outboxSeq = 0;
  private state: PublisherState = 'starting';
  private running: Promise<void> | null = null;
  private stopping = false;
  private kicked = false;
  private wake: (() => void) | null = null;
  private readonly backoff: Backoff;
  private backoffMs = 0;
  private sinceTrim = 0;
  private lastVerify = 0;
  private gapSince = 0;
  private gapReported = false;
  private waitingForSeq: number | null = null;
  /** encoded bytes per delta of the last entry: sizes the next chunk so it is encoded once */
  private bytesPerDelta = 0;
  private entriesTotal = 0;
  private deltasTotal = 0;
  private bytesTotal = 0;
  private errorsTotal = 0;
  private lastError: string | null = null;
  private resyncs = 0;
  private everSynced = false;
  private readonly entryRate = new RateMeter();
  private readonly deltaRate = new RateMeter();
  private readonly seqWaiters = new Set<{ seq: number; done: (reached: boolean) => void }>();

  constructor(opts: PublisherOptions) {
    this.bus = opts.bus;
    this.source = opts.source;
    this.maxDeltas = opts.maxDeltasPerEntry ?? 4096;
    this.maxBytes = opts.maxBytesPerEntry ?? 1 << 20;
    this.readLimit = opts.readLimit ?? 16384;
    this.pollMs = opts.pollMs ?? 50;
    this.retainEntries = opts.retainEntries ?? 100_000;
    this.trimEvery = opts.trimEveryEntries ?? 1000;
    this.verifyEveryMs = opts.verifyEveryMs ?? 1000;
    this.gapRetryMs = opts.gapRetryMs ?? 20;
    this.gapReportMs = opts.gapReportMs ?? 5000;
    this.minBackoffMs = opts.minBackoffMs ?? 50;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5000;
    this.backoff = new Backoff(this.minBackoffMs, this.maxBackoffMs);
    this.onError = opts.onError ?? (() => {});
    if (opts.deltaForm !== undefined && opts.deltaForm !== 'objects' && opts.deltaForm !== 'packed') {
      throw new SyncError('SYNC_ERR_PUBLISHER_CONFIG', `deltaForm must be 'objects' or 'packed', got ${String(opts.deltaForm)}`);
    }
    this.packed = opts.deltaForm === 'packed';
    for (const [k, v] of Object.entries({
      maxDeltasPerEntry: this.maxDeltas,
      maxBytesPerEntry: this.maxBytes,
      readLimit: this.readLimit,
      trimEveryEntries: this.trimEvery,
      minBackoffMs: this.minBackoffMs,
      maxBackoffMs: this.maxBackoffMs,
    })) {
      if (!Number.isSafeInteger(v) || v < 1) throw new SyncError('SYNC_ERR_PUBLISHER_CONFIG', `${k} must be an integer ≥ 1, got ${v}`);
    }
    for (const [k, v] of Object.entries({
      pollMs: this.pollMs,
      retainEntries: this.retainEntries,
      verifyEveryMs: this.verifyEveryMs,
      gapRetryMs: this.gapRetryMs,
      gapReportMs: this.gapReportMs,
    })) {
      if (!Number.isSafeInteger(v) || v < 0) throw new SyncError('SYNC_ERR_PUBLISHER_CONFIG', `${k} must be an integer ≥ 0, got ${v}`);
    }
  }

  /** Starts the loop (idempotent). It begins by reading the bus's top: the bus holds the position. */
  start(): void {
    if (this.running !== null) return;
    this.stopping = false;
    this.position = UNKNOWN;
    this.running = this.run();
  }

  /** Something was committed: look at the outbox now. Cheap; call after every commit. */
  kick(): void {
    this.kicked = true;
    if (this.wake !== null) this.wake();
  }

  /** Stops after the entry in flight (does not close the bus). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.kick();
    if (this.running !== null) await this.running;
    this.running = null;
    this.state = 'stopped';
    for (const w of this.seqWaiters) w.done(false);
    this.seqWaiters.clear();
  }

  /** Resolves true once `seq` is on the bus, false after `timeoutMs` or on stop(). */
  waitFor(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.published >= seq) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const w = {
        seq,
        done: (reached: boolean) => {
          clearTimeout(timer);
          this.seqWaiters.delete(w);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => w.done(false), timeoutMs);
      this.seqWaiters.add(w);
    });
  }

  metrics(): PublisherMetrics {
    const now = Date.now();
    const outboxSeq = Math.max(this.outboxSeq, this.published);
    return {
      state: this.state,
      publishedSeq: this.published,
      outboxSeq,
      lagDeltas: outboxSeq - this.published,
      entriesPublished: this.entriesTotal,
      deltasPublished: this.deltasTotal,
      bytesPublished: this.bytesTotal,
      entriesPerSec: this.entryRate.perSecond(now),
      deltasPerSec: this.deltaRate.perSecond(now),
      errors: this.errorsTotal,
      lastError: this.lastError,
      resyncs: this.resyncs,
      waitingForSeq: this.waitingForSeq,
    };
  }

  // ── the loop ────────────────────────────────────────────────────────────

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.position === UNKNOWN) await this.resync();
        const outcome = await this.step();
        this.backoffMs = 0;
        this.backoff.reset();
        if (outcome === 'more') continue;
        if (outcome === 'gap') {
          this.state = 'waiting-for-gap';
          await this.sleep(this.gapRetryMs, false);
        } else {
          this.state = 'idle';
          await this.idle();
        }
      } catch (err) {
        this.report(err);
        this.position = UNKNOWN;
        this.backoffMs = this.backoff.next();
        this.state = 'backoff';
        await this.sleep(this.backoffMs, true);
      }
    }
  }

  private report(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.errorsTotal++;
    this.lastError = e.message;
    try {
      this.onError(e);
    } catch {
      // a failing logger must not stop publishing
    }
  }

  /** Position := the bus's top; refuses to go on when the bus is ahead of the outbox. */
  private async resync(): Promise<void> {
    const top = await this.bus.lastDeltaSeq();
    const max = await this.source.maxSeq();
    this.outboxSeq = max;
    if (top > max) {
      throw new SyncError(
        'SYNC_ERR_BUS_AHEAD',
        `the stream's top is ${top} but the outbox ends at ${max}: delete the stream (edges re-bootstrap) or point the publisher at the right one`,
      );
    }
    if (this.everSynced) this.resyncs++;
    this.everSynced = true;
    let position = top;
    if (top === 0 && this.source.prunedThrough !== undefined) position = await this.source.prunedThrough();
    this.position = position;
    this.busTop = top;
    this.setPublished(position);
    this.lastVerify = Date.now();
  }

  /**
   * One outbox read, published.
   * 'more': published something (or the bus moved): go again at once.
   * 'caught-up': nothing after the position.
   * 'gap': the outbox has a hole right after the position.
   */
  private async step(): Promise<'more' | 'caught-up' | 'gap'> {
    const rows = await this.source.readOutbox(this.position, this.readLimit);
    // defensive: a source that returns rows at or below the position
    let start = 0;
    while (start < rows.length && rows[start]!.seq <= this.position) start++;
    if (rows.length > 0) this.outboxSeq = Math.max(this.outboxSeq, rows[rows.length - 1]!.seq);
    // the dense prefix starting right after the position
    let end = start;
    if (start < rows.length && rows[start]!.seq === this.position + 1) {
      end = start + 1;
      while (end < rows.length && rows[end]!.seq === rows[end - 1]!.seq + 1) end++;
    }
    if (end === start) {
      if (start < rows.length) {
        this.noteGap(this.position + 1, rows[start]!.seq);
        return 'gap';
      }
      this.clearGap();
      this.outboxSeq = this.position; // nothing committed after the position
      return 'caught-up';
    }
    this.clearGap();
    this.state = 'publishing';
    const ok = await this.publishRange(rows, start, end);
    if (!ok) return 'more'; // the bus moved under us: resync and go again
    if (end < rows.length) {
      this.noteGap(this.position + 1, rows[end]!.seq);
      return 'gap';
    }
    // a full page: there is more; ask for the max so the lag metric is right during a long catch-up
    if (rows.length >= this.readLimit) this.outboxSeq = Math.max(await this.source.maxSeq(), this.position);
    // read again even after a short page (a source may return fewer than `limit`):
    // the next, empty read is what says 'caught-up'
    return 'more';
  }

  /** Publishes rows[start, end) in entries; false when the bus answered duplicate / not-next. */
  private async publishRange(rows: readonly Delta[], start: number, end: number): Promise<boolean> {
    let s = start;
    while (s < end) {
      if (this.packed) {
        // each delta encoded once; the entry is cut where the next part would pass maxBytes
        const parts: Buffer[] = [];
        let bytes = 0;
        let e = s;
        while (e < end && e - s < this.maxDeltas) {
          const part = encodePackedPart(rows[e]!);
          if (parts.length > 0 && bytes + part.length > this.maxBytes) break;
          parts.push(part);
          bytes += part.length;
          e++;
        }
        if (!(await this.publishEntry(joinPackedParts(rows[s]!.seq, parts), rows[s]!.seq, rows[e - 1]!.seq, e - s))) return false;
        s = e;
        continue;
      }
      let e = Math.min(end, s + this.maxDeltas);
      if (this.bytesPerDelta > 0) e = Math.min(e, s + Math.max(1, Math.floor(this.maxBytes / this.bytesPerDelta)));
      let batch = encodeDeltaBatch(rows.slice(s, e));
      while (batch.length > this.maxBytes && e - s > 1) {
        // shrink in proportion (sizes vary; loop until it fits or one delta is left)
        e = s + Math.max(1, Math.floor(((e - s) * this.maxBytes) / batch.length));
        batch = encodeDeltaBatch(rows.slice(s, e));
      }
      this.bytesPerDelta = batch.length / (e - s);
      if (!(await this.publishEntry(batch, rows[s]!.seq, rows[e - 1]!.seq, e - s))) return false;
      s = e;
    }
    return true;
  }

  /** One entry onto the bus; false when the bus answered duplicate / not-next. */
  private async publishEntry(batch: Buffer, from: number, to: number, count: number): Promise<boolean> {
    const r = await this.bus.publishDeltas(batch, from, to);
    if (r !== 'published') {
      this.position = UNKNOWN;
      return false;
    }
    this.position = to;
    this.busTop = to;
    const now = Date.now();
    this.entriesTotal++;
    this.deltasTotal += count;
    this.bytesTotal += batch.length;
    this.entryRate.add(1, now);
    this.deltaRate.add(count, now);
    this.setPublished(to);
    if (this.retainEntries > 0 && ++this.sinceTrim >= this.trimEvery) {
      this.sinceTrim = 0;
      await this.bus.trimDeltas(this.retainEntries);
    }
    return true;
  }

  private setPublished(seq: number): void {
    this.published = seq;
    if (this.seqWaiters.size === 0) return;
    for (const w of [...this.seqWaiters]) if (w.seq <= seq) w.done(true);
  }

  private noteGap(missing: number, next: number): void {
    const now = Date.now();
    if (this.waitingForSeq !== missing) {
      this.waitingForSeq = missing;
      this.gapSince = now;
      this.gapReported = false;
    } else if (!this.gapReported && now - this.gapSince >= this.gapReportMs) {
      this.gapReported = true;
      this.report(new SyncError('SYNC_ERR_OUTBOX_GAP', `seq ${missing} missing (next present: ${next}) for ${now - this.gapSince} ms`));
    }
  }

  private clearGap(): void {
    this.waitingForSeq = null;
  }

  /** Caught up: wait for kick(), the poll timer, or the verify timer. */
  private async idle(): Promise<void> {
    const now = Date.now();
    const untilVerify = this.verifyEveryMs > 0 ? Math.max(0, this.lastVerify + this.verifyEveryMs - now) : Infinity;
    const wait = Math.min(this.pollMs > 0 ? this.pollMs : Infinity, untilVerify);
    await this.sleep(wait, false);
    if (this.stopping) return;
    if (this.verifyEveryMs > 0 && Date.now() - this.lastVerify >= this.verifyEveryMs) await this.verify();
  }

  /** The bus's top should be what we last saw or made; if it moved (lost tail, another publisher), resync. */
  private async verify(): Promise<void> {
    this.lastVerify = Date.now();
    const top = await this.bus.lastDeltaSeq();
    this.outboxSeq = Math.max(this.outboxSeq, await this.source.maxSeq());
    if (top !== this.busTop) this.position = UNKNOWN;
  }

  /**
   * Sleeps up to `ms` (Infinity: until woken). A kick ends the sleep early
   * unless `backoff`: errors keep their backoff, only stop() ends it early
   * (a kick during it stays recorded in `kicked` for afterwards).
   */
  private sleep(ms: number, backoff: boolean): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (!backoff && this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : null;
      const wake = (): void => {
        if (!backoff || this.stopping) done();
      };
      this.wake = wake;
      const self = this;
      function done(): void {
        if (timer !== null) clearTimeout(timer);
        if (self.wake === wake) self.wake = null;
        if (!backoff) self.kicked = false;
        resolve();
      }
    });
  }
}
