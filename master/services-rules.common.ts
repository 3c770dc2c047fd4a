import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import { CodeService } from './code-service.js';
import { RuleVersions } from './rule-versions.js';
import { MasterStore } from './store.js';
import { codeOf, DAY, HOUR, withLowRiskRule, type ServicesContext } from './services-fixture.common.js';

/** Part of the master services suite (master/services.common.ts): rule versions. */
export function describeRules(ctx: ServicesContext): void {
  describe('rule versions', () => {
    let store!: MasterStore; let codes!: CodeService; let rules!: RuleVersions;
    beforeAll(() => {
      ({ store, codes, rules } = ctx.get());
    });
    const { clock, register, deltasSince } = ctx;
    it('upload validates, stores drafts, refuses a second upload under one name', async () => {
      const e = await codeOf(rules.upload({ ...DEFAULT_RULE_SET, version: 'bad-1', rules: [{ id: 'x', when: { '>': [1] }, color: 'red', reason: 'x' }] }, 'admin'));
      expect(e.code).toBe('CORE_ERR_RULE_INVALID');
      expect(e.field).toBe('rules[0].when');
      expect((await codeOf(rules.upload(DEFAULT_RULE_SET, ''))).field).toBe('actor');
      const up = await rules.upload(withLowRiskRule('2026.2', 'risk_low'), 'admin');
      expect(up).toEqual({ version: '2026.2', status: 'draft', exact: true, inexactReason: null });
      expect((await codeOf(rules.upload(withLowRiskRule('2026.2', 'other'), 'admin'))).code).toBe('MASTER_ERR_RULE_VERSION_EXISTS');
      const list = await rules.list();
      expect(list.find((v) => v.version === '2026.2')).toMatchObject({ status: 'draft', active: false, staged: false, createdBy: 'admin' });
      expect(list.find((v) => v.version === DEFAULT_RULE_SET.version)).toMatchObject({ status: 'published', active: true });
      expect((await rules.get('2026.2')).ruleSet.rules.at(-1)!.reason).toBe('risk_low');
      expect((await codeOf(rules.get('nope'))).code).toBe('MASTER_ERR_RULE_VERSION_NOT_FOUND');
      expect((await codeOf(rules.dryRun('nope'))).code).toBe('MASTER_ERR_RULE_VERSION_NOT_FOUND');
      expect((await codeOf(rules.publish('nope'))).code).toBe('MASTER_ERR_RULE_VERSION_NOT_FOUND');
    });

    it('dry-run counts match the publish, which sends the rules delta and the code deltas', async () => {
      const people: { personId: number; uid: Buffer }[] = [];
      for (let i = 0; i < 30; i++) people.push(await register());
      await codes.addFactsMany(
        people.slice(0, 23).map((p) => ({ personId: p.personId, facts: [{ kind: 'risk_area_visit' as const, at: clock.t - DAY, level: 'low' as const }] })),
        'cdc',
      );
      await codes.tick(); // bring every code up to date at this instant, so only the rule change shows
      const progress: number[] = [];
      const dry = await rules.dryRun('2026.2', { onProgress: (p) => progress.push(p.done) });
      expect(dry.changed).toBe(23);
      expect(dry.transitions).toEqual([{ from: 'green', to: 'yellow', reason: 'risk_low', count: 23 }]);
      expect(progress.length).toBeGreaterThan(3); // pages of 11
      expect(progress.at(-1)).toBe(dry.evaluated);

      const before = await store.maxOutboxSeq();
      const pub = await rules.publish('2026.2', { actor: 'admin' });
      expect(pub).toMatchObject({ version: '2026.2', staged: false, seq: before + 1, activeFrom: clock.t, changed: dry.changed, evaluated: dry.evaluated });
      expect(pub.transitions).toEqual(dry.transitions);
      const ds = await deltasSince(before);
      expect(ds[0]).toMatchObject({ type: 'rules', version: '2026.2', activeFrom: clock.t });
      expect(ds.slice(1).filter((d) => d.type === 'code')).toHaveLength(23);
      expect((await rules.active()).version).toBe('2026.2');
      expect((await store.getCode(people[0]!.personId))!).toMatchObject({ color: 'yellow', reason: 'risk_low', ruleVersion: '2026.2' });
      expect((await store.getCode(people[29]!.personId))!).toMatchObject({ color: 'green', ruleVersion: '2026.2' });
      expect((await codeOf(rules.publish('2026.2'))).code).toBe('MASTER_ERR_RULE_STATE');
      expect((await rules.publications(1))[0]).toMatchObject({ version: '2026.2', action: 'publish', actor: 'admin', seq: before + 1 });

      // the scheduler finds nothing more to do
      expect((await codes.tick()).sweep).toBeNull();
    });

    it('rollback returns to the previous version through the same path', async () => {
      const before = await store.maxOutboxSeq();
      const dry = await rules.dryRun(DEFAULT_RULE_SET.version);
      const rb = await rules.rollback({ actor: 'admin' });
      expect(rb).toMatchObject({ version: DEFAULT_RULE_SET.version, staged: false, activeFrom: clock.t, changed: 23 });
      expect(rb.transitions).toEqual([{ from: 'yellow', to: 'green', reason: 'normal', count: 23 }]);
      expect(rb.transitions).toEqual(dry.transitions);
      const ds = await deltasSince(before);
      expect(ds[0]).toMatchObject({ type: 'rules', version: DEFAULT_RULE_SET.version, activeFrom: clock.t });
      expect((await rules.active()).version).toBe(DEFAULT_RULE_SET.version);
      expect((await rules.get('2026.2')).status).toBe('rolled_back');
      expect((await rules.publications(1))[0]).toMatchObject({ action: 'rollback', version: DEFAULT_RULE_SET.version });
      // nothing earlier than the built-in set
      expect((await codeOf(rules.rollback())).code).toBe('MASTER_ERR_RULE_STATE');
      // a rolled-back version may be published again
      clock.t += 1;
      expect((await rules.publish('2026.2')).changed).toBe(23);
      clock.t += 1;
      expect((await rules.rollback()).changed).toBe(23);
    });

    it('stages a version with a future activeFrom; the scheduler activates it at that time', async () => {
      await rules.upload(withLowRiskRule('2026.3', 'risk_low_v3'), 'admin');
      expect((await codeOf(rules.publish('2026.3', { activeFrom: clock.t - 10 }))).field).toBe('activeFrom');
      const before = await store.maxOutboxSeq();
      const from = clock.t + HOUR;
      const st = await rules.publish('2026.3', { activeFrom: from, actor: 'admin' });
      expect(st).toMatchObject({ staged: true, activeFrom: from, evaluated: 0, changed: 0 });
      expect(await deltasSince(before)).toEqual([expect.objectContaining({ type: 'rules', version: '2026.3', activeFrom: from })]);
      expect((await rules.active()).version).toBe(DEFAULT_RULE_SET.version);
      expect((await rules.list()).find((v) => v.version === '2026.3')).toMatchObject({ staged: true, active: false });
      expect((await codes.tick()).sweep).toBeNull();

      clock.t = from;
      const tick = await codes.tick();
      expect(tick.sweep).toMatchObject({ version: '2026.3', changed: 23 });
      expect((await rules.active()).version).toBe('2026.3');
      // back for the later tests
      clock.t += 1;
      await rules.rollback();
      expect((await rules.active()).version).toBe(DEFAULT_RULE_SET.version);
    });
  });
}
