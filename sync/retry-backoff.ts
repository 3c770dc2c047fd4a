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
