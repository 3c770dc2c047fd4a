import { describe, expect, it } from 'vitest';
import { CoreError } from './errors.js';
import { deriveView, type Facts } from './facts.js';
import { compileExpr, compileRuleSet } from './rule-compile.js';
import { interpretExpr, interpretRuleSet, type RuleValue } from './rule-interpret.js';
import { validateRuleSet, type Expr, type RuleSet } from './rule-set.js';

const T = 1_790_000_000;
const P = { days: 14, big: 2 ** 52 };
// A view with some facts present and the rest null.
const view = deriveView({
  now: T,
  facts: [{ kind: 'close_contact', at: T - 100 }, { kind: 'nucleic_acid', at: T - 50, result: 'negative' }],
});
const now = { var: 'now' };
const cc = { var: 'last.close_contact' }; // T - 100
const neg = { var: 'last.test_negative' }; // T - 50
const none = { var: 'last.confirmed' }; // null

/** Both engines, compared with Object.is so that -0 and NaN would show. */
function both(e: Expr): RuleValue {
  const a = interpretExpr(e, view, P);
  const b = compileExpr(e, P)(view);
  expect(Object.is(a, b)).toBe(true);
  return a;
}

describe('expression semantics (interpreter and compiler agree on each)', () => {
  it('var reads now, last.* and params.*', () => {
    expect(both(now)).toBe(T);
    expect(both(cc)).toBe(T - 100);
    expect(both(none)).toBeNull();
    expect(both({ var: 'params.days' })).toBe(14);
  });

  it('== and != are identity; null equals only null', () => {
    expect(both({ '==': [none, null] })).toBe(true);
    expect(both({ '==': [cc, null] })).toBe(false);
    expect(both({ '!=': [none, null] })).toBe(false);
    expect(both({ '==': [null, null] })).toBe(true);
    expect(both({ '==': [{ '-': [0] }, 0] })).toBe(true);
    expect(both({ '==': [true, { '!': false }] })).toBe(true);
  });

  it('ordering comparisons with a null operand are false, in every direction', () => {
    for (const op of ['<', '<=', '>', '>=']) {
      expect(both({ [op]: [none, now] })).toBe(false);
      expect(both({ [op]: [now, none] })).toBe(false);
      expect(both({ [op]: [none, none] })).toBe(false);
    }
    // …so negating one is true when a fact is missing: the documented "no test after X" idiom.
    expect(both({ '!': { '>': [none, cc] } })).toBe(true);
  });

  it('ordering comparisons on numbers, and the 3-argument between form', () => {
    expect(both({ '<': [cc, neg] })).toBe(true);
    expect(both({ '<': [neg, neg] })).toBe(false);
    expect(both({ '<=': [neg, neg] })).toBe(true);
    expect(both({ '>': [neg, cc] })).toBe(true);
    expect(both({ '>=': [cc, neg] })).toBe(false);
    expect(both({ '<': [cc, neg, now] })).toBe(true);
    expect(both({ '<': [cc, now, neg] })).toBe(false);
    expect(both({ '<=': [cc, cc, cc] })).toBe(true);
    expect(both({ '<': [cc, none, now] })).toBe(false);
  });

  it('and / or / ! / if take booleans only and mean what they say', () => {
    expect(both({ and: [true, true, false] })).toBe(false);
    expect(both({ and: [true] })).toBe(true);
    expect(both({ or: [false, false, true] })).toBe(true);
    expect(both({ or: [false] })).toBe(false);
    expect(both({ '!': [false] })).toBe(true);
    expect(both({ if: [false, 1, true, 2, 3] })).toBe(2);
    expect(both({ if: [false, 1, false, 2, 3] })).toBe(3);
    expect(both({ if: [true, none, 3] })).toBeNull();
  });

  it('+ - * propagate null; otherwise plain integer arithmetic', () => {
    expect(both({ '+': [cc, 100] })).toBe(T);
    expect(both({ '+': [cc, none, 1] })).toBeNull();
    expect(both({ '+': [none] })).toBeNull();
    expect(both({ '+': [5] })).toBe(5);
    expect(both({ '-': [now, cc] })).toBe(100);
    expect(both({ '-': [none, 1] })).toBeNull();
    expect(both({ '-': [none] })).toBeNull();
    expect(both({ '-': [7] })).toBe(-7);
    expect(Object.is(both({ '-': [0] }), -0)).toBe(true);
    expect(Object.is(both({ '*': [-1, 0] }), -0)).toBe(true);
    expect(both({ '*': [{ var: 'params.days' }, 86400] })).toBe(1_209_600);
    expect(both({ '*': [2, none] })).toBeNull();
    // The same on values typed num? (the compiler then takes its null-aware path): signs of zero survive.
    const zero = { if: [true, 0, none] };
    const minusZero = { if: [true, { '-': [0] }, none] };
    expect(Object.is(both({ '-': [zero] }), -0)).toBe(true);
    expect(Object.is(both({ '-': [minusZero, 0] }), -0)).toBe(true);
    expect(Object.is(both({ '+': [minusZero, minusZero] }), -0)).toBe(true);
    expect(Object.is(both({ '*': [zero, -1] }), -0)).toBe(true);
  });

  it('arithmetic past 2^53 is IEEE double in both engines, overflow included', () => {
    expect(both({ '+': [{ var: 'params.big' }, { var: 'params.big' }, 1] })).toBe(2 ** 53);
    const huge = { '*': [9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991,
      9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991,
      9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991,
      9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991,
      9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991, 9_007_199_254_740_991, 10] };
    expect(both(huge)).toBe(Infinity);
    expect(Number.isNaN(both({ '-': [huge, huge] }))).toBe(true);
    expect(both({ '<': [{ '-': [huge, huge] }, 1] })).toBe(false);
    expect(both({ '==': [{ '-': [huge, huge] }, { '-': [huge, huge] }] })).toBe(false);
  });

  it('max / min skip nulls and are null only when all are', () => {
    expect(both({ max: [none, cc, neg] })).toBe(T - 50);
    expect(both({ min: [none, cc, neg] })).toBe(T - 100);
    expect(both({ max: [none, none] })).toBeNull();
    expect(both({ min: [none] })).toBeNull();
    expect(both({ max: [3] })).toBe(3);
    // Only a strictly greater value replaces the running max: 0 does not replace -0.
    expect(Object.is(both({ max: [-5, { '-': [0] }, 0] }), -0)).toBe(true);
  });
});

function facts(...fs: Facts['facts']): Facts {
  return { now: T, facts: fs };
}
function verdicts(rs: RuleSet, f: Facts) {
  const a = interpretRuleSet(rs, f);
  expect(compileRuleSet(rs)(f)).toEqual(a);
  return a;
}
const has = (key: string): Expr => ({ '!=': [{ var: `last.${key}` }, null] });

describe('verdict selection', () => {
  const rs = validateRuleSet({
    version: 't',
    params: { h: 3600 },
    rules: [
      { id: 'y-short', when: has('secondary_contact'), color: 'yellow', reason: 'y_short', until: { '+': [now, 100] } },
      { id: 'y-long', when: has('secondary_contact'), color: 'yellow', reason: 'y_long', until: { '+': [now, 200] } },
      { id: 'y-long-too', when: has('secondary_contact'), color: 'yellow', reason: 'y_long_too', until: { '+': [now, 200] } },
      { id: 'y-risk', when: has('risk_high'), color: 'yellow', reason: 'y_open' },
      { id: 'r', when: has('confirmed'), color: 'red', reason: 'red_short', until: { '+': [now, 1] } },
      {
        id: 'g', when: has('entry'), color: 'green', reason: 'green_note',
        notice: { kind: 'note', message: 'within {params.h} s', until: { '+': [now, { var: 'params.h' }] } },
      },
      { id: 'g2', when: has('entry'), color: 'green', reason: 'green_plain', notice: { kind: 'plain', message: 'x' } },
      { id: 'bad-until', when: has('suspected'), color: 'red', reason: 'bad_until', until: { '-': [0, now] } },
    ],
  });

  it('no match: green, normal, no until, no notices', () => {
    expect(verdicts(rs, facts())).toEqual({ color: 'green', reason: 'normal', until: null, notices: [] });
  });

  it('among equally severe matches the latest until wins; equal untils go to the first listed', () => {
    expect(verdicts(rs, facts({ kind: 'secondary_contact', at: T - 1 }))).toEqual({
      color: 'yellow', reason: 'y_long', until: T + 200, notices: [],
    });
  });

  it('an open-ended (null) until counts as the latest', () => {
    expect(verdicts(rs, facts({ kind: 'secondary_contact', at: T - 1 }, { kind: 'risk_area_visit', at: T - 1, level: 'high' })))
      .toMatchObject({ color: 'yellow', reason: 'y_open', until: null });
  });

  it('the most severe colour wins over a later until', () => {
    expect(verdicts(rs, facts({ kind: 'secondary_contact', at: T - 1 }, { kind: 'confirmed', at: T - 1 })))
      .toMatchObject({ color: 'red', reason: 'red_short', until: T + 1 });
  });

  it('notices come from every matching rule, in rule order, even under a red code', () => {
    expect(verdicts(rs, facts({ kind: 'entry', at: T - 1 }, { kind: 'confirmed', at: T - 1 }))).toEqual({
      color: 'red', reason: 'red_short', until: T + 1,
      notices: [{ kind: 'note', message: 'within 3600 s', until: T + 3600 }, { kind: 'plain', message: 'x', until: null }],
    });
  });

  it('a nonsensical (negative) until is reported as null', () => {
    expect(verdicts(rs, facts({ kind: 'suspected', at: T - 1 }))).toMatchObject({ reason: 'bad_until', until: null });
  });
});

describe('interpreter on input that skipped validation', () => {
  const codeOf = (rs: unknown): string | undefined => {
    try { interpretRuleSet(rs as RuleSet, facts()); } catch (e) {
      expect(e).toBeInstanceOf(CoreError);
      return (e as CoreError).code;
    }
    return undefined;
  };
  const one = (when: unknown) => ({ version: 'x', params: {}, rules: [{ id: 'a', when, color: 'red', reason: 'a' }] });

  it('throws CORE_ERR_RULE_INVALID instead of guessing', () => {
    expect(codeOf(one({ xor: [true] }))).toBe('CORE_ERR_RULE_INVALID');
    expect(codeOf(one({ '<': [{ var: 'nope' }, 1] }))).toBe('CORE_ERR_RULE_INVALID');
    expect(codeOf(one({ '<': [{ var: 'params.toString' }, 1] }))).toBe('CORE_ERR_RULE_INVALID');
    expect(codeOf(one({ '<': [true, 1] }))).toBe('CORE_ERR_RULE_INVALID');
    expect(codeOf(one('now'))).toBe('CORE_ERR_RULE_INVALID');
  });

  it('stops at the depth limit instead of exhausting the stack', () => {
    let e: unknown = true;
    for (let i = 0; i < 200_000; i++) e = { '!': [e] };
    expect(codeOf(one(e))).toBe('CORE_ERR_RULE_INVALID');
  });
});
