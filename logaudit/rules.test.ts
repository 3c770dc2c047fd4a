import { describe, expect, it } from 'vitest';
import type { LogEvent } from './schema.js';
import { compileRule, Correlator, loadRules } from './sigma.js';

/**
 * Every shipped Sigma rule is run against its own `tests:` section: the
 * positive events (repeated as the rule's threshold needs) must raise it,
 * the negative ones must not.
 */
const rules = loadRules();
const T0 = Date.parse('2026-12-07T02:00:00Z');

function run(ruleId: string, events: LogEvent[], repeat: number): number {
  const c = new Correlator(rules.filter((r) => r.id === ruleId));
  let hits = 0;
  let t = T0;
  for (let i = 0; i < repeat; i++) {
    for (const e of events) {
      t += 50; // 1000 events fit in the shortest (1 minute) window
      hits += c.feed({ '@timestamp': new Date(t).toISOString(), ...e }, t).length;
    }
  }
  return hits;
}

describe('correlation rules (Sigma)', () => {
  it('ships at least 100 rules', () => {
    expect(rules.length).toBeGreaterThanOrEqual(Number(process.env.LOGAUDIT_MIN_RULES ?? 100));
  });
  for (const r of rules) {
    it(`${r.id}: ${r.zh}`, () => {
      expect(r.tests.positive?.events.length ?? 0).toBeGreaterThan(0);
      expect(r.tests.negative?.events.length ?? 0).toBeGreaterThan(0);
      expect(run(r.id, r.tests.positive!.events, r.tests.positive!.repeat ?? 1)).toBeGreaterThan(0);
      expect(run(r.id, r.tests.negative!.events, r.tests.negative!.repeat ?? 1)).toBe(0);
    });
  }

  it('a window forgets old events: 6 failures spread over an hour do not trigger a 5-minute rule', () => {
    const c = new Correlator(rules.filter((r) => r.id === 'la-linux-ssh-bruteforce'));
    let hits = 0;
    for (let i = 0; i < 6; i++) {
      const t = T0 + i * 600_000;
      hits += c.feed({ '@timestamp': new Date(t).toISOString(), 'event.action': 'ssh-login-failed', 'source.ip': '203.0.113.9' }, t).length;
    }
    expect(hits).toBe(0);
  });

  it('a single-event rule stays quiet for a minute of intake per key, whatever time the lines claim', () => {
    const single = rules.find((r) => r.agg === null && r.tests.positive!.events.length === 1 && (r.tests.positive!.repeat ?? 1) === 1)!;
    const c = new Correlator([single]);
    const e = single.tests.positive!.events[0]!;
    const at = (received: number, claimed: number): number => c.feed({ ...e, '@timestamp': new Date(claimed).toISOString() }, received, claimed).length;
    expect(at(T0, T0)).toBe(1);
    expect(at(T0 + 1_000, T0 - 11 * 3_600_000)).toBe(0); // same key, a device clock hours off
    expect(at(T0 + 30_000, T0 + 30_000)).toBe(0);
    expect(at(T0 + 61_000, T0 - 86_400_000)).toBe(1); // a minute of intake later
  });

  it('refuses bad rules with LOG_ERR_RULE', () => {
    const fields = new Set(['event.action', 'source.ip']);
    const base = { title: 't', id: 'x', zh: '测试', level: 'low' as const };
    expect(() => compileRule({ ...base, detection: { s: { 'event.action|nope': 'a' }, condition: 's' } }, 'f', fields)).toThrow(expect.objectContaining({ code: 'LOG_ERR_RULE' }));
    expect(() => compileRule({ ...base, detection: { s: { 'no.such.field': 'a' }, condition: 's' } }, 'f', fields)).toThrow(/not in the schema/);
    expect(() => compileRule({ ...base, detection: { s: { 'event.action': 'a' }, condition: 's and (' } }, 'f', fields)).toThrow(expect.objectContaining({ code: 'LOG_ERR_RULE' }));
    expect(() => compileRule({ ...base, detection: { s: { 'event.action': 'a' }, condition: 's | count() by source.ip > 5' } }, 'f', fields)).toThrow(/timeframe/);
    expect(() => compileRule({ ...base, zh: 'english', detection: { s: { 'event.action': 'a' }, condition: 's' } }, 'f', fields)).toThrow(/zh/);
  });
});
