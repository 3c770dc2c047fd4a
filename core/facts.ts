import type { RiskLevel } from './code-record.js';
import { CoreError } from './errors.js';

/**
 * Facts about one person, as departments report them (DESIGN §3), and the
 * small derived view that rule expressions read.
 *
 * Rules never see the raw fact list: they see `FactView`, the latest time of
 * each kind of event. That keeps the expression language free of lists and
 * loops (CertLogic keeps `reduce` for that; we do not need it) and makes every
 * rule a constant-time function of a dozen numbers.
 */
export type FactKind =
  | 'confirmed'
  | 'suspected'
  | 'close_contact'
  | 'secondary_contact'
  | 'risk_area_visit'
  | 'entry'
  | 'nucleic_acid';

export const FACT_KINDS: readonly FactKind[] = [
  'confirmed', 'suspected', 'close_contact', 'secondary_contact', 'risk_area_visit', 'entry', 'nucleic_acid',
];

export type TestResult = 'negative' | 'positive';

export interface Fact {
  readonly kind: FactKind;
  /**
   * unix seconds of the event itself: the contact, the visit, the arrival;
   * for nucleic_acid the SAMPLING time (采样时间), not the report time,
   * because "tested after the exposure" is about when the swab was taken.
   */
  readonly at: number;
  /** reporting department or import batch, for lineage; rules do not read it */
  readonly source?: string;
  /** required for risk_area_visit, absent otherwise */
  readonly level?: RiskLevel;
  /** required for nucleic_acid, absent otherwise */
  readonly result?: TestResult;
  /** GB/T 2260 region code: 6, 9 or 12 digits */
  readonly region?: string;
  /** place code id */
  readonly venue?: string;
}

export interface Facts {
  /** the evaluation instant, unix seconds */
  readonly now: number;
  readonly facts: readonly Fact[];
}

/** TF1 carries uint32 seconds (DESIGN §4); facts live in the same range. */
export const MAX_UNIX_SECONDS = 0xffff_ffff;
/** A person's department facts are a handful; the cap bounds the work one request can cause. */
export const MAX_FACTS = 10_000;
const MAX_TEXT = 128;

const FACT_KEYS = new Set(['kind', 'at', 'source', 'level', 'result', 'region', 'venue']);
const LEVELS: readonly RiskLevel[] = ['high', 'medium', 'low'];
const RESULTS: readonly TestResult[] = ['negative', 'positive'];
const REGION_RE = /^\d{6}(?:\d{3}(?:\d{3})?)?$/;

function bad(detail: string, path: string): never {
  throw new CoreError('CORE_ERR_FACTS_INVALID', detail, path === '' ? undefined : path);
}

function isUnixSeconds(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= MAX_UNIX_SECONDS;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function optText(o: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT) {
    bad(`must be a non-empty string of at most ${MAX_TEXT} characters`, `${path}.${key}`);
  }
  return v;
}

function validateFact(x: unknown, path: string): Fact {
  if (!isPlainObject(x)) bad('must be an object', path);
  for (const k of Object.keys(x)) if (!FACT_KEYS.has(k)) bad(`unknown field '${k}'`, `${path}.${k}`);
  const kind = x.kind;
  if (typeof kind !== 'string' || !FACT_KINDS.includes(kind as FactKind)) {
    bad(`must be one of ${FACT_KINDS.join(', ')}`, `${path}.kind`);
  }
  if (!isUnixSeconds(x.at)) bad(`must be unix seconds, an integer in 0..${MAX_UNIX_SECONDS}`, `${path}.at`);
  const out: { -readonly [K in keyof Fact]: Fact[K] } = { kind: kind as FactKind, at: x.at };
  if (kind === 'risk_area_visit') {
    if (!LEVELS.includes(x.level as RiskLevel)) bad('must be high, medium or low', `${path}.level`);
    out.level = x.level as RiskLevel;
  } else if (x.level !== undefined) {
    bad('only a risk_area_visit has a level', `${path}.level`);
  }
  if (kind === 'nucleic_acid') {
    if (!RESULTS.includes(x.result as TestResult)) bad('must be negative or positive', `${path}.result`);
    out.result = x.result as TestResult;
  } else if (x.result !== undefined) {
    bad('only a nucleic_acid fact has a result', `${path}.result`);
  }
  const source = optText(x, 'source', path);
  if (source !== undefined) out.source = source;
  const region = optText(x, 'region', path);
  if (region !== undefined) {
    if (!REGION_RE.test(region)) bad('must be a GB/T 2260 code of 6, 9 or 12 digits', `${path}.region`);
    out.region = region;
  }
  const venue = optText(x, 'venue', path);
  if (venue !== undefined) out.venue = venue;
  return out;
}

/**
 * Checks facts at the boundary (department imports, master DB rows) and
 * returns a fresh copy, so later changes to the input cannot reach a verdict.
 * Errors: CORE_ERR_FACTS_INVALID with the path of the offending field, e.g.
 * `facts[3].level`.
 *
 * Facts dated after `now` are accepted (a department clock a little ahead is
 * normal) but the view ignores them until their time comes; see deriveView.
 */
export function validateFacts(x: unknown): Facts {
  if (!isPlainObject(x)) bad('must be an object { now, facts }', '');
  for (const k of Object.keys(x)) if (k !== 'now' && k !== 'facts') bad(`unknown field '${k}'`, k);
  if (!isUnixSeconds(x.now)) bad(`must be unix seconds, an integer in 0..${MAX_UNIX_SECONDS}`, 'now');
  const list = x.facts;
  if (!Array.isArray(list)) bad('must be an array', 'facts');
  if (list.length > MAX_FACTS) bad(`at most ${MAX_FACTS} facts, got ${list.length}`, 'facts');
  const facts: Fact[] = new Array<Fact>(list.length);
  for (let i = 0; i < list.length; i++) facts[i] = validateFact(list[i], `facts[${i}]`);
  return { now: x.now, facts };
}

/**
 * The names rules read as `last.<name>`: the latest time (unix seconds) of
 * such a fact at or before `now`, or null when there is none.
 *
 * | name              | latest fact                                   |
 * | ---               | ---                                           |
 * | confirmed         | kind confirmed                                |
 * | suspected         | kind suspected                                |
 * | close_contact     | kind close_contact                            |
 * | secondary_contact | kind secondary_contact                        |
 * | risk_high         | risk_area_visit with level high               |
 * | risk_medium       | risk_area_visit with level medium             |
 * | risk_low          | risk_area_visit with level low                |
 * | entry             | kind entry (入川: scan of an entry place code) |
 * | test_negative     | nucleic_acid, result negative (sampling time) |
 * | test_positive     | nucleic_acid, result positive (sampling time) |
 */
export const LAST_KEYS = [
  'confirmed', 'suspected', 'close_contact', 'secondary_contact',
  'risk_high', 'risk_medium', 'risk_low', 'entry', 'test_negative', 'test_positive',
] as const;
export type LastKey = (typeof LAST_KEYS)[number];

export interface FactView {
  readonly now: number;
  readonly last: { readonly [K in LastKey]: number | null };
}

function later(a: number | null, b: number): number {
  return a === null || b > a ? b : a;
}

/**
 * One pass over the facts. Only facts with `at <= now` count: the view at
 * time T depends on what had happened by T, so a verdict can be recomputed
 * for any instant (dry runs, "what will it be tomorrow") and a future-dated
 * fact takes effect exactly at its time (nextReevaluationAt schedules it).
 */
export function deriveView(facts: Facts): FactView {
  const now = facts.now;
  const list = facts.facts;
  let confirmed: number | null = null;
  let suspected: number | null = null;
  let closeContact: number | null = null;
  let secondary: number | null = null;
  let riskHigh: number | null = null;
  let riskMedium: number | null = null;
  let riskLow: number | null = null;
  let entry: number | null = null;
  let negative: number | null = null;
  let positive: number | null = null;
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    const at = f.at;
    if (at > now) continue;
    switch (f.kind) {
      case 'confirmed': confirmed = later(confirmed, at); break;
      case 'suspected': suspected = later(suspected, at); break;
      case 'close_contact': closeContact = later(closeContact, at); break;
      case 'secondary_contact': secondary = later(secondary, at); break;
      case 'risk_area_visit':
        if (f.level === 'high') riskHigh = later(riskHigh, at);
        else if (f.level === 'medium') riskMedium = later(riskMedium, at);
        else if (f.level === 'low') riskLow = later(riskLow, at);
        break;
      case 'entry': entry = later(entry, at); break;
      case 'nucleic_acid':
        if (f.result === 'negative') negative = later(negative, at);
        else if (f.result === 'positive') positive = later(positive, at);
        break;
      default: break; // unvalidated input: unknown kinds are not facts rules know about
    }
  }
  return {
    now,
    last: {
      confirmed, suspected, close_contact: closeContact, secondary_contact: secondary,
      risk_high: riskHigh, risk_medium: riskMedium, risk_low: riskLow, entry,
      test_negative: negative, test_positive: positive,
    },
  };
}

/** Earliest fact time strictly after `now`, or null: when the view next changes by itself. */
export function nextFactAt(facts: Facts): number | null {
  let next: number | null = null;
  const list = facts.facts;
  for (let i = 0; i < list.length; i++) {
    const at = list[i]!.at;
    if (at > facts.now && (next === null || at < next)) next = at;
  }
  return next;
}
