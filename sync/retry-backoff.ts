/**
 * The one retry/backoff helper of sync/ (issue 14): the loops that talk to
 * Redis, PostgreSQL or the master (replica follower, scan shipper, scan
 * importer, publisher) retry a failed step after a wait that starts at
 * `minMs` and doubles up to `maxMs`, back to nothing after a success; and
 * they sleep in a way that `stop()` (or new work) can cut short.
 */
export class Backoff {
  private ms = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
  ) {}

  /** The wait before the next retry: minMs, then doubled each failure, at most maxMs. */
  next(): number {
    this.ms = this.ms === 0 ? this.minMs : Math.min(this.ms * 2, this.maxMs);
    return this.ms;
  }

  /** After a success: the next failure waits minMs again. */
  reset(): void {
    this.ms = 0;
  }

  /** The wait last returned by next() (0 after reset). */
  get current(): number {
    return this.ms;
  }
}

/** A sleep that `wake()` ends early (stop, a kick); at most one sleeper at a time. */
export class WakeableSleep {
  private wakeFn: (() => void) | null = null;

  /** Sleeps `ms`, unless `cancelled()` already holds (then resolves at once). */
  sleep(ms: number, cancelled: () => boolean = () => false): Promise<void> {
    if (cancelled()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.wakeFn === done) self.wakeFn = null;
        resolve();
      }
      this.wakeFn = done;
    });
  }

  wake(): void {
    this.wakeFn?.();
  }
}

/**
 * The loop the three sync workers share: `step()` until `stopping()`, a
 * failure reported and retried after the backoff's wait, the backoff reset
 * after every success. `afterStep(result)` runs after a success (e.g. a
 * poll wait when a step found little to do).
 */
export async function retryLoop<T>(opts: {
  readonly stopping: () => boolean;
  readonly step: () => Promise<T>;
  readonly backoff: Backoff;
  readonly sleeper: WakeableSleep;
  readonly report: (err: Error) => void;
  readonly afterStep?: (result: T) => Promise<void> | void;
}): Promise<void> {
  while (!opts.stopping()) {
    try {
      const r = await opts.step();
      opts.backoff.reset();
      await opts.afterStep?.(r);
    } catch (err) {
      opts.report(err instanceof Error ? err : new Error(String(err)));
      await opts.sleeper.sleep(opts.backoff.next(), opts.stopping);
    }
  }
}

/**
 * A background worker around retryLoop: start/stop (stop wakes a sleep and
 * waits for the step in flight), and the error count and last error its
 * metrics show, each failure also passed to `onError` (a failing logger
 * must not stop the worker). The scan shipper and the scan importer run on it.
 */
export class RetryWorker<T> {
  private readonly sleeper = new WakeableSleep();
  private readonly backoff: Backoff;
  private running: Promise<void> | null = null;
  private stopping = false;
  private errorCount = 0;
  private last: string | null = null;

  constructor(
    private readonly opts: {
      readonly minBackoffMs: number;
      readonly maxBackoffMs: number;
      readonly onError?: ((err: Error) => void) | undefined;
      readonly step: () => Promise<T>;
      readonly afterStep?: (result: T) => Promise<void> | void;
    },
  ) {
    this.backoff = new Backoff(opts.minBackoffMs, opts.maxBackoffMs);
  }

  start(): void {
    if (this.running !== null) return;
    this.stopping = false;
    const stopping = (): boolean => this.stopping;
    this.running = retryLoop({
      stopping,
      step: this.opts.step,
      backoff: this.backoff,
      sleeper: this.sleeper,
      report: (err) => this.report(err),
      ...(this.opts.afterStep === undefined ? {} : { afterStep: this.opts.afterStep }),
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.sleeper.wake();
    if (this.running !== null) await this.running;
    this.running = null;
  }

  /** Sleeps `ms` unless stop() ends it (or already has). */
  pause(ms: number): Promise<void> {
    return this.sleeper.sleep(ms, () => this.stopping);
  }

  /** Counts and passes on a failure (also one the worker skips past rather than retries). */
  report(err: Error): void {
    this.errorCount++;
    this.last = err.message;
    try {
      this.opts.onError?.(err);
    } catch {
      // a failing logger must not stop the worker
    }
  }

  get errors(): number {
    return this.errorCount;
  }

  get lastError(): string | null {
    return this.last;
  }
}
