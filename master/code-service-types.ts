import { type CodeRecord, type Color } from '../core/code-record.js';
import { type Fact } from '../core/facts.js';
import { type Transition } from './code-batch.js';
import { type OverrideRow } from './code-decision.js';
import type { MasterStore } from './store.js';

/**
 * What the code service (master/code-service.ts) takes and returns.
 * Re-exported by master/code-service.ts.
 */
/** Where facts come from (lineage, DESIGN §7): a department or import, optionally the file/interface and the acting user. */
export type FactSource = string | { readonly source: string; readonly sourceRef?: string; readonly actor?: string };

export interface RegisterResult {
  readonly personId: number;
  readonly uid: Buffer;
  /** true when this call issued the person's first code (领码); false on every later login */
  readonly created: boolean;
  /** the code in force after the call */
  readonly code: CodeRecord;
}

export interface CodeChangeResult {
  readonly personId: number;
  readonly uid: Buffer;
  /** false when the code stayed as it was (no history row, no delta) */
  readonly changed: boolean;
  /** outbox sequence of the record in force */
  readonly seq: number;
  readonly record: CodeRecord;
  readonly ruleVersion: string;
  /** the manual change is what the code shows */
  readonly overridden: boolean;
  readonly nextEvalAt: number | null;
}

export interface AddFactsResult extends CodeChangeResult {
  readonly inserted: number;
}

export interface TranscodeInput {
  readonly color: Color;
  /** shown as the code's reason; 1–64 characters, no control characters */
  readonly reason: string;
  /** unix seconds, in the future; null = until cleared (clearOverride) */
  readonly until: number | null;
}

export interface TranscodeOptions {
  /**
   * Runs inside the transaction of the change, after it: append the audit
   * entry here (AuditLog.append(entry, store.db)) so the change and its audit
   * row commit together or not at all.
   */
  readonly sameTx?: (store: MasterStore, result: CodeChangeResult) => Promise<void>;
}

export interface OverrideInfo extends OverrideRow {
  /** false once `until` has passed */
  readonly active: boolean;
}

export interface StoredFact {
  readonly id: number;
  readonly kind: Fact['kind'];
  readonly at: number;
  readonly source: string;
  readonly sourceRef: string | null;
  readonly level: Fact['level'] | null;
  readonly result: Fact['result'] | null;
  readonly region: string | null;
  readonly venue: string | null;
  /** unix seconds the fact was recorded */
  readonly recordedAt: number;
}

export interface HistoryEntry {
  readonly at: number;
  readonly prevColor: Color | null;
  readonly color: Color;
  readonly reason: string;
  readonly since: number;
  readonly until: number | null;
  readonly ruleVersion: string | null;
  readonly actor: string;
  readonly seq: number;
}

export interface EntryScanResult {
  /** an entry fact was stored (and the code re-evaluated) */
  readonly recorded: boolean;
  /** why not: the venue is not an entry venue, or this very scan was recorded before */
  readonly skipped?: 'not_entry_venue' | 'duplicate';
  readonly code?: CodeChangeResult;
}

export interface EntryScanEvent {
  readonly uid: Uint8Array;
  readonly venueId: string | null;
  /** unix seconds */
  readonly at: number;
}

export interface DueResult {
  readonly evaluated: number;
  readonly changed: number;
}

export interface SweepProgress {
  readonly version: string;
  /** codes evaluated so far by this call */
  readonly done: number;
  /** codes when the sweep started (an estimate: registrations go on) */
  readonly total: number;
  readonly changed: number;
}

export interface SweepResult {
  /** the version codes were evaluated with; null when none is published */
  readonly version: string | null;
  readonly evaluated: number;
  readonly changed: number;
  readonly transitions: Transition[];
}

export interface CodeServiceOptions {
  /** people per sweep / scheduler transaction (default 2000) */
  readonly chunkSize?: number;
  /** scheduler errors go here (default console.error) */
  readonly log?: (message: string) => void;
}

export interface SchedulerOptions {
  /** pause between passes (default 1000 ms) */
  readonly intervalMs?: number;
  /** due codes per transaction (default 1000) */
  readonly batch?: number;
  /** at most this many batches per pass, so one pass cannot run for ever (default 100) */
  readonly maxBatches?: number;
}

export interface SchedulerHandle {
  /** Stops the timer and waits for a running pass to finish. */
  stop(): Promise<void>;
}

export interface TickResult {
  readonly sweep: SweepResult | null;
  readonly due: DueResult;
}
