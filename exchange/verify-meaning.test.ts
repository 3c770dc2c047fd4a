import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import type { RuleSet } from '../core/rule-set.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { hostOf, residentId } from './test-helpers.common.js';
import { meaningOf } from './verify-meaning.js';
import { VerifyTasks } from './verify-tasks.js';

/**
 * The verification reads what a dataset's rows mean from the rule set IN
 * FORCE, not from the defaults. Published here: close contacts red for 21
 * days (default 14), secondary contacts RED for 3 days (default yellow, 7).
 *
 *   P1  close contact 16 days ago, never evaluated   default: lapsed;  in force: expected red
 *   P2  secondary contact 2 h ago, never evaluated   default: yellow;  in force: expected red
 *   P3  secondary contact 5 days ago                 default: yellow;  in force: lapsed, nothing expected
 *   P4  secondary contact 1 h ago, evaluated by the rules in force → red: consistent
 */
let f: Fixture;
let ex: ExchangeInstance;
const people: Record<string, number> = {};
const nowS = (): number => Math.floor(f.clock.ms / 1000);

const PROVINCE: RuleSet = {
  ...DEFAULT_RULE_SET,
  version: '2026.7-verify-test',
  params: { ...DEFAULT_RULE_SET.params, closeContactDays: 21, secondaryDays: 3 },
  rules: DEFAULT_RULE_SET.rules.map((r) => (r.id === 'secondary_contact' ? { ...r, color: 'red' as const } : r)),
};

async function person(key: string, n: number): Promise<number> {
  const r = await f.codes.register({ idType: 'resident', idNo: residentId(n), name: `规则${'甲乙丙丁'[Number(key.slice(1)) - 1]}` });
  people[key] = r.personId;
  return r.personId;
}

async function rawFact(key: string, kind: string, at: number): Promise<void> {
  await f.db.query("INSERT INTO facts (person_id, kind, at, source) VALUES ($1, $2, to_timestamp($3), 'import:risk-person')", [people[key], kind, at]);
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability] });
  ex = f.instances.exchange as unknown as ExchangeInstance;
  await f.rules.upload(PROVINCE, 'admin');
  await f.rules.publish(PROVINCE.version, { actor: 'admin' });
  for (const [k, n] of [['P1', 9501], ['P2', 9502], ['P3', 9503], ['P4', 9504]] as const) await person(k, n);
  await rawFact('P1', 'close_contact', nowS() - 16 * 86_400);
  await rawFact('P2', 'secondary_contact', nowS() - 7200);
  await rawFact('P3', 'secondary_contact', nowS() - 5 * 86_400);
  await f.codes.addFacts(people.P4!, [{ kind: 'secondary_contact', at: nowS() - 3600 }], { source: 'import:risk-person', sourceRef: 'b:4' });
}, 60_000);

afterAll(async () => {
  await f?.close();
});

describe('expectations from the rule set in force', () => {
  it("reads the dataset's reasons and colours from the published version", async () => {
    const rules = await f.codes.activeRules();
    expect(rules.version).toBe(PROVINCE.version);
    const m = meaningOf(rules, 'risk-person');
    expect([...m.reasons.values()].map((r) => [r.reason, r.color])).toEqual([
      ['confirmed', 'red'], ['suspected', 'red'], ['close_contact', 'red'], ['secondary_contact', 'red'],
    ]);
    expect([...meaningOf(rules, 'nat-result').reasons.keys()]).toEqual(['test_positive']);
    expect((await f.store.getCode(people.P4!))!.color).toBe('red');
  });

  it('a task compares with the published meanings and records the version', async () => {
    const rule = await ex.verify.rules.create({ name: '现行规则核查', dataset: 'risk-person', windowDays: 30 }, '', 'operator');
    const tasks = new VerifyTasks(hostOf(f), ex.verify.rules, { pollMs: 50 });
    const t = await tasks.start(rule.id, '', 'operator');
    expect(t.ruleVersion).toBe(PROVINCE.version);
    await tasks.startRunner();
    await tasks.idle();
    await tasks.stopRunner();
    const m = await f.db.query<{ person_id: string; kind: string; expected: string; fact_kind: string }>(
      'SELECT person_id, kind, expected, fact_kind FROM exchange_verify_mismatches WHERE task_id = $1 ORDER BY person_id', [t.id],
    );
    const name = new Map(Object.entries(people).map(([k, v]) => [v, k]));
    expect(m.rows.map((x) => [name.get(Number(x.person_id)), x.kind, x.expected, x.fact_kind])).toEqual([
      ['P1', 'expected_not_assigned', 'red', 'close_contact'],
      ['P2', 'expected_not_assigned', 'red', 'secondary_contact'],
    ]);
    const done = await tasks.get(t.id, '');
    expect(done.counts).toMatchObject({ checked: 4, expected: 3, consistent: 2, mismatches: 2 });
    expect((await tasks.runLog(t.id))[0]!.message).toMatch(new RegExp(`依据现行赋码规则版本 ${PROVINCE.version.replace(/\./g, '\\.')}`));
  });
});
