import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addImportedFacts, rulesInForce, type ImportedPerson } from '../../master/bulk-facts.js';
import { insertFactRows } from '../../master/code-service-checks.js';
import { CodeService } from '../../master/code-service.js';
import { loadOrCreateSecrets } from '../../master/pii-crypto.js';
import { openPglite } from '../../master/sql-client.js';
import { MasterStore } from '../../master/store.js';

/**
 * `node dist/exchange/bench/bulk-facts.js` — the import's facts-and-codes
 * step, same run, same PGlite, same rows: the previous path (facts INSERT,
 * then CodeService.addFactsMany re-reading and locking every person) against
 * master/bulk-facts.ts addImportedFacts (fresh people decided from the facts
 * in hand). Chunks of BULK_ROWS fresh people (default 10 000, one
 * nucleic-acid result each, every 997th positive), alternating A/B so load
 * on a shared machine hits both alike. Both write the same codes, history
 * rows and deltas (checked). Last line: the ratio.
 *
 * Ceiling, same run: the rows one imported person costs the master —
 * persons (with its hashes and ciphertext-sized fields), facts, codes,
 * code_history, outbox — written by set SQL from generate_series, no JSON,
 * no JavaScript, no crypto: no import on this database can beat it, so
 * 1M / ceiling is the floor of the "1M rows in 30 s" here.
 */
const ROWS = Number(process.env.BULK_ROWS ?? 10_000);
const ROUNDS = Number(process.env.BULK_ROUNDS ?? 3);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hc-bench-bulk-facts-'));
  const db = await openPglite(join(dir, 'pg'));
  const store = new MasterStore(db, loadOrCreateSecrets(dir, {}));
  await store.migrate();
  const codes = new CodeService(store, { log: () => undefined, chunkSize: 10_000 });
  await codes.activeRules();
  const now = Math.floor(Date.now() / 1000);
  let next = 0;
  const source = { source: 'import:bench', actor: 'import:bench' };

  /** ROWS fresh persons inside `tx` (not measured): ids and uids. */
  async function freshPeople(s: MasterStore): Promise<{ id: number; uid: Buffer }[]> {
    const from = next;
    next += ROWS;
    const r = await s.db.query<{ id: number; uid: Buffer }>(
      `INSERT INTO persons (uid, phone_hash, phone_enc, name_masked, region)
       SELECT decode(md5('bulk-uid-' || i), 'hex'), decode(md5('bulk-phone-' || i), 'hex'), '\\x00'::bytea, '测*', '510104'
         FROM generate_series($1::int, $2::int) AS i RETURNING id, uid`,
      [from, from + ROWS - 1],
    );
    return r.rows.map((x) => ({ id: Number(x.id), uid: Buffer.from(x.uid) }));
  }
  const resultOf = (i: number): 'positive' | 'negative' => (i % 997 === 0 ? 'positive' : 'negative');

  /** The ceiling: ROWS people's master rows by set SQL only. */
  async function ceiling(s: MasterStore): Promise<void> {
    const from = next;
    next += ROWS;
    const seq = await s.db.query<{ seq: number }>('UPDATE outbox_counter SET seq = seq + $1 RETURNING seq', [ROWS]);
    const first = Number(seq.rows[0]!.seq) - ROWS + 1;
    await s.db.query(
      `WITH p AS (
         INSERT INTO persons (uid, cert_type, cert_hash, cert_enc, phone_hash, phone_enc, name_enc, name_masked, region)
         SELECT substr(sha256(('c-uid-' || i)::bytea), 1, 16), 'resident', sha256(('c-cert-' || i)::bytea),
                sha256(('c-ce-' || i)::bytea) || sha256(('c-ce2-' || i)::bytea), sha256(('c-ph-' || i)::bytea),
                sha256(('c-pe-' || i)::bytea) || substr(sha256(('c-pe2-' || i)::bytea), 1, 8), sha256(('c-ne-' || i)::bytea), '测*', '510104'
           FROM generate_series($1::int, $2::int) AS i RETURNING id
       ), n AS (SELECT id, $3::bigint + row_number() OVER (ORDER BY id) - 1 AS q FROM p),
       f AS (INSERT INTO facts (person_id, kind, at, source, source_ref, result)
             SELECT id, 'nucleic_acid', now() - interval '1 hour', 'import:bench', 'b:' || id, 'negative' FROM n),
       c AS (INSERT INTO codes (person_id, color, reason, since, rule_version, seq) SELECT id, 'green', 'normal', now(), 'v', q FROM n),
       h AS (INSERT INTO code_history (person_id, prev_color, color, reason, since, rule_version, actor, seq)
             SELECT id, NULL, 'green', 'normal', now(), 'v', 'import:bench', q FROM n)
       INSERT INTO outbox (seq, type, payload) SELECT q, 'code', sha256(('c-d-' || q)::bytea) || sha256(('c-d2-' || q)::bytea) FROM n`,
      [from, from + ROWS - 1, first],
    );
  }

  const time = { previous: 0, bulk: 0, ceiling: 0 };
  let changed = { previous: 0, bulk: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    for (const way of ['previous', 'bulk', 'ceiling'] as const) {
      if (way === 'ceiling') {
        const t = performance.now();
        await store.transaction(ceiling);
        time.ceiling += performance.now() - t;
        continue;
      }
      await store.transaction(async (s) => {
        const people = await freshPeople(s);
        const t = performance.now();
        if (way === 'previous') {
          await insertFactRows(s.db, people.map((p, i) => ({ p: p.id, k: 'nucleic_acid', t: now - 3600, s: source.source, sr: `b:${i}`, l: null, r: resultOf(i), rg: null, v: null })));
          const res = await new CodeService(s, { log: () => undefined, chunkSize: 10_000 }).addFactsMany(people.map((p) => ({ personId: p.id, facts: [] })), source);
          changed = { ...changed, previous: changed.previous + res.changed };
        } else {
          const items: ImportedPerson[] = people.map((p, i) => ({
            personId: p.id, uid: p.uid, name: '测*', created: true, facts: [{ fact: { kind: 'nucleic_acid', at: now - 3600, result: resultOf(i) }, sourceRef: `b:${i}` }],
          }));
          const res = await addImportedFacts(s, await rulesInForce(codes.rules, s.db, now), items, source, now);
          changed = { ...changed, bulk: changed.bulk + res.changed };
        }
        time[way] += performance.now() - t;
      });
    }
  }
  const n = ROWS * ROUNDS;
  if (changed.previous !== n || changed.bulk !== n) throw new Error(`expected ${n} codes each, got ${JSON.stringify(changed)}`);
  const red = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM codes WHERE color = 'red'");
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  const rate = (ms: number): number => Math.round(n / (ms / 1000));
  console.log(`  previous (facts INSERT + addFactsMany): ${n} people in ${(time.previous / 1000).toFixed(1)} s = ${rate(time.previous)} /s`);
  console.log(`  bulk (addImportedFacts): ${n} people in ${(time.bulk / 1000).toFixed(1)} s = ${rate(time.bulk)} /s; red codes ${red.rows[0]!.n} (both ways)`);
  console.log(`  ceiling (persons, facts, codes, history, outbox by set SQL alone, persons included): ${n} people in ${(time.ceiling / 1000).toFixed(1)} s = ${rate(time.ceiling)} /s → 1M people ≥ ${(1e6 / rate(time.ceiling)).toFixed(0)} s on this database now`);
  console.log(`bulk-facts: ${(time.previous / time.bulk).toFixed(2)}× the previous path's rate (same run, ${n} fresh people each); ceiling ${(time.bulk / time.ceiling).toFixed(2)}× bulk's rate`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
