import { deriveView, nextFactAt, type FactView, type Facts } from './facts.js';
import { compileExpr, compileRuleSet } from './rule-compile.js';
import type { RuleValue } from './rule-interpret.js';
import { checkRuleSet, type Expr, type RuleSet, type TypedExpr, type Verdict } from './rule-set.js';

/**
 * When must the master look at a person again if no new facts arrive?
 *
 * A verdict depends on time through `now` and through facts dated in the
 * future (the view takes them in at their time). `now` is followed where it
 * appears in a `when` inside a comparison whose now-side is linear (`now`,
 * `now + x`, `now - x`, `x - now`, `-now`) and whose other side has no
 * `now`. Solved to `now OP T`, such a comparison flips at one known second:
 * T for `<` and `>=`, T + 1 for `<=` and `>` (integer seconds), both for
 * `==` and `!=`; a null T means it is false at every instant.
 *
 * If every `now` in every `when` is of that kind and no `until` uses `now`,
 * the rule set is EXACT: between consecutive flip points (and future facts)
 * the verdict is constant. Candidates are then tried in time order — flip
 * points, the verdict's and notices' untils, the next future fact — by
 * evaluating the compiled rule set there (≈ 20 ns each); the first one with
 * a different verdict is the answer, or null if none has. Passing a future
 * fact without a change, the flip points are recomputed from the view that
 * includes it. So the verdict is the same on [now, answer) and different at
 * the answer. The default rule set is exact; rule-schedule.test.ts checks
 * both halves on random facts and random exact rule sets.
 *
 * Anything else (`now` inside max/min/if/*, or in an `until`) is not exact:
 * the answer is the earliest candidate, unchecked, and the verdict may change
 * before it. `reevaluationPlan(rs)` says which case a rule set is in and
 * why, so the admin can warn before publishing one.
 */
export interface ReevaluationPlan {
  readonly exact: boolean;
  /** why not exact: the first place `now` is used in a way the analysis cannot follow */
  readonly reason: string | null;
  /** number of flip points (comparison against now) found */
  readonly thresholds: number;
}

/** The comparison flips at T + delta, T the value of `at`. */
interface Flip { readonly at: Expr; readonly delta: 0 | 1 }

interface Plan extends ReevaluationPlan {
  readonly evaluate: (facts: Facts) => Verdict;
  readonly flips: readonly { readonly fn: (view: FactView) => RuleValue; readonly delta: 0 | 1 }[];
}

type CmpOp = '<' | '<=' | '>' | '>=' | '==' | '!=';
/** a OP b ⇔ b MIRROR(OP) a */
const MIRROR: { readonly [O in CmpOp]: CmpOp } = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '==': '==', '!=': '!=' };
/** Seconds after T at which `now OP T` changes its value as now grows. */
const FLIP_DELTAS: { readonly [O in CmpOp]: readonly (0 | 1)[] } = {
  '<': [0], '>=': [0], '<=': [1], '>': [1], '==': [0, 1], '!=': [0, 1],
};

interface Linear { readonly coef: 1 | -1; readonly off: Expr }

function toJson(e: TypedExpr): Expr {
  switch (e.k) {
    case 'lit': return e.v;
    case 'now': return { var: 'now' };
    case 'last': return { var: `last.${e.key}` };
    case 'param': return { var: `params.${e.name}` };
    case 'op': return { [e.op]: e.args.map(toJson) };
  }
}

function usesNow(e: TypedExpr): boolean {
  return e.k === 'now' || (e.k === 'op' && e.args.some(usesNow));
}

/** e as coef·now + off, or null when `now` enters e other than linearly with coefficient ±1. */
function linear(e: TypedExpr): Linear | null {
  if (e.k === 'now') return { coef: 1, off: 0 };
  if (e.k !== 'op') return null;
  if (e.op === '+') {
    let inner: Linear | null = null;
    const rest: Expr[] = [];
    for (const a of e.args) {
      if (usesNow(a)) {
        if (inner !== null) return null;
        inner = linear(a);
        if (inner === null) return null;
      } else {
        rest.push(toJson(a));
      }
    }
    if (inner === null) return null;
    return { coef: inner.coef, off: { '+': [inner.off, ...rest] } };
  }
  if (e.op === '-') {
    const [a, b] = e.args;
    if (b === undefined) {
      const l = linear(a!);
      return l === null ? null : { coef: l.coef === 1 ? -1 : 1, off: { '-': [l.off] } };
    }
    const ua = usesNow(a!);
    const ub = usesNow(b);
    if (ua && !ub) {
      const l = linear(a!);
      return l === null ? null : { coef: l.coef, off: { '-': [l.off, toJson(b)] } };
    }
    if (!ua && ub) {
      const l = linear(b);
      return l === null ? null : { coef: l.coef === 1 ? -1 : 1, off: { '-': [toJson(a!), l.off] } };
    }
  }
  return null;
}

class Opaque extends Error {}

function walk(e: TypedExpr, out: Flip[]): void {
  if (e.k === 'now') throw new Opaque();
  if (e.k !== 'op') return;
  const numericCompare = e.op === '<' || e.op === '<=' || e.op === '>' || e.op === '>='
    || ((e.op === '==' || e.op === '!=') && e.args[0]!.t !== 'bool');
  const needWalk = e.args.map(() => !numericCompare);
  if (numericCompare) {
    for (let i = 0; i + 1 < e.args.length; i++) {
      const x = e.args[i]!;
      const y = e.args[i + 1]!;
      const ux = usesNow(x);
      const uy = usesNow(y);
      if (!ux && !uy) continue;
      const lx = ux ? linear(x) : null;
      const ly = uy ? linear(y) : null;
      if (ux && uy) {
        // coef·now on both sides with the same sign cancels: the comparison does not depend on time.
        if (lx === null || ly === null || lx.coef !== ly.coef) { needWalk[i] = true; needWalk[i + 1] = true; }
        continue;
      }
      const l = ux ? lx : ly;
      const other = toJson(ux ? y : x);
      if (l === null) { needWalk[ux ? i : i + 1] = true; continue; }
      // Solve to `now OP T`. With the linear side on the left: coef·now + off OP other, so for
      // coef 1: now OP (other - off); for coef -1: now MIRROR(OP) (off - other).
      let op = e.op as CmpOp;
      if (!ux) op = MIRROR[op];
      if (l.coef === -1) op = MIRROR[op];
      const at: Expr = l.coef === 1 ? { '-': [other, l.off] } : { '-': [l.off, other] };
      for (const delta of FLIP_DELTAS[op]) out.push({ at, delta });
    }
  }
  for (let i = 0; i < e.args.length; i++) if (needWalk[i]) walk(e.args[i]!, out);
}

function makePlan(rs: RuleSet): Plan {
  const checked = checkRuleSet(rs);
  const thresholds: Flip[] = [];
  let reason: string | null = null;
  const visit = (e: TypedExpr | null, where: string, isWhen: boolean): void => {
    if (e === null) return;
    if (!isWhen) {
      if (reason === null && usesNow(e)) reason = `${where} uses now`;
      return;
    }
    try {
      walk(e, thresholds);
    } catch (err) {
      if (!(err instanceof Opaque)) throw err;
      if (reason === null) reason = `${where} uses now other than in a linear comparison`;
      // Keep the thresholds of the comparisons that could be followed: they still help.
      const partial: Flip[] = [];
      collectPartial(e, partial);
      thresholds.push(...partial);
    }
  };
  for (const r of checked.rules) {
    const p = `rules[${r.index}]`;
    visit(r.when, `${p}.when`, true);
    visit(r.until, `${p}.until`, false);
    visit(r.notice?.until ?? null, `${p}.notice.until`, false);
  }
  const params = checked.ruleSet.params;
  const flips: Plan['flips'][number][] = [];
  for (const t of thresholds) {
    try {
      flips.push({ fn: compileExpr(t.at, params), delta: t.delta });
    } catch {
      // A threshold built from an expression already at the nesting limit can exceed it by a
      // level or two; without it the answer may be late, so say so.
      reason ??= 'a time threshold is nested too deep to evaluate';
    }
  }
  return {
    exact: reason === null,
    reason,
    thresholds: flips.length,
    evaluate: compileRuleSet(checked.ruleSet),
    flips,
  };
}

/** Best effort for a non-exact `when`: thresholds of every comparison subtree that is itself followable. */
function collectPartial(e: TypedExpr, out: Flip[]): void {
  if (e.k !== 'op') return;
  const local: Flip[] = [];
  try {
    walk(e, local);
    out.push(...local);
  } catch (err) {
    if (!(err instanceof Opaque)) throw err;
    for (const a of e.args) collectPartial(a, out);
  }
}

const plans = new WeakMap<RuleSet, Plan>();

function planOf(rs: RuleSet): Plan {
  let p = plans.get(rs);
  if (p === undefined) {
    p = makePlan(rs);
    plans.set(rs, p);
  }
  return p;
}

/** Whether nextReevaluationAt is exact for this rule set (see the header). Cached per rule set object. */
export function reevaluationPlan(rs: RuleSet): ReevaluationPlan {
  const p = planOf(rs);
  return { exact: p.exact, reason: p.reason, thresholds: p.thresholds };
}

/**
 * The earliest instant after facts.now at which the verdict changes without
 * new facts, or null if it never does. Exact for exact rule sets, an early
 * (safe) estimate otherwise (see the header); the rule set is checked and
 * compiled once per object (WeakMap).
 */
export function nextReevaluationAt(rs: RuleSet, facts: Facts): number | null {
  const plan = planOf(rs);
  const list = facts.facts;
  const verdict = plan.evaluate(facts);
  const candidates: number[] = [];
  // The flip points below come from the fact view at `from`, which holds until the next
  // future-dated fact takes effect; past that fact the search starts again from it.
  let from = facts.now;
  for (;;) {
    candidates.length = 0;
    addCandidate(candidates, verdict.until, from);
    for (const n of verdict.notices) addCandidate(candidates, n.until, from);
    const factAt = nextFactAt({ now: from, facts: list });
    addCandidate(candidates, factAt, from);
    if (plan.flips.length > 0) {
      const view = deriveView({ now: from, facts: list });
      for (const f of plan.flips) {
        const t = f.fn(view);
        if (typeof t === 'number') addCandidate(candidates, t + f.delta, from);
      }
    }
    if (candidates.length === 0) return null;
    candidates.sort(ascending);
    if (!plan.exact) return candidates[0]!;
    let restart = false;
    for (const t of candidates) {
      if (factAt !== null && t > factAt) break;
      if (!sameVerdict(plan.evaluate({ now: t, facts: list }), verdict)) return t;
      if (t === factAt) { restart = true; break; }
    }
    if (!restart) return null;
    from = factAt!;
  }
}

function ascending(a: number, b: number): number {
  return a - b;
}

function addCandidate(out: number[], t: number | null, now: number): void {
  if (t !== null && Number.isSafeInteger(t) && t > now) out.push(t);
}

function sameVerdict(a: Verdict, b: Verdict): boolean {
  if (a.color !== b.color || a.reason !== b.reason || a.until !== b.until || a.notices.length !== b.notices.length) return false;
  for (let i = 0; i < a.notices.length; i++) {
    const x = a.notices[i]!;
    const y = b.notices[i]!;
    if (x.kind !== y.kind || x.message !== y.message || x.until !== y.until) return false;
  }
  return true;
}
