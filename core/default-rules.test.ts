import { describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from './default-rules.js';
import type { Fact } from './facts.js';
import { compileRuleSet } from './rule-compile.js';
import { interpretRuleSet } from './rule-interpret.js';
import { validateRuleSet, type RuleSet, type Verdict } from './rule-set.js';

const DAY = 86_400;
const HOUR = 3_600;
const E = 1_790_000_000; // an event time
const compiled = compileRuleSet(DEFAULT_RULE_SET);

/** The verdict at `now`, from both engines, which must agree. */
function at(now: number, ...facts: Fact[]): Verdict {
  const f = { now, facts };
  const v = interpretRuleSet(DEFAULT_RULE_SET, f);
  expect(compiled(f)).toEqual(v);
  return v;
}
const neg = (t: number): Fact => ({ kind: 'nucleic_acid', at: t, result: 'negative' });
const pos = (t: number): Fact => ({ kind: 'nucleic_acid', at: t, result: 'positive' });
const GREEN: Verdict = { color: 'green', reason: 'normal', until: null, notices: [] };

describe('default rule set 2026.1', () => {
  it('is valid and versioned', () => {
    expect(validateRuleSet(DEFAULT_RULE_SET).version).toBe('2026.1');
    expect(DEFAULT_RULE_SET.params).toEqual({ closeContactDays: 14, secondaryDays: 7, riskAreaDays: 7, entryTestHours: 24 });
  });

  it('no facts: green, normal', () => {
    expect(at(E)).toEqual(GREEN);
  });

  describe('confirmed and positive', () => {
    it('confirmed is red with no until, however old, whatever tests follow', () => {
      expect(at(E, { kind: 'confirmed', at: E })).toEqual({ color: 'red', reason: 'confirmed', until: null, notices: [] });
      expect(at(E + 400 * DAY, { kind: 'confirmed', at: E }, neg(E + 300 * DAY))).toMatchObject({ color: 'red', reason: 'confirmed' });
    });

    it('a positive test is red; a later negative does not clear it', () => {
      expect(at(E + 1, pos(E))).toEqual({ color: 'red', reason: 'test_positive', until: null, notices: [] });
      expect(at(E + DAY, pos(E), neg(E + HOUR))).toMatchObject({ color: 'red', reason: 'test_positive' });
    });

    it('confirmed outranks a close contact among reds: no until beats a later until', () => {
      expect(at(E + DAY, { kind: 'close_contact', at: E }, { kind: 'confirmed', at: E }))
        .toMatchObject({ color: 'red', reason: 'confirmed', until: null });
    });
  });

  describe('suspected', () => {
    const s: Fact = { kind: 'suspected', at: E };
    it('is red until a negative test sampled strictly after it', () => {
      expect(at(E, s)).toEqual({ color: 'red', reason: 'suspected', until: null, notices: [] });
      expect(at(E + DAY, s, neg(E - 1))).toMatchObject({ color: 'red', reason: 'suspected' });
      expect(at(E + DAY, s, neg(E))).toMatchObject({ color: 'red', reason: 'suspected' });
      expect(at(E + DAY, s, neg(E + 1))).toEqual(GREEN);
    });
    it('does not lapse with time alone', () => {
      expect(at(E + 100 * DAY, s)).toMatchObject({ color: 'red', reason: 'suspected' });
    });
  });

  describe('close contact: red for 14 days from the (latest) contact', () => {
    const c: Fact = { kind: 'close_contact', at: E };
    it('is red until contact + 14 days, exclusive', () => {
      expect(at(E, c)).toEqual({ color: 'red', reason: 'close_contact', until: E + 14 * DAY, notices: [] });
      expect(at(E + 14 * DAY - 1, c)).toMatchObject({ color: 'red', until: E + 14 * DAY });
      expect(at(E + 14 * DAY, c)).toEqual(GREEN);
    });
    it('a negative test does not shorten it', () => {
      expect(at(E + 2 * DAY, c, neg(E + DAY))).toMatchObject({ color: 'red', reason: 'close_contact' });
    });
    it('a later contact restarts the 14 days; facts in the future do not count yet', () => {
      expect(at(E + 15 * DAY, c, { kind: 'close_contact', at: E + 5 * DAY }))
        .toMatchObject({ color: 'red', until: E + 19 * DAY });
      expect(at(E + 14 * DAY, c, { kind: 'close_contact', at: E + 14 * DAY + 1 })).toEqual(GREEN);
    });
    it('a changed parameter changes the window', () => {
      const rs: RuleSet = { ...DEFAULT_RULE_SET, params: { ...DEFAULT_RULE_SET.params, closeContactDays: 21 } };
      const f = { now: E + 20 * DAY, facts: [c] };
      expect(interpretRuleSet(rs, f)).toMatchObject({ color: 'red', until: E + 21 * DAY });
      expect(compileRuleSet(rs)(f)).toEqual(interpretRuleSet(rs, f));
    });
  });

  describe('secondary contact: yellow for 7 days unless a negative test follows', () => {
    const c: Fact = { kind: 'secondary_contact', at: E };
    it('is yellow until contact + 7 days, exclusive', () => {
      expect(at(E + 1, c)).toEqual({ color: 'yellow', reason: 'secondary_contact', until: E + 7 * DAY, notices: [] });
      expect(at(E + 7 * DAY - 1, c)).toMatchObject({ color: 'yellow' });
      expect(at(E + 7 * DAY, c)).toEqual(GREEN);
    });
    it('a negative test strictly after the contact clears it; before or in the same second does not', () => {
      expect(at(E + DAY, c, neg(E + HOUR))).toEqual(GREEN);
      expect(at(E + DAY, c, neg(E - HOUR))).toMatchObject({ color: 'yellow' });
      expect(at(E + DAY, c, neg(E))).toMatchObject({ color: 'yellow' });
    });
    it('a test sampled later than now does not count yet', () => {
      expect(at(E + DAY, c, neg(E + DAY + 1))).toMatchObject({ color: 'yellow' });
    });
    it('a new contact after the clearing test needs a new test', () => {
      expect(at(E + 3 * DAY, c, neg(E + DAY), { kind: 'secondary_contact', at: E + 2 * DAY }))
        .toMatchObject({ color: 'yellow', until: E + 9 * DAY });
    });
    it('red outranks yellow: close contact and secondary contact together', () => {
      expect(at(E + DAY, c, { kind: 'close_contact', at: E })).toMatchObject({ color: 'red', reason: 'close_contact' });
    });
  });

  describe('risk-area visit: high or medium → yellow for 7 days unless a negative test follows', () => {
    const visit = (t: number, level: 'high' | 'medium' | 'low'): Fact => ({ kind: 'risk_area_visit', at: t, level, region: '510104001' });
    it('high and medium count, low does not', () => {
      expect(at(E + 1, visit(E, 'high'))).toEqual({ color: 'yellow', reason: 'risk_area', until: E + 7 * DAY, notices: [] });
      expect(at(E + 1, visit(E, 'medium'))).toMatchObject({ color: 'yellow', reason: 'risk_area' });
      expect(at(E + 1, visit(E, 'low'))).toEqual(GREEN);
    });
    it('the window runs from the latest high or medium visit, exclusive at 7 days', () => {
      expect(at(E + 8 * DAY, visit(E, 'high'), visit(E + 2 * DAY, 'medium'))).toMatchObject({ color: 'yellow', until: E + 9 * DAY });
      expect(at(E + 9 * DAY, visit(E, 'high'), visit(E + 2 * DAY, 'medium'))).toEqual(GREEN);
    });
    it('a negative test after the latest visit clears it; one between two visits does not', () => {
      expect(at(E + DAY, visit(E, 'high'), neg(E + 1))).toEqual(GREEN);
      expect(at(E + 3 * DAY, visit(E, 'high'), neg(E + DAY), visit(E + 2 * DAY, 'medium')))
        .toMatchObject({ color: 'yellow', until: E + 9 * DAY });
    });
  });

  describe('entry to the province (入川即检)', () => {
    const entry: Fact = { kind: 'entry', at: E, venue: 'P-510100-0001' };
    const deadline = E + 24 * HOUR;
    const pending = { kind: 'entry_test', message: '请于入川后24小时内完成核酸检测（入川即检）', until: deadline };
    it('within the hours and untested: green with the entry_test notice until the deadline', () => {
      expect(at(E, entry)).toEqual({ color: 'green', reason: 'entry_test_pending', until: deadline, notices: [pending] });
      expect(at(deadline - 1, entry)).toEqual({ color: 'green', reason: 'entry_test_pending', until: deadline, notices: [pending] });
    });
    it('at the deadline without a test: yellow entry_no_test with no until, overdue notice', () => {
      const overdue = { kind: 'entry_test_overdue', message: '入川已超过24小时未完成核酸检测，请尽快就近检测', until: null };
      expect(at(deadline, entry)).toEqual({ color: 'yellow', reason: 'entry_no_test', until: null, notices: [overdue] });
      expect(at(deadline + 30 * DAY, entry)).toMatchObject({ color: 'yellow', reason: 'entry_no_test' });
    });
    it('a negative test at or after arrival clears it, in time or late; one before arrival does not', () => {
      expect(at(E + HOUR, entry, neg(E))).toEqual(GREEN);
      expect(at(E + HOUR, entry, neg(E + 60))).toEqual(GREEN);
      expect(at(deadline + DAY, entry, neg(deadline + HOUR))).toEqual(GREEN);
      expect(at(E + HOUR, entry, neg(E - 1))).toMatchObject({ reason: 'entry_test_pending' });
      expect(at(deadline, entry, neg(E - 1))).toMatchObject({ color: 'yellow', reason: 'entry_no_test' });
    });
    it('a second entry needs a second test', () => {
      expect(at(E + 9 * DAY + 12 * HOUR, entry, neg(E + HOUR), { kind: 'entry', at: E + 9 * DAY }))
        .toMatchObject({ reason: 'entry_test_pending', until: E + 9 * DAY + 24 * HOUR });
    });
    it('the notice rides on a red code too', () => {
      expect(at(E + HOUR, entry, { kind: 'close_contact', at: E })).toEqual({
        color: 'red', reason: 'close_contact', until: E + 14 * DAY, notices: [pending],
      });
    });
    it('entryTestHours drives both the deadline and the message', () => {
      const rs: RuleSet = { ...DEFAULT_RULE_SET, params: { ...DEFAULT_RULE_SET.params, entryTestHours: 48 } };
      const f = { now: E + 30 * HOUR, facts: [entry] };
      const v = interpretRuleSet(rs, f);
      expect(v).toEqual({
        color: 'green', reason: 'entry_test_pending', until: E + 48 * HOUR,
        notices: [{ kind: 'entry_test', message: '请于入川后48小时内完成核酸检测（入川即检）', until: E + 48 * HOUR }],
      });
      expect(compileRuleSet(rs)(f)).toEqual(v);
    });
  });
});
