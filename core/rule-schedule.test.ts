import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from './default-rules.js';
import { LAST_KEYS, type Fact, type Facts } from './facts.js';
import { interpretRuleSet } from './rule-interpret.js';
import { nextReevaluationAt, reevaluationPlan } from './rule-schedule.js';
import type { Expr, RuleSet } from './rule-set.js';

const T = 1_790_000_000;
const DAY = 86_400;
const HOUR = 3_600;
const now = { var: 'now' };

const next = (rs: RuleSet, at: number, ...facts: Fact[]) => nextReevaluationAt(rs, { now: at, facts });
const neg = (t: number): Fact => ({ kind: 'nucleic_acid', at: t, result: 'negative' });

describe('nextReevaluationAt on the default rule set', () => {
  it('the default rule set is exact', () => {
    expect(reevaluationPlan(DEFAULT_RULE_SET)).toMatchObject({ exact: true, reason: null });
  });

  it('nothing pending: null', () => {
    expect(next(DEFAULT_RULE_SET, T)).toBeNull();
    expect(next(DEFAULT_RULE_SET, T, { kind: 'confirmed', at: T - DAY })).toBeNull();
    expect(next(DEFAULT_RULE_SET, T, { kind: 'close_contact', at: T - 20 * DAY })).toBeNull();
  });

  it('a window ends: close contact + 14 days, secondary contact + 7 days', () => {
    expect(next(DEFAULT_RULE_SET, T, { kind: 'close_contact', at: T - DAY })).toBe(T + 13 * DAY);
    expect(next(DEFAULT_RULE_SET, T, { kind: 'secondary_contact', at: T - DAY })).toBe(T + 6 * DAY);
  });

  it('a hidden yellow behind a red: the red ends first, then the yellow', () => {
    const facts = [{ kind: 'close_contact', at: T - 10 * DAY }, { kind: 'secondary_contact', at: T - DAY }] as Fact[];
    expect(next(DEFAULT_RULE_SET, T, ...facts)).toBe(T + 4 * DAY);
    expect(interpretRuleSet(DEFAULT_RULE_SET, { now: T + 4 * DAY, facts })).toMatchObject({ color: 'yellow', until: T + 6 * DAY });
    expect(next(DEFAULT_RULE_SET, T + 4 * DAY, ...facts)).toBe(T + 6 * DAY);
  });

  it('entry: the test deadline, then nothing until a test arrives', () => {
    const entry: Fact = { kind: 'entry', at: T - HOUR };
    expect(next(DEFAULT_RULE_SET, T, entry)).toBe(T + 23 * HOUR);
    expect(next(DEFAULT_RULE_SET, T + 23 * HOUR, entry)).toBeNull();
    expect(next(DEFAULT_RULE_SET, T, entry, neg(T))).toBeNull();
  });

  it('a fact dated in the future takes effect at its time', () => {
    expect(next(DEFAULT_RULE_SET, T, { kind: 'confirmed', at: T + 90 })).toBe(T + 90);
    // A future fact that does not change the verdict is looked past (a test does not shorten a close contact)…
    expect(next(DEFAULT_RULE_SET, T, { kind: 'close_contact', at: T - DAY }, neg(T + 60))).toBe(T + 13 * DAY);
    // …and flip points that only exist once it has arrived are found.
    expect(next(DEFAULT_RULE_SET, T, neg(T + 60), { kind: 'close_contact', at: T + 30 })).toBe(T + 30);
    expect(next(DEFAULT_RULE_SET, T, neg(T - 60), { kind: 'entry', at: T + 30 }, neg(T + 90))).toBe(T + 30);
    expect(next(DEFAULT_RULE_SET, T + 30, neg(T - 60), { kind: 'entry', at: T + 30 }, neg(T + 90))).toBe(T + 90);
    expect(next(DEFAULT_RULE_SET, T, { kind: 'risk_area_visit', at: T + 30, level: 'low' }, { kind: 'secondary_contact', at: T + 90 }))
      .toBe(T + 90);
  });
});

describe('reevaluationPlan: exact or not', () => {
  const rs = (when: Expr, until?: Expr): RuleSet => ({
    version: '1', params: { d: 2 },
    rules: [until === undefined ? { id: 'a', when, color: 'yellow', reason: 'a' } : { id: 'a', when, color: 'yellow', reason: 'a', until }],
  });
  const x = { var: 'last.entry' };

  it('follows now in linear comparisons written every way round', () => {
    const forms: Expr[] = [
      { '>=': [now, { '+': [x, 100] }] },
      { '<': [{ '-': [now, x] }, 100] },
      { '>': [{ '-': [x, now] }, -100] },
      { '<': [{ '+': [5, { '-': [now, 5] }, { '-': [x] }] }, 100] },
      { '<': [{ '-': [now] }, { '-': [-100, x] }] },
      { '<=': [x, now, { '+': [x, 100] }] },
      { '==': [now, { '+': [x, 100] }] },
      { if: [{ '<': [now, { '+': [x, 100] }] }, true, false] },
      { '<': [{ '-': [now, x] }, { '-': [now, { '-': [x, 100] }] }] }, // now cancels: time-independent
    ];
    for (const f of forms) {
      const plan = reevaluationPlan(rs(f));
      expect(plan, JSON.stringify(f)).toMatchObject({ exact: true });
    }
    // entry at T - 50: the truth of `now - entry < 100` flips at T + 50
    expect(nextReevaluationAt(rs({ '<': [{ '-': [now, x] }, 100] }), { now: T, facts: [{ kind: 'entry', at: T - 50 }] })).toBe(T + 50);
    // `x - now > -100` ⇔ now < x + 100: also false from T + 50 on; `<=` flips one second later.
    expect(nextReevaluationAt(rs({ '>': [{ '-': [x, now] }, -100] }), { now: T, facts: [{ kind: 'entry', at: T - 50 }] })).toBe(T + 50);
    expect(nextReevaluationAt(rs({ '<=': [{ '-': [now, x] }, 100] }), { now: T, facts: [{ kind: 'entry', at: T - 50 }] })).toBe(T + 51);
    expect(nextReevaluationAt(rs({ '==': [now, { '+': [x, 100] }] }), { now: T, facts: [{ kind: 'entry', at: T - 50 }] })).toBe(T + 50);
    expect(nextReevaluationAt(rs({ '==': [now, { '+': [x, 100] }] }), { now: T + 50, facts: [{ kind: 'entry', at: T - 50 }] })).toBe(T + 51);
  });

  it('finds a colour that starts later, which untils alone would miss', () => {
    const later = rs({ '>=': [now, { '+': [x, { '*': [{ var: 'params.d' }, DAY] }] }] });
    const facts: Facts = { now: T, facts: [{ kind: 'entry', at: T }] };
    expect(interpretRuleSet(later, facts).color).toBe('green');
    expect(nextReevaluationAt(later, facts)).toBe(T + 2 * DAY);
    expect(interpretRuleSet(later, { ...facts, now: T + 2 * DAY }).color).toBe('yellow');
  });

  it('an exact answer skips flip points that do not change the verdict', () => {
    // The entry window's end is a flip point, but a negative test already decided both entry rules.
    expect(next(DEFAULT_RULE_SET, T, { kind: 'entry', at: T - HOUR }, neg(T))).toBeNull();
  });

  it('says when it cannot be exact, and why', () => {
    expect(reevaluationPlan(rs({ '<': [{ max: [now, x] }, 5] }))).toEqual({
      exact: false, reason: 'rules[0].when uses now other than in a linear comparison', thresholds: 0,
    });
    expect(reevaluationPlan(rs({ '<': [{ '*': [now, 2] }, 5] })).exact).toBe(false);
    expect(reevaluationPlan(rs({ '<': [now, { '-': [0, now] }] })).exact).toBe(false);
    expect(reevaluationPlan(rs(true, { '+': [now, 5] }))).toMatchObject({ exact: false, reason: 'rules[0].until uses now' });
    // A followable comparison elsewhere in a non-exact rule still yields its threshold.
    const mixed = rs({ and: [{ '<': [{ max: [now, x] }, 5] }, { '<': [now, { '+': [x, 100] }] }] });
    expect(reevaluationPlan(mixed)).toMatchObject({ exact: false, thresholds: 1 });
    expect(nextReevaluationAt(mixed, { now: T, facts: [{ kind: 'entry', at: T }] })).toBe(T + 100);
  });

  it('caches per rule set object', () => {
    const r = rs(true);
    expect(reevaluationPlan(r)).toEqual(reevaluationPlan(r));
  });
});

// ---------- soundness: the verdict is constant on [now, next) ----------

const factsArb: fc.Arbitrary<Facts> = fc
  .record({
    now: fc.integer({ min: T - 2 * DAY, max: T + 2 * DAY }),
    specs: fc.array(
      fc.record({
        kind: fc.constantFrom('confirmed', 'suspected', 'close_contact', 'secondary_contact', 'risk_area_visit', 'entry', 'nucleic_acid'),
        off: fc.oneof(fc.integer({ min: -20 * DAY, max: 3 * DAY }), fc.constantFrom(0, -1, 1, -24 * HOUR, -7 * DAY, -14 * DAY)),
        level: fc.constantFrom('high', 'medium', 'low'),
        result: fc.constantFrom('negative', 'negative', 'positive'),
      }),
      { maxLength: 6 },
    ),
  })
  .map(({ now: n, specs }) => ({
    now: n,
    facts: specs.map((s): Fact => {
      if (s.kind === 'risk_area_visit') return { kind: s.kind, at: n + s.off, level: s.level as 'high' };
      if (s.kind === 'nucleic_acid') return { kind: s.kind, at: n + s.off, result: s.result as 'negative' };
      return { kind: s.kind as Fact['kind'], at: n + s.off };
    }),
  }));

/** Rule sets that are exact by construction: windows, null checks and boolean glue; untils without now. */
const last: fc.Arbitrary<Expr> = fc.constantFrom(...LAST_KEYS).map((k) => ({ var: `last.${k}` }));
const bound: fc.Arbitrary<Expr> = fc.tuple(last, fc.integer({ min: -3, max: 10 }), fc.constantFrom(DAY, HOUR, 1))
  .map(([l, n, unit]): Expr => ({ '+': [l, n * unit] }));
const atom: fc.Arbitrary<Expr> = fc.oneof(
  fc.tuple(fc.constantFrom('<', '<=', '>', '>=', '==', '!='), bound, fc.boolean())
    .map(([op, b, flip]): Expr => ({ [op]: flip ? [b, now] : [now, b] })),
  fc.tuple(fc.constantFrom('<', '<=', '>', '>='), bound, fc.integer({ min: 0, max: 5 * DAY }))
    .map(([op, b, w]): Expr => ({ [op]: [{ '-': [now, b] }, w] })),
  // now with coefficient -1: b - now, and -now + b
  fc.tuple(fc.constantFrom('<', '<=', '>', '>=', '==', '!='), bound, fc.integer({ min: 0, max: 5 * DAY }), fc.boolean())
    .map(([op, b, w, unary]): Expr => ({ [op]: [unary ? { '+': [{ '-': [now] }, b] } : { '-': [b, now] }, -w] })),
  fc.tuple(last, last).map(([a, b]): Expr => ({ '>': [a, b] })),
  last.map((l) => ({ '!=': [l, null] })),
);
const boolExpr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small' },
    atom,
    fc.tuple(fc.constantFrom('and', 'or'), fc.array(tie('e'), { minLength: 1, maxLength: 3 })).map(([op, a]) => ({ [op]: a })),
    tie('e').map((x) => ({ '!': x })),
  ),
})).e;
const exactRuleSetArb: fc.Arbitrary<RuleSet> = fc
  .array(
    fc.record({
      when: boolExpr,
      color: fc.constantFrom('green', 'yellow', 'red'),
      until: fc.option(bound, { nil: undefined }),
      notice: fc.option(fc.record({ kind: fc.constant('n'), message: fc.constant('m'), until: bound }), { nil: undefined }),
    }),
    { maxLength: 5 },
  )
  .map((rules) => ({
    version: 'exact.1', params: {},
    rules: rules.map((r, i) => {
      const rule: Record<string, unknown> = { id: `r${i}`, when: r.when, color: r.color, reason: `r${i}` };
      if (r.until !== undefined) rule.until = r.until;
      if (r.notice !== undefined) rule.notice = r.notice;
      return rule;
    }) as unknown as RuleSet['rules'],
  }));

/** Same verdict on [now, next) (sampled, and at next - 1); a different one at next. Uses the interpreter as oracle. */
function constantUntilNext(rs: RuleSet, facts: Facts, pick: number): void {
  const n = nextReevaluationAt(rs, facts);
  const here = interpretRuleSet(rs, facts);
  if (n !== null) {
    expect(n).toBeGreaterThan(facts.now);
    expect(interpretRuleSet(rs, { ...facts, now: n })).not.toEqual(here);
  }
  const end = n ?? facts.now + 60 * DAY;
  for (const t of [facts.now + (pick % (end - facts.now)), end - 1]) {
    expect(interpretRuleSet(rs, { ...facts, now: t }), `at now + ${t - facts.now}`).toEqual(here);
  }
}

describe('exactness (fast-check): the verdict changes at nextReevaluationAt and not before', () => {
  it('on the default rule set', () => {
    fc.assert(fc.property(factsArb, fc.nat(), (facts, pick) => constantUntilNext(DEFAULT_RULE_SET, facts, pick)), { numRuns: 3000 });
  });

  it('on random exact rule sets', () => {
    fc.assert(
      fc.property(exactRuleSetArb, factsArb, fc.nat(), (rs, facts, pick) => {
        expect(reevaluationPlan(rs).exact).toBe(true);
        constantUntilNext(rs, facts, pick);
      }),
      { numRuns: 1500 },
    );
  });
});
