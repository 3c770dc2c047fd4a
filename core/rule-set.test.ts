import { describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from './default-rules.js';
import { CoreError } from './errors.js';
import {
  checkExpression, checkRuleSet, normaliseUntil, renderMessage, RULE_LIMITS, validateRuleSet,
  type Expr, type Rule,
} from './rule-set.js';

function errOf(f: () => unknown): { code: string | undefined; field: string | undefined } {
  try { f(); } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    return { code: (e as CoreError).code, field: (e as CoreError).field };
  }
  return { code: undefined, field: undefined };
}

const P = { days: 14, hours: 24 };

function ruleSet(...rules: unknown[]): unknown {
  return { version: 'test.1', params: P, rules };
}
function rule(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'r', when: true, color: 'red', reason: 'x', ...over };
}
/** The rule set with one rule whose `when` is the given expression. */
function withWhen(when: unknown): unknown {
  return ruleSet(rule({ when }));
}
function invalidAt(x: unknown): string | undefined {
  const e = errOf(() => validateRuleSet(x));
  expect(e.code).toBe('CORE_ERR_RULE_INVALID');
  return e.field;
}

const now = { var: 'now' };
const cc = { var: 'last.close_contact' };

describe('validateRuleSet accepts', () => {
  it('the default rule set, and returns a frozen copy', () => {
    const rs = validateRuleSet(DEFAULT_RULE_SET);
    expect(rs).toEqual(DEFAULT_RULE_SET);
    expect(rs).not.toBe(DEFAULT_RULE_SET);
    expect(Object.isFrozen(rs)).toBe(true);
    expect(Object.isFrozen(rs.rules[3]!.when)).toBe(true);
    expect(() => { (rs.params as Record<string, number>).closeContactDays = 1; }).toThrow(TypeError);
  });

  it('an empty rule list and every operator in use', () => {
    expect(validateRuleSet(ruleSet()).rules).toEqual([]);
    const when: Expr = {
      and: [
        { '==': [cc, null] }, { '!=': [true, { '!': false }] },
        { '<': [1, now, 3] }, { '<=': [1, 2, 2] }, { '>': [now, 0] }, { '>=': [now, { var: 'params.days' }] },
        { or: [false, { '!': [true] }] },
        { if: [true, false, true] },
        { '==': [{ '+': [1] }, { '*': [2, 3, 4] }] },
        { '==': [{ '-': [cc] }, { '-': [5, 3] }] },
        { '==': [{ max: [cc, 1] }, { min: [cc] }] },
      ],
    };
    expect(validateRuleSet(withWhen(when)).rules[0]!.when).toEqual(when);
  });

  it('infers types: max with one non-null argument is never null, if mixes number and null', () => {
    expect(checkExpression({ max: [cc, 1] }, P).t).toBe('num');
    expect(checkExpression({ max: [cc, cc] }, P).t).toBe('num?');
    expect(checkExpression({ '+': [now, 1] }, P).t).toBe('num');
    expect(checkExpression({ '+': [cc, 1] }, P).t).toBe('num?');
    expect(checkExpression({ if: [true, 1, null] }, P).t).toBe('num?');
    expect(checkExpression({ if: [true, 1, false, 2, 3] }, P).t).toBe('num');
    expect(checkExpression(null, P).t).toBe('num?');
  });

  it('a parameter named like an Object.prototype member is just a name', () => {
    const rs = validateRuleSet({ version: '1', params: { constructor: 3 }, rules: [rule({ until: { var: 'params.constructor' } })] });
    expect(rs.params.constructor).toBe(3);
    expect(invalidAt({ version: '1', params: {}, rules: [rule({ until: { var: 'params.toString' } })] })).toBe('rules[0].until');
  });

  it('renders {params.NAME} in notice messages', () => {
    const checked = checkRuleSet(ruleSet(rule({ notice: { kind: 'k', message: '请在{params.hours}小时内 {x} {params.hours}' } })));
    expect(checked.rules[0]!.notice!.message).toBe('请在24小时内 {x} 24');
    expect(renderMessage('{params.days}', P)).toBe('14');
  });
});

describe('validateRuleSet rejects with CORE_ERR_RULE_INVALID and the path', () => {
  it('a non-object, missing and unknown top-level fields', () => {
    expect(invalidAt(null)).toBeUndefined();
    expect(invalidAt([])).toBeUndefined();
    expect(invalidAt({ params: {}, rules: [] })).toBe('version');
    expect(invalidAt({ version: '1', rules: [] })).toBe('params');
    expect(invalidAt({ version: '1', params: {} })).toBe('rules');
    expect(invalidAt({ version: '1', params: {}, rules: [], extra: 1 })).toBe('extra');
  });

  it('a bad version, params and rules list', () => {
    expect(invalidAt({ version: '', params: {}, rules: [] })).toBe('version');
    expect(invalidAt({ version: 'a b', params: {}, rules: [] })).toBe('version');
    expect(invalidAt({ version: 1, params: {}, rules: [] })).toBe('version');
    expect(invalidAt({ version: '1', params: [], rules: [] })).toBe('params');
    expect(invalidAt({ version: '1', params: { days: 1.5 }, rules: [] })).toBe('params.days');
    expect(invalidAt({ version: '1', params: { days: '14' }, rules: [] })).toBe('params.days');
    expect(invalidAt({ version: '1', params: { 'a-b': 1 }, rules: [] })).toBe('params.a-b');
    expect(invalidAt({ version: '1', params: {}, rules: {} })).toBe('rules');
    expect(invalidAt({ version: '1', params: {}, rules: new Array(RULE_LIMITS.maxRules + 1).fill(rule()) })).toBe('rules');
  });

  it('missing rule fields', () => {
    for (const f of ['id', 'when', 'color', 'reason'] as const) {
      const r = rule();
      delete r[f];
      expect(invalidAt(ruleSet(rule({ id: 'ok' }), r))).toBe(`rules[1].${f}`);
    }
    expect(invalidAt(ruleSet('rule'))).toBe('rules[0]');
    expect(invalidAt(ruleSet(rule({ colour: 'red' })))).toBe('rules[0].colour');
  });

  it('a bad colour, reason and id', () => {
    expect(invalidAt(ruleSet(rule({ color: 'blue' })))).toBe('rules[0].color');
    expect(invalidAt(ruleSet(rule({ color: 'Red' })))).toBe('rules[0].color');
    expect(invalidAt(ruleSet(rule({ reason: 'Close Contact' })))).toBe('rules[0].reason');
    expect(invalidAt(ruleSet(rule({ reason: '' })))).toBe('rules[0].reason');
    expect(invalidAt(ruleSet(rule({ id: '' })))).toBe('rules[0].id');
    expect(invalidAt(ruleSet(rule({ id: 'x'.repeat(65) })))).toBe('rules[0].id');
  });

  it('duplicate rule ids', () => {
    expect(invalidAt(ruleSet(rule({ id: 'a' }), rule({ id: 'b' }), rule({ id: 'a' })))).toBe('rules[2].id');
  });

  it('unknown operators', () => {
    expect(invalidAt(withWhen({ and: [true, { xor: [true, false] }] }))).toBe('rules[0].when.and[1]');
    expect(invalidAt(withWhen({ '===': [1, 1] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ in: [1, [1]] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen(JSON.parse('{"__proto__": [1]}')))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ '==': [1, 1], '!=': [1, 2] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen({}))).toBe('rules[0].when');
  });

  it('wrong arity', () => {
    expect(invalidAt(withWhen({ '==': [1] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ '==': [1, 1, 1] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ '>': [3, 2, 1] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ '<': [1, 2, 3, 4] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ '!': [true, false] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ and: [] }))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ or: [true, { if: [true, false] }] }))).toBe('rules[0].when.or[1]');
    expect(invalidAt(withWhen({ if: [true, false, true, false] }))).toBe('rules[0].when');
    expect(invalidAt(ruleSet(rule({ until: { '+': [] } })))).toBe('rules[0].until');
    expect(invalidAt(ruleSet(rule({ until: { '-': [1, 2, 3] } })))).toBe('rules[0].until');
    expect(invalidAt(ruleSet(rule({ until: { max: [] } })))).toBe('rules[0].until');
  });

  it('a number where a boolean is needed and the other way round', () => {
    expect(invalidAt(withWhen(1))).toBe('rules[0].when');
    expect(invalidAt(withWhen(cc))).toBe('rules[0].when');
    expect(invalidAt(withWhen(null))).toBe('rules[0].when');
    expect(invalidAt(withWhen({ and: [true, 1] }))).toBe('rules[0].when.and[1]');
    expect(invalidAt(withWhen({ '!': 0 }))).toBe('rules[0].when.!');
    expect(invalidAt(withWhen({ '<': [now, true] }))).toBe('rules[0].when.<[1]');
    expect(invalidAt(withWhen({ '<': [now, { '+': [1, { '<': [1, 2] }] }] }))).toBe('rules[0].when.<[1].+[1]');
    expect(invalidAt(withWhen({ '==': [1, true] }))).toBe('rules[0].when.==[1]');
    expect(invalidAt(withWhen({ '==': [null, false] }))).toBe('rules[0].when.==[1]');
    expect(invalidAt(withWhen({ if: [1, true, false] }))).toBe('rules[0].when.if[0]');
    expect(invalidAt(withWhen({ if: [true, true, 1] }))).toBe('rules[0].when.if[2]');
    expect(invalidAt(ruleSet(rule({ until: true })))).toBe('rules[0].until');
    expect(invalidAt(ruleSet(rule({ until: { if: [true, 1, false] } })))).toBe('rules[0].until.if[2]');
    expect(invalidAt(ruleSet(rule({ until: { max: [1, { '!': true }] } })))).toBe('rules[0].until.max[1]');
  });

  it('values that are not values: strings, arrays, fractions, unsafe integers', () => {
    expect(invalidAt(withWhen({ '==': [cc, 'now'] }))).toBe('rules[0].when.==[1]');
    expect(invalidAt(withWhen({ '==': [cc, [1]] }))).toBe('rules[0].when.==[1]');
    expect(invalidAt(ruleSet(rule({ until: 1.5 })))).toBe('rules[0].until');
    expect(invalidAt(ruleSet(rule({ until: 2 ** 53 })))).toBe('rules[0].until');
    expect(invalidAt(ruleSet(rule({ until: Number.NaN })))).toBe('rules[0].until');
    expect(invalidAt(ruleSet(rule({ until: { '+': [now, new Date(0)] } })))).toBe('rules[0].until.+[1]');
  });

  it('unknown var paths and malformed var', () => {
    expect(invalidAt(withWhen({ '<': [{ var: 'last.vaccinated' }, now] }))).toBe('rules[0].when.<[0]');
    expect(invalidAt(withWhen({ '<': [{ var: 'params.nope' }, now] }))).toBe('rules[0].when.<[0]');
    expect(invalidAt(withWhen({ '<': [{ var: 'last' }, now] }))).toBe('rules[0].when.<[0]');
    expect(invalidAt(withWhen({ '<': [{ var: '' }, now] }))).toBe('rules[0].when.<[0]');
    expect(invalidAt(withWhen({ '<': [{ var: 'facts' }, now] }))).toBe('rules[0].when.<[0]');
    expect(invalidAt(withWhen({ '<': [{ var: ['now', 0] }, now] }))).toBe('rules[0].when.<[0]');
    expect(invalidAt(withWhen({ '<': [{ var: 5 }, now] }))).toBe('rules[0].when.<[0]');
  });

  it('bad notices', () => {
    const n = (notice: unknown) => ruleSet(rule({ notice }));
    expect(invalidAt(n('msg'))).toBe('rules[0].notice');
    expect(invalidAt(n({ message: 'm' }))).toBe('rules[0].notice.kind');
    expect(invalidAt(n({ kind: 'k' }))).toBe('rules[0].notice.message');
    expect(invalidAt(n({ kind: 'Entry Test', message: 'm' }))).toBe('rules[0].notice.kind');
    expect(invalidAt(n({ kind: 'k', message: '' }))).toBe('rules[0].notice.message');
    expect(invalidAt(n({ kind: 'k', message: 'm'.repeat(RULE_LIMITS.maxMessage + 1) }))).toBe('rules[0].notice.message');
    expect(invalidAt(n({ kind: 'k', message: '{params.minutes}' }))).toBe('rules[0].notice.message');
    expect(invalidAt(n({ kind: 'k', message: 'm', until: false }))).toBe('rules[0].notice.until');
    expect(invalidAt(n({ kind: 'k', message: 'm', untill: 1 }))).toBe('rules[0].notice.untill');
  });

  it('nesting beyond the limit, at the first node too deep, without exhausting the stack', () => {
    const nest = (depth: number): unknown => {
      let e: unknown = true;
      for (let i = 0; i < depth; i++) e = { '!': [e] };
      return e;
    };
    expect(validateRuleSet(withWhen(nest(RULE_LIMITS.maxDepth))).rules).toHaveLength(1);
    const deepPath = `rules[0].when${'.![0]'.repeat(RULE_LIMITS.maxDepth)}`;
    expect(invalidAt(withWhen(nest(RULE_LIMITS.maxDepth + 1)))).toBe(deepPath);
    // Far deeper than any stack: the validator stops at the limit instead of recursing into it.
    expect(invalidAt(withWhen(nest(200_000)))).toBe(deepPath);
  });

  it('more expression nodes than the limit', () => {
    const wide = { and: new Array(RULE_LIMITS.maxNodes).fill(true) };
    expect(invalidAt(withWhen(wide))).toBe(`rules[0].when.and[${RULE_LIMITS.maxNodes - 1}]`);
  });

  it('checkExpression checks its params too', () => {
    expect(errOf(() => checkExpression(1, { x: 0.5 }))).toEqual({ code: 'CORE_ERR_RULE_INVALID', field: 'params.x' });
    expect(errOf(() => checkExpression({ foo: 1 }, {}))).toEqual({ code: 'CORE_ERR_RULE_INVALID', field: 'expr' });
  });
});

describe('normaliseUntil', () => {
  it('passes safe non-negative integers and null, maps everything else to null', () => {
    expect(normaliseUntil(null)).toBeNull();
    expect(normaliseUntil(1_790_000_000)).toBe(1_790_000_000);
    expect(Object.is(normaliseUntil(-0), 0)).toBe(true);
    for (const x of [-1, 2 ** 53, Infinity, -Infinity, Number.NaN, 0.5]) expect(normaliseUntil(x)).toBeNull();
  });
});

// Type-level check that a Rule literal with a notice is what the interface describes.
const _typed: Rule = { id: 'x', when: true, color: 'green', reason: 'x', notice: { kind: 'k', message: 'm' } };
void _typed;
