import type { ScanSpool } from '../edge/scan-spool.js';
import type { DeltaBus } from './delta-bus.js';
import { SyncError } from './errors.js';
import { encodeScanBatch, NODE_ID, type WireScan } from './scan-wire.js';
import { RetryWorker } from './retry-backoff.js';

/**
 * Edge side of "scans back to the master" (DESIGN §6): the node's durable
 * spool (edge/scan-spool.ts, committed and fsync'ed before the edge answered)
 * → the scan stream, in batches.
 *
 *   absorb() → readBatch(oldest n) → appendScans([one payload]) → ack(keys)   (delete from the spool)
 *
 * (absorb: the servers' write-ahead files → the spool's LMDB, one fsync'ed
 * transaction per call; a no-op read of each file's next slot when idle.)
 *
 * At least once: a spooled scan is deleted only after the bus accepted it;
 * a crash between the append and the ack ships it again, and the master's
 * importer drops the repeat by its id (scan-wire.ts). Never at most once:
 * nothing is deleted on a failed or unknown append.
 *
 * Redis (or the whole master side) down for minutes: appends fail, the
 * shipper backs off (0.2 s doubling to 5 s) and retries for ever; the edge
 * servers keep answering and appending to the spool, which just grows (its
 * depth is on the edge's /metrics). When the bus is back, the backlog drains
 * in batches of `batch` at the bus's pace.
 *
 * Polling, not waking: the spool is written by the edge server PROCESSES,
 * and files have no cross-process notification; an idle 100 ms poll costs
 * a directory listing, one slot read per write-ahead file and one empty
 * range read.
 */
export interface ScanShipperOptions {
  readonly spool: ScanSpool;
  readonly bus: DeltaBus;
  /** this node's id (NODE_ID: 1–31 of A–Z a–z 0–9 . _ -) */
  readonly node: string;
  /** scans per stream entry (default 500) */
  readonly batch?: number;
  /** spool poll interval when empty (default 100 ms) */
  readonly pollMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly onError?: (err: Error) => void;
}

export interface ScanShipperMetrics {
  readonly shipped: number;
  readonly entries: number;
  readonly errors: number;
  readonly lastError: string | null;
  readonly spoolDepth: number;
}

export class ScanShipper {
  private readonly spool: ScanSpool;
  private readonly bus: DeltaBus;
  private readonly node: string;
  private readonly batch: number;
  private readonly pollMs: number;
  private readonly worker: RetryWorker<number>;
  private shipped = 0;
  private entries = 0;

  constructor(opts: ScanShipperOptions) {
    if (!NODE_ID.test(opts.node)) throw new SyncError('SYNC_ERR_CONFIG', `node id ${JSON.stringify(opts.node)} must be 1–31 of A–Z a–z 0–9 . _ -`, 'HC_NODE_ID');
    this.spool = opts.spool;
    this.bus = opts.bus;
    this.node = opts.node;
    this.batch = opts.batch ?? 500;
    this.pollMs = opts.pollMs ?? 100;
    this.worker = new RetryWorker({
      minBackoffMs: opts.minBackoffMs ?? 200,
      maxBackoffMs: opts.maxBackoffMs ?? 5000,
      onError: opts.onError,
      step: () => this.shipOnce(),
      // a short batch: the spool is drained, wait for more
      afterStep: (n) => (n < this.batch ? this.worker.pause(this.pollMs) : undefined),
    });
  }

  start(): void {
    this.worker.start();
  }

  stop(): Promise<void> {
    return this.worker.stop();
  }

  metrics(): ScanShipperMetrics {
    let depth = -1;
    try {
      depth = this.spool.depth();
    } catch {
      // reported as -1
    }
    return { shipped: this.shipped, entries: this.entries, errors: this.worker.errors, lastError: this.worker.lastError, spoolDepth: depth };
  }

  /** Ships one batch now; returns how many scans went (0: the spool is empty). Throws on a bus failure. */
  async shipOnce(): Promise<number> {
    // the edge servers write per-process write-ahead files (edge/scan-wal.ts): move them into the spool first
    await this.spool.absorb();
    const items = this.spool.readBatch(null, this.batch);
    if (items.length === 0) return 0;
    const scans: WireScan[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const { key, event } = items[i]!;
      scans[i] = { id: `${this.node}:${key.toString('hex')}`, uid: event.uid, venue: event.venue, kind: event.kind, at: event.at, color: event.color };
    }
    await this.bus.appendScans([encodeScanBatch({ node: this.node, scans })]);
    // only now: the bus holds them (at least once)
    await this.spool.ack(items.map((x) => x.key));
    this.shipped += items.length;
    this.entries++;
    return items.length;
  }
}
