/**
 * A background pass of the exchange (intake folder, SFTP pickup, forwards,
 * returns): run every `pollMs` (0: only when called), one pass at a time — a
 * call while a pass runs gets that pass's promise, so a test or a console
 * button and the timer never run two at once. A timed pass that fails (the
 * database failing over, a server away) is logged and retried at the next
 * tick: an unhandled rejection would end the whole master process. `stop()`
 * clears the timer and waits for the pass in flight.
 */
export class PollLoop<T> {
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<T> | null = null;

  constructor(
    private readonly pass: () => Promise<T>,
    private readonly opts: { readonly pollMs: number; readonly log: (line: string) => void; /** what failed, in the log line */ readonly what: string },
  ) {}

  start(): void {
    if (this.opts.pollMs > 0 && this.timer === null) {
      this.timer = setInterval(() => void this.run().catch((err: unknown) => this.opts.log(`exchange: ${this.opts.what} pass failed (retrying): ${(err as Error).message}`)), this.opts.pollMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.busy?.catch(() => undefined);
  }

  /** One pass now, or the one already running. */
  run(): Promise<T> {
    if (this.busy !== null) return this.busy;
    const p = this.pass().finally(() => {
      if (this.busy === p) this.busy = null;
    });
    this.busy = p;
    return p;
  }
}
