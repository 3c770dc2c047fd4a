import { decodeAnyDeltaBatch, type AnyDeltaBatch } from './delta-packed.js';
import { isTrimmedPast, type DeltaBus } from './delta-bus.js';
import type { ReplicaWriter } from './replica-writer.js';
import { Backoff, retryLoop, WakeableSleep } from './retry-backoff.js';

/**
 * The delta-tailing loop shared by every replica that follows the master
 * (DESIGN §6): the edge daemon's replica (edge-daemon.ts) and the snapshot
 * service's follower (snapshot.ts).
 *
 *   loop:
 *     applied = replica's META_APPLIED_SEQ          (its own LMDB, not memory:
 *                                                    after a crash it resumes exactly there)
 *     entries = bus.readDeltas(applied, …, block)   plain XREAD after <applied>-0 (FACTS)
 *     none            → level with the stream: setSyncedAt(now)
 *     first.fromSeq > applied + 1 → the stream was trimmed past us: bootstrap()
 *     else            → applyBatches(all of them) — ONE LMDB txn with the last seq
 *                       (an entry overlapping what is applied is cut there)
 *                       drained (fewer than asked) → setSyncedAt(now)
 *
 * Errors (bus down, a bad entry, a failed bootstrap) go to `onError` and are
 * retried with exponential backoff; the loop never dies, so a node whose
 * Redis is away for minutes keeps serving what it has and catches up when
 * it is back. A malformed entry is NOT skipped: skipping would leave a hole
 * that applyBatch refuses forever anyway, so the node stalls visibly (lag
 * grows, /readyz fails) instead of serving a state that silently differs.
 *
 * The position is the replica's applied sequence, never an in-memory
 * cursor: bootstrap (which moves it) and crash recovery need nothing else.
 */
export interface FollowerHooks {
  /**
   * Make the replica hold a snapshot at a sequence ≥ `minSeq` (it must then
   * be able to go on from the stream). Called when the replica is new
   * (`needsBootstrap`) or its position was trimmed from the stream.
   */
  bootstrap(minSeq: number): Promise<void>;
  /**
   * After each applied read: the distinct uids whose code changed (null when
   * more than `maxChanged` did — a mass change), the new applied seq, and how
   * many deltas were applied.
   */
  onApplied?(changed: Uint8Array[] | null, appliedSeq: number, deltas: number): void;
  /** Every error; the loop retries. */
  onError?(err: Error): void;
}

export interface FollowerOptions {
  readonly writer: ReplicaWriter;
  readonly bus: DeltaBus;
  readonly hooks: FollowerHooks;
  /** bootstrap before reading the stream when the replica has applied nothing yet (default true) */
  readonly bootstrapWhenNew?: boolean;
  /**
   * entries per read (default 16: an entry holds up to 4096 deltas / 1 MiB,
   * so a reply stays ≤ 16 MiB — see the note on blocking reads below)
   */
  readonly readCount?: number;
  /** entries applied in one transaction while catching up (default 64) */
  readonly groupEntries?: number;
  /** collect changed uids up to this many per read (default Infinity); beyond it onApplied gets null */
  readonly maxChanged?: number;
  /** how long a read waits for new entries (default 1000 ms; the stop flag is checked in between) */
  readonly blockMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface FollowerMetrics {
  readonly appliedSeq: number;
  readonly entriesApplied: number;
  readonly deltasApplied: number;
  readonly bootstraps: number;
  readonly errors: number;
  readonly lastError: string | null;
  /** unix ms of the last moment the replica was level with the stream */
  readonly syncedAt: number | null;
}

export class ReplicaFollower {
  readonly writer: ReplicaWriter;
  private readonly bus: DeltaBus;
  private readonly hooks: FollowerHooks;
  private readonly readCount: number;
  private readonly maxChanged: number;
  private readonly groupEntries: number;
  private readonly blockMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private running: Promise<void> | null = null;
  private stopping = false;
  private readonly sleeper = new WakeableSleep();
  private readonly backoff: Backoff;
  /** null = no bootstrap pending; else bootstrap to a snapshot at this seq or later */
  private bootstrapTo: number | null = null;
  private entries = 0;
  private deltas = 0;
  private bootstrapsDone = 0;
  private errorsTotal = 0;
  private lastError: string | null = null;
  private syncedAt: number | null = null;
  private levelWaiters: { seq: number; done: (ok: boolean) => void }[] = [];
  /** the last read returned entries: read again at once, without blocking */
  private catchingUp = true;

  constructor(opts: FollowerOptions) {
    this.writer = opts.writer;
    this.bus = opts.bus;
    this.hooks = opts.hooks;
    this.readCount = opts.readCount ?? 16;
    this.maxChanged = opts.maxChanged ?? Infinity;
    this.groupEntries = opts.groupEntries ?? 64;
    this.blockMs = opts.blockMs ?? 1000;
    this.minBackoffMs = opts.minBackoffMs ?? 100;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5000;
    this.backoff = new Backoff(this.minBackoffMs, this.maxBackoffMs);
    // A replica that applied nothing: a snapshot is far faster than the whole stream history.
    if ((opts.bootstrapWhenNew ?? true) && this.writer.appliedSeq() === 0) this.bootstrapTo = 0;
  }

  start(): void {
    if (this.running !== null) return;
    this.stopping = false;
    this.running = this.run();
  }

  /** Stops after the entry in flight (a bootstrap in flight completes first). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.sleeper.wake();
    if (this.running !== null) await this.running;
    this.running = null;
    for (const w of this.levelWaiters) w.done(false);
    this.levelWaiters = [];
  }

  /** Ask for a bootstrap at the next turn (operator action, tests). */
  requestBootstrap(minSeq = 0): void {
    this.bootstrapTo = Math.max(this.bootstrapTo ?? 0, minSeq);
    this.sleeper.wake();
  }

  /** Resolves true once the replica has applied `seq`, false after `timeoutMs` or on stop(). */
  waitFor(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.writer.appliedSeq() >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        seq,
        done: (ok: boolean) => {
          clearTimeout(timer);
          this.levelWaiters = this.levelWaiters.filter((x) => x !== w);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => w.done(false), timeoutMs);
      this.levelWaiters.push(w);
    });
  }

  metrics(): FollowerMetrics {
    return {
      appliedSeq: this.writer.appliedSeq(),
      entriesApplied: this.entries,
      deltasApplied: this.deltas,
      bootstraps: this.bootstrapsDone,
      errors: this.errorsTotal,
      lastError: this.lastError,
      syncedAt: this.syncedAt,
    };
  }

  private run(): Promise<void> {
    return retryLoop({
      stopping: () => this.stopping,
      step: () => this.step(),
      backoff: this.backoff,
      sleeper: this.sleeper,
      report: (err) => this.report(err),
    });
  }

  private async step(): Promise<void> {
    if (this.bootstrapTo !== null) {
      const minSeq = this.bootstrapTo;
      await this.hooks.bootstrap(minSeq);
      this.bootstrapTo = null;
      this.bootstrapsDone++;
      this.notifyLevel();
      return;
    }
    const applied = this.writer.appliedSeq();
    // Block only when the last read found nothing. While catching up, a
    // non-blocking read: with Redis, a blocking XREAD's client-side safety
    // timer (ioredis blockingTimeout = BLOCK + 100 ms) fires when a large reply
    // is not processed in time — an event loop busy applying the previous
    // read — and resolves it as EMPTY while Redis keeps the reply queued;
    // the re-read then queues another. Measured here: 20 readers taking
    // 64 MiB replies that way drove Redis to 20 GB and the OOM killer.
    const got = await this.bus.readDeltas(applied, this.readCount, this.catchingUp ? 0 : this.blockMs);
    if (this.stopping) return;
    if (got.length === 0) {
      this.catchingUp = false;
      this.markSynced();
      return;
    }
    this.catchingUp = true;
    if (isTrimmedPast(applied, got[0]!)) {
      // deltas applied+1 .. fromSeq-1 are gone from the stream: only a snapshot gets us past them
      this.bootstrapTo = got[0]!.fromSeq - 1;
      return;
    }
    // Catching up (full pages): keep reading, without blocking, up to
    // `groupEntries` entries, then apply them all in ONE transaction
    // (ReplicaWriter.applyBatches). Measured here on a 1M-code replica, a
    // 1M-delta mass change: 16 entries per transaction 9.8 s, 64 per
    // transaction 5.5 s — each commit rewrites the leaf pages it touched and
    // waits for its fsync. Small reads keep every Redis reply ≤ 16 MiB.
    const all = [...got];
    let last = got;
    while (last.length === this.readCount && all.length < this.groupEntries && !this.stopping) {
      last = await this.bus.readDeltas(all[all.length - 1]!.toSeq, this.readCount, 0);
      all.push(...last);
    }
    // Either form (core/delta.ts objects, or packed: sync/delta-packed.ts).
    // An entry that does not decode is never skipped: the entries before it
    // are applied, then the error goes to onError and the read is retried
    // from there (nothing of the bad entry is written: it is checked whole
    // before the transaction).
    const batches: AnyDeltaBatch[] = [];
    let bad: unknown = null;
    for (const e of all) {
      try {
        batches.push(decodeAnyDeltaBatch(e.payload));
      } catch (err) {
        bad = err;
        break;
      }
    }
    if (batches.length > 0) this.applyDecoded(batches, applied, batches.length === all.length && last.length < this.readCount);
    if (bad !== null) throw bad;
  }

  private applyDecoded(batches: readonly AnyDeltaBatch[], applied: number, drained: boolean): void {
    let deltas = 0;
    for (const b of batches) deltas += Math.max(0, b.to - Math.max(b.from, applied + 1) + 1);
    const changed = this.writer.applyBatches(batches, this.maxChanged);
    this.entries += batches.length;
    this.deltas += deltas;
    this.hooks.onApplied?.(changed, batches[batches.length - 1]!.to, deltas);
    this.notifyLevel();
    if (drained) this.markSynced();
  }

  private markSynced(): void {
    const now = Date.now();
    this.syncedAt = now;
    this.writer.setSyncedAt(now);
  }

  private notifyLevel(): void {
    if (this.levelWaiters.length === 0) return;
    const applied = this.writer.appliedSeq();
    for (const w of [...this.levelWaiters]) if (w.seq <= applied) w.done(true);
  }

  private report(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.errorsTotal++;
    this.lastError = e.message;
    try {
      this.hooks.onError?.(e);
    } catch {
      // a failing logger must not stop following
    }
  }

}
