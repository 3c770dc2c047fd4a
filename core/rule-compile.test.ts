import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from './default-rules.js';
import { CoreError } from './errors.js';
import { deriveView, LAST_KEYS, type Fact, type Facts } from './facts.js';
import { compileExpr, compileRuleSet, ruleSetSourceOf } from './rule-compile.js';
import { interpretExpr, interpretRuleSet } from './rule-interpret.js';
import { validateRuleSet, type Expr, type RuleSet } from './rule-set.js';

const T = 1_790_000_000;
const DAY = 86_400;
const HOUR = 3_600;
const PARAM_NAMES = ['days', 'hours', 'a', 'b'] as const;

// ---------- random facts: offsets cluster on the boundaries the rules use ----------

const offsetArb = fc.oneof(
  fc.integer({ min: -40 * DAY, max: 2 * DAY }),
  fc.constantFrom(0, -1, 1, -HOUR, -24 * HOUR, -24 * HOUR + 1, -7 * DAY, -7 * DAY + 1, -14 * DAY, -14 * DAY - 1, -14 * DAY + 1),
);
const factSpecArb = fc.record({
  kind: fc.constantFrom('confirmed', 'suspected', 'close_contact', 'secondary_contact', 'risk_area_visit', 'entry', 'nucleic_acid'),
  off: offsetArb,
  level: fc.constantFrom('high', 'medium', 'low'),
  result: fc.constantFrom('negative', 'negative', 'positive'),
});
const factsArb: fc.Arbitrary<Facts> = fc
  .record({ now: fc.oneof(fc.constant(T), fc.integer({ min: T - 2 * DAY, max: T + 2 * DAY })), specs: fc.array(factSpecArb, { maxLength: 8 }) })
  .map(({ now, specs }) => ({
    now,
    facts: specs.map((s): Fact => {
      const at = Math.max(0, now + s.off);
      if (s.kind === 'risk_area_visit') return { kind: s.kind, at, level: s.level as 'high' };
      if (s.kind === 'nucleic_acid') return { kind: s.kind, at, result: s.result as 'negative' };
      return { kind: s.kind as Fact['kind'], at };
    }),
  }));

// ---------- random well-typed expressions ----------

type Ty = 'bool' | 'num' | 'num?';
// Small values and both zeros often, so ties (<= vs <, max of equal values) and -0 actually occur.
const numLiteral = fc.oneof(
  { arbitrary: fc.integer({ min: -2, max: 2 }), weight: 4 },
  { arbitrary: fc.constantFrom(0, -0), weight: 2 },
  { arbitrary: fc.constantFrom(DAY, HOUR, T, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER), weight: 1 },
  { arbitrary: fc.integer({ min: -1000, max: 1000 }), weight: 1 },
  { arbitrary: fc.integer({ min: T - 30 * DAY, max: T + 30 * DAY }), weight: 1 },
);
const numLeaf: fc.Arbitrary<Expr> = fc.oneof(
  numLiteral,
  fc.constant({ var: 'now' }),
  fc.constantFrom(...PARAM_NAMES).map((p) => ({ var: `params.${p}` })),
);
const lastVar: fc.Arbitrary<Expr> = fc.constantFrom(...LAST_KEYS).map((k) => ({ var: `last.${k}` }));
// A small number typed num? (through `if`), so the compiler's null-aware helpers see zeros and ties too.
const nullableSmall: fc.Arbitrary<Expr> = fc.constantFrom(0, -0, 1, -1).map((z) => ({ if: [true, z, null] }));
const nnumLeaf: fc.Arbitrary<Expr> = fc.oneof(numLeaf, lastVar, lastVar, fc.constant(null), nullableSmall);
/** a time window the way rules write it: now < last.K + param * unit */
const windowArb: fc.Arbitrary<Expr> = fc
  .record({
    op: fc.constantFrom('<', '<=', '>', '>='), k: fc.constantFrom(...LAST_KEYS), p: fc.constantFrom(...PARAM_NAMES),
    unit: fc.constantFrom(DAY, HOUR, 1), flip: fc.boolean(),
  })
  .map(({ op, k, p, unit, flip }): Expr => {
    const bound: Expr = { '+': [{ var: `last.${k}` }, { '*': [{ var: `params.${p}` }, unit] }] };
    return { [op]: flip ? [bound, { var: 'now' }] : [{ var: 'now' }, bound] };
  });

const memo = new Map<string, fc.Arbitrary<Expr>>();
/** Expressions of type `t` nesting at most `d` operators; memoised so building them stays linear. */
function exprArb(t: Ty, d: number): fc.Arbitrary<Expr> {
  const key = `${t}:${d}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  let arb: fc.Arbitrary<Expr>;
  if (t === 'bool') {
    if (d === 0) arb = fc.boolean();
    else {
      const b = exprArb('bool', d - 1);
      const n = exprArb('num?', d - 1);
      const args = (a: fc.Arbitrary<Expr>, min: number, max: number) => fc.array(a, { minLength: min, maxLength: max });
      arb = fc.oneof(
        { arbitrary: fc.boolean(), weight: 1 },
        { arbitrary: windowArb, weight: 2 },
        { arbitrary: fc.tuple(fc.constantFrom('==', '!='), n, n).map(([op, x, y]) => ({ [op]: [x, y] })), weight: 2 },
        { arbitrary: fc.tuple(fc.constantFrom('==', '!='), b, b).map(([op, x, y]) => ({ [op]: [x, y] })), weight: 1 },
        { arbitrary: fc.tuple(fc.constantFrom('<', '<='), args(n, 2, 3)).map(([op, a]) => ({ [op]: a })), weight: 2 },
        { arbitrary: fc.tuple(fc.constantFrom('>', '>='), args(n, 2, 2)).map(([op, a]) => ({ [op]: a })), weight: 2 },
        { arbitrary: fc.tuple(fc.constantFrom('and', 'or'), args(b, 1, 3)).map(([op, a]) => ({ [op]: a })), weight: 2 },
        { arbitrary: fc.tuple(b, fc.boolean()).map(([x, sugar]) => ({ '!': sugar ? x : [x] })), weight: 1 },
        { arbitrary: fc.tuple(fc.array(fc.tuple(b, b), { minLength: 1, maxLength: 2 }), b).map(([pairs, e]) => ({ if: [...pairs.flat(), e] })), weight: 1 },
      );
    }
  } else {
    const leaf = t === 'num' ? numLeaf : nnumLeaf;
    if (d === 0) arb = leaf;
    else {
      const x = exprArb(t, d - 1);
      const b = exprArb('bool', d - 1);
      const args = (min: number, max: number) => fc.array(x, { minLength: min, maxLength: max });
      arb = fc.oneof(
        { arbitrary: leaf, weight: 3 },
        { arbitrary: fc.tuple(fc.constantFrom('+', '*'), args(1, 3)).map(([op, a]) => ({ [op]: a })), weight: 3 },
        { arbitrary: args(1, 2).map((a) => ({ '-': a })), weight: 2 },
        // max/min of type num need one non-null argument: lead with one.
        {
          arbitrary: fc.tuple(fc.constantFrom('max', 'min'), exprArb('num', d - 1), fc.array(exprArb('num?', d - 1), { maxLength: 2 }))
            .map(([op, first, rest]) => ({ [op]: t === 'num' ? [first, ...rest] : [...rest, first] })),
          weight: 2,
        },
        ...(t === 'num?' ? [{ arbitrary: fc.tuple(fc.constantFrom('max', 'min'), fc.array(exprArb('num?', d - 1), { minLength: 1, maxLength: 3 })).map(([op, a]) => ({ [op]: a })), weight: 1 }] : []),
        { arbitrary: fc.tuple(b, x, x).map(([c, y, z]) => ({ if: [c, y, z] })), weight: 1 },
      );
    }
  }
  memo.set(key, arb);
  return arb;
}

const paramsArb = fc.record({
  days: fc.integer({ min: 0, max: 30 }), hours: fc.integer({ min: 0, max: 72 }),
  a: fc.integer({ min: -5, max: 5 }), b: fc.oneof(fc.integer(), fc.constant(Number.MAX_SAFE_INTEGER)),
});

const ruleArb = fc.record(
  {
    when: exprArb('bool', 4),
    color: fc.constantFrom('green', 'yellow', 'red'),
    reason: fc.constantFrom('close_contact', 'entry_no_test', 'x', 'y'),
    until: exprArb('num?', 3),
    notice: fc.record(
      {
        kind: fc.constantFrom('entry_test', 'other'),
        message: fc.constantFrom('请在{params.hours}小时内完成核酸检测', 'plain', '{params.a}{params.b}'),
        until: exprArb('num?', 2),
      },
      { requiredKeys: ['kind', 'message'] },
    ),
  },
  { requiredKeys: ['when', 'color', 'reason'] },
);
const ruleSetArb: fc.Arbitrary<RuleSet> = fc
  .record({ params: paramsArb, rules: fc.array(ruleArb, { maxLength: 6 }) })
  .map(({ params, rules }) => ({ version: 'prop.1', params, rules: rules.map((r, i) => ({ id: `r${i}`, ...r })) as RuleSet['rules'] }));

// ---------- properties ----------

describe('compiled == interpreted (fast-check)', () => {
  it('on single expressions of every type, to the bit (Object.is: -0, NaN, Infinity)', () => {
    fc.assert(
      fc.property(paramsArb, fc.constantFrom<Ty>('bool', 'num', 'num?').chain((t) => exprArb(t, 5)), factsArb, (params, e, facts) => {
        const view = deriveView(facts);
        const a = interpretExpr(e, view, params);
        const b = compileExpr(e, params)(view);
        return Object.is(a, b);
      }),
      { numRuns: 5000 },
    );
  });

  it('on random valid rule sets and random facts, verdicts are identical', () => {
    fc.assert(
      fc.property(ruleSetArb, fc.array(factsArb, { minLength: 1, maxLength: 6 }), (raw, factLists) => {
        const rs = validateRuleSet(raw); // every generated rule set must be valid
        const compiled = compileRuleSet(rs);
        for (const facts of factLists) expect(compiled(facts)).toEqual(interpretRuleSet(rs, facts));
      }),
      { numRuns: 1000 },
    );
  });

  it('on the default rule set and random facts', () => {
    const compiled = compileRuleSet(DEFAULT_RULE_SET);
    fc.assert(
      fc.property(factsArb, (facts) => {
        expect(compiled(facts)).toEqual(interpretRuleSet(DEFAULT_RULE_SET, facts));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('compileRuleSet', () => {
  it('validates its input itself: nothing unchecked reaches the code generator', () => {
    const codeOf = (x: unknown) => {
      try { compileRuleSet(x as RuleSet); } catch (e) { return (e as CoreError).code; }
      return undefined;
    };
    expect(codeOf({ version: '1', params: {}, rules: [{ id: 'a', when: { 'process.exit(1)': [] }, color: 'red', reason: 'a' }] }))
      .toBe('CORE_ERR_RULE_INVALID');
    expect(codeOf({ version: '1', params: { 'x;process.exit(1)': 1 }, rules: [] })).toBe('CORE_ERR_RULE_INVALID');
    expect(codeOf({ version: '1', params: {}, rules: [{ id: 'a', when: { '<': [{ var: 'last.a;b' }, 1] }, color: 'red', reason: 'a' }] }))
      .toBe('CORE_ERR_RULE_INVALID');
    expect(() => compileExpr({ '==': ['1', 1] } as unknown as Expr, {})).toThrow(CoreError);
  });

  it('never writes rule text into the generated source; hostile messages come back verbatim', () => {
    const hostile = '"); globalThis.pwned = 1; ("`${globalThis.pwned = 2}`\u2028\\';
    const rs: RuleSet = {
      version: '1', params: { h: 24 },
      rules: [{ id: 'id-with.dots', when: true, color: 'green', reason: 'entry_test_pending', notice: { kind: 'entry_test', message: hostile } }],
    };
    const src = ruleSetSourceOf(rs);
    for (const text of ['pwned', 'id-with.dots', 'entry_test', 'green']) {
      expect(src.includes(text), text).toBe(text === 'green'); // 'green' only as the no-match colour
    }
    const v = compileRuleSet(rs)({ now: T, facts: [] });
    expect(v.notices).toEqual([{ kind: 'entry_test', message: hostile, until: null }]);
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
  });

  it('is compiled once: later changes to the input object do not reach the compiled function', () => {
    const rs = {
      version: '1', params: { days: 14 } as Record<string, number>,
      rules: [{ id: 'c', when: { '!=': [{ var: 'last.close_contact' }, null] }, color: 'red' as const, reason: 'c', until: { '+': [{ var: 'last.close_contact' }, { var: 'params.days' }] } }],
    };
    const compiled = compileRuleSet(rs);
    const facts: Facts = { now: T, facts: [{ kind: 'close_contact', at: T }] };
    rs.params.days = 99;
    (rs.rules[0] as { color: string }).color = 'green';
    expect(compiled(facts)).toEqual({ color: 'red', reason: 'c', until: T + 14, notices: [] });
  });

  it('returns a fresh notices array per call', () => {
    const compiled = compileRuleSet(DEFAULT_RULE_SET);
    const facts: Facts = { now: T, facts: [{ kind: 'entry', at: T }] };
    const a = compiled(facts);
    a.notices.push({ kind: 'x', message: 'x', until: null });
    expect(compiled(facts).notices).toHaveLength(1);
  });
});
