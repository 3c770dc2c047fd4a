import type { Color, Notice } from '../core/code-record.js';
import { MasterError } from './errors.js';
import { plannedRecord, type CurrentCode, type Decision, type FactRow, type OverrideRow } from './code-decision.js';
import type { SqlClient } from './sql-client.js';
import type { DeltaInput, MasterStore } from './store.js';

/**
 * Bulk data access for code evaluation: load a chunk of people with their
 * current code, override and facts in two statements, and write the changed
 * codes of a whole chunk in four (outbox, codes, history, schedule) — what
 * lets a rule publish move a million codes in seconds rather than in a
 * million round trips. Everything a chunk writes goes into the caller's
 * transaction, so a chunk commits whole or not at all.
 *
 * Rows travel as ONE json parameter per statement (json_to_recordset), the
 * pattern MasterStore.insertScans uses: no 65535-parameter limit, and the
 * same text on PostgreSQL and PGlite (sql-client.ts: only strings bind alike).
 * json rather than jsonb: the text is read once, never stored, and json
 * skips jsonb's conversion.
 *
 * Lock order, the same everywhere in the master: rule_state (sweeps and rule
 * changes only) → persons rows (ascending id in a chunk) → outbox_counter
 * (taken last, inside appendOutboxBatch). No path takes them in another order,
 * so there are no deadlocks.
 */
export interface ChunkRow extends CurrentCode {
  readonly personId: number;
  readonly uid: Buffer;
  /** masked display name */
  readonly name: string;
  readonly seq: number | null;
  readonly ruleVersion: string | null;
  readonly nextEvalAt: number | null;
  readonly override: OverrideRow | null;
  readonly facts: FactRow[];
}

/**
 * A chunk comes back as ONE json text (json_agg) parsed by one JSON.parse:
 * measured on PGlite, 100k people, 2× faster than 100k result rows whose
 * every field goes through the driver's parsers. Times are epoch seconds
 * (bigint → JSON number, exact below 2^53), the uid hex.
 */
interface RawRow {
  person_id: number;
  uid: string;
  name: string;
  color: Color | null;
  reason: string | null;
  since: number | null;
  until: number | null;
  notices: Notice[] | null;
  seq: number | null;
  rule_version: string | null;
  next_eval_at: number | null;
  o_color: Color | null;
  o_reason: string | null;
  o_until: number | null;
  o_mark: number | null;
  o_actor: string | null;
  o_set_at: number | null;
}

const COLUMNS = `p.id AS person_id, encode(p.uid, 'hex') AS uid, p.name_masked AS name, c.color, c.reason,
  extract(epoch FROM c.since)::bigint AS since, extract(epoch FROM c.until)::bigint AS until, c.notices, c.seq,
  c.rule_version, extract(epoch FROM c.next_eval_at)::bigint AS next_eval_at,
  o.color AS o_color, o.reason AS o_reason, extract(epoch FROM o.until)::bigint AS o_until, o.fact_mark AS o_mark,
  o.actor AS o_actor, extract(epoch FROM o.set_at)::bigint AS o_set_at`;

/** ids as one json array parameter → a set of bigints. */
const IDS = '(SELECT value::bigint FROM json_array_elements_text($1::json))';

function toChunkRow(r: RawRow): ChunkRow {
  return {
    personId: r.person_id,
    uid: Buffer.from(r.uid, 'hex'),
    name: r.name,
    color: r.color,
    reason: r.reason,
    since: r.since,
    until: r.until,
    notices: r.notices,
    seq: r.seq,
    ruleVersion: r.rule_version,
    nextEvalAt: r.next_eval_at,
    override: r.o_color === null
      ? null
      : { color: r.o_color, reason: r.o_reason!, until: r.o_until, factMark: r.o_mark!, actor: r.o_actor!, setAt: r.o_set_at! },
    facts: [],
  };
}

/** Runs `SELECT json_agg(…)::text AS j …` and parses it ([] for no rows). */
async function jsonRows<T>(db: SqlClient, sql: string, params: readonly unknown[]): Promise<T[]> {
  const r = await db.query<{ j: string | null }>(sql, params);
  const j = r.rows[0]?.j ?? null;
  return j === null ? [] : (JSON.parse(j) as T[]);
}

/** [person_id, id, kind, at, level, result] */
type FactTuple = [number, number, FactRow['kind'], number, FactRow['level'], FactRow['result']];

const FACT_TUPLE = 'json_build_array(person_id, id, kind, extract(epoch FROM at)::bigint, level, result)';

/**
 * Attaches each person's facts in one statement: by id range for a keyset
 * page (an index range scan, 3× faster than an id list on PGlite), by id
 * list otherwise.
 */
async function attachFacts(db: SqlClient, rows: ChunkRow[], range: boolean): Promise<ChunkRow[]> {
  if (rows.length === 0) return rows;
  const byId = new Map<number, ChunkRow>();
  for (const r of rows) byId.set(r.personId, r);
  const facts = range
    ? await jsonRows<FactTuple>(
      db,
      `SELECT json_agg(${FACT_TUPLE})::text AS j FROM facts WHERE person_id >= $1 AND person_id <= $2`,
      [rows[0]!.personId, rows[rows.length - 1]!.personId],
    )
    : await jsonRows<FactTuple>(
      db,
      `SELECT json_agg(${FACT_TUPLE})::text AS j FROM facts WHERE person_id IN ${IDS}`,
      [JSON.stringify(rows.map((r) => r.personId))],
    );
  for (const f of facts) {
    byId.get(f[0])?.facts.push({ id: f[1], kind: f[2], at: f[3], level: f[4], result: f[5] });
  }
  return rows;
}

/**
 * Up to `limit` people WITH a code whose id is > `afterId`, ascending: the
 * keyset pagination of sweeps and dry runs (no OFFSET: every page costs the
 * same at person 1M as at person 1). `lock` takes their person rows FOR UPDATE.
 * `p.id > $1` repeats the bound for the persons side of the merge join:
 * without it PostgreSQL 15 walks persons_pkey from the first row on every
 * page (EXPLAIN ANALYZE at 1M people, page at 500k: 237 ms → 9 ms).
 */
export async function loadCodesAfter(db: SqlClient, afterId: number, limit: number, lock: boolean): Promise<ChunkRow[]> {
  const raw = await jsonRows<RawRow>(
    db,
    `SELECT json_agg(t ORDER BY t.person_id)::text AS j FROM (
       SELECT ${COLUMNS} FROM codes c JOIN persons p ON p.id = c.person_id LEFT JOIN code_overrides o ON o.person_id = c.person_id
        WHERE c.person_id > $1 AND p.id > $1 ORDER BY c.person_id LIMIT $2${lock ? ' FOR UPDATE OF p' : ''}) t`,
    [afterId, limit],
  );
  return attachFacts(db, raw.map(toChunkRow), true);
}

/**
 * People whose code is due (next_eval_at ≤ now), earliest first, their
 * person AND code rows locked FOR UPDATE SKIP LOCKED: two schedulers (or a
 * scheduler and a request) never take the same person, neither waits for
 * the other.
 *
 * Why the code row is locked too: under READ COMMITTED a row that another
 * scheduler unlocks (commits) between our scan and our lock is re-checked
 * against its NEWEST version only for the tables named in FOR UPDATE OF
 * (PostgreSQL docs, "The Locking Clause" / EvalPlanQual). Locking only `p`
 * re-checked `c.next_eval_at <= now` on the OLD code row, so a person the
 * other scheduler had just re-evaluated was taken and written again (seen:
 * 45 scheduler history rows for 40 people in the cluster test).
 */
export async function lockDue(db: SqlClient, now: number, limit: number): Promise<ChunkRow[]> {
  const raw = await jsonRows<RawRow>(
    db,
    `SELECT json_agg(t ORDER BY t.person_id)::text AS j FROM (
       SELECT ${COLUMNS} FROM codes c JOIN persons p ON p.id = c.person_id LEFT JOIN code_overrides o ON o.person_id = c.person_id
        WHERE c.next_eval_at <= $1 ORDER BY c.next_eval_at, c.person_id LIMIT $2 FOR UPDATE OF p, c SKIP LOCKED) t`,
    [new Date(now * 1000), limit],
  );
  return attachFacts(db, raw.map(toChunkRow), false);
}

/**
 * The given people (with or without a code), ascending id; `lock` takes their
 * rows FOR UPDATE. Unknown ids are simply absent from the result.
 */
export async function loadPeople(db: SqlClient, ids: readonly number[], lock: boolean): Promise<ChunkRow[]> {
  if (ids.length === 0) return [];
  const raw = await jsonRows<RawRow>(
    db,
    `SELECT json_agg(t ORDER BY t.person_id)::text AS j FROM (
       SELECT ${COLUMNS} FROM persons p LEFT JOIN codes c ON c.person_id = p.id LEFT JOIN code_overrides o ON o.person_id = p.id
        WHERE p.id IN ${IDS} ORDER BY p.id${lock ? ' FOR UPDATE OF p' : ''}) t`,
    [JSON.stringify(ids)],
  );
  return attachFacts(db, raw.map(toChunkRow), false);
}

export interface Transition {
  readonly from: Color | null;
  readonly to: Color;
  readonly reason: string;
  readonly count: number;
}

/** Counts changes by (from colour → to colour, reason): what a dry run and a publish report. */
export class TransitionCounter {
  private readonly counts = new Map<string, { from: Color | null; to: Color; reason: string; count: number }>();
  total = 0;

  add(from: Color | null, to: Color, reason: string, n = 1): void {
    const key = `${from ?? ''}>${to}>${reason}`;
    const e = this.counts.get(key);
    if (e === undefined) this.counts.set(key, { from, to, reason, count: n });
    else e.count += n;
    this.total += n;
  }

  merge(other: TransitionCounter): void {
    for (const t of other.counts.values()) this.add(t.from, t.to, t.reason, t.count);
  }

  /** Most frequent first; ties ordered by from, to, reason so results compare with toEqual. */
  list(): Transition[] {
    return [...this.counts.values()]
      .map((e) => ({ ...e }))
      .sort((a, b) => b.count - a.count || (a.from ?? '').localeCompare(b.from ?? '') || a.to.localeCompare(b.to) ||
        a.reason.localeCompare(b.reason));
  }
}

export interface Planned {
  readonly row: ChunkRow;
  readonly decision: Decision;
}

export interface WriteResult {
  /** codes that changed (history row + delta each) */
  readonly changed: number;
  /** codes whose only change was schedule or rule version */
  readonly touched: number;
  readonly transitions: TransitionCounter;
}

/** Rows per write statement: keeps one json parameter around a megabyte. */
const WRITE_CHUNK = 5000;

function checkSeconds(v: number | null, personId: number, field: string): void {
  if (v !== null && !(Number.isSafeInteger(v) && v >= 0 && v <= 0xffff_ffff)) {
    throw new MasterError('MASTER_ERR_INVALID', `person ${personId}: ${v} is not unix seconds (check the rule set)`, field);
  }
}

/**
 * Writes the decisions of one chunk in the caller's transaction (`store`
 * must be bound to it: store.transaction). Same outcome per person as
 * MasterStore.setCode — codes row, code_history row and outbox delta for a
 * change; only next_eval_at / rule_version for an unchanged code — in a few
 * statements per 5000 people. Lock the people first (loadCodesAfter /
 * loadPeople with lock, or lockDue).
 */
export async function writeDecisions(
  store: MasterStore, items: readonly Planned[], ruleVersion: string, actor: string, now: number,
): Promise<WriteResult> {
  const tx = store.db;
  const transitions = new TransitionCounter();
  const deltas: DeltaInput[] = [];
  type Up = { p: number; c: Color; r: string; s: number; u: number | null; n: readonly Notice[]; e: number | null; f: Color | null; q: number };
  const changed: Up[] = [];
  const touches: { p: number; e: number | null }[] = [];
  for (const { row, decision: d } of items) {
    checkSeconds(d.until, row.personId, 'until');
    for (const n of d.notices) checkSeconds(n.until, row.personId, 'notices.until');
    const { record, changed: differs } = plannedRecord(row, row.name, d, now);
    if (differs) {
      deltas.push({ type: 'code', uid: row.uid, record });
      changed.push({ p: row.personId, c: d.color, r: d.reason, s: record.since, u: d.until, n: d.notices, e: d.nextEvalAt, f: row.color, q: 0 });
      transitions.add(row.color, d.color, d.reason);
    } else if (row.ruleVersion !== ruleVersion || row.nextEvalAt !== d.nextEvalAt) {
      touches.push({ p: row.personId, e: d.nextEvalAt });
    }
  }
  if (changed.length > 0) {
    const seqs = await store.appendOutboxBulk(tx, deltas);
    for (let i = 0; i < changed.length; i++) changed[i]!.q = seqs[i]!;
    // One statement per 5000 changes: the json is parsed once (MATERIALIZED)
    // and feeds the codes UPDATE and the history INSERT. UPDATE … FROM rather
    // than INSERT … ON CONFLICT: no speculative insertion (1.6× faster on
    // PGlite); first codes (registration, bulk facts for new people) are
    // inserted by the second CTE.
    for (let off = 0; off < changed.length; off += WRITE_CHUNK) {
      await tx.query(
        `WITH x AS MATERIALIZED (
           SELECT * FROM json_to_recordset($1::json) AS x(p bigint, f text, c text, r text, s bigint, u bigint, n jsonb, q bigint, e bigint)
         ), upd AS (
           UPDATE codes SET color = x.c, reason = x.r, since = to_timestamp(x.s), until = to_timestamp(x.u), notices = x.n,
             rule_version = $2, seq = x.q, next_eval_at = to_timestamp(x.e), updated_at = now()
             FROM x WHERE x.f IS NOT NULL AND codes.person_id = x.p
         ), ins AS (
           INSERT INTO codes (person_id, color, reason, since, until, notices, rule_version, seq, next_eval_at)
           SELECT x.p, x.c, x.r, to_timestamp(x.s), to_timestamp(x.u), x.n, $2, x.q, to_timestamp(x.e) FROM x WHERE x.f IS NULL
         )
         INSERT INTO code_history (person_id, prev_color, color, reason, since, until, notices, rule_version, actor, seq)
         SELECT x.p, x.f, x.c, x.r, to_timestamp(x.s), to_timestamp(x.u), x.n, $2, $3, x.q FROM x`,
        [JSON.stringify(changed.slice(off, off + WRITE_CHUNK)), ruleVersion, actor],
      );
    }
  }
  for (let off = 0; off < touches.length; off += WRITE_CHUNK) {
    await tx.query(
      `UPDATE codes SET rule_version = $2, next_eval_at = to_timestamp(x.e), updated_at = now()
         FROM json_to_recordset($1::json) AS x(p bigint, e bigint) WHERE codes.person_id = x.p`,
      [JSON.stringify(touches.slice(off, off + WRITE_CHUNK)), ruleVersion],
    );
  }
  return { changed: changed.length, touched: touches.length, transitions };
}
