import type { CodeRecord, Color, Notice, RiskLevel } from '../core/code-record.js';
import type { Fact, FactKind, TestResult } from '../core/facts.js';
import { nextReevaluationAt } from '../core/rule-schedule.js';
import { SEVERITY } from '../core/rule-set.js';
import type { CompiledRules } from './active-rules.js';
import { sameNotices } from './store-checks.js';

/**
 * What one person's code should be: facts → rule engine → verdict, with a
 * manual change (转码) folded in. Pure: no I/O, the same function for the one
 * person of a registration and the million of a rule publish, so the dry run,
 * the publish and the scheduler cannot disagree.
 *
 * ## Manual changes (转码) and the rules
 *
 * An officer's change is stored as an override (table code_overrides) with
 * colour, reason, optional `until`, and `factMark`: the highest fact id the
 * person had at that moment, i.e. everything the officer could see.
 *
 *   - While the override is in force (until is null or now < until) its
 *     colour and reason are the code — the officer's judgement replaces the
 *     rules' verdict on the facts known then. This is what makes 转码 useful
 *     at all: the default rules keep a confirmed case red forever "until a
 *     health officer changes the code" (core/default-rules.ts).
 *   - Facts recorded AFTER it (id > factMark) are new information. They are
 *     evaluated by the rules on their own; if that verdict is MORE severe
 *     than the override it wins (a recovered case who becomes a close contact
 *     again turns red), and when it lapses the override shows again. Notices
 *     they raise (入川即检) ride on the override's colour.
 *   - Once `until` has passed, the rules decide on all facts again.
 *   - clearOverride hands the person back to the rules at once.
 *
 * Rejected alternative: "a newer fact ends the override". A recovered case's
 * routine negative test would then turn the code red again (the confirmed
 * fact is still there), which is exactly wrong.
 */

/** A fact as read back from the facts table (id gives the override watermark). */
export interface FactRow {
  readonly id: number;
  readonly kind: FactKind;
  readonly at: number;
  readonly level: RiskLevel | null;
  readonly result: TestResult | null;
}

export interface OverrideRow {
  readonly color: Color;
  readonly reason: string;
  /** unix seconds, exclusive; null = until cleared */
  readonly until: number | null;
  readonly factMark: number;
  readonly actor: string;
  /** unix seconds */
  readonly setAt: number;
}

export interface Decision {
  readonly color: Color;
  readonly reason: string;
  readonly until: number | null;
  readonly notices: Notice[];
  /** when the scheduler must look again without new facts (unix seconds), or null */
  readonly nextEvalAt: number | null;
  /** true when the override's colour and reason are the code */
  readonly overridden: boolean;
}

/** Largest time TF1 and the store carry (uint32 seconds). */
const MAX_SECONDS = 0xffff_ffff;

function clampNext(t: number | null): number | null {
  // Only scheduling: past the uint32 range nothing will ever be due.
  return t === null || t > MAX_SECONDS ? null : t;
}

function minOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : a < b ? a : b;
}

/** The override is in force at `now`. */
export function overrideActive(ov: OverrideRow | null, now: number): ov is OverrideRow {
  return ov !== null && (ov.until === null || now < ov.until);
}

/**
 * The code for `facts` (all of the person's, any order) at `now`.
 * The facts' rows are passed to the compiled rule set as they are: it reads
 * kind, at, level and result only, and null level/result behave as absent.
 */
export function decide(rules: CompiledRules, facts: readonly FactRow[], ov: OverrideRow | null, now: number): Decision {
  if (!overrideActive(ov, now)) {
    const input = { now, facts: facts as unknown as readonly Fact[] };
    const v = rules.evaluate(input);
    return {
      color: v.color, reason: v.reason, until: v.until, notices: v.notices,
      nextEvalAt: clampNext(nextReevaluationAt(rules.ruleSet, input)), overridden: false,
    };
  }
  const newer: FactRow[] = [];
  for (let i = 0; i < facts.length; i++) if (facts[i]!.id > ov.factMark) newer.push(facts[i]!);
  const input = { now, facts: newer as unknown as readonly Fact[] };
  const v = rules.evaluate(input);
  const next = clampNext(minOrNull(nextReevaluationAt(rules.ruleSet, input), ov.until));
  if (SEVERITY[v.color] > SEVERITY[ov.color]) {
    return { color: v.color, reason: v.reason, until: v.until, notices: v.notices, nextEvalAt: next, overridden: false };
  }
  return { color: ov.color, reason: ov.reason, until: ov.until, notices: v.notices, nextEvalAt: next, overridden: true };
}

/** The code a person holds now (null fields: no code yet). */
export interface CurrentCode {
  readonly color: Color | null;
  readonly reason: string | null;
  readonly since: number | null;
  readonly until: number | null;
  readonly notices: readonly Notice[] | null;
}

/**
 * The record `d` leads to (without seq) and whether it differs from `cur` —
 * the same rule as MasterStore.setCode: `since` is kept while the colour
 * stays, else it is `now`; equal colour, reason, since, until and notices
 * mean "no change" (no history row, no delta).
 */
export function plannedRecord(
  cur: CurrentCode, name: string, d: Pick<Decision, 'color' | 'reason' | 'until' | 'notices'>, now: number,
): { readonly record: Omit<CodeRecord, 'seq'>; readonly changed: boolean } {
  const had = cur.color !== null;
  const since = had && cur.color === d.color ? cur.since! : now;
  const record = { color: d.color, reason: d.reason, since, until: d.until, name, notices: d.notices };
  const changed = !had || cur.color !== d.color || cur.reason !== d.reason || cur.since !== since ||
    cur.until !== d.until || !sameNotices(cur.notices!, d.notices);
  return { record, changed };
}
