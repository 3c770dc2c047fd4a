import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import type { Fact } from '../core/facts.js';
import { AuditLog } from './audit-log.js';
import { CodeService } from './code-service.js';
import { RuleVersions } from './rule-versions.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';
import { codeOf, DAY, HOUR, residentId, type ServicesContext } from './services-fixture.common.js';

/** Part of the master services suite (master/services.common.ts): codes. */
export function describeCodes(ctx: ServicesContext): void {
  describe('codes', () => {
    let db!: SqlClient; let store!: MasterStore; let codes!: CodeService; let rules!: RuleVersions; let audit!: AuditLog;
    beforeAll(() => {
      ({ db, store, codes, rules, audit } = ctx.get());
    });
    const { clock, register, deltasSince } = ctx;
    it('registers on first login with a green code and publishes the built-in rules first', async () => {
      const before = await store.maxOutboxSeq();
      const a = await codes.register({ idType: 'resident', idNo: residentId(ctx.nextId()), name: '李四' });
      expect(a.created).toBe(true);
      expect(a.code).toMatchObject({ color: 'green', reason: 'normal', until: null, name: '李*', notices: [] });
      const ds = await deltasSince(before);
      expect(ds.map((d) => d.type)).toEqual(['rules', 'code']);
      expect(ds[0]).toMatchObject({ type: 'rules', version: DEFAULT_RULE_SET.version, activeFrom: 0 });
      expect(ds[1]).toMatchObject({ type: 'code', uid: a.uid, record: { color: 'green', seq: a.code.seq } });
      expect((await rules.active()).version).toBe(DEFAULT_RULE_SET.version);

      // idempotent: a later login changes nothing that edges see
      const seq = await store.maxOutboxSeq();
      const again = await codes.register({ idNo: residentId(ctx.lastId()), name: '李四' });
      expect(again).toEqual({ ...a, created: false });
      expect(await store.maxOutboxSeq()).toBe(seq);
    });

    it('rejects malformed identities with core error codes', async () => {
      expect((await codeOf(codes.register({ idNo: '110105194912310021' }))).code).toBe('CORE_ERR_ID_CHECK_DIGIT');
      expect((await codeOf(codes.register({ phone: '12345' }))).code).toBe('CORE_ERR_PHONE');
      expect((await codeOf(codes.register({}))).code).toBe('CORE_ERR_PERSON_KEY');
    });

    it('addFacts stores facts with lineage, evaluates with the active rules and schedules the next look', async () => {
      const p = await register();
      const before = await store.maxOutboxSeq();
      const at = clock.t - DAY;
      const r = await codes.addFacts(p.personId, [{ kind: 'close_contact', at, region: '510104' }], {
        source: 'cdc-chengdu', sourceRef: 'file:contacts-0528.xlsx#12', actor: 'import:7',
      });
      expect(r).toMatchObject({ inserted: 1, changed: true, overridden: false, ruleVersion: DEFAULT_RULE_SET.version });
      expect(r.record).toMatchObject({ color: 'red', reason: 'close_contact', until: at + 14 * DAY, since: clock.t });
      expect(r.nextEvalAt).toBe(at + 14 * DAY);
      expect((await store.getCode(p.personId))!.nextEvalAt).toBe(at + 14 * DAY);
      const ds = await deltasSince(before);
      expect(ds).toEqual([{ seq: r.seq, type: 'code', uid: p.uid, record: r.record }]);
      const facts = await codes.facts(p.personId);
      expect(facts).toEqual([expect.objectContaining({
        kind: 'close_contact', at, source: 'cdc-chengdu', sourceRef: 'file:contacts-0528.xlsx#12', region: '510104', level: null,
      })]);
      const hist = await codes.history(p.personId);
      expect(hist[0]).toMatchObject({ prevColor: 'green', color: 'red', reason: 'close_contact', actor: 'import:7', seq: r.seq });

      // a fact that does not change the verdict: no delta
      const seq = await store.maxOutboxSeq();
      const same = await codes.addFacts(p.personId, [{ kind: 'nucleic_acid', at: clock.t, result: 'negative' }], 'lab-1');
      expect(same.changed).toBe(false);
      expect(await store.maxOutboxSeq()).toBe(seq);
    });

    it('addFacts refuses bad input with coded errors and writes nothing', async () => {
      const p = await register();
      const seq = await store.maxOutboxSeq();
      const e1 = await codeOf(codes.addFacts(p.personId, [{ kind: 'sneezed', at: clock.t } as unknown as Fact], 'x'));
      expect(e1.code).toBe('CORE_ERR_FACTS_INVALID');
      expect(e1.field).toBe('facts[0].kind');
      const e2 = await codeOf(codes.addFacts(p.personId, [{ kind: 'risk_area_visit', at: clock.t } as Fact], 'x'));
      expect(e2.field).toBe('facts[0].level');
      expect((await codeOf(codes.addFacts(p.personId, [], 'x'))).field).toBe('facts');
      expect((await codeOf(codes.addFacts(p.personId, [{ kind: 'entry', at: clock.t }], ''))).field).toBe('source');
      expect((await codeOf(codes.addFacts(p.personId, [{ kind: 'entry', at: clock.t }], { source: 'a', sourceRef: '' }))).field).toBe('sourceRef');
      expect((await codeOf(codes.addFacts(0, [{ kind: 'entry', at: clock.t }], 'x'))).field).toBe('personId');
      expect((await codeOf(codes.addFacts(99_999_999, [{ kind: 'entry', at: clock.t }], 'x'))).code).toBe('MASTER_ERR_PERSON_NOT_FOUND');
      expect(await store.maxOutboxSeq()).toBe(seq);
      expect(await codes.facts(p.personId)).toEqual([]);
    });

    it('the scheduler turns an expired yellow green and an overdue entry yellow', async () => {
      const t0 = clock.t;
      const y = await register();
      await codes.addFacts(y.personId, [{ kind: 'secondary_contact', at: t0 }], 'cdc');
      expect((await store.getCode(y.personId))!).toMatchObject({ color: 'yellow', until: t0 + 7 * DAY, nextEvalAt: t0 + 7 * DAY });

      await store.upsertVenue({ id: 'entry-cdx', name: '成都东站入川通道', region: '510108', kind: 'entry', entryTestHours: 24 });
      const e = await register();
      const scan = await codes.recordEntryScan(e.uid, 'entry-cdx', t0);
      expect(scan.recorded).toBe(true);
      expect(scan.code!.record).toMatchObject({ color: 'green', reason: 'entry_test_pending', until: t0 + 24 * HOUR });
      expect(scan.code!.record.notices).toEqual([expect.objectContaining({ kind: 'entry_test', until: t0 + 24 * HOUR })]);
      expect(scan.code!.nextEvalAt).toBe(t0 + 24 * HOUR);

      // not due yet: nothing happens
      clock.t = t0 + 24 * HOUR - 1;
      expect((await codes.tick()).due.changed).toBe(0);
      expect((await store.getCode(e.personId))!.color).toBe('green');

      clock.t = t0 + 24 * HOUR;
      const before = await store.maxOutboxSeq();
      const r1 = await codes.reevaluateDue(clock.t, 1000);
      expect(r1.changed).toBeGreaterThanOrEqual(1);
      const ec = (await store.getCode(e.personId))!;
      expect(ec).toMatchObject({ color: 'yellow', reason: 'entry_no_test', until: null, nextEvalAt: null });
      expect(ec.notices.map((n) => n.kind)).toEqual(['entry_test_overdue']);
      expect((await deltasSince(before)).some((d) => d.type === 'code' && Buffer.from(d.uid).equals(e.uid))).toBe(true);
      expect((await codes.history(e.personId))[0]).toMatchObject({ actor: 'scheduler', color: 'yellow' });

      // a negative test clears it
      const neg = await codes.addFacts(e.personId, [{ kind: 'nucleic_acid', at: clock.t, result: 'negative' }], 'lab');
      expect(neg.record).toMatchObject({ color: 'green', reason: 'normal', notices: [] });

      // the secondary contact's yellow lapses after 7 days, through the running scheduler
      clock.t = t0 + 7 * DAY;
      const sched = codes.startScheduler({ intervalMs: 5, batch: 3 });
      try {
        for (let i = 0; i < 400 && (await store.getCode(y.personId))!.color !== 'green'; i++) await new Promise((r) => setTimeout(r, 10));
      } finally {
        await sched.stop();
      }
      expect((await store.getCode(y.personId))!).toMatchObject({ color: 'green', reason: 'normal', nextEvalAt: null });
      expect((await store.dueForReevaluation(clock.t, 100)).length).toBe(0);
    });

    it('two schedulers re-evaluate each due code exactly once', async () => {
      const t0 = clock.t;
      const people: number[] = [];
      for (let i = 0; i < 40; i++) people.push((await register()).personId);
      await codes.addFactsMany(people.map((personId) => ({ personId, facts: [{ kind: 'secondary_contact' as const, at: t0 }] })), 'cdc');
      clock.t = t0 + 7 * DAY;
      const a = new CodeService(store, { chunkSize: 7 });
      const b = new CodeService(store, { chunkSize: 7 });
      const run = async (s: CodeService): Promise<number> => {
        let changed = 0;
        for (;;) {
          const r = await s.reevaluateDue(clock.t, 5);
          changed += r.changed;
          if (r.evaluated === 0) return changed;
        }
      };
      const [ca, cb] = await Promise.all([run(a), run(b)]);
      expect(ca + cb).toBeGreaterThanOrEqual(40); // and whoever else came due by then
      const h = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM code_history WHERE person_id IN (SELECT value::bigint FROM jsonb_array_elements_text($1::jsonb))
           AND actor = 'scheduler'`,
        [JSON.stringify(people)],
      );
      expect(h.rows[0]!.n).toBe(40);
      for (const id of people) expect((await store.getCode(id))!.color).toBe('green');
    });

    it('reevaluateDue and the scheduler refuse bad arguments', async () => {
      expect((await codeOf(codes.reevaluateDue(-1, 10))).field).toBe('now');
      expect((await codeOf(codes.reevaluateDue(clock.t, 0))).field).toBe('limit');
      expect((await codeOf(() => codes.startScheduler({ intervalMs: 0 }))).field).toBe('intervalMs');
      expect((await codeOf(() => new CodeService(store, { chunkSize: 0 }))).field).toBe('chunkSize');
    });

    it('bulk and single-person paths write the same records', async () => {
      const a = await register();
      const b = await register({ name: '张三' });
      const facts: Fact[] = [{ kind: 'risk_area_visit', at: clock.t - HOUR, level: 'medium' }];
      const one = await codes.addFacts(a.personId, facts, 'cdc');
      const many = await codes.addFactsMany([{ personId: b.personId, facts }], 'cdc');
      expect(many).toMatchObject({ persons: 1, inserted: 1, changed: 1, transitions: [{ from: 'green', to: 'yellow', reason: 'risk_area', count: 1 }] });
      const ca = (await store.getCode(a.personId))!;
      const cb = (await store.getCode(b.personId))!;
      const strip = (c: typeof ca): unknown => ({ ...c, personId: 0, uid: null, seq: 0 });
      expect(strip(cb)).toEqual(strip(ca));
      expect(one.record).toMatchObject({ color: 'yellow', reason: 'risk_area' });
      const [ha] = await codes.history(a.personId);
      const [hb] = await codes.history(b.personId);
      expect({ ...hb, seq: 0 }).toEqual({ ...ha, seq: 0 });
      expect((await codeOf(codes.addFactsMany([{ personId: 99_999_999, facts }], 'cdc'))).code).toBe('MASTER_ERR_PERSON_NOT_FOUND');
      expect((await codeOf(codes.addFactsMany([{ personId: -1, facts }], 'cdc'))).field).toBe('items[0].personId');
    });

    it('entry scans: only at entry venues, once per scan, coded errors otherwise', async () => {
      await store.upsertVenue({ id: 'shop-1', name: '春熙路商场', region: '510104', kind: 'normal', entryTestHours: null });
      const p = await register();
      expect(await codes.recordEntryScan(p.uid, 'shop-1', clock.t)).toEqual({ recorded: false, skipped: 'not_entry_venue' });
      expect((await codes.recordEntryScan(p.uid, 'entry-cdx', clock.t)).recorded).toBe(true);
      const seq = await store.maxOutboxSeq();
      expect(await codes.recordEntryScan(p.uid, 'entry-cdx', clock.t)).toEqual({ recorded: false, skipped: 'duplicate' });
      expect(await store.maxOutboxSeq()).toBe(seq);
      expect((await codes.facts(p.personId))[0]).toMatchObject({ kind: 'entry', venue: 'entry-cdx', region: '510108', source: 'scan:entry' });
      expect((await codeOf(codes.recordEntryScan(p.uid, 'nowhere', clock.t))).code).toBe('MASTER_ERR_VENUE_NOT_FOUND');
      expect((await codeOf(codes.recordEntryScan(Buffer.alloc(16, 9), 'entry-cdx', clock.t))).code).toBe('MASTER_ERR_PERSON_NOT_FOUND');
      expect((await codeOf(codes.recordEntryScan(Buffer.alloc(15), 'entry-cdx', clock.t))).field).toBe('uid');
      expect((await codeOf(codes.recordEntryScan(p.uid, 'entry-cdx', -5))).field).toBe('at');
      const q = await register();
      const batch = await codes.recordEntryScans([
        { uid: q.uid, venueId: 'entry-cdx', at: clock.t },
        { uid: q.uid, venueId: 'entry-cdx', at: clock.t },
        { uid: q.uid, venueId: 'shop-1', at: clock.t },
        { uid: q.uid, venueId: null, at: clock.t },
        { uid: Buffer.alloc(16, 1), venueId: 'entry-cdx', at: clock.t },
        { uid: q.uid, venueId: 'gone', at: clock.t },
      ]);
      expect(batch).toEqual({ recorded: 1, skipped: 5 });
    });

    it('transcode (转码): the override wins, later facts may only make it more severe, until ends it', async () => {
      const t0 = clock.t;
      const p = await register();
      await codes.addFacts(p.personId, [{ kind: 'confirmed', at: t0 - 20 * DAY }], 'cdc');
      expect((await store.getCode(p.personId))!.color).toBe('red');

      const before = await store.maxOutboxSeq();
      const g = await codes.transcode(p.personId, { color: 'green', reason: 'recovered', until: null }, 'officer-a');
      expect(g).toMatchObject({ changed: true, overridden: true, record: { color: 'green', reason: 'recovered', until: null } });
      expect(await deltasSince(before)).toEqual([{ seq: g.seq, type: 'code', uid: p.uid, record: g.record }]);
      expect((await codes.history(p.personId))[0]).toMatchObject({ actor: 'officer-a', prevColor: 'red', color: 'green' });
      expect(await codes.getOverride(p.personId)).toMatchObject({ color: 'green', reason: 'recovered', until: null, active: true, actor: 'officer-a' });

      // a routine negative test does not undo the officer's decision
      clock.t = t0 + 10;
      expect((await codes.addFacts(p.personId, [{ kind: 'nucleic_acid', at: t0 + 5, result: 'negative' }], 'lab')).record.color).toBe('green');
      // an entry notice rides on the override's colour
      const e = await codes.recordEntryScan(p.uid, 'entry-cdx', t0 + 10);
      expect(e.code!.record).toMatchObject({ color: 'green', reason: 'recovered' });
      expect(e.code!.record.notices.map((n) => n.kind)).toEqual(['entry_test']);
      await codes.addFacts(p.personId, [{ kind: 'nucleic_acid', at: t0 + 10, result: 'negative' }], 'lab');
      // a new exposure is more severe: red, and it lapses back to the override
      const red = await codes.addFacts(p.personId, [{ kind: 'close_contact', at: t0 + 10 }], 'cdc');
      expect(red.record).toMatchObject({ color: 'red', reason: 'close_contact', until: t0 + 10 + 14 * DAY, notices: [] });
      expect(red.nextEvalAt).toBe(t0 + 10 + 14 * DAY);
      clock.t = t0 + 10 + 14 * DAY;
      await codes.reevaluateDue(clock.t, 1000);
      expect((await store.getCode(p.personId))!).toMatchObject({ color: 'green', reason: 'recovered' });

      // cleared: the rules decide on all facts again (confirmed → red)
      const c = await codes.clearOverride(p.personId, 'officer-b');
      expect(c.record).toMatchObject({ color: 'red', reason: 'confirmed' });
      expect(await codes.getOverride(p.personId)).toBeNull();

      // with until: in force until then, then the rules again (through the scheduler)
      const y = await codes.transcode(p.personId, { color: 'yellow', reason: 'observation', until: clock.t + DAY }, 'officer-a');
      expect(y).toMatchObject({ overridden: true, nextEvalAt: clock.t + DAY, record: { color: 'yellow', until: clock.t + DAY } });
      clock.t += DAY;
      await codes.reevaluateDue(clock.t, 1000);
      expect((await store.getCode(p.personId))!).toMatchObject({ color: 'red', reason: 'confirmed' });
      expect(await codes.getOverride(p.personId)).toBeNull(); // lapsed overrides are removed
    });

    it('transcode refuses bad input and commits with its audit entry or not at all', async () => {
      const p = await register();
      const cases: [Promise<unknown>, string][] = [
        [codes.transcode(p.personId, { color: 'blue' as never, reason: 'x', until: null }, 'a'), 'color'],
        [codes.transcode(p.personId, { color: 'red', reason: ' ', until: null }, 'a'), 'reason'],
        [codes.transcode(p.personId, { color: 'red', reason: 'x'.repeat(65), until: null }, 'a'), 'reason'],
        [codes.transcode(p.personId, { color: 'red', reason: 'a\nb', until: null }, 'a'), 'reason'],
        [codes.transcode(p.personId, { color: 'red', reason: 'x', until: clock.t }, 'a'), 'until'],
        [codes.transcode(p.personId, { color: 'red', reason: 'x', until: 1.5 }, 'a'), 'until'],
        [codes.transcode(p.personId, { color: 'red', reason: 'x', until: null }, ''), 'actor'],
      ];
      for (const [pr, field] of cases) {
        const e = await codeOf(pr);
        expect(e.code, field).toBe('MASTER_ERR_INVALID');
        expect(e.field).toBe(field);
      }
      expect((await codeOf(codes.transcode(99_999_999, { color: 'red', reason: 'x', until: null }, 'a'))).code).toBe('MASTER_ERR_PERSON_NOT_FOUND');

      const seq = await store.maxOutboxSeq();
      const head = await audit.head();
      const failed = await codeOf(codes.transcode(p.personId, { color: 'red', reason: 'manual', until: null }, 'officer-a', {
        sameTx: async (s, r) => {
          await audit.append({ actor: 'officer-a', role: 'operator', action: 'code.transcode', target: '张*', outcome: 'ok', details: { seq: r.seq } }, s.db);
          throw new Error('audit sink down');
        },
      }));
      expect(failed.message).toBe('audit sink down');
      expect(await store.maxOutboxSeq()).toBe(seq);
      expect(await audit.head()).toEqual(head);
      expect((await store.getCode(p.personId))!.color).toBe('green');
      expect(await codes.getOverride(p.personId)).toBeNull();

      const ok = await codes.transcode(p.personId, { color: 'red', reason: 'manual', until: null }, 'officer-a', {
        sameTx: async (s, r) => {
          await audit.append({ actor: 'officer-a', role: 'operator', action: 'code.transcode', target: '张*', outcome: 'ok', details: { seq: r.seq } }, s.db);
        },
      });
      const [last] = await audit.list({ order: 'desc', limit: 1 });
      expect(last).toMatchObject({ action: 'code.transcode', details: { seq: ok.seq } });
    });
  });
}
