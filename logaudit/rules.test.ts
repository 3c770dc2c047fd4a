import { describe, expect, it } from 'vitest';
import type { LogEvent } from './schema.js';
import { compileRule, Correlator, Distinct, loadRules } from './sigma.js';

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

  it('plain values match case-insensitively, also where lower-casing changes the character or the length', () => {
    const fields = new Set(['event.action', 'user.name']);
    const rule = (v: string) => compileRule({ title: 't', id: 'x', zh: '测试', level: 'low', detection: { s: { 'user.name': v }, condition: 's' } }, 'f', fields);
    const ascii = rule('KAdmin');
    expect(['KAdmin', 'kadmin', 'KADMIN', '\u212Aadmin'].map((u) => ascii.match({ 'user.name': u }))).toEqual([true, true, true, true]); // U+212A KELVIN SIGN lower-cases to 'k'
    expect(['kadmin2', 'kadmi', 'admin', '\u0130kadmin'].map((u) => ascii.match({ 'user.name': u }))).toEqual([false, false, false, false]);
    const dotted = rule('\u0130nfo'); // 'İnfo' lower-cases to 'i' + U+0307 + 'nfo' (one unit longer)
    expect(['\u0130nfo', '\u0130NFO', 'i\u0307nfo'].map((u) => dotted.match({ 'user.name': u }))).toEqual([true, true, true]);
    expect(['info', 'Info'].map((u) => dotted.match({ 'user.name': u }))).toEqual([false, false]);
    const num = rule('22');
    expect([num.match({ 'user.name': 22 }), num.match({ 'user.name': '22' }), num.match({ 'user.name': 220 })]).toEqual([true, true, false]);
  });

  it('count(field) windows: the sighting queue gives the counts and first times of a last-seen-ordered map', () => {
    // the reference: the ordered Map the queue replaced (delete + set per sighting, expire from the front)
    let seed = 7;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const d = new Distinct();
    const ref = new Map<string, number>();
    let t = 1_000_000;
    const windowMs = 60_000;
    for (let i = 0; i < 30_000; i++) {
      // mostly a few hot values (replaced sightings pile up behind a live front: the queue is compacted), times out of order
      const v = rnd(10) < 8 ? `hot${rnd(3)}` : `v${rnd(500)}`;
      t += rnd(40);
      const at = t - rnd(5) * 1000;
      if (i % 7000 === 6999) { d.clear(); ref.clear(); }
      const from = at - windowMs;
      ref.delete(v);
      ref.set(v, at);
      for (const [k, x] of ref) { if (x >= from) break; ref.delete(k); }
      const first = d.see(v, at, from);
      expect([d.size, first, d.lastTime()]).toEqual([ref.size, ref.values().next().value, [...ref.values()].pop()]);
    }
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
