import type { CodeService, EntryScanEvent } from '../master/code-service.js';
import type { MasterStore, ScanEvent } from '../master/store.js';
import { SCANS_START, type BusEntry, type DeltaBus } from './delta-bus.js';
import { SyncError } from './errors.js';
import { decodeScanBatch } from './scan-wire.js';
import { RetryWorker } from './retry-backoff.js';

/**
 * Master side of "scans back" (DESIGN §3, §6): scan stream → the master's
 * day-partitioned `scans` table → entry facts.
 *
 *   readScans(after position) ─▶ decode ─▶ store.insertScans   (ON CONFLICT (id, at) DO NOTHING)
 *                                        ─▶ codes.recordEntryScans (entry venues only; deduped
 *                                           on person + venue + second)
 *                                        ─▶ trimScans(last id)  (only after both committed)
 *
 * Exactly once, with no position table: both writes are idempotent, and the
 * stream entries are deleted only after they committed. A crash anywhere
 * before the trim re-reads the same entries after restart (the position
 * starts at the beginning of what is left) and the repeats change nothing;
 * after the trim they are gone. Several importers (one per master process)
 * may run at once: they insert the same rows, and the unique index lets
 * exactly one through. (delta-bus.ts explains why no consumer group.)
 *
 * One bad event must not stall every scan behind it: insertScans validates
 * all-or-nothing and names the bad event (`events[i].…`); that event is
 * dropped (reported through onError, counted) and the rest inserted. An
 * entry that is not a scan batch at all is skipped the same way. Anything
 * else — the master down (MASTER_ERR_UNAVAILABLE) — is retried with backoff
 * and the entries stay on the stream meanwhile (edges keep spooling and
 * appending; nothing is lost).
 */
export interface ScanImporterOptions {
  readonly bus: DeltaBus;
  readonly store: MasterStore;
  /** entry scans become entry facts here; without it only the scans table is written */
  readonly codes?: CodeService;
  /** stream entries per read (default 50; each holds up to a shipper batch of scans) */
  readonly readCount?: number;
  readonly blockMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly onError?: (err: Error) => void;
  /** after each committed read (tests, metrics) */
  readonly onImported?: (r: ImportResult) => void;
}

export interface ImportResult {
  readonly entries: number;
  readonly scans: number;
  readonly inserted: number;
  readonly duplicates: number;
  readonly dropped: number;
  readonly entryFacts: number;
}

export interface ScanImporterMetrics {
  readonly inserted: number;
  readonly duplicates: number;
  readonly dropped: number;
  readonly entryFacts: number;
  readonly errors: number;
  readonly lastError: string | null;
}

const EVENT_FIELD = /^events\[(\d+)\]/;

export class ScanImporter {
  private readonly bus: DeltaBus;
  private readonly store: MasterStore;
  private readonly codes: CodeService | undefined;
  private readonly readCount: number;
  private readonly blockMs: number;
  private readonly onImported: ((r: ImportResult) => void) | undefined;
  private position = SCANS_START;
  private readonly worker: RetryWorker<ImportResult>;
  private totals = { inserted: 0, duplicates: 0, dropped: 0, entryFacts: 0 };

  constructor(opts: ScanImporterOptions) {
    this.bus = opts.bus;
    this.store = opts.store;
    this.codes = opts.codes;
    this.readCount = opts.readCount ?? 50;
    this.blockMs = opts.blockMs ?? 1000;
    this.onImported = opts.onImported;
    this.worker = new RetryWorker({
      minBackoffMs: opts.minBackoffMs ?? 200,
      maxBackoffMs: opts.maxBackoffMs ?? 5000,
      onError: opts.onError,
      step: () => this.importOnce(this.blockMs),
    });
  }

  start(): void {
    this.worker.start();
  }

  stop(): Promise<void> {
    return this.worker.stop();
  }

  metrics(): ScanImporterMetrics {
    return { ...this.totals, errors: this.worker.errors, lastError: this.worker.lastError };
  }

  /** One read, imported and trimmed. Throws on failures to retry (the entries stay on the stream). */
  async importOnce(blockMs = 0): Promise<ImportResult> {
    const entries = await this.bus.readScans(this.position, this.readCount, blockMs);
    if (entries.length === 0) return { entries: 0, scans: 0, inserted: 0, duplicates: 0, dropped: 0, entryFacts: 0 };
    const events = this.decode(entries);
    let dropped = events.dropped;
    const { inserted, duplicates, dropped: invalid, kept } = await this.insert(events.scans);
    dropped += invalid;
    let entryFacts = 0;
    if (this.codes !== undefined && kept.length > 0) {
      const entryEvents: EntryScanEvent[] = kept.map((e) => ({ uid: e.uid, venueId: e.venueId, at: e.at }));
      entryFacts = (await this.codes.recordEntryScans(entryEvents)).recorded;
    }
    const last = entries[entries.length - 1]!.id;
    await this.bus.trimScans(last);
    this.position = last;
    const r = { entries: entries.length, scans: events.scans.length + events.dropped, inserted, duplicates, dropped, entryFacts };
    this.totals.inserted += inserted;
    this.totals.duplicates += duplicates;
    this.totals.dropped += dropped;
    this.totals.entryFacts += entryFacts;
    this.onImported?.(r);
    return r;
  }

  private decode(entries: readonly BusEntry[]): { scans: ScanEvent[]; dropped: number } {
    const scans: ScanEvent[] = [];
    let dropped = 0;
    for (const entry of entries) {
      try {
        const b = decodeScanBatch(entry.payload);
        for (const s of b.scans) {
          scans.push({ id: s.id, uid: s.uid, venueId: s.venue === '' ? null : s.venue, kind: s.kind, at: Math.floor(s.at / 1000), node: b.node, color: s.color });
        }
      } catch (err) {
        dropped++;
        this.worker.report(new SyncError('SYNC_ERR_SCAN_PAYLOAD', `stream entry ${entry.id} skipped: ${(err as Error).message}`));
      }
    }
    return { scans, dropped };
  }

  /** insertScans, dropping events it names as invalid (one at a time) until the rest goes in. */
  private async insert(scans: ScanEvent[]): Promise<{ inserted: number; duplicates: number; dropped: number; kept: ScanEvent[] }> {
    let rest = scans;
    let dropped = 0;
    for (;;) {
      if (rest.length === 0) return { inserted: 0, duplicates: 0, dropped, kept: rest };
      try {
        const r = await this.store.insertScans(rest);
        return { inserted: r.inserted, duplicates: r.duplicates, dropped, kept: rest };
      } catch (err) {
        const e = err as { code?: string; field?: string; message?: string };
        const m = e.code === 'MASTER_ERR_INVALID' && typeof e.field === 'string' ? EVENT_FIELD.exec(e.field) : null;
        if (m === null) throw err;
        const i = Number(m[1]);
        this.worker.report(new SyncError('SYNC_ERR_SCAN_PAYLOAD', `scan ${rest[i]?.id ?? i} dropped: ${e.message ?? ''}`));
        rest = rest.filter((_, j) => j !== i);
        dropped++;
      }
    }
  }
}
