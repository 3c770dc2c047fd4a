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

export class MemoryDeltaBus implements DeltaBus {
  private deltas: DeltaEntry[] = [];
  private deltaHead = 0;
  /** highest toSeq ever accepted (trimming never lowers it — like Redis' last-generated-id) */
  private top = 0;
  private scans: ScanSlot[] = [];
  private scanHead = 0;
  private scanCounter = 0;
  private closed = false;
  private readonly deltaWaiters = new Set<Wake>();
  private readonly scanWaiters = new Set<Wake>();

  private checkOpen(): void {
    if (this.closed) throw new SyncError('SYNC_ERR_BUS_CLOSED');
  }

  async publishDeltas(batch: Buffer, fromSeq: number, toSeq: number): Promise<PublishResult> {
    this.checkOpen();
    checkRange(fromSeq, toSeq);
    if (toSeq <= this.top) return 'duplicate';
    if (this.top !== 0 && fromSeq !== this.top + 1) return 'not-next';
    this.deltas.push({ fromSeq, toSeq, payload: batch });
    this.top = toSeq;
    wakeAll(this.deltaWaiters);
    return 'published';
  }

  /** Index of the first retained entry with toSeq > afterSeq (toSeq is strictly increasing). */
  private firstDeltaAfter(afterSeq: number): number {
    let lo = this.deltaHead;
    let hi = this.deltas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.deltas[mid]!.toSeq > afterSeq) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private collectDeltas(afterSeq: number, count: number): DeltaEntry[] {
    const start = this.firstDeltaAfter(afterSeq);
    return this.deltas.slice(start, Math.min(this.deltas.length, start + count));
  }

  async readDeltas(afterSeq: number, count: number, blockMs: number): Promise<DeltaEntry[]> {
    this.checkOpen();
    checkSeq(afterSeq, 'afterSeq', 0);
    checkRead(count, blockMs);
    const now = this.collectDeltas(afterSeq, count);
    if (now.length > 0 || blockMs === 0) return now;
    await waitForWake(this.deltaWaiters, blockMs);
    if (this.closed) return [];
    return this.collectDeltas(afterSeq, count);
  }

  async firstDeltaSeq(): Promise<number | null> {
    this.checkOpen();
    return this.deltaHead < this.deltas.length ? this.deltas[this.deltaHead]!.fromSeq : null;
  }

  async lastDeltaSeq(): Promise<number> {
    this.checkOpen();
    return this.top;
  }

  async trimDeltas(maxLen: number): Promise<void> {
    this.checkOpen();
    checkSeq(maxLen, 'maxLen', 1);
    const retained = this.deltas.length - this.deltaHead;
    if (retained <= maxLen) return;
    this.deltaHead += retained - maxLen;
    if (this.deltaHead * 2 > this.deltas.length) {
      this.deltas = this.deltas.slice(this.deltaHead);
      this.deltaHead = 0;
    }
  }

  async appendScans(payloads: readonly Buffer[]): Promise<void> {
    this.checkOpen();
    if (payloads.length === 0) return;
    for (const p of payloads) this.scans.push({ n: ++this.scanCounter, payload: Buffer.from(p) });
    wakeAll(this.scanWaiters);
  }

  /** Index of the first retained scan with id > (hi, lo); our ids are (n, 0), so that is n > hi. */
  private firstScanAfter(hi: number): number {
    let lo = this.scanHead;
    let up = this.scans.length;
    while (lo < up) {
      const mid = (lo + up) >>> 1;
      if (this.scans[mid]!.n > hi) up = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private collectScans(afterHi: number, count: number): BusEntry[] {
    const start = this.firstScanAfter(afterHi);
    const end = Math.min(this.scans.length, start + count);
    const out: BusEntry[] = [];
    for (let i = start; i < end; i++) {
      const s = this.scans[i]!;
      out.push({ id: `${s.n}-0`, payload: s.payload });
    }
    return out;
  }

  async readScans(afterId: string, count: number, blockMs: number): Promise<BusEntry[]> {
    this.checkOpen();
    const after = parseStreamId(afterId);
    checkRead(count, blockMs);
    const now = this.collectScans(after.hi, count);
    if (now.length > 0 || blockMs === 0) return now;
    await waitForWake(this.scanWaiters, blockMs);
    if (this.closed) return [];
    return this.collectScans(after.hi, count);
  }

  async trimScans(throughId: string): Promise<void> {
    this.checkOpen();
    const through = parseStreamId(throughId);
    // (n, 0) ≤ (hi, lo) ⇔ n ≤ hi
    this.scanHead = this.firstScanAfter(through.hi);
    if (this.scanHead * 2 > this.scans.length) {
      this.scans = this.scans.slice(this.scanHead);
      this.scanHead = 0;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    wakeAll(this.deltaWaiters);
    wakeAll(this.scanWaiters);
  }
}
