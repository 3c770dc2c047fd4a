import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Delta } from '../core/delta.js';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import type { Fact } from '../core/facts.js';
import { maskIdNo, maskPhone } from '../core/identity.js';
import { KeySet } from '../core/key-set.js';
import type { RuleSet } from '../core/rule-set.js';
import { generateSigningKey } from '../core/signing-key.js';
import { AdminUsers, ADMIN_CREDENTIALS_FILE } from './admin-users.js';
import { AuditLog } from './audit-log.js';
import { CodeService } from './code-service.js';
import { loadOrCreateSecrets, type Secrets } from './pii-crypto.js';
import { applyRiskAreas, diffRiskAreas, importRiskAreas } from './risk-import.js';
import { NodeKeysRegistry } from './node-keys-registry.js';
import { RuleVersions } from './rule-versions.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';

/**
 * The one test suite of the master's services (code-service, rule-versions,
 * audit-log, admin-users, node-keys-registry, risk-import), run on every
 * backend like store.common.ts: services.pglite.test.ts (`npm test`) and
 * test/cluster/services.postgres.test.ts (real PostgreSQL).
 *
 * The clock is pinned (`clock.t`, unix seconds) and moved by the tests; the
 * store, and through it every service, reads it.
 */
export interface ServicesSuiteOptions {
  /** people in the mass publish test (default 100 000) */
  readonly massPersons?: number;
  /** report timings of the mass test here */
  readonly report?: (line: string) => void;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; field?: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err as { code: string; field?: string; message: string };
  }
  throw new Error('expected an error');
}

const DAY = 86_400;
const HOUR = 3600;
/** 2026-05-28: well inside the uint32 range, partitions are created around it */
const BASE = 1_780_000_000;

/** Resident IDs with valid check digits, one per test person. */
function residentId(n: number): string {
  const month = String(1 + (Math.floor(n / 1000) % 12)).padStart(2, '0');
  const first17 = `5101041990${month}01${String(n % 1000).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const chk = '10X98765432';
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * w[i]!;
  return first17 + chk[sum % 11]!;
}

let phoneCounter = 0;
function nextPhone(): string {
  phoneCounter++;
  return `139${String(10_000_000 + phoneCounter).slice(-8)}`;
}

/** DEFAULT_RULE_SET plus one rule: a low-risk-area visit in the last 7 days → yellow `reason`. */
function withLowRiskRule(version: string, reason: string): RuleSet {
  return {
    ...DEFAULT_RULE_SET,
    version,
    rules: [
      ...DEFAULT_RULE_SET.rules,
      {
        id: 'low_risk_visit',
        when: { '<': [{ var: 'now' }, { '+': [{ var: 'last.risk_low' }, 7 * DAY] }] },
        color: 'yellow',
        reason,
        until: { '+': [{ var: 'last.risk_low' }, 7 * DAY] },
      },
    ],
  };
}

export function runServicesSuite(name: string, open: () => Promise<SqlClient>, opts: ServicesSuiteOptions = {}): void {
  describe(`master services on ${name}`, () => {
    let db: SqlClient;
    let store: MasterStore;
    let secrets: Secrets;
    let dir: string;
    const clock = { t: BASE };
    let codes: CodeService;
    let rules: RuleVersions;
    let audit: AuditLog;
    let users: AdminUsers;
    let keys: NodeKeysRegistry;
    let idCounter = 0;

    async function register(extra: Record<string, string> = {}): Promise<{ personId: number; uid: Buffer }> {
      const r = await codes.register({ idNo: residentId(++idCounter), name: '张三', ...extra });
      return { personId: r.personId, uid: r.uid };
    }

    async function deltasSince(seq: number): Promise<Delta[]> {
      return store.readOutbox(seq, 100_000);
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'hc-services-'));
      secrets = loadOrCreateSecrets(dir, {});
      db = await open();
      store = new MasterStore(db, secrets, { now: () => clock.t * 1000 });
      await store.migrate();
      codes = new CodeService(store, { chunkSize: 7 });
      rules = new RuleVersions(store, codes, { chunkSize: 11 });
      audit = new AuditLog(store, secrets);
      users = new AdminUsers(store);
      keys = new NodeKeysRegistry(store);
    });

    afterAll(async () => {
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    // -----------------------------------------------------------------------
    describe('codes', () => {
      it('registers on first login with a green code and publishes the built-in rules first', async () => {
        const before = await store.maxOutboxSeq();
        const a = await codes.register({ idType: 'resident', idNo: residentId(++idCounter), name: '李四' });
        expect(a.created).toBe(true);
        expect(a.code).toMatchObject({ color: 'green', reason: 'normal', until: null, name: '李*', notices: [] });
        const ds = await deltasSince(before);
        expect(ds.map((d) => d.type)).toEqual(['rules', 'code']);
        expect(ds[0]).toMatchObject({ type: 'rules', version: DEFAULT_RULE_SET.version, activeFrom: 0 });
        expect(ds[1]).toMatchObject({ type: 'code', uid: a.uid, record: { color: 'green', seq: a.code.seq } });
        expect((await rules.active()).version).toBe(DEFAULT_RULE_SET.version);

        // idempotent: a later login changes nothing that edges see
        const seq = await store.maxOutboxSeq();
        const again = await codes.register({ idNo: residentId(idCounter), name: '李四' });
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

    // -----------------------------------------------------------------------
    describe('rule versions', () => {
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

    // -----------------------------------------------------------------------
    describe('audit log', () => {
      async function tamper(sql: string, params: unknown[] = []): Promise<void> {
        await db.exec('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
        try {
          await db.query(sql, params);
        } finally {
          await db.exec('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
        }
      }

      it('appends hash-chained entries, lists them with filters, verifies', async () => {
        const head = await audit.head();
        for (let i = 0; i < 12; i++) {
          await audit.append({
            actor: i % 2 === 0 ? 'alice' : 'bob', role: 'operator', action: i % 3 === 0 ? 'code.query' : 'code.transcode',
            target: maskIdNo(residentId(i)), fromAddr: '10.0.0.7', outcome: 'ok', details: { i, z: [1, { b: 2, a: 'x' }], phone: maskPhone('13812345678') },
          });
        }
        const all = await audit.list({ after: head.seq, limit: 1000 });
        expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => head.seq + 1 + i));
        expect(all[0]!.prevHash).toBe(head.hash);
        expect(all[1]!.prevHash).toBe(all[0]!.hash);
        expect(all[0]!.target).toBe('5101**********' + residentId(0).slice(-4));
        expect(all[0]!.details).toEqual({ i: 0, z: [1, { a: 'x', b: 2 }], phone: '138****5678' });
        expect((await audit.list({ after: head.seq, actor: 'bob' })).every((e) => e.actor === 'bob')).toBe(true);
        expect((await audit.list({ after: head.seq, action: 'code.query' }))).toHaveLength(4);
        const desc = await audit.list({ order: 'desc', limit: 3 });
        expect(desc.map((e) => e.seq)).toEqual([head.seq + 12, head.seq + 11, head.seq + 10]);
        expect((await audit.list({ order: 'desc', before: head.seq + 11, limit: 1 }))[0]!.seq).toBe(head.seq + 10);
        expect(await audit.verify()).toEqual({ ok: true, entries: head.seq + 12 });
        expect(await audit.head()).toEqual({ seq: head.seq + 12, hash: all[11]!.hash });
      });

      it('refuses unmasked identity numbers and malformed entries', async () => {
        const base = { actor: 'alice', role: 'operator', action: 'code.query', outcome: 'ok' };
        const pii: [Record<string, unknown>, string][] = [
          [{ target: residentId(1) }, 'target'],
          [{ target: `身份证${residentId(2).slice(0, 17)}x` }, 'target'],
          [{ target: '510104900101001' }, 'target'],
          [{ details: { q: '电话 13812345678' } }, 'details'],
          [{ details: { nested: ['+86 138-1234-5678'] } }, 'details'],
          [{ details: { q: '１３８１２３４５６７８' } }, 'details'],
          [{ actor: '13812345678' }, 'actor'],
        ];
        for (const [extra, field] of pii) {
          const e = await codeOf(audit.append({ ...base, ...extra } as never));
          expect(e.code, JSON.stringify(extra)).toBe('MASTER_ERR_AUDIT_PII');
          expect(e.field).toBe(field);
        }
        // masked values, hex digests and long ids pass
        await audit.append({ ...base, target: '5101**********106X', details: { phone: '138****5678', hash: 'ab12345678901234567890cd', seq: 12345, at: 1780000000123 } });
        const bad: [Record<string, unknown>, string][] = [
          [{ actor: '' }, 'actor'],
          [{ role: undefined }, 'role'],
          [{ action: 'x'.repeat(65) }, 'action'],
          [{ outcome: 'a\u0000' }, 'outcome'],
          [{ details: [] }, 'details'],
          [{ details: { f: Infinity } }, 'details.f'],
          [{ details: { d: new Date() } }, 'details.d'],
          [{ details: { s: '\ud800' } }, 'details.s'],
          [{ details: { big: 'x'.repeat(9000) } }, 'details'],
        ];
        for (const [extra, field] of bad) {
          const e = await codeOf(audit.append({ ...base, ...extra } as never));
          expect(e.code, field).toBe('MASTER_ERR_INVALID');
          expect(e.field).toBe(field);
        }
        expect((await codeOf(audit.list({ limit: 0 }))).field).toBe('limit');
        expect((await audit.verify()).ok).toBe(true);
      });

      it('concurrent appends keep one dense chain', async () => {
        const head = await audit.head();
        await Promise.all(Array.from({ length: 20 }, (_, i) => audit.append({ actor: `u${i}`, role: 'admin', action: 'login', outcome: 'ok' })));
        const v = await audit.verify();
        expect(v).toEqual({ ok: true, entries: head.seq + 20 });
      });

      it('detects an edited row', async () => {
        const [e] = await audit.list({ after: 2, limit: 1 });
        await tamper("UPDATE audit_log SET outcome = 'denied' WHERE seq = $1", [e!.seq]);
        try {
          expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: e!.seq, problem: 'hash', entries: e!.seq - 1 });
        } finally {
          await tamper('UPDATE audit_log SET outcome = $2 WHERE seq = $1', [e!.seq, e!.outcome]);
        }
        // a forged target with a re-linked prev_hash is still caught by the keyed hash
        await tamper("UPDATE audit_log SET target_masked = '王*' WHERE seq = $1", [e!.seq]);
        try {
          expect((await audit.verify()).firstBadSeq).toBe(e!.seq);
        } finally {
          await tamper('UPDATE audit_log SET target_masked = $2 WHERE seq = $1', [e!.seq, e!.target]);
        }
        expect((await audit.verify()).ok).toBe(true);
      });

      it('detects a deleted row, in the middle and at the end', async () => {
        const head = await audit.head();
        const mid = Math.floor(head.seq / 2);
        const rows = await db.query<Record<string, unknown>>('SELECT * FROM audit_log WHERE seq IN ($1, $2) ORDER BY seq', [mid, head.seq]);
        const restore = async (seq: number): Promise<void> => {
          const r = rows.rows.find((x) => x.seq === seq)!;
          await tamper(
            `INSERT INTO audit_log (seq, at, actor, role, action, target_masked, from_addr, outcome, details, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)`,
            [r.seq, r.at, r.actor, r.role, r.action, r.target_masked, r.from_addr, r.outcome, JSON.stringify(r.details), r.prev_hash, r.hash],
          );
        };
        await tamper('DELETE FROM audit_log WHERE seq = $1', [mid]);
        try {
          expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: mid, problem: 'missing' });
        } finally {
          await restore(mid);
        }
        await tamper('DELETE FROM audit_log WHERE seq = $1', [head.seq]);
        try {
          expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: head.seq, problem: 'missing' });
        } finally {
          await restore(head.seq);
        }
        expect((await audit.verify()).ok).toBe(true);
      });

      it('detects an inserted row, whether seq is kept dense or not', async () => {
        const head = await audit.head();
        const k = Math.floor(head.seq / 2);
        const [prev] = await audit.list({ after: k - 1, limit: 1 });
        // make room at k: shift k.. up by one (two steps: the primary key is checked row by row)
        await tamper('UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= $1', [k]);
        await tamper('UPDATE audit_log SET seq = seq - 999999 WHERE seq >= 1000000');
        await tamper(
          `INSERT INTO audit_log (seq, at, actor, role, action, target_masked, from_addr, outcome, details, prev_hash, hash)
           VALUES ($1, now(), 'mallory', 'admin', 'code.transcode', '王*', NULL, 'ok', '{}', $2, $3)`,
          [k, Buffer.from(prev!.prevHash, 'hex'), Buffer.alloc(32, 0xab)],
        );
        try {
          expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: k, problem: 'hash' });
        } finally {
          await tamper('DELETE FROM audit_log WHERE seq = $1', [k]);
          await tamper('UPDATE audit_log SET seq = seq + 1000000 WHERE seq > $1', [k]);
          await tamper('UPDATE audit_log SET seq = seq - 1000001 WHERE seq >= 1000000');
        }
        expect((await audit.verify()).ok).toBe(true);
        // a row appended behind the head's back
        const last = (await audit.list({ order: 'desc', limit: 1 }))[0]!;
        await tamper(
          `INSERT INTO audit_log (seq, at, actor, role, action, target_masked, from_addr, outcome, details, prev_hash, hash)
           VALUES ($1, now(), 'mallory', 'admin', 'login', NULL, NULL, 'ok', '{}', $2, $3)`,
          [last.seq + 1, Buffer.from(last.hash, 'hex'), Buffer.alloc(32, 0xcd)],
        );
        try {
          expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: last.seq + 1, problem: 'head' });
        } finally {
          await tamper('DELETE FROM audit_log WHERE seq = $1', [last.seq + 1]);
        }
        expect((await audit.verify()).ok).toBe(true);
      });

      it('a chain key from other secrets finds every entry altered', async () => {
        const other = new AuditLog(store, { lookupKey: Buffer.alloc(32, 1) });
        expect(await other.verify()).toMatchObject({ ok: false, firstBadSeq: 1, problem: 'hash' });
      });
    });

    // -----------------------------------------------------------------------
    describe('admin users', () => {
      it('ensureFirstAdmin writes one admin with a random password to a 0600 file, once', async () => {
        const dataDir = join(dir, 'data');
        const r = await users.ensureFirstAdmin(dataDir);
        expect(r).toEqual({ created: true, username: 'admin', path: join(dataDir, ADMIN_CREDENTIALS_FILE) });
        expect(statSync(r.path!).mode & 0o777).toBe(0o600);
        const cred = JSON.parse(readFileSync(r.path!, 'utf8')) as { username: string; password: string };
        expect(Object.keys(cred).sort()).toEqual(['password', 'username']);
        expect(cred.username).toBe('admin');
        expect(cred.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
        expect(await users.verifyLogin('admin', cred.password)).toMatchObject({ username: 'admin', role: 'admin', regionPrefix: '' });
        const stored = await db.query<{ password_hash: string }>("SELECT password_hash FROM admin_users WHERE username = 'admin'");
        expect(stored.rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
        expect(stored.rows[0]!.password_hash).not.toContain(cred.password);

        writeFileSync(r.path!, 'operator edited this');
        expect(await users.ensureFirstAdmin(dataDir)).toEqual({ created: false, username: null, path: null });
        expect(readFileSync(r.path!, 'utf8')).toBe('operator edited this');
      });

      it('creates accounts with roles and region scope, refusing bad input', async () => {
        const u = await users.create({ username: 'Officer.CD', password: 'correct horse battery', role: 'city_officer', regionPrefix: '5101' });
        expect(u).toMatchObject({ username: 'officer.cd', role: 'city_officer', regionPrefix: '5101', disabled: false, lockedUntil: null, failedAttempts: 0 });
        const cases: [Parameters<AdminUsers['create']>[0], string][] = [
          [{ username: '', password: 'correct horse battery', role: 'operator' }, 'username'],
          [{ username: 'a b', password: 'correct horse battery', role: 'operator' }, 'username'],
          [{ username: 'op1', password: 'short1A', role: 'operator' }, 'password'],
          [{ username: 'op1', password: 'alllowercaseletters', role: 'operator' }, 'password'],
          [{ username: 'op1', password: 'correct horse battery', role: 'root' as never }, 'role'],
          [{ username: 'op1', password: 'correct horse battery', role: 'city_officer' }, 'regionPrefix'],
          [{ username: 'op1', password: 'correct horse battery', role: 'city_officer', regionPrefix: '510' }, 'regionPrefix'],
        ];
        for (const [input, field] of cases) {
          const e = await codeOf(users.create(input));
          expect(e.code, field).toBe('MASTER_ERR_INVALID');
          expect(e.field).toBe(field);
        }
        expect((await codeOf(users.create({ username: 'officer.cd', password: 'correct horse battery', role: 'operator' }))).code).toBe('MASTER_ERR_USER_EXISTS');
        expect((await users.list()).map((x) => x.username)).toEqual(['admin', 'officer.cd']);
        expect(JSON.stringify(await users.list())).not.toContain('argon2');
      });

      it('locks an account after 5 wrong passwords for 15 minutes', async () => {
        await users.create({ username: 'op2', password: 'Right-Password-1', role: 'operator' });
        for (let i = 0; i < 4; i++) expect((await codeOf(users.verifyLogin('op2', 'wrong-password'))).code).toBe('MASTER_ERR_LOGIN_FAILED');
        expect((await users.get('op2'))!.failedAttempts).toBe(4);
        const fifth = await codeOf(users.verifyLogin('op2', 'wrong-password'));
        expect(fifth.code).toBe('MASTER_ERR_LOGIN_LOCKED');
        expect((await codeOf(users.verifyLogin('op2', 'Right-Password-1'))).code).toBe('MASTER_ERR_LOGIN_LOCKED');
        expect((await users.get('op2'))!.lockedUntil).toBe(clock.t + 15 * 60);
        clock.t += 15 * 60 - 1;
        expect((await codeOf(users.verifyLogin('op2', 'Right-Password-1'))).code).toBe('MASTER_ERR_LOGIN_LOCKED');
        clock.t += 1;
        expect(await users.verifyLogin('OP2', 'Right-Password-1')).toMatchObject({ username: 'op2', failedAttempts: 0, lockedUntil: null });
        // a success resets the count
        await codeOf(users.verifyLogin('op2', 'wrong'));
        await users.verifyLogin('op2', 'Right-Password-1');
        expect((await users.get('op2'))!.failedAttempts).toBe(0);
        // parallel guesses cannot slip past the limit
        const burst = await Promise.all(Array.from({ length: 8 }, () => codeOf(users.verifyLogin('op2', 'wrong'))));
        expect(burst.filter((e) => e.code === 'MASTER_ERR_LOGIN_LOCKED').length).toBeGreaterThanOrEqual(4);
        await users.unlock('op2');
        expect((await users.verifyLogin('op2', 'Right-Password-1')).username).toBe('op2');
      });

      it('answers unknown and disabled accounts like a wrong password; keeps one admin', async () => {
        expect((await codeOf(users.verifyLogin('nobody', 'whatever-password'))).code).toBe('MASTER_ERR_LOGIN_FAILED');
        expect((await codeOf(users.verifyLogin('bad name!', 'x'))).code).toBe('MASTER_ERR_LOGIN_FAILED');
        expect((await codeOf(users.verifyLogin('op2', 'x'.repeat(300)))).code).toBe('MASTER_ERR_LOGIN_FAILED');
        expect((await codeOf(users.verifyLogin(5 as never, 'x'))).code).toBe('MASTER_ERR_INVALID');
        expect(await users.setDisabled('op2', true)).toMatchObject({ disabled: true });
        expect((await codeOf(users.verifyLogin('op2', 'Right-Password-1'))).code).toBe('MASTER_ERR_LOGIN_FAILED');
        expect(await users.setDisabled('op2', false)).toMatchObject({ disabled: false });
        expect((await codeOf(users.setDisabled('admin', true))).code).toBe('MASTER_ERR_LAST_ADMIN');
        expect((await codeOf(users.setDisabled('ghost', true))).code).toBe('MASTER_ERR_USER_NOT_FOUND');
        expect((await codeOf(users.unlock('ghost'))).code).toBe('MASTER_ERR_USER_NOT_FOUND');
        await users.setPassword('op2', 'Another-Password-2');
        expect((await users.verifyLogin('op2', 'Another-Password-2')).username).toBe('op2');
      });

      it('re-hashes a password made with other argon2 parameters at login', async () => {
        const cheap = new AdminUsers(store, { hashOptions: { memoryCost: 8192, timeCost: 1 } });
        await cheap.create({ username: 'legacy', password: 'Legacy-Password-1', role: 'analyst' });
        const h0 = (await db.query<{ password_hash: string }>("SELECT password_hash FROM admin_users WHERE username = 'legacy'")).rows[0]!.password_hash;
        expect(h0).toContain('m=8192,t=1');
        await users.verifyLogin('legacy', 'Legacy-Password-1');
        const h1 = (await db.query<{ password_hash: string }>("SELECT password_hash FROM admin_users WHERE username = 'legacy'")).rows[0]!.password_hash;
        expect(h1).toContain('m=19456,t=2,p=1');
        expect((await users.verifyLogin('legacy', 'Legacy-Password-1')).role).toBe('analyst');
      });
    });

    // -----------------------------------------------------------------------
    describe('node keys registry', () => {
      it('publishes the whole public set on every change; a kid names one key forever', async () => {
        const t = clock.t;
        const k1 = generateSigningKey('Ed25519', 101, t, t + 30 * DAY);
        const k2 = generateSigningKey('SM2', 102, t, t + 30 * DAY);
        const before = await store.maxOutboxSeq();
        const r = await keys.register('edge-1', [k1, k2]); // SigningKeys: only the public halves are kept
        expect(r).toEqual({ kids: [101, 102], seq: before + 1 });
        const [d] = await deltasSince(before);
        expect(d!.type).toBe('keys');
        const set = KeySet.fromPublicJson((d as { keys: unknown }).keys);
        expect(set.size).toBe(2);
        expect(set.get(102)!.publicKey).toBe(k2.publicKey);
        expect(JSON.stringify((d as { keys: unknown }).keys)).not.toContain(k1.privateKey);
        const raw = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE position($1::bytea IN payload) > 0", [Buffer.from(k1.privateKey)]);
        expect(raw.rows[0]!.n).toBe(0);

        expect(await keys.register('edge-1', [k1])).toEqual({ kids: [], seq: null });
        const longer = await keys.register('edge-1', [{ ...k1, notAfter: t + 60 * DAY }]);
        expect(longer.kids).toEqual([101]);
        expect((await keys.list()).find((k) => k.kid === 101)).toMatchObject({ node: 'edge-1', notAfter: t + 60 * DAY, retiredAt: null });

        const k3 = generateSigningKey('Ed25519', 103, t, t + DAY);
        await keys.register('edge-2', [k3]);
        expect((await codeOf(keys.register('edge-2', [{ ...k3, kid: 101 }]))).code).toBe('MASTER_ERR_KEY_CONFLICT');
        expect((await codeOf(keys.register('edge-2', [k1]))).code).toBe('MASTER_ERR_KEY_CONFLICT');

        const seq = await store.maxOutboxSeq();
        const ret = await keys.retireNode('edge-1');
        expect(ret).toEqual({ kids: [101, 102], seq: seq + 1 });
        const [rd] = await deltasSince(seq);
        expect(KeySet.fromPublicJson((rd as { keys: unknown }).keys).toPublicJson().keys.map((k) => k.kid)).toEqual([103]);
        expect((await keys.publicSet()).keys.map((k) => k.kid)).toEqual([103]);
        expect(await keys.retire([101])).toEqual({ kids: [], seq: null });
        expect((await codeOf(keys.register('edge-1', [k1]))).code).toBe('MASTER_ERR_KEY_CONFLICT');
        expect((await codeOf(keys.retire([4242]))).code).toBe('MASTER_ERR_KEY_NOT_FOUND');
        expect((await keys.list({ includeRetired: true })).map((k) => k.kid)).toEqual([101, 102, 103]);
      });

      it('refuses malformed keys and arguments', async () => {
        const k = generateSigningKey('Ed25519', 200, clock.t, clock.t + DAY);
        expect((await codeOf(keys.register('edge-3', [{ ...k, publicKey: 'AAAA' }]))).code).toBe('CORE_ERR_KEY_INVALID');
        expect((await codeOf(keys.register('edge-3', [{ ...k, notAfter: k.notBefore }]))).field).toMatch(/^keys\[0\]/);
        expect((await codeOf(keys.register('edge-3', [k, k]))).field).toBe('keys[1].kid');
        expect((await codeOf(keys.register('edge 3', [k]))).field).toBe('node');
        expect((await codeOf(keys.register('edge-3', []))).field).toBe('keys');
        expect((await codeOf(keys.retire([70000]))).field).toBe('kids[0]');
        expect((await keys.list()).some((x) => x.kid === 200)).toBe(false);
      });
    });

    // -----------------------------------------------------------------------
    describe('risk areas', () => {
      it('diffs the national list and publishes exactly the diff', async () => {
        await importRiskAreas(store, [
          { region: '510104', level: 'high', since: 100 },
          { region: '510105001', level: 'medium', since: 100 },
          { region: '510106', level: 'medium', since: 100 },
        ]);
        const incoming = [
          { region: '510104', level: 'medium', since: 200 },
          { region: '510106', level: 'medium', since: 100 },
          { region: '510107002003', level: 'high', since: 300 },
        ];
        const diff = diffRiskAreas(await store.listRiskAreas(), incoming);
        expect(diff).toEqual({
          added: [{ region: '510107002003', level: 'high', since: 300 }],
          changed: [{ region: '510104', from: { region: '510104', level: 'high', since: 100 }, to: { region: '510104', level: 'medium', since: 200 } }],
          removed: [{ region: '510105001', level: 'medium', since: 100 }],
          unchanged: 1,
        });
        const before = await store.maxOutboxSeq();
        const r = await applyRiskAreas(store, diff);
        expect(r).toEqual({ added: 1, changed: 1, removed: 1, seqs: [before + 1, before + 2, before + 3] });
        const ds = await deltasSince(before);
        expect(ds.map((d) => (d as { region: string }).region)).toEqual(['510107002003', '510104', '510105001']);
        expect(ds[2]).toMatchObject({ type: 'risk_area', area: null });
        expect(await store.listRiskAreas()).toEqual([...incoming].sort((a, b) => a.region.localeCompare(b.region)));
        expect(await applyRiskAreas(store, diff)).toEqual({ added: 0, changed: 0, removed: 0, seqs: [] });
        expect(diffRiskAreas(await store.listRiskAreas(), incoming)).toMatchObject({ added: [], changed: [], removed: [], unchanged: 3 });
      });

      it('refuses malformed lists naming the entry', async () => {
        const cases: [unknown[], string][] = [
          [[{ region: '5101', level: 'high', since: 1 }], 'incoming[0].region'],
          [[{ region: '510104', level: 'severe', since: 1 }], 'incoming[0].level'],
          [[{ region: '510104', level: 'high', since: -1 }], 'incoming[0].since'],
          [[{ region: '510104', level: 'high', since: 1 }, { region: '510104', level: 'low', since: 1 }], 'incoming[1].region'],
          [[null], 'incoming[0]'],
        ];
        for (const [list, field] of cases) {
          const e = await codeOf(() => diffRiskAreas([], list));
          expect(e.code).toBe('MASTER_ERR_INVALID');
          expect(e.field).toBe(field);
        }
        expect((await codeOf(applyRiskAreas(store, { added: [{ region: 'x' }], changed: [], removed: [], unchanged: 0 } as never))).field).toBe('added[0].region');
      });
    });

    // -----------------------------------------------------------------------
    describe('mass publish', () => {
      const n = opts.massPersons ?? 100_000;

      it(`re-evaluates ${n} people on publish and rollback, counts equal to the dry run`, async () => {
        clock.t += 30 * DAY; // earlier tests' facts are out of every window
        const mass = new CodeService(store, { chunkSize: 5000 });
        const massRules = new RuleVersions(store, mass, { chunkSize: 5000 });
        await mass.tick(clock.t, 10_000);
        const active = (await massRules.active()).version;
        let t = Date.now();
        await db.query(
          `INSERT INTO persons (uid, phone_hash, phone_enc, name_masked, region)
           SELECT decode(md5('mass-uid-' || i), 'hex'), decode(md5('mass-phone-' || i), 'hex'), '\\x00'::bytea, '测*', '519999'
             FROM generate_series(1, $1::int) AS i`,
          [n],
        );
        await db.query(
          `INSERT INTO codes (person_id, color, reason, since, seq, rule_version)
           SELECT id, 'green', 'normal', to_timestamp($1), 0, $2 FROM persons WHERE region = '519999'`,
          [clock.t - DAY, active],
        );
        await db.query(
          `INSERT INTO facts (person_id, kind, at, source, level)
           SELECT id, 'risk_area_visit', to_timestamp($1), 'mass', 'low' FROM persons WHERE region = '519999'`,
          [clock.t - DAY],
        );
        const fixtureMs = Date.now() - t;
        await massRules.upload(withLowRiskRule('mass.1', 'mass_low'), 'admin');

        t = Date.now();
        const dry = await massRules.dryRun('mass.1');
        const dryMs = Date.now() - t;
        const massT = dry.transitions.find((x) => x.reason === 'mass_low');
        expect(massT).toEqual({ from: 'green', to: 'yellow', reason: 'mass_low', count: n });

        const before = await store.maxOutboxSeq();
        let progressCalls = 0;
        t = Date.now();
        const pub = await massRules.publish('mass.1', { actor: 'admin', onProgress: () => progressCalls++ });
        const pubMs = Date.now() - t;
        expect(pub.changed).toBe(dry.changed);
        expect(pub.transitions).toEqual(dry.transitions);
        expect(progressCalls).toBeGreaterThanOrEqual(Math.floor(n / 5000));
        const count = async (sql: string, params: unknown[] = []): Promise<number> =>
          (await db.query<{ n: number }>(sql, params)).rows[0]!.n;
        expect(await count("SELECT count(*)::int AS n FROM codes c JOIN persons p ON p.id = c.person_id WHERE p.region = '519999' AND c.color = 'yellow' AND c.reason = 'mass_low' AND c.rule_version = 'mass.1'")).toBe(n);
        expect(await store.maxOutboxSeq()).toBe(before + 1 + pub.changed);
        expect(await count("SELECT count(*)::int AS n FROM outbox WHERE seq > $1 AND type = 'code'", [before])).toBe(pub.changed);
        expect(await count("SELECT count(*)::int AS n FROM code_history WHERE seq > $1 AND reason = 'mass_low'", [before])).toBe(n);
        const page = await store.readOutbox(before + 1, 10);
        expect(page[0]).toMatchObject({ type: 'code', record: { color: 'yellow', reason: 'mass_low' } });

        t = Date.now();
        const rb = await massRules.rollback({ actor: 'admin' });
        const rbMs = Date.now() - t;
        expect(rb.transitions.find((x) => x.from === 'yellow' && x.reason === 'normal')!.count).toBeGreaterThanOrEqual(n);
        expect(await count("SELECT count(*)::int AS n FROM codes c JOIN persons p ON p.id = c.person_id WHERE p.region = '519999' AND c.color = 'green'")).toBe(n);
        opts.report?.(
          `${name}: mass ${n} people — fixture ${fixtureMs} ms, dry run ${dryMs} ms, publish ${pubMs} ms (${pub.changed} code deltas), rollback ${rbMs} ms`,
        );
      });
    });
  });
}
