import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import type { Fact } from '../core/facts.js';
import type { CompiledRules } from './active-rules.js';
import { addImportedFacts, factMayMatter, lastKeysRead, rulesInForce, type ImportedPerson } from './bulk-facts.js';
import { CodeService } from './code-service.js';
import { loadOrCreateSecrets } from './pii-crypto.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';

/**
 * master/bulk-facts.ts on a real database, shared by PGlite
 * (bulk-facts.pglite.test.ts) and PostgreSQL (test/cluster/bulk-facts.postgres.test.ts):
 * the same outcome as CodeService.addFactsMany — a positive result turns a
 * person red with its delta, a fresh person gets its first code — and the
 * skip is only taken when the rule set in force reads no key of the new facts.
 */
const HOUR = 3600;
/** 2026-05-28 */
const NOW = 1_780_000_000;

function residentId(n: number): string {
  const first17 = `510104199001${String(1 + (n % 28)).padStart(2, '0')}${String(n % 1000).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * w[i]!;
  return first17 + '10X98765432'[sum % 11]!;
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; field?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; field?: string };
  }
  throw new Error('expected an error');
}

export function runBulkFactsSuite(name: string, open: () => Promise<SqlClient>): void {
  describe(`bulk facts (${name})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hc-bulk-facts-'));
    let db!: SqlClient;
    let store!: MasterStore;
    let codes!: CodeService;
    let n = 0;
    beforeAll(async () => {
      db = await open();
      store = new MasterStore(db, loadOrCreateSecrets(dir, {}), { now: () => NOW * 1000 });
      await store.migrate();
      codes = new CodeService(store, { log: () => undefined });
      await codes.activeRules(); // publishes the built-in rules
    }, 60_000);
    afterAll(async () => {
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Registers persons inside `s`'s transaction as an import does, and hands them to addImportedFacts. */
    async function importFacts(rows: { idNo: string; facts: Fact[] }[], rules?: CompiledRules, opts: { lazyFirstCode?: boolean } = {}) {
      return store.transaction(async (s) => {
        const people: ImportedPerson[] = [];
        for (const r of rows) {
          const p = await s.upsertPerson({ idType: 'resident', idNo: r.idNo, name: '张三' });
          people.push({ personId: p.personId, uid: p.uid, name: '张*', created: p.created, facts: r.facts.map((fact, i) => ({ fact, sourceRef: `b:${i}` })) });
        }
        return addImportedFacts(s, rules ?? await rulesInForce(codes.rules, s.db, NOW), people, { source: 'import:test', actor: 'import:test' }, NOW, opts);
      });
    }

    async function colorOf(idNo: string): Promise<{ color: string; reason: string; notices: readonly unknown[] } | null> {
      const p = await store.findPersonByCertificate('resident', idNo);
      const c = p === null ? null : await store.getCode(p.id);
      return c === null ? null : { color: c.color, reason: c.reason, notices: c.notices };
    }

    it('fresh people get their code with a delta each; a positive result is red on the outbox', async () => {
      const neg = residentId(++n);
      const pos = residentId(++n);
      const before = await store.maxOutboxSeq();
      const r = await importFacts([
        { idNo: neg, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR, result: 'negative' }] },
        { idNo: pos, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR, result: 'positive' }] },
      ]);
      expect(r).toEqual({ inserted: 2, evaluated: 2, skipped: 0, changed: 2 });
      expect(await colorOf(neg)).toMatchObject({ color: 'green', reason: 'normal' });
      expect(await colorOf(pos)).toMatchObject({ color: 'red', reason: 'test_positive' });
      const deltas = await store.readOutbox(before, 100);
      const red = (await store.findPersonByCertificate('resident', pos))!;
      expect(deltas.filter((d) => d.type === 'code')).toHaveLength(2);
      const d = deltas.find((x) => x.type === 'code' && Buffer.from(x.uid).equals(red.uid));
      expect(d).toMatchObject({ type: 'code', record: { color: 'red', reason: 'test_positive', name: '张*' } });
      const facts = await db.query<{ source: string; source_ref: string }>('SELECT source, source_ref FROM facts WHERE person_id = $1', [red.id]);
      expect(facts.rows).toEqual([{ source: 'import:test', source_ref: 'b:0' }]);
    });

    it('lazyFirstCode: a code-less person whose facts decide the never-reported code gets it at 领码, anything else now', async () => {
      const neg = residentId(++n);
      const pos = residentId(++n);
      const future = residentId(++n);
      const before = await store.maxOutboxSeq();
      const r = await importFacts([
        { idNo: neg, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR, result: 'negative' }] },
        { idNo: pos, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR, result: 'positive' }] },
        // a close contact is yellow with a re-evaluation time: never deferred
        { idNo: future, facts: [{ kind: 'close_contact', at: NOW - HOUR }] },
      ], undefined, { lazyFirstCode: true });
      expect(r).toEqual({ inserted: 3, evaluated: 3, skipped: 0, changed: 2, deferred: 1 });
      expect(await colorOf(neg)).toBeNull();
      expect(await colorOf(pos)).toMatchObject({ color: 'red', reason: 'test_positive' });
      expect((await colorOf(future))!.color).not.toBe('green');
      expect((await store.readOutbox(before, 100)).filter((d) => d.type === 'code')).toHaveLength(2);
      // a second import of the (now existing) code-less person: still deferred; a positive one turns them red at once
      const again = await importFacts([{ idNo: neg, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR / 2, result: 'negative' }] }], undefined, { lazyFirstCode: true });
      expect(again).toMatchObject({ inserted: 1, changed: 0, deferred: 1 });
      expect(await colorOf(neg)).toBeNull();
      // first login: the same green code the import would have written, with its delta
      const reg = await codes.register({ idType: 'resident', idNo: neg, name: '张三' });
      expect(reg).toMatchObject({ created: true, code: { color: 'green', reason: 'normal', notices: [] } });
      const later = residentId(++n);
      await importFacts([{ idNo: later, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR, result: 'negative' }] }], undefined, { lazyFirstCode: true });
      const red = await importFacts([{ idNo: later, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR / 2, result: 'positive' }] }], undefined, { lazyFirstCode: true });
      expect(red).toMatchObject({ changed: 1, deferred: 0 });
      expect(await colorOf(later)).toMatchObject({ color: 'red', reason: 'test_positive' });
    });

    it('an existing person is evaluated with all their facts: a negative test clears 入川即检', async () => {
      const id = residentId(++n);
      const reg = await codes.register({ idType: 'resident', idNo: id, name: '张三' });
      await codes.addFacts(reg.personId, [{ kind: 'entry', at: NOW - 2 * HOUR, region: '510104' }], 'scan');
      expect((await colorOf(id))!.notices).toHaveLength(1);
      const before = await store.maxOutboxSeq();
      const r = await importFacts([{ idNo: id, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR, result: 'negative' }] }]);
      expect(r).toEqual({ inserted: 1, evaluated: 1, skipped: 0, changed: 1 });
      expect(await colorOf(id)).toEqual({ color: 'green', reason: 'normal', notices: [] });
      expect((await store.readOutbox(before, 10)).map((x) => x.type)).toEqual(['code']);
      // the same fact again changes nothing: evaluated, no delta
      const again = await importFacts([{ idNo: id, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR, result: 'negative' }] }]);
      expect(again).toMatchObject({ evaluated: 1, changed: 0 });
      expect(await store.maxOutboxSeq()).toBe(before + 1);
    });

    it('skips an existing person only when no rule reads the new facts\' keys', async () => {
      const onlyConfirmed = { ...DEFAULT_RULE_SET, version: 'bulk-only-confirmed', rules: DEFAULT_RULE_SET.rules.filter((x) => x.id === 'confirmed') };
      const rules: CompiledRules = { version: 'bulk-only-confirmed', activeFrom: 0, ...codes.rules.compiled('bulk-only-confirmed', onlyConfirmed) };
      expect([...lastKeysRead(rules.ruleSet)]).toEqual(['confirmed']);
      expect([...lastKeysRead(DEFAULT_RULE_SET)].sort()).toEqual(['close_contact', 'confirmed', 'entry', 'risk_high', 'risk_medium', 'secondary_contact', 'suspected', 'test_negative', 'test_positive']);
      const read = lastKeysRead(rules.ruleSet);
      expect(factMayMatter({ kind: 'nucleic_acid', at: NOW, result: 'positive' }, read, NOW)).toBe(false);
      expect(factMayMatter({ kind: 'nucleic_acid', at: NOW + 1, result: 'positive' }, read, NOW)).toBe(true); // future: a re-evaluation time
      expect(factMayMatter({ kind: 'confirmed', at: NOW }, read, NOW)).toBe(true);

      const id = residentId(++n);
      await codes.register({ idType: 'resident', idNo: id, name: '张三' });
      const before = await store.maxOutboxSeq();
      const skip = await importFacts([{ idNo: id, facts: [{ kind: 'nucleic_acid', at: NOW - HOUR, result: 'positive' }] }], rules);
      expect(skip).toEqual({ inserted: 1, evaluated: 0, skipped: 1, changed: 0 });
      expect(await store.maxOutboxSeq()).toBe(before);
      const red = await importFacts([{ idNo: id, facts: [{ kind: 'confirmed', at: NOW - HOUR }] }], rules);
      expect(red).toEqual({ inserted: 1, evaluated: 1, skipped: 0, changed: 1 });
      expect(await colorOf(id)).toMatchObject({ color: 'red', reason: 'confirmed' });
    });

    it('refuses bad input with coded errors and writes nothing', async () => {
      const reg = await codes.register({ idType: 'resident', idNo: residentId(++n), name: '张三' });
      const item = (personId: number, facts: Fact[] = [{ kind: 'confirmed', at: NOW }]): ImportedPerson =>
        ({ personId, uid: reg.uid, name: '张*', created: false, facts: facts.map((fact) => ({ fact, sourceRef: null })) });
      const run = (people: ImportedPerson[], source = 'import:test') => store.transaction(async (s) =>
        addImportedFacts(s, await rulesInForce(codes.rules, s.db, NOW), people, { source, actor: 'import:test' }, NOW));
      const factsBefore = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts');
      expect(await codeOf(run([item(reg.personId), item(reg.personId)]))).toMatchObject({ code: 'MASTER_ERR_INVALID', field: 'people[1].personId' });
      expect(await codeOf(run([item(0)]))).toMatchObject({ code: 'MASTER_ERR_INVALID', field: 'people[0].personId' });
      expect(await codeOf(run([item(reg.personId)], ''))).toMatchObject({ code: 'MASTER_ERR_INVALID', field: 'source' });
      expect(await codeOf(run([item(99_999_999)]))).toMatchObject({ code: 'MASTER_ERR_PERSON_NOT_FOUND' });
      expect(await codeOf(run([item(reg.personId, [{ kind: 'nucleic_acid', at: NOW } as Fact])]))).toMatchObject({ code: 'CORE_ERR_FACTS_INVALID' });
      const rules = await codes.activeRules();
      expect(await codeOf(addImportedFacts(store, rules, [item(reg.personId)], { source: 'import:test', actor: 'a' }, NOW)))
        .toMatchObject({ code: 'MASTER_ERR_TX_MISUSE' });
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts')).rows[0]!.n).toBe(factsBefore.rows[0]!.n);
    });
  });
}
