import type { ReplicaWriter } from './replica-writer.js';

/**
 * Background sweep of expired display entries (issue 14), run by the node's
 * single writer (the edge daemon). A display entry outlives its token when
 * its person stops opening the app: 20M daily users leave millions of dead
 * entries a day that the hot path never serves but whose pages stay in the
 * B-tree and the page cache.
 *
 * Small steps, never a long write transaction: each step is ONE write
 * transaction over at most `batch` entries (default 1000: ≈ 1 ms here),
 * then a pause (`pauseMs`, default 20 ms) — the edge servers' own display
 * puts and the delta apply wait at most one step for the writer lock, and
 * the sweep takes ≤ 5 % of the writer's time. A full pass over 10M entries
 * then takes ≈ 4 minutes; a new pass starts `everyMs` (default 10 min)
 * after the last one ended. The cursor is a key: entries inserted or
 * deleted meanwhile do not disturb it.
 */
export interface DisplaySweepOptions {
  readonly batch?: number;
  readonly pauseMs?: number;
  readonly everyMs?: number;
  readonly nowSec?: () => number;
  readonly log?: (line: string) => void;
}

export interface DisplaySweepMetrics {
  readonly passes: number;
  readonly scanned: number;
  readonly removed: number;
  readonly steps: number;
  /** longest single step (one write transaction), ms */
  readonly maxStepMs: number;
}

export class DisplaySweep {
  private timer: NodeJS.Timeout | null = null;
  private cursor: Uint8Array | null = null;
  private stopped = true;
  private passes = 0;
  private scanned = 0;
  private removed = 0;
  private steps = 0;
  private maxStepMs = 0;
  private readonly batch: number;
  private readonly pauseMs: number;
  private readonly everyMs: number;
  private readonly now: () => number;

  constructor(
    private readonly writer: ReplicaWriter,
    private readonly opts: DisplaySweepOptions = {},
  ) {
    this.batch = opts.batch ?? 1000;
    this.pauseMs = opts.pauseMs ?? 20;
    this.everyMs = opts.everyMs ?? 600_000;
    this.now = opts.nowSec ?? (() => Math.floor(Date.now() / 1000));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.pauseMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One step now (tests, benchmarks); true when it ended a pass. */
  step(): boolean {
    const t0 = performance.now();
    const r = this.writer.sweepDisplays(this.cursor, this.batch, this.now());
    const ms = performance.now() - t0;
    if (ms > this.maxStepMs) this.maxStepMs = ms;
    this.steps++;
    this.scanned += r.scanned;
    this.removed += r.removed;
    this.cursor = r.next;
    if (r.next !== null) return false;
    this.passes++;
    return true;
  }

  /** Runs whole passes until one ends (tests, the bench). */
  sweepAll(): void {
    while (!this.step()) {
      // next step
    }
  }

  metrics(): DisplaySweepMetrics {
    return { passes: this.passes, scanned: this.scanned, removed: this.removed, steps: this.steps, maxStepMs: this.maxStepMs };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    let ended = false;
    try {
      ended = this.step();
    } catch (err) {
      this.opts.log?.(`sync: display sweep step failed (retrying next pass): ${(err as Error).message}`);
      this.cursor = null;
      ended = true;
    }
    this.schedule(ended ? this.everyMs : this.pauseMs);
  }
}
