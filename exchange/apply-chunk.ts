import { createHash } from 'node:crypto';
import type { Fact, FactKind } from '../core/facts.js';
import type { RuleCache } from '../master/active-rules.js';
import { addImportedFacts, rulesInForce, type ImportedPerson } from '../master/bulk-facts.js';
import { PiiCrypto, type Secrets } from '../master/pii-crypto.js';
import type { SqlClient } from '../master/sql-client.js';
import type { MasterStore } from '../master/store.js';
import type { DatasetDef } from './datasets.js';
import type { PersonPlan, PreparedChunk } from './prepare-chunk.js';
import { rowError, type CheckedRow, type RowError } from './row-check.js';

/**
 * Writes one chunk of a batch in ONE transaction: duplicate keys, persons,
 * what the accepted rows become (facts through CodeService.addFactsMany —
 * so codes change by the rules and go out through the outbox —, travel
 * segments, carrier stays, vaccinations), the rejected rows with their
 * errors, and the batch's progress. A crash before the commit leaves
 * nothing of the chunk; after it, the batch resumes at the next chunk.
 */
export interface ChunkRow {
  readonly row: number;
  readonly cells: readonly string[];
  /** checked values, or the row's errors */
  readonly result: CheckedRow | RowError[];
}

export interface ChunkResult {
  readonly accepted: number;
  readonly rejected: number;
  /** codes changed (outbox rows written) */
  readonly changed: number;
}

const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));

/**
 * Bulk form of MasterStore.upsertPerson (same columns, same merge rules): uid hex → person id, and whether this
 * statement inserted it. Rows go in ascending uid (ORDER BY): two imports touching the same people lock them in
 * the same order, so on PostgreSQL they wait for each other instead of deadlocking (PGlite runs one transaction at a time).
 */
async function upsertPersons(tx: SqlClient, plans: Map<string, PersonPlan>): Promise<Map<string, { id: number; created: boolean }>> {
  const ids = new Map<string, { id: number; created: boolean }>();
  if (plans.size === 0) return ids;
  const rows = [...plans.values()].map((p) => ({
    u: p.uid.toString('hex'), ct: p.certType, ch: hex(p.certHash), ce: hex(p.certEnc), ph: hex(p.phoneHash), pe: hex(p.phoneEnc),
    ne: hex(p.nameEnc), nm: p.nameMasked, rg: p.region,
  }));
  // json, not jsonb: read once, never stored (code-batch.ts); (xmax = 0) is true for a row this statement inserted
  // (store.ts upsertPerson): such a person has no code, override or earlier facts, so bulk-facts evaluates it without a read back.
  const r = await tx.query<{ id: number; u: string; created: boolean }>(
    `INSERT INTO persons (uid, cert_type, cert_hash, cert_enc, phone_hash, phone_enc, name_enc, name_masked, region)
     SELECT decode(x.u, 'hex'), x.ct, decode(x.ch, 'hex'), decode(x.ce, 'hex'), decode(x.ph, 'hex'), decode(x.pe, 'hex'),
            decode(x.ne, 'hex'), COALESCE(x.nm, ''), x.rg
       FROM json_to_recordset($1::json) AS x(u text, ct text, ch text, ce text, ph text, pe text, ne text, nm text, rg text)
      ORDER BY x.u COLLATE "C"
     ON CONFLICT (uid) DO UPDATE SET
       phone_hash  = COALESCE(EXCLUDED.phone_hash, persons.phone_hash),
       phone_enc   = COALESCE(EXCLUDED.phone_enc, persons.phone_enc),
       name_enc    = COALESCE(EXCLUDED.name_enc, persons.name_enc),
       name_masked = CASE WHEN EXCLUDED.name_enc IS NULL THEN persons.name_masked ELSE EXCLUDED.name_masked END,
       region      = COALESCE(EXCLUDED.region, persons.region),
       updated_at  = now()
     RETURNING id, encode(uid, 'hex') AS u, (xmax = 0) AS created`,
    [JSON.stringify(rows)],
  );
  for (const x of r.rows) ids.set(x.u, { id: Number(x.id), created: x.created === true || (x.created as unknown) === 't' });
  return ids;
}

export interface ChunkContext {
  readonly store: MasterStore;
  /** the master's compiled rule sets (CodeService.rules): the version in force is read inside each chunk's transaction */
  readonly rules: RuleCache;
  readonly secrets: Secrets;
  readonly crypto: PiiCrypto;
  readonly batchId: string;
  readonly def: DatasetDef;
  readonly nowMs: number;
  readonly log: (line: string) => void;
  /** config importFirstCode 'lazy': see master/bulk-facts.ts ImportedFactsOptions */
  readonly lazyFirstCode: boolean;
}

/** The AAD of a stored reject: binds the ciphertext to its batch and row. */
function rejectAad(batchId: string, row: number): Buffer {
  return createHash('sha256').update(`reject:${batchId}:${row}`).digest().subarray(0, 16);
}

export function encryptReject(crypto: PiiCrypto, batchId: string, row: number, cells: readonly string[]): Buffer {
  return crypto.encrypt('name', rejectAad(batchId, row), JSON.stringify(cells));
}

export function decryptReject(crypto: PiiCrypto, batchId: string, row: number, data: Buffer): string[] {
  return JSON.parse(crypto.decrypt('name', rejectAad(batchId, row), data)) as string[];
}

/** EXCHANGE_PROFILE=1: time per stage, printed by the bench (development aid, no personal data). */
export const PROFILE = new Map<string, number>();
function prof(stage: string, since: number): void {
  if (process.env.EXCHANGE_PROFILE === '1') PROFILE.set(stage, (PROFILE.get(stage) ?? 0) + performance.now() - since);
}

/**
 * Applies a chunk; `nextRow` = the record number after its last row;
 * `prepared` = prepareChunk of its checked rows (persons, duplicate keys).
 */
export async function applyChunk(c: ChunkContext, rows: readonly ChunkRow[], nextRow: number, prepared: PreparedChunk): Promise<ChunkResult> {
  const { def, batchId } = c;
  const source = `import:${def.id}`;
  const errors: RowError[] = [];
  const rejectedRows = new Set<number>();
  const cellsOf = new Map<number, readonly string[]>();
  const candidates: CheckedRow[] = [];
  for (const r of rows) {
    cellsOf.set(r.row, r.cells);
    if (Array.isArray(r.result)) {
      errors.push(...r.result);
      rejectedRows.add(r.row);
      continue;
    }
    // The master's identity rules (person key, name masking) have the last word: a row they refuse is rejected, not the batch.
    const field = prepared.refused.get(r.row);
    if (field !== undefined) {
      errors.push(rowError(r.row, field, field === 'name' ? 'EXC_ERR_NAME' : field === 'phone' ? 'EXC_ERR_PHONE' : 'EXC_ERR_ID_INVALID'));
      rejectedRows.add(r.row);
      continue;
    }
    candidates.push(r.result);
  }
  const plans = prepared.plans;

  return c.store.transaction(async (s) => {
    const tx = s.db;
    const t0 = performance.now();
    // Duplicates: keyed hashes of the key fields, first within the chunk, then in the table
    // (its primary key: the check across chunks and batches holds no rows in memory).
    const keyed = new Map<string, CheckedRow>();
    for (const r of candidates) {
      const h = prepared.keys.get(r.row)!;
      if (keyed.has(h)) {
        errors.push(rowError(r.row, def.key[0]!, 'EXC_ERR_DUP_IN_FILE', `同第 ${keyed.get(h)!.row} 行`));
        rejectedRows.add(r.row);
      } else {
        keyed.set(h, r);
      }
    }
    let accepted: CheckedRow[] = [];
    if (keyed.size > 0) {
      // json (not jsonb: read once) and no RETURNING: a chunk with no duplicate inserts every key, which the row
      // count says; only otherwise are the keys read back. Same-run micro (PGlite, 8 × 10 000 keys each, load ≈ 9):
      // jsonb + RETURNING 4 370 ms, json + RETURNING 3 209 ms, json alone 2 656 ms.
      const ins = await tx.query(
        `INSERT INTO exchange_row_keys (dataset, key_hash, batch_id, row)
         SELECT $1, decode(x.h, 'hex'), $2, x.r FROM json_to_recordset($3::json) AS x(h text, r int)
         ON CONFLICT (dataset, key_hash) DO NOTHING`,
        [def.id, batchId, JSON.stringify([...keyed].map(([h, r]) => ({ h, r: r.row })))],
      );
      if (ins.rowCount < keyed.size) {
        // A key held by another row (an earlier batch, or an earlier chunk of this one) is a duplicate; a key
        // held by this very row was inserted just now. (A resumed batch never repeats a committed row: next_row
        // commits with its chunk.)
        const prior = await tx.query<{ h: string; batch_id: string; row: number }>(
          `SELECT encode(key_hash, 'hex') AS h, batch_id, row FROM exchange_row_keys
            WHERE dataset = $1 AND key_hash IN (SELECT decode(value, 'hex') FROM json_array_elements_text($2::json))`,
          [def.id, JSON.stringify([...keyed.keys()])],
        );
        for (const p of prior.rows) {
          const r = keyed.get(p.h)!;
          if (p.batch_id === batchId && p.row === r.row) continue;
          errors.push(p.batch_id === batchId
            ? rowError(r.row, def.key[0]!, 'EXC_ERR_DUP_IN_FILE', `同第 ${p.row} 行`)
            : rowError(r.row, def.key[0]!, 'EXC_ERR_DUP_EARLIER', `批次 ${p.batch_id} 第 ${p.row} 行`));
          rejectedRows.add(r.row);
        }
      }
      accepted = [...keyed.values()].filter((r) => !rejectedRows.has(r.row));
    }

    prof('keys', t0);
    let changed = 0;
    if (accepted.length > 0) changed = await writeTarget(c, s, accepted, plans, source);

    // Rejects: errors, the encrypted rows, counts per rule.
    if (errors.length > 0) {
      await tx.query(
        `INSERT INTO exchange_errors (batch_id, row, field, code, message)
         SELECT $1, x.r, x.f, x.c, x.m FROM jsonb_to_recordset($2::jsonb) AS x(r int, f text, c text, m text)`,
        [batchId, JSON.stringify(errors.map((e) => ({ r: e.row, f: e.field, c: e.code, m: e.message })))],
      );
      const rej = [...rejectedRows].map((row) => ({ r: row, d: encryptReject(c.crypto, batchId, row, cellsOf.get(row)!).toString('hex') }));
      await tx.query(
        `INSERT INTO exchange_rejects (batch_id, row, data)
         SELECT $1, x.r, decode(x.d, 'hex') FROM jsonb_to_recordset($2::jsonb) AS x(r int, d text)
         ON CONFLICT DO NOTHING`,
        [batchId, JSON.stringify(rej)],
      );
      const perCode = new Map<string, Set<number>>();
      for (const e of errors) {
        const set = perCode.get(e.code) ?? new Set<number>();
        set.add(e.row);
        perCode.set(e.code, set);
      }
      await tx.query(
        `INSERT INTO exchange_rule_counts (batch_id, code, n)
         SELECT $1, x.c, x.n FROM jsonb_to_recordset($2::jsonb) AS x(c text, n int)
         ON CONFLICT (batch_id, code) DO UPDATE SET n = exchange_rule_counts.n + EXCLUDED.n`,
        [batchId, JSON.stringify([...perCode].map(([code, set]) => ({ c: code, n: set.size })))],
      );
    }
    prof('chunk-total', t0);
    await tx.query(
      `UPDATE exchange_batches SET rows_total = rows_total + $2, accepted = accepted + $3, rejected = rejected + $4, next_row = $5
        WHERE id = $1`,
      [batchId, rows.length, accepted.length, rejectedRows.size, nextRow],
    );
    return { accepted: accepted.length, rejected: rejectedRows.size, changed };
  });
}

function factsOf(def: DatasetDef, v: Record<string, string | number>): Fact[] {
  switch (def.target) {
    case 'nat-result':
      return [{ kind: 'nucleic_acid', at: v.sampledAt as number, result: v.result as 'negative' | 'positive' }];
    case 'risk-person':
      return [{ kind: v.category as FactKind, at: v.at as number, ...(typeof v.region === 'string' ? { region: v.region } : {}) }];
    case 'arrival':
      return [{ kind: 'entry', at: v.arriveAt as number, region: v.toRegion as string }];
    default:
      return [];
  }
}

function chinaInstant(seconds: number | undefined): string | null {
  return seconds === undefined ? null : new Date(seconds * 1000).toISOString();
}

/** What accepted rows become, by the dataset's target. Returns the number of codes changed. */
async function writeTarget(
  c: ChunkContext, s: MasterStore, rows: readonly CheckedRow[], planned: ReadonlyMap<number, PersonPlan>, source: string,
): Promise<number> {
  const tx = s.db;
  const { def, batchId } = c;
  if (def.target === 'carrier-stay') {
    const list = rows.map((r) => ({
      h: c.crypto.lookupHash(`P:${r.values.phone as string}`).toString('hex'), c: r.values.carrier, g: r.values.region, d: r.values.day,
      sr: `${batchId}:${r.row}`,
    }));
    await tx.query(
      `INSERT INTO carrier_stays (phone_hash, carrier, region, day, source, source_ref)
       SELECT decode(x.h, 'hex'), x.c, x.g, x.d::date, $1, x.sr FROM jsonb_to_recordset($2::jsonb) AS x(h text, c text, g text, d text, sr text)
       ON CONFLICT (phone_hash, region, day) DO NOTHING`,
      [source, JSON.stringify(list)],
    );
    return 0;
  }
  // Persons, merged by uid within the chunk (one statement cannot update a row twice).
  const plans = new Map<string, PersonPlan>();
  const uidOfRow = new Map<number, string>();
  for (const r of rows) {
    const p = planned.get(r.row)!;
    const u = p.uid.toString('hex');
    const prev = plans.get(u);
    plans.set(u, prev === undefined ? p : {
      ...prev,
      phoneHash: p.phoneHash ?? prev.phoneHash, phoneEnc: p.phoneEnc ?? prev.phoneEnc,
      nameEnc: p.nameEnc ?? prev.nameEnc, nameMasked: p.nameMasked ?? prev.nameMasked,
    });
    uidOfRow.set(r.row, u);
  }
  let t = performance.now();
  const ids = await upsertPersons(tx, plans);
  prof('persons', t);
  const personOf = (row: number): number => ids.get(uidOfRow.get(row)!)!.id;

  if (def.target === 'vaccination') {
    const list = rows.map((r) => ({
      p: personOf(r.row), t: r.values.vaccinatedAt, d: Number(r.values.dose), v: r.values.vaccine, s: r.values.site ?? null, sr: `${batchId}:${r.row}`,
    }));
    await tx.query(
      `INSERT INTO exchange_vaccinations (person_id, at, dose, vaccine, site, source, source_ref)
       SELECT x.p, to_timestamp(x.t), x.d, x.v, x.s, $1, x.sr FROM jsonb_to_recordset($2::jsonb) AS x(p bigint, t bigint, d int, v text, s text, sr text)`,
      [source, JSON.stringify(list)],
    );
    return 0;
  }
  if (def.target === 'arrival') {
    const list = rows.map((r) => {
      const v = r.values;
      return {
        p: personOf(r.row), m: v.mode, n: v.number, d: v.travelDate, s: v.seat ?? null, f: v.fromRegion ?? null, t: v.toRegion ?? null,
        da: chinaInstant(v.departAt as number | undefined), aa: chinaInstant(v.arriveAt as number | undefined), sr: `${batchId}:${r.row}`,
      };
    });
    await tx.query(
      `INSERT INTO travel_segments (person_id, mode, number, travel_date, seat, from_region, to_region, depart_at, arrive_at, source, source_ref)
       SELECT x.p, x.m, x.n, x.d::date, x.s, x.f, x.t, x.da::timestamptz, x.aa::timestamptz, $1, x.sr
         FROM jsonb_to_recordset($2::jsonb) AS x(p bigint, m text, n text, d text, s text, f text, t text, da text, aa text, sr text)`,
      [source, JSON.stringify(list)],
    );
  }
  // Facts for code assignment, each with its row's lineage ('<batch>:<row>'), per person; then
  // master/bulk-facts.ts stores and evaluates them set-based inside this transaction: codes, history
  // and outbox deltas (a positive result turns the person red on every edge).
  const byPerson = new Map<string, ImportedPerson & { facts: { fact: Fact; sourceRef: string }[] }>();
  for (const r of rows) {
    const facts = factsOf(def, r.values);
    if (facts.length === 0) continue;
    const u = uidOfRow.get(r.row)!;
    let p = byPerson.get(u);
    if (p === undefined) {
      const plan = plans.get(u)!;
      const { id, created } = ids.get(u)!;
      p = { personId: id, uid: plan.uid, name: plan.nameMasked ?? '', created, facts: [] };
      byPerson.set(u, p);
    }
    for (const fact of facts) p.facts.push({ fact, sourceRef: `${batchId}:${r.row}` });
  }
  if (byPerson.size === 0) return 0;
  t = performance.now();
  const now = Math.floor(c.nowMs / 1000);
  const rules = await rulesInForce(c.rules, tx, now);
  const res = await addImportedFacts(s, rules, [...byPerson.values()], { source, actor: source }, now, { lazyFirstCode: c.lazyFirstCode });
  prof('facts+codes', t);
  return res.changed;
}
