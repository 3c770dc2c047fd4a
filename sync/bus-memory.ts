import {
  checkRange,
  checkRead,
  checkSeq,
  parseStreamId,
  type BusEntry,
  type DeltaBus,
  type DeltaEntry,
  type PublishResult,
} from './delta-bus.js';
import { SyncError } from './errors.js';

/**
 * The in-process delta bus of the embedded mode (DESIGN §1 "Two ways to run"):
 * the same semantics as `bus-redis.ts` — idempotent `<toSeq>` ids, dense
 * stream, trimming, blocking reads that wake on append, `close()` waking
 * blocked readers — checked by the same suite (`delta-bus.common.ts`).
 *
 * Storage: one array per stream plus a `head` index (entries before it are
 * trimmed), compacted when the dead prefix is more than half the array, so a
 * trim is O(1) amortised and a read is a binary search.
 *
 * Delta payloads are stored as given (zero copy: the publisher hands over the
 * buffer `encodeDeltaBatch` just made and never touches it again) and handed
 * to every reader as the same Buffer — read-only. Scan payloads are copied on
 * append because an edge spool may pass buffers it reuses (lmdb-js
 * `getBinaryFast` does), which Redis would have copied too.
 *
 * Scan ids are `<n>-0` with n counting from 1: ordered like Redis ids, and
 * comparable with any Redis-style id an importer may have stored.
 */

interface ScanSlot {
  readonly n: number;
  readonly payload: Buffer;
}

type Wake = () => void;

function waitForWake(waiters: Set<Wake>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      waiters.delete(done);
      resolve();
    }
    waiters.add(done);
  });
}

function wakeAll(waiters: Set<Wake>): void {
  // each wake removes itself; iterate over a copy
  for (const w of [...waiters]) w();
}

/**
 * One stream: entries in strictly increasing key order plus a `head` index
 * (entries before it are trimmed), compacted when the dead prefix is more
 * than half the array; blocking reads wait for the next append or close.
 */
class MemoryStream<T> {
  private items: T[] = [];
  private head = 0;
  private closed = false;
  private readonly waiters = new Set<Wake>();

  constructor(private readonly keyOf: (item: T) => number) {}

  append(items: readonly T[]): void {
    for (const item of items) this.items.push(item);
    wakeAll(this.waiters);
  }

  /** The oldest retained entry. */
  first(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Index of the first retained entry with key > after. */
  private firstAfter(after: number): number {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keyOf(this.items[mid]!) > after) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Up to `count` entries with key > after. */
  private collect(after: number, count: number): T[] {
    const start = this.firstAfter(after);
    return this.items.slice(start, Math.min(this.items.length, start + count));
  }

  /** The entries with key > after now, or else the first ones appended within blockMs ([] once closed). */
  async read(after: number, count: number, blockMs: number): Promise<T[]> {
    const now = this.collect(after, count);
    if (now.length > 0 || blockMs === 0) return now;
    await waitForWake(this.waiters, blockMs);
    if (this.closed) return [];
    return this.collect(after, count);
  }

  /** Keeps the newest `maxLen` entries. */
  trimToLength(maxLen: number): void {
    const retained = this.items.length - this.head;
    if (retained > maxLen) this.dropBefore(this.head + retained - maxLen);
  }

  /** Drops the entries with key ≤ through. */
  trimThrough(through: number): void {
    this.dropBefore(this.firstAfter(through));
  }

  private dropBefore(index: number): void {
    this.head = index;
    if (this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  close(): void {
    this.closed = true;
    wakeAll(this.waiters);
  }
}

export class MemoryDeltaBus implements DeltaBus {
  private readonly deltas = new MemoryStream<DeltaEntry>((d) => d.toSeq);
  /** highest toSeq ever accepted (trimming never lowers it — like Redis' last-generated-id) */
  private top = 0;
  private readonly scans = new MemoryStream<ScanSlot>((s) => s.n);
  private scanCounter = 0;
  private closed = false;

  private checkOpen(): void {
    if (this.closed) throw new SyncError('SYNC_ERR_BUS_CLOSED');
  }

  async publishDeltas(batch: Buffer, fromSeq: number, toSeq: number): Promise<PublishResult> {
    this.checkOpen();
    checkRange(fromSeq, toSeq);
    if (toSeq <= this.top) return 'duplicate';
    if (this.top !== 0 && fromSeq !== this.top + 1) return 'not-next';
    this.top = toSeq;
    this.deltas.append([{ fromSeq, toSeq, payload: batch }]);
    return 'published';
  }

  async readDeltas(afterSeq: number, count: number, blockMs: number): Promise<DeltaEntry[]> {
    this.checkOpen();
    checkSeq(afterSeq, 'afterSeq', 0);
    checkRead(count, blockMs);
    return this.deltas.read(afterSeq, count, blockMs);
  }

  async firstDeltaSeq(): Promise<number | null> {
    this.checkOpen();
    return this.deltas.first()?.fromSeq ?? null;
  }

  async lastDeltaSeq(): Promise<number> {
    this.checkOpen();
    return this.top;
  }

  async trimDeltas(maxLen: number): Promise<void> {
    this.checkOpen();
    checkSeq(maxLen, 'maxLen', 1);
    this.deltas.trimToLength(maxLen);
  }

  async appendScans(payloads: readonly Buffer[]): Promise<void> {
    this.checkOpen();
    if (payloads.length === 0) return;
    this.scans.append(payloads.map((p) => ({ n: ++this.scanCounter, payload: Buffer.from(p) })));
  }

  /** Our ids are (n, 0), so the scans after (hi, lo) are those with n > hi. */
  async readScans(afterId: string, count: number, blockMs: number): Promise<BusEntry[]> {
    this.checkOpen();
    const after = parseStreamId(afterId);
    checkRead(count, blockMs);
    const slots = await this.scans.read(after.hi, count, blockMs);
    return slots.map((s) => ({ id: `${s.n}-0`, payload: s.payload }));
  }

  async trimScans(throughId: string): Promise<void> {
    this.checkOpen();
    // (n, 0) ≤ (hi, lo) ⇔ n ≤ hi
    this.scans.trimThrough(parseStreamId(throughId).hi);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.deltas.close();
    this.scans.close();
  }
}
