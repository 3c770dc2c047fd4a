import type { Fact, FactKind, LastKey } from '../core/facts.js';
import type { Expr, RuleSet } from '../core/rule-set.js';
import type { CompiledRules } from '../master/active-rules.js';
import type { DatasetTarget } from './datasets.js';

/**
 * What a verifiable dataset's rows mean for a code, read from the rule set IN
 * FORCE (the master's published version, master/active-rules.ts), not from
 * fixed defaults: a province that publishes closeContactDays = 21, or makes a
 * secondary contact red, is verified against exactly that.
 *
 * A dataset feeds some of the rule engine's fact keys (core/facts.ts LAST_KEYS):
 *
 *   nat-result   test_positive (its negatives only clear exposures)
 *   risk-person  confirmed, suspected, close_contact, secondary_contact
 *
 * The dataset's REASONS are the non-green rules of the set whose `when` reads
 * one of those keys (in the default set: test_positive; confirmed, suspected,
 * close_contact, secondary_contact). What the dataset says for a person is
 * the set's verdict on the dataset's own facts in the period plus the
 * person's negative tests (any source: they clear suspicions and contacts),
 * counted only when the verdict's reason is one of the dataset's reasons —
 * facts of other departments (an entry, a risk-area visit) cannot make the
 * dataset "expect" a colour.
 */
export const DATASET_KEYS: Partial<Record<DatasetTarget, readonly LastKey[]>> = {
  'nat-result': ['test_positive'],
  'risk-person': ['confirmed', 'suspected', 'close_contact', 'secondary_contact'],
};

/** The fact kinds behind the keys (nucleic_acid for the test keys). */
export function kindsOf(keys: readonly LastKey[]): FactKind[] {
  return [...new Set(keys.map((k) => (k === 'test_positive' || k === 'test_negative' ? 'nucleic_acid' : k) as FactKind))];
}

/** The rule engine key of a stored fact (null: a kind no dataset key covers). */
export function keyOf(f: { kind: string; result: string | null }): LastKey | null {
  if (f.kind === 'nucleic_acid') return f.result === 'positive' ? 'test_positive' : f.result === 'negative' ? 'test_negative' : null;
  if (f.kind === 'confirmed' || f.kind === 'suspected' || f.kind === 'close_contact' || f.kind === 'secondary_contact' || f.kind === 'entry') return f.kind;
  return null;
}

function readsOf(e: Expr | undefined, out: Set<string>): void {
  if (e === null || e === undefined || typeof e !== 'object') return;
  for (const [op, arg] of Object.entries(e)) {
    if (op === 'var' && typeof arg === 'string' && arg.startsWith('last.')) out.add(arg.slice(5));
    else if (Array.isArray(arg)) for (const a of arg) readsOf(a as Expr, out);
    else if (typeof arg === 'object') readsOf(arg as Expr, out);
  }
}

export interface ReasonMeaning {
  readonly reason: string;
  readonly color: 'yellow' | 'red';
  /** the dataset keys the rule's `when` reads: a fact of one of them is the basis of such a code */
  readonly keys: readonly LastKey[];
}

export interface DatasetMeaning {
  readonly version: string;
  readonly keys: readonly LastKey[];
  readonly kinds: readonly FactKind[];
  /** reason → meaning (first rule of a reason wins, as in the rule set's order) */
  readonly reasons: ReadonlyMap<string, ReasonMeaning>;
  readonly rules: CompiledRules;
}

const cache = new WeakMap<RuleSet, Map<DatasetTarget, DatasetMeaning>>();

/** The dataset's keys and reasons under a compiled rule set (cached per rule set object). */
export function meaningOf(rules: CompiledRules, target: DatasetTarget): DatasetMeaning {
  let perSet = cache.get(rules.ruleSet);
  if (perSet === undefined) {
    perSet = new Map();
    cache.set(rules.ruleSet, perSet);
  }
  const hit = perSet.get(target);
  if (hit !== undefined) return hit;
  const keys = DATASET_KEYS[target] ?? [];
  const reasons = new Map<string, ReasonMeaning>();
  for (const r of rules.ruleSet.rules) {
    if (r.color === 'green' || reasons.has(r.reason)) continue;
    const read = new Set<string>();
    readsOf(r.when, read);
    const mine = keys.filter((k) => read.has(k));
    if (mine.length > 0) reasons.set(r.reason, { reason: r.reason, color: r.color, keys: mine });
  }
  const m: DatasetMeaning = { version: rules.version, keys, kinds: kindsOf(keys), reasons, rules };
  perSet.set(target, m);
  return m;
}

export interface StoredFact {
  readonly kind: string;
  readonly result: string | null;
  readonly at: number;
  readonly source: string;
}

export interface Expected {
  readonly color: 'yellow' | 'red';
  readonly reason: string;
  /** unix s: the colour holds until then (exclusive), null: no end */
  readonly until: number | null;
  /** the dataset fact the expectation rests on (the latest of the reason's keys) */
  readonly factKind: string;
  readonly factAt: number;
}

/**
 * The verdict of the rule set in force at `now` on `included` (the dataset's
 * facts in the period and the person's negative tests), when its reason is
 * one of the dataset's; otherwise null (the dataset expects nothing).
 */
export function expectedAt(m: DatasetMeaning, included: readonly StoredFact[], now: number): Expected | null {
  const facts: Fact[] = included.map((f) => ({ kind: f.kind as FactKind, at: f.at, ...(f.result === null ? {} : { result: f.result as 'negative' | 'positive' }) }));
  const v = m.rules.evaluate({ now, facts });
  if (v.color === 'green') return null;
  const meaning = m.reasons.get(v.reason);
  if (meaning === undefined) return null;
  let basis: StoredFact | null = null;
  for (const f of included) {
    const k = keyOf(f);
    if (k !== null && meaning.keys.includes(k) && f.at <= now && (basis === null || f.at > basis.at)) basis = f;
  }
  if (basis === null) return null;
  return { color: v.color as 'yellow' | 'red', reason: v.reason, until: v.until, factKind: basis.kind, factAt: basis.at };
}
