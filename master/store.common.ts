import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personKey, uidOf } from '../core/identity.js';
import { MIGRATIONS, migrationChecksum, runMigrations, type Migration } from './migrations.js';
import { loadOrCreateSecrets, type Secrets } from './pii-crypto.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore, type ScanEvent } from './store.js';

/**
 * The one test suite of the master data-access layer, run against every
 * backend (hono's `common.case` pattern): store.pglite.test.ts (embedded,
 * `npm test`) and test/cluster/store.postgres.test.ts (real PostgreSQL).
 *
 * `open` is called once per suite and must hand out a client on an empty
 * schema. `dataDir`, when the backend keeps its files there, lets the suite
 * also check that no plaintext identity reaches the database's files.
 */
export interface StoreSuiteOptions {
  readonly dataDir?: string;
}

/** Resolves to the thrown error's `code` (fails the test when nothing is thrown). */
async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; field?: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err as { code: string; field?: string; message: string };
  }
  throw new Error('expected an error');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const CERT = '51010419850612106X';
const NAME = '张三丰';
const PHONE = '13812345678';
const PHONE2 = '13987654321';

export function runStoreSuite(name: string, open: () => Promise<SqlClient>, opts: StoreSuiteOptions = {}): void {
  describe(`master store on ${name}`, () => {
    let db: SqlClient;
    let store: MasterStore;
    let secrets: Secrets;
    let secretsDir: string;
    const now = () => Math.floor(Date.now() / 1000);

    beforeAll(async () => {
      secretsDir = mkdtempSync(join(tmpdir(), 'hc-store-secrets-'));
      secrets = loadOrCreateSecrets(secretsDir, {});
      db = await open();
      store = new MasterStore(db, secrets);
      await store.migrate();
    });

    afterAll(async () => {
      await db?.close();
      rmSync(secretsDir, { recursive: true, force: true });
    });

    describe('sql client', () => {
      it('returns the same JS types from both backends', async () => {
        const r = await db.query<Record<string, unknown>>(
          `SELECT 9007199254740991::int8 AS big, 7::int4 AS i, '\\x0102ff'::bytea AS b, '2024-02-29'::date AS d,
                  '2024-01-01T00:00:00Z'::timestamptz AS t, '{"a":[1,"x"]}'::jsonb AS j, 1.50::numeric AS n, true AS ok`,
        );
        const row = r.rows[0]!;
        expect(row.big).toBe(9007199254740991);
        expect(row.i).toBe(7);
        expect(Buffer.isBuffer(row.b)).toBe(true);
        expect((row.b as Buffer).toString('hex')).toBe('0102ff');
        expect(row.d).toBe('2024-02-29');
        expect((row.t as Date).toISOString()).toBe('2024-01-01T00:00:00.000Z');
        expect(row.j).toEqual({ a: [1, 'x'] });
        expect(row.n).toBe('1.50');
        expect(row.ok).toBe(true);
        const big = await db.query<{ v: unknown }>('SELECT 9007199254740993::int8 AS v');
        expect(big.rows[0]!.v).toBe(9007199254740993n);
      });

      it('binds Buffer, Date and jsonb text parameters the same way', async () => {
        const r = await db.query<{ b: Buffer; t: Date; j: unknown }>('SELECT $1::bytea AS b, $2::timestamptz AS t, $3::jsonb AS j', [
          Buffer.from([0, 1, 2]),
          new Date('2024-05-06T07:08:09.000Z'),
          JSON.stringify([{ k: 'v' }]),
        ]);
        expect(r.rows[0]!.b.toString('hex')).toBe('000102');
        expect(r.rows[0]!.t.toISOString()).toBe('2024-05-06T07:08:09.000Z');
        expect(r.rows[0]!.j).toEqual([{ k: 'v' }]);
      });

      it('commits, rolls back, nests as savepoints and reports rowCount', async () => {
        await db.exec('CREATE TABLE t_client (x int PRIMARY KEY); INSERT INTO t_client VALUES (1)');
        await expect(
          db.transaction(async (tx) => {
            await tx.query('INSERT INTO t_client VALUES (2)');
            throw new Error('abort');
          }),
        ).rejects.toThrow('abort');
        const kept = await db.transaction(async (tx) => {
          expect(tx.inTransaction).toBe(true);
          await tx.query('INSERT INTO t_client VALUES (3)');
          await expect(
            tx.transaction(async (inner) => {
              await inner.query('INSERT INTO t_client VALUES (4)');
              throw new Error('inner');
            }),
          ).rejects.toThrow('inner');
          await tx.transaction((inner) => inner.query('INSERT INTO t_client VALUES (5)'));
          return 'ok';
        });
        expect(kept).toBe('ok');
        const r = await db.query<{ x: number }>('SELECT x FROM t_client ORDER BY x');
        expect(r.rows.map((x) => x.x)).toEqual([1, 3, 5]);
        const del = await db.query('DELETE FROM t_client WHERE x > 1');
        expect(del.rowCount).toBe(2);
        await db.exec('DROP TABLE t_client');
      });

      it('refuses the outer client inside its own transaction instead of deadlocking', async () => {
        const e = await codeOf(db.transaction(async () => db.query('SELECT 1')));
        expect(e.code).toBe('MASTER_ERR_TX_MISUSE');
        const e2 = await codeOf(store.transaction(async () => store.maxOutboxSeq()));
        expect(e2.code).toBe('MASTER_ERR_TX_MISUSE');
        const e3 = await codeOf(db.transaction((tx) => tx.close()));
        expect(e3.code).toBe('MASTER_ERR_TX_MISUSE');
        // other async contexts are not affected while a transaction runs
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        const tx = db.transaction(async (t) => {
          await t.query('SELECT 1');
          await held;
        });
        const outside = db.query<{ v: number }>('SELECT 2 AS v');
        release();
        await tx;
        expect((await outside).rows[0]!.v).toBe(2);
      });

      it('passes database errors through with their SQLSTATE', async () => {
        expect((await codeOf(db.query('SELECT * FROM no_such_table'))).code).toBe('42P01');
      });
    });

    describe('migrations', () => {
      it('are versioned and idempotent', async () => {
        const again = await store.migrate();
        expect(again).toEqual({ applied: [], version: MIGRATIONS.length });
        const rows = await db.query<{ version: number; name: string; checksum: string }>(
          'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
        );
        expect(rows.rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, checksum: migrationChecksum(m) })));
      });

      it('refuse a database migrated by a newer build', async () => {
        await db.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')");
        try {
          const e = await codeOf(store.migrate());
          expect(e.code).toBe('MASTER_ERR_SCHEMA_NEWER');
          expect(e.message).toContain('999');
        } finally {
          await db.query('DELETE FROM schema_migrations WHERE version = 999');
        }
      });

      it('refuse an applied migration whose SQL changed', async () => {
        const old = (await db.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = 1')).rows[0]!.checksum;
        await db.query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
        try {
          expect((await codeOf(store.migrate())).code).toBe('MASTER_ERR_MIGRATION_CHANGED');
        } finally {
          await db.query('UPDATE schema_migrations SET checksum = $1 WHERE version = 1', [old]);
        }
      });

      it('roll a failing migration back whole, keeping the ones before it', async () => {
        const t = `tm_${randomBytes(4).toString('hex')}`;
        const good: Migration = { version: 1, name: 'a', sql: `CREATE TABLE ${t}_a (x int)` };
        const broken: Migration = { version: 2, name: 'b', sql: `CREATE TABLE ${t}_b (x int); SELECT * FROM ${t}_missing` };
        const e = await codeOf(runMigrations(db, [good, broken], `${t}_versions`));
        expect(e.code).toBe('MASTER_ERR_MIGRATION_FAILED');
        expect(e.message).toContain('version 2 (b)');
        const tables = await db.query<{ a: string | null; b: string | null }>('SELECT to_regclass($1)::text AS a, to_regclass($2)::text AS b', [
          `${t}_a`,
          `${t}_b`,
        ]);
        expect(tables.rows[0]!.a).not.toBeNull();
        expect(tables.rows[0]!.b).toBeNull();
        const versions = await db.query<{ version: number }>(`SELECT version FROM ${t}_versions`);
        expect(versions.rows.map((r) => r.version)).toEqual([1]);
        const fixed: Migration = { version: 2, name: 'b', sql: `CREATE TABLE ${t}_b (x int)` };
        expect(await runMigrations(db, [good, fixed], `${t}_versions`)).toEqual({ applied: [2], version: 2 });
      });

      it('refuse a malformed migration list before touching the database', async () => {
        const m = (version: number): Migration => ({ version, name: `m${version}`, sql: 'SELECT 1' });
        await expect(runMigrations(db, [m(2)], 'never_created')).rejects.toThrow(TypeError);
        await expect(runMigrations(db, [m(1), m(1)], 'never_created')).rejects.toThrow(TypeError);
        await expect(runMigrations(db, [m(1)], 'Bad-Name')).rejects.toThrow(TypeError);
        expect((await db.query<{ t: string | null }>("SELECT to_regclass('never_created')::text AS t")).rows[0]!.t).toBeNull();
      });

      it('apply each version once when several processes start together', async () => {
        const t = `tc_${randomBytes(4).toString('hex')}`;
        const list: Migration[] = [1, 2, 3].map((v) => ({ version: v, name: `m${v}`, sql: `CREATE TABLE ${t}_${v} (x int)` }));
        const results = await Promise.all([1, 2, 3].map(() => runMigrations(db, list, `${t}_versions`)));
        expect(results.flatMap((r) => r.applied).sort()).toEqual([1, 2, 3]);
      });
    });

    describe('persons and encryption at rest', () => {
      it('registers by certificate with uid = uidOf(person key, pepper), then updates in place', async () => {
        const a = await store.upsertPerson({ idType: 'resident', idNo: '51010419850612106x', name: NAME, phone: '+86 138-1234-5678' });
        expect(a.created).toBe(true);
        expect(a.uid.equals(uidOf(`C:resident:${CERT}`, secrets.uidPepper))).toBe(true);
        expect(a.uid.equals(uidOf(personKey({ idNo: CERT }), secrets.uidPepper))).toBe(true);
        const p = (await store.getPerson(a.personId))!;
        expect(p.nameMasked).toBe('张*丰');
        expect(p.region).toBe('510104');
        expect(p.certType).toBe('resident');
        expect(store.revealPerson(p)).toEqual({ certificate: { type: 'resident', number: CERT }, phone: PHONE, name: NAME });

        const b = await store.upsertPerson({ idNo: CERT, phone: PHONE2, region: '510105' });
        expect(b).toEqual({ personId: a.personId, uid: a.uid, created: false });
        const q = (await store.getPerson(a.personId))!;
        expect(store.revealPerson(q)).toEqual({ certificate: { type: 'resident', number: CERT }, phone: PHONE2, name: NAME });
        expect(q.nameMasked).toBe('张*丰');
        expect(q.region).toBe('510105');
        expect((await store.getPersonByUid(a.uid))!.id).toBe(a.personId);
      });

      it('finds people by keyed hash of certificate or phone', async () => {
        const certPerson = (await store.findPersonByCertificate('身份证', '５１０１０４１９８５０６１２１０６Ｘ'))!;
        expect(certPerson).not.toBeNull();
        expect(await store.findPersonByCertificate('passport', 'E12345678')).toBeNull();
        // a phone-keyed person, and the certificate holder who also gave that phone
        const phoneOnly = await store.upsertPerson({ phone: PHONE2, nameMasked: '李*' });
        expect(phoneOnly.created).toBe(true);
        expect((await store.upsertPerson({ phone: `86${PHONE2}` })).personId).toBe(phoneOnly.personId);
        const found = await store.findPersonsByPhone(`+86 ${PHONE2.slice(0, 3)} ${PHONE2.slice(3)}`);
        expect(found.map((p) => p.id)).toEqual([phoneOnly.personId, certPerson.id]);
        expect(found[0]!.nameMasked).toBe('李*');
        expect(found[0]!.certEnc).toBeNull();
        expect(await store.findPersonsByPhone('13700000000')).toEqual([]);
      });

      it('rejects bad identities with the core error codes and bad regions with MASTER_ERR_INVALID', async () => {
        expect((await codeOf(store.upsertPerson({}))).code).toBe('CORE_ERR_PERSON_KEY');
        expect((await codeOf(store.upsertPerson({ idNo: '110105194912310021' }))).code).toBe('CORE_ERR_ID_CHECK_DIGIT');
        expect((await codeOf(store.upsertPerson({ idNo: CERT, phone: '12345' }))).code).toBe('CORE_ERR_PHONE');
        expect((await codeOf(store.upsertPerson({ idNo: CERT, name: '1234' }))).code).toBe('CORE_ERR_NAME');
        const e = await codeOf(store.upsertPerson({ idNo: CERT, region: '5101' }));
        expect(e.code).toBe('MASTER_ERR_INVALID');
        expect(e.field).toBe('region');
        expect((await codeOf(store.findPersonsByPhone('555'))).code).toBe('CORE_ERR_PHONE');
      });

      it('keeps no plaintext certificate, phone or name in any column', async () => {
        await store.upsertPerson({ idType: 'passport', idNo: 'EF7654321', name: 'John Smith', phone: '13611112222' });
        const p = (await store.findPersonByCertificate('resident', CERT))!;
        await store.setCode(p.id, { color: 'yellow', reason: 'entry_test_due', until: null }, null, 'test');
        const secretsText = [CERT, PHONE, PHONE2, NAME, 'EF7654321', 'John Smith', '13611112222'];
        const cols = await db.query<{ table_name: string; column_name: string; data_type: string }>(
          `SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = current_schema() AND data_type IN ('text', 'bytea', 'jsonb', 'json', 'character varying')`,
        );
        expect(cols.rows.length).toBeGreaterThan(20);
        let cells = 0;
        for (const c of cols.rows) {
          const r = await db.query<{ v: Buffer | string | null }>(
            `SELECT "${c.column_name}"${c.data_type === 'bytea' ? '' : '::text'} AS v FROM "${c.table_name}"`,
          );
          for (const { v } of r.rows) {
            if (v === null) continue;
            cells++;
            const bytes = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
            for (const s of secretsText) {
              expect(bytes.includes(Buffer.from(s, 'utf8')), `${c.table_name}.${c.column_name} holds ${s}`).toBe(false);
            }
          }
        }
        expect(cells).toBeGreaterThan(20);
        if (opts.dataDir !== undefined) {
          // Positive control first: a value stored in clear must be found, or the scan proves nothing.
          await store.upsertVenue({ id: 'plain-marker', name: 'PLAINTEXT-MARKER-7f3a', region: '510104', kind: 'normal', entryTestHours: null });
          await db.query('CHECKPOINT');
          const files = filesUnder(opts.dataDir).filter((f) => statSync(f).size > 0);
          const all = files.map((f) => readFileSync(f));
          expect(all.some((b) => b.includes(Buffer.from('PLAINTEXT-MARKER-7f3a')))).toBe(true);
          for (const s of secretsText) {
            const needle = Buffer.from(s, 'utf8');
            expect(files.filter((_, i) => all[i]!.includes(needle)), `files holding ${s}`).toEqual([]);
          }
        }
      });

      it('stores ciphertext that only its own row and field decrypt', async () => {
        const p = (await store.findPersonByCertificate('resident', CERT))!;
        const other = (await store.findPersonByCertificate('passport', 'EF7654321'))!;
        expect(p.certEnc![0]).toBe(secrets.piiKeyVersion);
        expect(store.revealPerson({ ...p }).certificate!.number).toBe(CERT);
        expect((await codeOf(() => store.revealPerson({ ...p, phoneEnc: other.phoneEnc }))).code).toBe('MASTER_ERR_DECRYPT');
        expect((await codeOf(() => store.revealPerson({ ...p, nameEnc: p.phoneEnc }))).code).toBe('MASTER_ERR_DECRYPT');
      });
    });

    describe('codes', () => {
      it('setCode writes code, history and outbox delta together', async () => {
        const { personId, uid } = await store.upsertPerson({ idNo: '440524188001010014', name: '王五' });
        const before = await store.maxOutboxSeq();
        const t = now();
        const r = await store.setCode(
          personId,
          { color: 'red', reason: 'close_contact', until: t + 14 * 86400, notices: [{ kind: 'isolate', message: '居家隔离', until: null }] },
          'v1',
          'rules',
        );
        expect(r.changed).toBe(true);
        expect(r.seq).toBe(before + 1);
        expect(await store.maxOutboxSeq()).toBe(before + 1);
        const code = (await store.getCode(personId))!;
        expect(code).toMatchObject({ color: 'red', reason: 'close_contact', until: t + 14 * 86400, name: '王*', ruleVersion: 'v1', seq: r.seq });
        expect(Math.abs(code.since - t)).toBeLessThanOrEqual(1);
        const [delta] = await store.readOutbox(before, 10);
        expect(delta).toEqual({ seq: r.seq, type: 'code', uid, record: { ...r.record } });
        expect(r.record.seq).toBe(r.seq);
        const hist = await db.query<{ color: string; prev_color: string | null; actor: string; seq: number }>(
          'SELECT color, prev_color, actor, seq FROM code_history WHERE person_id = $1 ORDER BY id',
          [personId],
        );
        expect(hist.rows).toEqual([{ color: 'red', prev_color: null, actor: 'rules', seq: r.seq }]);

        // same verdict: nothing to publish, only the schedule moves
        const same = await store.setCode(
          personId,
          { color: 'red', reason: 'close_contact', until: t + 14 * 86400, notices: code.notices, nextEvalAt: t + 3600 },
          'v2',
          'scheduler',
        );
        expect(same).toMatchObject({ changed: false, seq: r.seq });
        expect(await store.maxOutboxSeq()).toBe(before + 1);
        expect((await store.getCode(personId))!).toMatchObject({ nextEvalAt: t + 3600, ruleVersion: 'v2', since: code.since });

        // colour kept → since kept; colour changed → since = now
        const y = await store.setCode(personId, { color: 'red', reason: 'confirmed', until: null }, 'v2', 'officer:a');
        expect(y.record.since).toBe(code.since);
        const g = await store.setCode(personId, { color: 'green', reason: 'cleared', until: null, since: t + 5 }, 'v2', 'officer:a');
        expect(g.record.since).toBe(t + 5);
        const all = await db.query<{ prev_color: string | null; color: string }>(
          'SELECT prev_color, color FROM code_history WHERE person_id = $1 ORDER BY id',
          [personId],
        );
        expect(all.rows).toEqual([
          { prev_color: null, color: 'red' },
          { prev_color: 'red', color: 'red' },
          { prev_color: 'red', color: 'green' },
        ]);
      });

      it('a failure midway in setCode leaves no code, history or outbox row', async () => {
        const { personId } = await store.upsertPerson({ phone: '13500001111', nameMasked: '赵*' });
        await store.setCode(personId, { color: 'green', reason: 'registered', until: null }, null, 'test');
        const codeBefore = await store.getCode(personId);
        const seqBefore = await store.maxOutboxSeq();
        const histBefore = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM code_history')).rows[0]!.n;
        await db.exec(`
          CREATE FUNCTION t_fail_history() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.reason = 'boom' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
          CREATE TRIGGER t_fail_history BEFORE INSERT ON code_history FOR EACH ROW EXECUTE FUNCTION t_fail_history();`);
        try {
          const e = await codeOf(store.setCode(personId, { color: 'red', reason: 'boom', until: null }, null, 'test'));
          expect(e.message).toContain('injected failure');
        } finally {
          await db.exec('DROP TRIGGER t_fail_history ON code_history; DROP FUNCTION t_fail_history()');
        }
        expect(await store.getCode(personId)).toEqual(codeBefore);
        expect(await store.maxOutboxSeq()).toBe(seqBefore);
        expect(await store.readOutbox(seqBefore, 10)).toEqual([]);
        expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM code_history')).rows[0]!.n).toBe(histBefore);
        // and the next change takes the very next sequence: no gap
        const next = await store.setCode(personId, { color: 'yellow', reason: 'ok', until: null }, null, 'test');
        expect(next.seq).toBe(seqBefore + 1);
      });

      it('composes with the caller\'s transaction: a later failure rolls the code back too', async () => {
        const { personId } = await store.upsertPerson({ phone: '13500002222' });
        const seqBefore = await store.maxOutboxSeq();
        await expect(
          store.transaction(async (s) => {
            await s.setCode(personId, { color: 'red', reason: 'x', until: null }, null, 'test');
            throw new Error('caller failed');
          }),
        ).rejects.toThrow('caller failed');
        expect(await store.getCode(personId)).toBeNull();
        expect(await store.maxOutboxSeq()).toBe(seqBefore);
      });

      it('serialises concurrent changes of one person', async () => {
        const { personId } = await store.upsertPerson({ phone: '13500003333' });
        const results = await Promise.all(
          [1, 2, 3, 4, 5].map((i) => store.setCode(personId, { color: 'yellow', reason: `r${i}`, until: null }, null, 'test')),
        );
        const seqs = results.map((r) => r.seq).sort((a, b) => a - b);
        const code = (await store.getCode(personId))!;
        expect(code.seq).toBe(seqs[4]);
        const hist = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM code_history WHERE person_id = $1', [personId]);
        expect(hist.rows[0]!.n).toBe(5);
      });

      it('rejects bad verdicts and unknown people', async () => {
        const { personId } = await store.upsertPerson({ phone: '13500004444' });
        const cases: [Parameters<MasterStore['setCode']>[1], string][] = [
          [{ color: 'blue' as never, reason: 'x', until: null }, 'color'],
          [{ color: 'red', reason: '', until: null }, 'reason'],
          [{ color: 'red', reason: 'x', until: -1 }, 'until'],
          [{ color: 'red', reason: 'x', until: 1.5 }, 'until'],
          [{ color: 'red', reason: 'x', until: null, nextEvalAt: -5 }, 'nextEvalAt'],
          [{ color: 'red', reason: 'x', until: null, notices: [{ kind: '', message: 'm', until: null }] }, 'notices[0].kind'],
        ];
        for (const [verdict, field] of cases) {
          const e = await codeOf(store.setCode(personId, verdict, null, 'test'));
          expect(e.code, field).toBe('MASTER_ERR_INVALID');
          expect(e.field).toBe(field);
        }
        expect((await codeOf(store.setCode(personId, { color: 'red', reason: 'x', until: null }, null, ''))).field).toBe('actor');
        expect((await codeOf(store.setCode(99_999_999, { color: 'red', reason: 'x', until: null }, null, 'test'))).code).toBe(
          'MASTER_ERR_PERSON_NOT_FOUND',
        );
      });

      it('finds codes due for re-evaluation, earliest first', async () => {
        const base = 2_000_000_000;
        const ids: number[] = [];
        for (const [i, next] of [[1, base + 20], [2, base + 10], [3, base + 30], [4, null]] as const) {
          const { personId } = await store.upsertPerson({ phone: `1370000000${i}` });
          await store.setCode(personId, { color: 'yellow', reason: 'test_due', until: null, nextEvalAt: next }, null, 'test');
          ids.push(personId);
        }
        const due = (await store.dueForReevaluation(base + 25, 100)).filter((d) => ids.includes(d.personId));
        expect(due.map((d) => [d.personId, d.nextEvalAt])).toEqual([[ids[1], base + 10], [ids[0], base + 20]]);
        expect(due[0]!.uid.length).toBe(16);
        expect((await codeOf(store.dueForReevaluation(base, 0))).field).toBe('limit');
      });

      it('keeps code_history and audit_log append-only', async () => {
        expect((await codeOf(db.query("UPDATE code_history SET reason = 'forged'"))).code).toBe('42501');
        expect((await codeOf(db.query('DELETE FROM code_history'))).code).toBe('42501');
        expect((await codeOf(db.query('TRUNCATE code_history'))).code).toBe('42501');
        expect((await codeOf(db.query('DELETE FROM audit_log'))).code).toBe('42501');
      });
    });

    describe('outbox', () => {
      it('stays gap-free under concurrent transactions, one of them rolled back', async () => {
        const before = await store.maxOutboxSeq();
        let reading = true;
        let reads = 0;
        // a publisher tailing meanwhile must never see a hole (readOutbox throws on one)
        const reader = (async () => {
          let last = before;
          while (reading) {
            const ds = await store.readOutbox(last, 1000);
            if (ds.length > 0) last = ds[ds.length - 1]!.seq;
            reads++;
            await sleep(1);
          }
          return last;
        })();
        const tasks = Array.from({ length: 12 }, (_, i) =>
          store.transaction(async (s) => {
            const seq = await s.appendOutbox(s.db, { type: 'noop' });
            if (i === 3) {
              await sleep(30); // hold the counter while the others queue behind it
              throw new Error('rolled back');
            }
            return seq;
          }),
        );
        const settled = await Promise.allSettled(tasks);
        reading = false;
        const lastRead = await reader;
        expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1);
        const seqs = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])).sort((a, b) => a - b);
        expect(seqs).toEqual(Array.from({ length: 11 }, (_, i) => before + 1 + i));
        expect(await store.maxOutboxSeq()).toBe(before + 11);
        const deltas = await store.readOutbox(before, 1000);
        expect(deltas.map((d) => d.seq)).toEqual(seqs);
        expect(deltas.every((d) => d.type === 'noop')).toBe(true);
        expect(reads).toBeGreaterThan(0);
        expect(lastRead).toBeLessThanOrEqual(before + 11);
      });

      it('appends batches with consecutive sequences and reads them back in pages', async () => {
        const before = await store.maxOutboxSeq();
        const uid = randomBytes(16);
        const seqs = await store.transaction((s) =>
          s.appendOutboxBatch(s.db, [
            ...Array.from({ length: 1200 }, () => ({ type: 'noop' as const })),
            { type: 'rules', version: 'v9', activeFrom: 1_700_000_000, ruleSet: { rules: [1, 2] } },
            { type: 'keys', keys: [{ kid: 1 }] },
            { type: 'code', uid, record: null },
          ]),
        );
        expect(seqs[0]).toBe(before + 1);
        expect(seqs[seqs.length - 1]).toBe(before + 1203);
        const page1 = await store.readOutbox(before, 1000);
        const page2 = await store.readOutbox(page1[page1.length - 1]!.seq, 1000);
        expect(page1).toHaveLength(1000);
        expect(page2).toHaveLength(203);
        expect(page2.slice(-3)).toEqual([
          { seq: before + 1201, type: 'rules', version: 'v9', activeFrom: 1_700_000_000, ruleSet: { rules: [1, 2] } },
          { seq: before + 1202, type: 'keys', keys: [{ kid: 1 }] },
          { seq: before + 1203, type: 'code', uid, record: null },
        ]);
        expect(await store.transaction((s) => s.appendOutboxBatch(s.db, []))).toEqual([]);
      });

      it('needs a transaction client and detects missing rows', async () => {
        expect((await codeOf(store.appendOutbox(db, { type: 'noop' }))).code).toBe('MASTER_ERR_TX_MISUSE');
        expect((await codeOf(store.appendOutboxBatch(db, [{ type: 'noop' }]))).code).toBe('MASTER_ERR_TX_MISUSE');
        const top = await store.maxOutboxSeq();
        // a row written behind the counter's back (never done by the store) leaves a hole
        await db.query("INSERT INTO outbox (seq, type, payload) VALUES ($1, 'noop', '\\x01')", [top + 5]);
        try {
          const e = await codeOf(store.readOutbox(top, 10));
          expect(e.code).toBe('MASTER_ERR_OUTBOX_GAP');
          expect(e.message).toContain(`expected seq ${top + 1}`);
        } finally {
          await db.query('DELETE FROM outbox WHERE seq = $1', [top + 5]);
        }
        expect((await codeOf(store.readOutbox(-1, 10))).field).toBe('afterSeq');
        expect((await codeOf(store.readOutbox(0, 0))).field).toBe('limit');
      });
    });

    describe('venues and risk areas', () => {
      it('publish changes, not repeats, and removals as null deltas', async () => {
        const before = await store.maxOutboxSeq();
        const v = { id: 'v-0001', name: '成都东站 入川检测点', region: '510108', kind: 'entry' as const, entryTestHours: 24 };
        expect(await store.upsertVenue(v)).toEqual({ changed: true, seq: before + 1 });
        expect(await store.upsertVenue(v)).toEqual({ changed: false, seq: null });
        expect(await store.upsertVenue({ ...v, entryTestHours: 48 })).toEqual({ changed: true, seq: before + 2 });
        expect(await store.getVenue('v-0001')).toEqual({ ...v, entryTestHours: 48 });
        expect(await store.removeVenue('v-0001')).toEqual({ changed: true, seq: before + 3 });
        expect(await store.removeVenue('v-0001')).toEqual({ changed: false, seq: null });
        const a = { region: '510104001', level: 'high' as const, since: 1_700_000_000 };
        expect(await store.upsertRiskArea(a)).toEqual({ changed: true, seq: before + 4 });
        expect(await store.upsertRiskArea(a)).toEqual({ changed: false, seq: null });
        expect(await store.listRiskAreas()).toEqual([a]);
        expect(await store.removeRiskArea('510104001')).toEqual({ changed: true, seq: before + 5 });
        expect(await store.readOutbox(before, 10)).toEqual([
          { seq: before + 1, type: 'venue', id: 'v-0001', venue: v },
          { seq: before + 2, type: 'venue', id: 'v-0001', venue: { ...v, entryTestHours: 48 } },
          { seq: before + 3, type: 'venue', id: 'v-0001', venue: null },
          { seq: before + 4, type: 'risk_area', region: '510104001', area: a },
          { seq: before + 5, type: 'risk_area', region: '510104001', area: null },
        ]);
      });

      it('searches venue names by substring, wildcards taken literally', async () => {
        await store.upsertVenue({ id: 'v-a', name: '春熙路 IFS 商场', region: '510104', kind: 'normal', entryTestHours: null });
        await store.upsertVenue({ id: 'v-b', name: '春熙路地铁站', region: '510104', kind: 'normal', entryTestHours: null });
        await store.upsertVenue({ id: 'v-c', name: '100% Coffee_Bar', region: '510105', kind: 'normal', entryTestHours: null });
        expect((await store.searchVenues('春熙路')).map((v) => v.id)).toEqual(['v-a', 'v-b']);
        expect((await store.searchVenues('ifs')).map((v) => v.id)).toEqual(['v-a']);
        expect((await store.searchVenues('春熙路', { regionPrefix: '510105' })).map((v) => v.id)).toEqual([]);
        expect((await store.searchVenues('0% c')).map((v) => v.id)).toEqual(['v-c']);
        expect((await store.searchVenues('%')).map((v) => v.id)).toEqual(['v-c']);
        expect((await store.searchVenues('e_b')).map((v) => v.id)).toEqual(['v-c']);
        expect((await store.searchVenues('eeb')).map((v) => v.id)).toEqual([]);
        expect((await codeOf(store.searchVenues(' '))).field).toBe('text');
      });

      it('rejects malformed venues and risk areas, naming the field', async () => {
        const v = { id: 'v-x', name: 'x', region: '510104', kind: 'normal' as const, entryTestHours: null };
        const cases: [Promise<unknown>, string][] = [
          [store.upsertVenue({ ...v, id: '' }), 'id'],
          [store.upsertVenue({ ...v, region: '51010' }), 'region'],
          [store.upsertVenue({ ...v, kind: 'vip' as never }), 'kind'],
          [store.upsertVenue({ ...v, kind: 'entry' }), 'entryTestHours'],
          [store.upsertVenue({ ...v, entryTestHours: 24 }), 'entryTestHours'],
          [store.upsertRiskArea({ region: '51', level: 'high', since: 1 }), 'region'],
          [store.upsertRiskArea({ region: '510104', level: 'severe' as never, since: 1 }), 'level'],
          [store.upsertRiskArea({ region: '510104', level: 'low', since: -1 }), 'since'],
          [store.removeRiskArea('x'), 'region'],
        ];
        for (const [p, field] of cases) {
          const e = await codeOf(p);
          expect(e.code, field).toBe('MASTER_ERR_INVALID');
          expect(e.field).toBe(field);
        }
      });
    });

    describe('scans', () => {
      function scan(id: string, at: number, extra: Partial<ScanEvent> = {}): ScanEvent {
        return { id, at, uid: Buffer.alloc(16, 7), venueId: 'v-a', kind: 'scan', node: 'edge-1', color: 'green', ...extra };
      }
      async function count(): Promise<number> {
        return (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM scans')).rows[0]!.n;
      }

      it('stores each event once, across day partitions created on demand', async () => {
        const t = now();
        const batch = [scan('n1:1', t - 3 * 86400), scan('n1:2', t - 86400), scan('n1:3', t, { color: 'red', kind: 'verify', venueId: null })];
        expect(await store.insertScans(batch)).toEqual({ inserted: 3, duplicates: 0 });
        expect(await store.insertScans([...batch, scan('n1:4', t)])).toEqual({ inserted: 1, duplicates: 3 });
        expect(await store.insertScans([scan('n1:5', t), scan('n1:5', t)])).toEqual({ inserted: 1, duplicates: 1 });
        expect(await count()).toBe(5);
        const parts = await store.listScanPartitions();
        expect(parts.length).toBeGreaterThanOrEqual(9); // yesterday … 7 days ahead, and 3 days ago
        const where = await db.query<{ p: string; id: string; color: number }>(
          "SELECT tableoid::regclass::text AS p, id, color FROM scans WHERE id IN ('n1:1', 'n1:3') ORDER BY id",
        );
        expect(where.rows[0]!.p).not.toBe(where.rows[1]!.p);
        expect(where.rows.map((r) => r.color)).toEqual([0, 2]);
        expect(await store.insertScans([])).toEqual({ inserted: 0, duplicates: 0 });
      });

      it('uses China Standard Time days for partitions', async () => {
        // 2024-03-01 23:30 +08 and 2024-03-02 00:30 +08 fall in different partitions
        const late = Date.UTC(2024, 2, 1, 15, 30) / 1000;
        const early = late + 3600;
        await store.insertScans([scan('cst:1', late), scan('cst:2', early)]);
        const r = await db.query<{ p: string; id: string }>(
          "SELECT tableoid::regclass::text AS p, id FROM scans WHERE id LIKE 'cst:%' ORDER BY id",
        );
        expect(r.rows.map((x) => x.p.replace(/^.*\./, ''))).toEqual(['scans_p20240301', 'scans_p20240302']);
      });

      it('recreates a dropped partition and drops old days for retention', async () => {
        const old = now() - 40 * 86400;
        await store.insertScans([scan('old:1', old)]);
        const [name] = (await store.listScanPartitions()).filter((p) => p === `scans_p${new Date((old + 8 * 3600) * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`);
        expect(name).toBeDefined();
        await db.query(`DROP TABLE ${name}`); // behind the store's back: its cache still says the day exists
        expect(await store.insertScans([scan('old:2', old)])).toEqual({ inserted: 1, duplicates: 0 });
        const dropped = await store.dropScanPartitionsBefore(now() - 30 * 86400);
        expect(dropped).toContain(name);
        expect(dropped.every((p) => p < `scans_p${new Date((now() - 31 * 86400) * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`)).toBe(true);
        expect((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM scans WHERE id LIKE 'old:%'")).rows[0]!.n).toBe(0);
      });

      it('rejects a malformed batch whole, naming the event and field', async () => {
        const t = now();
        const before = await count();
        const cases: [ScanEvent, string][] = [
          [scan('', t), 'events[1].id'],
          [scan('b:1', t, { uid: Buffer.alloc(15) }), 'events[1].uid'],
          [scan('b:1', t + 2 * 86400), 'events[1].at'],
          [scan('b:1', 1_000_000_000), 'events[1].at'],
          [scan('b:1', t + 0.5), 'events[1].at'],
          [scan('b:1', t, { kind: 'walk' as never }), 'events[1].kind'],
          [scan('b:1', t, { color: 'blue' as never }), 'events[1].color'],
          [scan('b:1', t, { node: '' }), 'events[1].node'],
          [scan('b:1', t, { venueId: 'x'.repeat(65) }), 'events[1].venueId'],
        ];
        for (const [bad, field] of cases) {
          const e = await codeOf(store.insertScans([scan('b:0', t), bad]));
          expect(e.code, field).toBe('MASTER_ERR_INVALID');
          expect(e.field).toBe(field);
        }
        expect(await count()).toBe(before);
      });
    });
  });
}
