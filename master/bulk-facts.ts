import { validateFacts, type Fact, type LastKey } from '../core/facts.js';
import type { Expr, RuleSet } from '../core/rule-set.js';
import type { CompiledRules, RuleCache } from './active-rules.js';
import { loadPeople, writeDecisions, type ChunkRow, type Planned } from './code-batch.js';
import { decide, type Decision, type FactRow } from './code-decision.js';
import { MasterError } from './errors.js';
import type { SqlClient } from './sql-client.js';
import type { MasterStore } from './store.js';

/**
 * The bulk path for department imports (issue 10): the facts of a chunk of
 * people and their re-evaluation, in the CALLER's transaction, set-based —
 * one fact INSERT per 5000 rows, one load of the people whose code can
 * change, one decision write (code-batch.ts writeDecisions: codes, history
 * and outbox deltas in a few statements). Same outcome per person as
 * CodeService.addFactsMany; what it saves:
 *
 * - People the caller has just inserted (`created`) have no code, override
 *   or earlier facts: their decision is computed from the facts given here,
 *   with no read back (a fresh person still gets its first code and delta,
 *   as with addFactsMany, so an imported person is on every edge).
 * - People who existed are evaluated only when a new fact can change their
 *   code: rules read facts solely through `last.<key>` (core/rule-set.ts),
 *   so a fact dated at or before `now` whose key no rule of the version in
 *   force reads changes no verdict and no re-evaluation time — skipped.
 *   Anything else is loaded (locked, ascending id) and evaluated. Under the
 *   shipped rules every key is read (a negative test clears 入川即检), so
 *   this skips nothing there; it pays off for rule sets that ignore a kind.
 *
 * Facts go over as ONE json parameter per statement (json_to_recordset), the
 * pattern of code-batch.ts: no parameter limit, the same text on PostgreSQL
 * and PGlite.
 */
export interface ImportedPerson {
  readonly personId: number;
  readonly uid: Buffer;
  /** masked display name as stored (persons.name_masked) */
  readonly name: string;
  /** inserted by the caller in this same transaction: no code, override or earlier facts */
  readonly created: boolean;
  /** core/facts.ts shapes (validated here), each with its lineage */
  readonly facts: readonly { readonly fact: Fact; readonly sourceRef: string | null }[];
}

export interface ImportedFactsResult {
  readonly inserted: number;
  /** people whose code was evaluated */
  readonly evaluated: number;
  /** existing people skipped because no new fact can change their code */
  readonly skipped: number;
  /** codes changed (outbox deltas written) */
  readonly changed: number;
  /** with lazyFirstCode: people without a code left without one (their facts decide the code of someone never reported) */
  readonly deferred?: number;
}

export interface ImportedFactsOptions {
  /**
   * A person who has NO code yet and whose facts decide exactly the code of a
   * person no department has reported (the rule set's verdict on no facts:
   * same colour, reason, validity, no notice, no re-evaluation time) gets no
   * code here — registration (领码, CodeService.register) evaluates all
   * stored facts at first login and issues that same code then. Anything
   * else (a positive, a notice, a time-bound verdict) gets its code and
   * outbox delta now. Default false: every person leaves with a code.
   */
  readonly lazyFirstCode?: boolean;
}

/** True when `d` is the code a person with no facts gets at `now` (what registration would issue). */
function isNoFactsCode(d: Decision, base: Decision): boolean {
  return !d.overridden && d.color === base.color && d.reason === base.reason && d.until === base.until &&
    d.notices.length === 0 && base.notices.length === 0 && d.nextEvalAt === null && base.nextEvalAt === null;
}

/** Rows per statement: keeps one json parameter around a megabyte. */
const FACT_ROWS = 5000;

/** The `last.<key>` a fact feeds (core/facts.ts deriveView), or null when it feeds none. */
export function lastKeyOf(f: Pick<Fact, 'kind' | 'level' | 'result'>): LastKey | null {
  switch (f.kind) {
    case 'confirmed': case 'suspected': case 'close_contact': case 'secondary_contact': case 'entry':
      return f.kind;
    case 'risk_area_visit':
      return f.level === 'high' ? 'risk_high' : f.level === 'medium' ? 'risk_medium' : f.level === 'low' ? 'risk_low' : null;
    case 'nucleic_acid':
      return f.result === 'negative' ? 'test_negative' : f.result === 'positive' ? 'test_positive' : null;
    default:
      return null;
  }
}

const readKeys = new WeakMap<RuleSet, ReadonlySet<string>>();

/** The `last.<key>` names a rule set reads anywhere (when, until, notice until); cached per rule set object. */
export function lastKeysRead(rs: RuleSet): ReadonlySet<string> {
  let keys = readKeys.get(rs);
  if (keys !== undefined) return keys;
  const out = new Set<string>();
  const walk = (e: Expr | readonly Expr[] | string | undefined, depth: number): void => {
    if (depth > 64 || e === undefined || e === null || typeof e !== 'object') return; // validated sets nest ≤ 32
    if (Array.isArray(e)) {
      for (const x of e as readonly Expr[]) walk(x, depth + 1);
      return;
    }
    for (const [op, arg] of Object.entries(e as Record<string, Expr | readonly Expr[] | string>)) {
      if (op === 'var') {
        if (typeof arg === 'string' && arg.startsWith('last.')) out.add(arg.slice(5));
      } else {
        walk(arg, depth + 1);
      }
    }
  };
  for (const r of rs.rules) {
    walk(r.when, 0);
    walk(r.until, 0);
    walk(r.notice?.until, 0);
  }
  keys = out;
  readKeys.set(rs, keys);
  return keys;
}

/**
 * True when a new fact may change a verdict or a re-evaluation time: it is
 * dated after `now` (the view takes it in at its time: a candidate for
 * nextReevaluationAt), or a rule reads its key.
 */
export function factMayMatter(f: Pick<Fact, 'kind' | 'at' | 'level' | 'result'>, read: ReadonlySet<string>, now: number): boolean {
  if (f.at > now) return true;
  const key = lastKeyOf(f);
  return key !== null && read.has(key);
}

/** The rule set in force at `now`, read inside `db` (the caller's transaction). */
export async function rulesInForce(cache: RuleCache, db: SqlClient, now: number): Promise<CompiledRules> {
  const r = await cache.activeAt(db, now);
  if (r === null) throw new MasterError('MASTER_ERR_RULE_STATE', 'no rule set is in force');
  return r;
}

/**
 * Stores the facts and re-evaluates who can change, in `s`'s transaction
 * (`s` bound to it: store.transaction). `now` unix seconds; `actor` is
 * recorded in code_history. Lock order as everywhere in the master (code-batch.ts):
 * person rows ascending, then outbox_counter last (writeDecisions).
 */
export async function addImportedFacts(
  s: MasterStore, rules: CompiledRules, people: readonly ImportedPerson[], src: { readonly source: string; readonly actor: string }, now: number,
  opts: ImportedFactsOptions = {},
): Promise<ImportedFactsResult> {
  const tx = s.db;
  if (!tx.inTransaction) throw new MasterError('MASTER_ERR_TX_MISUSE', 'addImportedFacts needs a transaction client');
  if (typeof src.source !== 'string' || src.source === '' || src.source.length > 200) {
    throw new MasterError('MASTER_ERR_INVALID', 'source must be 1–200 characters', 'source');
  }
  const read = lastKeysRead(rules.ruleSet);
  const planned: Planned[] = [];
  const toLoad: number[] = [];
  const existing: number[] = [];
  const seen = new Set<number>();
  // Checks first, writes after: a bad item changes nothing (the caller's transaction rolls back anyway).
  const checked = people.map((p, i) => {
    if (typeof p !== 'object' || p === null || !Number.isSafeInteger(p.personId) || p.personId < 1) {
      throw new MasterError('MASTER_ERR_INVALID', 'must be a positive integer', `people[${i}].personId`);
    }
    // one statement cannot write a person's code twice: the caller merges a person's rows first
    if (seen.has(p.personId)) throw new MasterError('MASTER_ERR_INVALID', `person ${p.personId} given twice`, `people[${i}].personId`);
    seen.add(p.personId);
    if (!p.created) existing.push(p.personId);
    return validateFacts({ now, facts: p.facts.map((x) => x.fact) }).facts;
  });
  for (let off = 0; off < existing.length; off += FACT_ROWS) {
    const part = existing.slice(off, off + FACT_ROWS);
    const found = await tx.query<{ id: number }>('SELECT id FROM persons WHERE id IN (SELECT value::bigint FROM json_array_elements_text($1::json))', [JSON.stringify(part)]);
    if (found.rows.length !== part.length) {
      const have = new Set(found.rows.map((r) => Number(r.id)));
      throw new MasterError('MASTER_ERR_PERSON_NOT_FOUND', `person ${part.find((id) => !have.has(id))}`);
    }
  }
  let batch: Record<string, unknown>[] = [];
  let inserted = 0;
  let skipped = 0;
  let deferred = 0;
  const base = opts.lazyFirstCode === true ? decide(rules, [], null, now) : null;
  /** the decision, or null when lazyFirstCode leaves this code-less person without one */
  const plan = (row: ChunkRow): Planned | null => {
    const decision = decide(rules, row.facts, row.override, now);
    if (base !== null && row.color === null && isNoFactsCode(decision, base)) {
      deferred++;
      return null;
    }
    return { row, decision };
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const r = await tx.query(
      `INSERT INTO facts (person_id, kind, at, source, source_ref, level, result, region, venue)
       SELECT x.p, x.k, to_timestamp(x.t), x.s, x.sr, x.l, x.r, x.rg, x.v
         FROM json_to_recordset($1::json) AS x(p bigint, k text, t bigint, s text, sr text, l text, r text, rg text, v text)`,
      [JSON.stringify(batch)],
    );
    inserted += r.rowCount;
    batch = [];
  };
  for (let n = 0; n < people.length; n++) {
    const p = people[n]!;
    const facts = checked[n]!;
    let matters = false;
    const rows: FactRow[] = [];
    for (let i = 0; i < facts.length; i++) {
      const f = facts[i]!;
      batch.push({ p: p.personId, k: f.kind, t: f.at, s: f.source ?? src.source, sr: p.facts[i]!.sourceRef, l: f.level ?? null,
        r: f.result ?? null, rg: f.region ?? null, v: f.venue ?? null });
      if (batch.length >= FACT_ROWS) await flush();
      // id 0: fact ids only matter against an override's watermark, and a new person has no override
      rows.push({ id: 0, kind: f.kind, at: f.at, level: f.level ?? null, result: f.result ?? null });
      if (!matters && factMayMatter(f, read, now)) matters = true;
    }
    if (p.created) {
      const row: ChunkRow = {
        personId: p.personId, uid: p.uid, name: p.name, color: null, reason: null, since: null, until: null, notices: null,
        seq: null, ruleVersion: null, nextEvalAt: null, override: null, facts: rows,
      };
      const pl = plan(row);
      if (pl !== null) planned.push(pl);
    } else if (matters) {
      toLoad.push(p.personId);
    } else {
      skipped++;
    }
  }
  await flush();
  toLoad.sort((a, b) => a - b);
  for (let off = 0; off < toLoad.length; off += FACT_ROWS) {
    const loaded = await loadPeople(tx, toLoad.slice(off, off + FACT_ROWS), true);
    for (const row of loaded) {
      const pl = plan(row);
      if (pl !== null) planned.push(pl);
    }
  }
  const w = planned.length === 0 ? { changed: 0 } : await writeDecisions(s, planned, rules.version, src.actor, now);
  return { inserted, evaluated: planned.length + deferred, skipped, changed: w.changed, ...(base === null ? {} : { deferred }) };
}
