import { type CodeRecord, type Color, type Notice, type RiskArea, type Venue } from '../core/code-record.js';
import { type IdType, type IdentityInput } from '../core/identity.js';

/**
 * What the master store (master/store.ts) takes and returns: persons, codes,
 * deltas, scans. Re-exported by master/store.ts.
 */
/** What departments, the session issuer and the back office know of a person. */
export interface PersonInput extends IdentityInput {
  /** already-masked display name, used when the full name is not given */
  nameMasked?: string;
  /** GB/T 2260 6-digit county code; defaults to the resident ID's first 6 digits */
  region?: string;
}

export interface UpsertPersonResult {
  readonly personId: number;
  readonly uid: Buffer;
  readonly created: boolean;
}

export interface PersonRow {
  readonly id: number;
  readonly uid: Buffer;
  readonly certType: IdType | null;
  readonly nameMasked: string;
  readonly region: string | null;
  readonly certEnc: Buffer | null;
  readonly phoneEnc: Buffer | null;
  readonly nameEnc: Buffer | null;
  readonly createdAt: Date;
}

export interface RevealedPerson {
  readonly certificate: { readonly type: IdType; readonly number: string } | null;
  readonly phone: string | null;
  readonly name: string | null;
}

/** What a rule evaluation or a manual change (转码) decides for one person. */
export interface CodeVerdict {
  readonly color: Color;
  /** short stable reason code, e.g. 'close_contact' */
  readonly reason: string;
  /** unix seconds or null */
  readonly until: number | null;
  readonly notices?: readonly Notice[];
  /** unix seconds; default: kept while the colour stays, else now */
  readonly since?: number;
  /** unix seconds when the scheduler should evaluate again, or null */
  readonly nextEvalAt?: number | null;
}

export interface CodeRow {
  readonly personId: number;
  readonly uid: Buffer;
  readonly color: Color;
  readonly reason: string;
  readonly since: number;
  readonly until: number | null;
  readonly notices: readonly Notice[];
  readonly name: string;
  readonly ruleVersion: string | null;
  readonly seq: number;
  readonly nextEvalAt: number | null;
}

export interface SetCodeResult {
  /** false when the verdict equals the current code: no history, no delta */
  readonly changed: boolean;
  /** outbox sequence of the record now in force */
  readonly seq: number;
  readonly record: CodeRecord;
}

/** An outbox delta before it has a sequence (a code record's seq is the delta's). */
export type DeltaInput =
  | { readonly type: 'code'; readonly uid: Uint8Array; readonly record: Omit<CodeRecord, 'seq'> | null }
  | { readonly type: 'venue'; readonly id: string; readonly venue: Venue | null }
  | { readonly type: 'risk_area'; readonly region: string; readonly area: RiskArea | null }
  | { readonly type: 'rules'; readonly version: string; readonly activeFrom: number; readonly ruleSet: unknown }
  | { readonly type: 'keys'; readonly keys: unknown }
  | { readonly type: 'noop' };

export interface ChangeResult {
  readonly changed: boolean;
  /** outbox sequence of the change, null when nothing changed */
  readonly seq: number | null;
}

export type ScanKind = 'scan' | 'verify';

/** One scan as an edge reports it; `id` is assigned by the edge node and never reused. */
export interface ScanEvent {
  readonly id: string;
  readonly uid: Uint8Array;
  readonly venueId: string | null;
  readonly kind: ScanKind;
  /** unix seconds */
  readonly at: number;
  readonly node: string;
  readonly color: Color;
}

export interface InsertScansResult {
  readonly inserted: number;
  /** events already stored (a resend after a lost acknowledgement) */
  readonly duplicates: number;
}

export interface DueRow {
  readonly personId: number;
  readonly uid: Buffer;
  readonly nextEvalAt: number;
}

export interface MasterStoreOptions {
  /** clock in unix milliseconds (tests pin it) */
  readonly now?: () => number;
  /** day partitions of `scans` kept ready ahead of today by migrate() (default 7) */
  readonly scanDaysAhead?: number;
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------
