import { COLORS, type Color } from '../core/code-record.js';
import { validateFacts, type Fact } from '../core/facts.js';
import { ensureRulesPublished, RuleCache, type CompiledRules } from './active-rules.js';
import { loadCodesAfter, loadPeople, lockDue, TransitionCounter, writeDecisions, type ChunkRow, type Planned, type Transition } from './code-batch.js';
import { decide, overrideActive } from './code-decision.js';
import { MasterError } from './errors.js';
import type { SqlClient } from './sql-client.js';
import type { MasterStore, PersonInput } from './store.js';
import { bad, isSeconds } from './store-checks.js';
import type { FactSource, RegisterResult, CodeChangeResult, AddFactsResult, TranscodeInput, TranscodeOptions, OverrideInfo, StoredFact, HistoryEntry, EntryScanResult, EntryScanEvent, DueResult, SweepProgress, SweepResult, CodeServiceOptions, SchedulerOptions, SchedulerHandle, TickResult } from './code-service-types.js';
import { REASON_MAX, CONTROL, checkPersonId, checkActor, checkSource, checkUid, insertFacts, FactInsertRow, insertFactRows, lockPerson } from './code-service-checks.js';
export type { FactSource, RegisterResult, CodeChangeResult, AddFactsResult, TranscodeInput, TranscodeOptions, OverrideInfo, StoredFact, HistoryEntry, EntryScanResult, EntryScanEvent, DueResult, SweepProgress, SweepResult, CodeServiceOptions, SchedulerOptions, SchedulerHandle, TickResult } from './code-service-types.js';
/**
 * Codes from facts (DESIGN §2, §3): registration (领码), department facts,
 * manual changes (转码), entry scans (入川即检), and the scheduler that
 * re-evaluates codes whose `until` or entry-test deadline has passed.
 *
 * Every evaluation runs `decide` (code-decision.ts) with the rule version in
 * force (active-rules.ts), and every change goes out as an outbox delta in
 * the transaction that made it (MasterStore.setCode for one person,
 * code-batch.ts writeDecisions for a chunk).
 *
 * ## Concurrency
 * - One person: the person row is locked FOR UPDATE before facts are read,
 *   so an evaluation always sees every fact committed before it, and the
 *   active rule version is read after that lock (a publish that committed
 *   earlier is seen; one that commits later sweeps this person afterwards).
 * - Scheduler (`reevaluateDue`): FOR UPDATE SKIP LOCKED on the person rows
 *   of due codes. Two schedulers (two processes, or a scheduler and a rule
 *   sweep) never evaluate the same person at once and never wait for each
 *   other; a person evaluated twice in a row is harmless anyway (the second
 *   verdict equals the first: no history row, no delta).
 * - Rule sweeps (after publish, rollback, or when a staged version's
 *   activeFrom arrives): chunked, each chunk one transaction that locks the
 *   rule_state row and advances its cursor — resumable after a crash and
 *   cooperative between processes. In one process they are also serialised
 *   by an in-process queue so a publish reports every change it caused.
 * - Lock order everywhere: rule_state → persons rows (ascending id) →
 *   outbox_counter → audit_head. No deadlocks as long as nobody reverses it.
 */

export class CodeService {
  readonly store: MasterStore;
  /** compiled rule sets by version, shared with RuleVersions */
  readonly rules = new RuleCache();
  private readonly chunkSize: number;
  private readonly log: (message: string) => void;
  private bootstrap: Promise<void> | null = null;
  /** in-process queue of rule sweeps (see the header) */
  private sweepQueue: Promise<unknown> = Promise.resolve();

  /** `new CodeService(store, { chunkSize?, log? })` — time comes from store.nowMs(). */
  constructor(store: MasterStore, opts: CodeServiceOptions = {}) {
    this.store = store;
    const chunk = opts.chunkSize ?? 2000;
    if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > 50_000) throw bad('chunkSize', 'must be 1–50000');
    this.chunkSize = chunk;
    this.log = opts.log ?? ((m) => console.error(m));
  }

  private nowSec(): number {
    return Math.floor(this.store.nowMs() / 1000);
  }

  /** Publishes the built-in rule set on a fresh master (once per process; retried after a failure). */
  private ready(): Promise<void> {
    if (this.bootstrap === null) {
      this.bootstrap = ensureRulesPublished(this.store).then(
        () => undefined,
        (err: unknown) => {
          this.bootstrap = null;
          throw err;
        },
      );
    }
    return this.bootstrap;
  }

  /** `activeRules(now?) → CompiledRules` — the version in force (publishing the built-in set first on a fresh master). */
  async activeRules(now = this.nowSec()): Promise<CompiledRules> {
    await this.ready();
    return this.rulesAt(this.store.db, now);
  }

  /** Inside a transaction: no bootstrap here (it would use the outer client), every caller ran ready() first. */
  private async rulesAt(db: SqlClient, now: number): Promise<CompiledRules> {
    const r = await this.rules.activeAt(db, now);
    if (r === null) throw new MasterError('MASTER_ERR_RULE_STATE', 'no rule set is in force');
    return r;
  }

  // -------------------------------------------------------------------------
  // One person
  // -------------------------------------------------------------------------

  /**
   * Re-evaluates one person inside `s` (bound to a transaction, person row
   * already locked) and stores the result through MasterStore.setCode.
   */
  private async evaluateLocked(s: MasterStore, personId: number, actor: string, now: number): Promise<CodeChangeResult> {
    const tx = s.db;
    const rules = await this.rulesAt(tx, now);
    const [row] = await loadPeople(tx, [personId], false);
    if (row === undefined) throw new MasterError('MASTER_ERR_PERSON_NOT_FOUND', `person ${personId}`);
    const d = decide(rules, row.facts, row.override, now);
    if (row.override !== null && !overrideActive(row.override, now)) {
      await tx.query('DELETE FROM code_overrides WHERE person_id = $1', [personId]); // lapsed: the rules decide again
    }
    const r = await s.setCode(personId, d, rules.version, actor);
    return {
      personId, uid: row.uid, changed: r.changed, seq: r.seq, record: r.record, ruleVersion: rules.version,
      overridden: d.overridden, nextEvalAt: d.nextEvalAt,
    };
  }

  /**
   * `register(identity: {idType?, idNo?, phone?, name?, nameMasked?, region?})
   *   → {personId, uid, created, code}`
   *
   * First login (领码): registers the person (MasterStore.upsertPerson: by
   * certificate, else phone) and issues a code by the rules — green for
   * someone no department has reported — with its outbox delta. Idempotent:
   * a later login updates what is known of the person and returns the code
   * in force, `created: false`, no delta. Bad identities throw core's
   * CORE_ERR_* (400).
   *
   * A later login never renames: a name other than the stored one is
   * refused with MASTER_ERR_NAME_MISMATCH and changes nothing (the identity
   * provider is not trusted to rename — renames are an official's action;
   * see MasterStore.upsertPerson `nameMustMatch`).
   */
  async register(identity: PersonInput): Promise<RegisterResult> {
    await this.ready();
    const p = await this.store.upsertPerson(identity, { nameMustMatch: true });
    return this.store.transaction(async (s) => {
      await lockPerson(s.db, p.personId);
      const existing = await s.getCode(p.personId);
      if (existing !== null) {
        const { personId: _p, uid: _u, ruleVersion: _v, nextEvalAt: _n, ...record } = existing;
        return { personId: p.personId, uid: p.uid, created: false, code: record };
      }
      const r = await this.evaluateLocked(s, p.personId, 'register', this.nowSec());
      return { personId: p.personId, uid: p.uid, created: true, code: r.record };
    });
  }

  /**
   * `addFacts(personId, facts: Fact[], source: string | {source, sourceRef?, actor?})
   *   → {inserted, changed, seq, record, ruleVersion, overridden, nextEvalAt, …}`
   *
   * Stores department facts (core/facts.ts shapes; CORE_ERR_FACTS_INVALID
   * with the path of a bad one) and re-evaluates the person with the rule
   * version in force, in one transaction: the delta goes out only when the
   * code changed; next_eval_at is set from nextReevaluationAt. A fact's own
   * `source` wins over the call's. A person who has no code yet gets one.
   */
  async addFacts(personId: number, facts: readonly Fact[], source: FactSource): Promise<AddFactsResult> {
    checkPersonId(personId);
    const src = checkSource(source);
    const now = this.nowSec();
    if (!Array.isArray(facts) || facts.length === 0) throw bad('facts', 'must be a non-empty array of facts');
    const valid = validateFacts({ now, facts }).facts;
    await this.ready();
    return this.store.transaction(async (s) => {
      await lockPerson(s.db, personId);
      const inserted = await insertFacts(s.db, personId, valid, src.source, src.sourceRef);
      const r = await this.evaluateLocked(s, personId, src.actor, now);
      return { ...r, inserted };
    });
  }

  /**
   * `addFactsMany(items: {personId, facts}[], source) → {persons, inserted, changed, transitions}`
   *
   * The bulk form of addFacts for department imports and mass changes:
   * chunks of people, each chunk one transaction (facts, codes, history and
   * deltas in a few multi-row statements). Everything is validated and every
   * person checked to exist before the first chunk is written; chunks commit
   * one by one, so a crash midway leaves the earlier chunks done (re-running
   * the import adds their facts again, which the rules tolerate: only the
   * latest fact of a kind counts).
   */
  async addFactsMany(
    items: readonly { readonly personId: number; readonly facts: readonly Fact[] }[], source: FactSource,
  ): Promise<{ persons: number; inserted: number; changed: number; transitions: Transition[] }> {
    const src = checkSource(source);
    if (!Array.isArray(items)) throw bad('items', 'must be an array');
    const now = this.nowSec();
    const byPerson = new Map<number, Fact[]>();
    items.forEach((it, i) => {
      if (typeof it !== 'object' || it === null) throw bad(`items[${i}]`, 'must be { personId, facts }');
      try {
        checkPersonId(it.personId);
      } catch {
        throw bad(`items[${i}].personId`, 'must be a positive integer');
      }
      const valid = validateFacts({ now, facts: it.facts }).facts;
      const list = byPerson.get(it.personId);
      if (list === undefined) byPerson.set(it.personId, [...valid]);
      else list.push(...valid);
    });
    const ids = [...byPerson.keys()].sort((a, b) => a - b);
    for (let off = 0; off < ids.length; off += 10_000) {
      const part = ids.slice(off, off + 10_000);
      const found = await this.store.db.query<{ id: number }>(
        'SELECT id FROM persons WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text($1::jsonb))',
        [JSON.stringify(part)],
      );
      if (found.rows.length !== part.length) {
        const have = new Set(found.rows.map((r) => r.id));
        throw new MasterError('MASTER_ERR_PERSON_NOT_FOUND', `person ${part.find((id) => !have.has(id))}`);
      }
    }
    await this.ready();
    const transitions = new TransitionCounter();
    let inserted = 0;
    let changed = 0;
    for (let off = 0; off < ids.length; off += this.chunkSize) {
      const part = ids.slice(off, off + this.chunkSize);
      const w = await this.store.transaction(async (s) => {
        const tx = s.db;
        await tx.query(
          'SELECT id FROM persons WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text($1::jsonb)) ORDER BY id FOR UPDATE',
          [JSON.stringify(part)],
        );
        const rows: FactInsertRow[] = [];
        for (const id of part) {
          for (const f of byPerson.get(id)!) {
            rows.push({ p: id, k: f.kind, t: f.at, s: f.source ?? src.source, sr: src.sourceRef, l: f.level ?? null,
              r: f.result ?? null, rg: f.region ?? null, v: f.venue ?? null });
          }
        }
        const n = rows.length === 0 ? 0 : await insertFactRows(tx, rows);
        const rules = await this.rulesAt(tx, now);
        const people = await loadPeople(tx, part, false);
        const res = await writeDecisions(s, plan(rules, people, now), rules.version, src.actor, now);
        return { n, res };
      });
      inserted += w.n;
      changed += w.res.changed;
      transitions.merge(w.res.transitions);
    }
    return { persons: ids.length, inserted, changed, transitions: transitions.list() };
  }

  /**
   * `evaluate(personId, actor = 'manual') → CodeChangeResult`
   * Re-evaluates one person now (e.g. after correcting data by hand).
   */
  async evaluate(personId: number, actor = 'manual'): Promise<CodeChangeResult> {
    checkPersonId(personId);
    checkActor(actor);
    await this.ready();
    return this.store.transaction(async (s) => {
      await lockPerson(s.db, personId);
      return this.evaluateLocked(s, personId, actor, this.nowSec());
    });
  }

  /**
   * `transcode(personId, {color, reason, until: number | null}, actor, {sameTx?}) → CodeChangeResult`
   *
   * Manual change (转码). Stored as the person's override (replacing an
   * earlier one) and applied at once, with a history row and a delta. How
   * it relates to the rules — it wins until `until`, or until cleared; facts
   * recorded later can only make the code MORE severe — is explained in
   * code-decision.ts. `until` must be in the future. `sameTx` runs in the
   * same transaction (write the audit entry there).
   */
  async transcode(personId: number, change: TranscodeInput, actor: string, opts: TranscodeOptions = {}): Promise<CodeChangeResult> {
    checkPersonId(personId);
    checkActor(actor);
    const now = this.nowSec();
    if (typeof change !== 'object' || change === null) throw bad('change', 'must be { color, reason, until }');
    if (!COLORS.includes(change.color)) throw bad('color', "must be 'green', 'yellow' or 'red'");
    if (typeof change.reason !== 'string' || change.reason.trim().length === 0 || change.reason.length > REASON_MAX || CONTROL.test(change.reason)) {
      throw bad('reason', `must be 1–${REASON_MAX} characters without control characters`);
    }
    const until = change.until === undefined ? null : change.until;
    if (until !== null && (!isSeconds(until) || until <= now)) throw bad('until', 'must be unix seconds in the future, or null');
    await this.ready();
    return this.store.transaction(async (s) => {
      const tx = s.db;
      await lockPerson(tx, personId);
      const mark = await tx.query<{ m: number }>('SELECT COALESCE(max(id), 0)::bigint AS m FROM facts WHERE person_id = $1', [personId]);
      await tx.query(
        `INSERT INTO code_overrides (person_id, color, reason, until, fact_mark, actor, set_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (person_id) DO UPDATE SET color = EXCLUDED.color, reason = EXCLUDED.reason, until = EXCLUDED.until,
           fact_mark = EXCLUDED.fact_mark, actor = EXCLUDED.actor, set_at = EXCLUDED.set_at`,
        [personId, change.color, change.reason, until === null ? null : new Date(until * 1000), mark.rows[0]!.m, actor, new Date(now * 1000)],
      );
      const r = await this.evaluateLocked(s, personId, actor, now);
      if (opts.sameTx !== undefined) await opts.sameTx(s, r);
      return r;
    });
  }

  /**
   * `clearOverride(personId, actor, {sameTx?}) → CodeChangeResult`
   * Ends a manual change: the rules decide again on all facts, at once.
   */
  async clearOverride(personId: number, actor: string, opts: TranscodeOptions = {}): Promise<CodeChangeResult> {
    checkPersonId(personId);
    checkActor(actor);
    await this.ready();
    return this.store.transaction(async (s) => {
      await lockPerson(s.db, personId);
      await s.db.query('DELETE FROM code_overrides WHERE person_id = $1', [personId]);
      const r = await this.evaluateLocked(s, personId, actor, this.nowSec());
      if (opts.sameTx !== undefined) await opts.sameTx(s, r);
      return r;
    });
  }

  /** `getOverride(personId) → OverrideInfo | null` — the manual change on record, active or lapsed. */
  async getOverride(personId: number): Promise<OverrideInfo | null> {
    checkPersonId(personId);
    const [row] = await loadPeople(this.store.db, [personId], false);
    if (row === undefined) throw new MasterError('MASTER_ERR_PERSON_NOT_FOUND', `person ${personId}`);
    if (row.override === null) return null;
    return { ...row.override, active: overrideActive(row.override, this.nowSec()) };
  }

  /** `facts(personId, limit = 500) → StoredFact[]` — newest first, for the back office's code query. */
  async facts(personId: number, limit = 500): Promise<StoredFact[]> {
    checkPersonId(personId);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw bad('limit', 'must be 1–10000');
    const r = await this.store.db.query<{
      id: number; kind: Fact['kind']; at: number; source: string; source_ref: string | null; level: Fact['level'] | null;
      result: Fact['result'] | null; region: string | null; venue: string | null; recorded_at: number;
    }>(
      `SELECT id, kind, extract(epoch FROM at)::bigint AS at, source, source_ref, level, result, region, venue,
              extract(epoch FROM created_at)::bigint AS recorded_at
         FROM facts WHERE person_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
      [personId, limit],
    );
    return r.rows.map((x) => ({
      id: x.id, kind: x.kind, at: x.at, source: x.source, sourceRef: x.source_ref, level: x.level, result: x.result,
      region: x.region, venue: x.venue, recordedAt: x.recorded_at,
    }));
  }

  /** `history(personId, limit = 100) → HistoryEntry[]` — code changes, newest first. */
  async history(personId: number, limit = 100): Promise<HistoryEntry[]> {
    checkPersonId(personId);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw bad('limit', 'must be 1–10000');
    const r = await this.store.db.query<{
      at: number; prev_color: Color | null; color: Color; reason: string; since: number; until: number | null;
      rule_version: string | null; actor: string; seq: number;
    }>(
      `SELECT extract(epoch FROM at)::bigint AS at, prev_color, color, reason, extract(epoch FROM since)::bigint AS since,
              extract(epoch FROM until)::bigint AS until, rule_version, actor, seq
         FROM code_history WHERE person_id = $1 ORDER BY id DESC LIMIT $2`,
      [personId, limit],
    );
    return r.rows.map((x) => ({
      at: x.at, prevColor: x.prev_color, color: x.color, reason: x.reason, since: x.since, until: x.until,
      ruleVersion: x.rule_version, actor: x.actor, seq: x.seq,
    }));
  }

  // -------------------------------------------------------------------------
  // 入川即检: entry scans become entry facts
  // -------------------------------------------------------------------------

  /**
   * `recordEntryScan(uid, venueId, at) → {recorded, skipped?, code?}`
   *
   * A scan at an entry venue (kind 'entry') records an `entry` fact (with the
   * venue and its region) and re-evaluates the code, which then carries the
   * entry-test notice; a scan anywhere else records nothing. The same scan
   * delivered twice (at-least-once streams) is recorded once: same person,
   * venue and second. Unknown person → MASTER_ERR_PERSON_NOT_FOUND, unknown
   * venue → MASTER_ERR_VENUE_NOT_FOUND.
   */
  async recordEntryScan(uid: Uint8Array, venueId: string, at: number): Promise<EntryScanResult> {
    checkUid(uid);
    if (typeof venueId !== 'string' || venueId.length === 0 || venueId.length > 64) throw bad('venueId', 'must be 1–64 characters');
    if (!isSeconds(at)) throw bad('at', 'must be unix seconds');
    const person = await this.store.getPersonByUid(uid);
    if (person === null) throw new MasterError('MASTER_ERR_PERSON_NOT_FOUND', 'no person with this uid');
    const venue = await this.store.getVenue(venueId);
    if (venue === null) throw new MasterError('MASTER_ERR_VENUE_NOT_FOUND', venueId);
    if (venue.kind !== 'entry') return { recorded: false, skipped: 'not_entry_venue' };
    await this.ready();
    return this.store.transaction(async (s) => {
      const tx = s.db;
      await lockPerson(tx, person.id);
      const dup = await tx.query(
        "SELECT 1 FROM facts WHERE person_id = $1 AND kind = 'entry' AND at = $2 AND venue = $3 LIMIT 1",
        [person.id, new Date(at * 1000), venueId],
      );
      if (dup.rows.length > 0) return { recorded: false, skipped: 'duplicate' as const };
      await insertFacts(tx, person.id, [{ kind: 'entry', at, venue: venueId, region: venue.region }], 'scan:entry', null);
      const code = await this.evaluateLocked(s, person.id, 'scan:entry', this.nowSec());
      return { recorded: true, code };
    });
  }

  /**
   * `recordEntryScans(events: {uid, venueId, at}[]) → {recorded, skipped}`
   * For the scan intake: every event at an entry venue goes through
   * recordEntryScan; events without a venue, at other venues, of unknown
   * people or venues, or already recorded are counted as skipped, never
   * thrown (one bad event must not stall the stream). Malformed events still
   * throw MASTER_ERR_INVALID.
   */
  async recordEntryScans(events: readonly EntryScanEvent[]): Promise<{ recorded: number; skipped: number }> {
    if (!Array.isArray(events)) throw bad('events', 'must be an array');
    const kinds = new Map<string, boolean>();
    let recorded = 0;
    let skipped = 0;
    for (const e of events) {
      if (e.venueId === null) {
        skipped++;
        continue;
      }
      let isEntry = kinds.get(e.venueId);
      if (isEntry === undefined) {
        isEntry = (await this.store.getVenue(e.venueId))?.kind === 'entry';
        kinds.set(e.venueId, isEntry);
      }
      if (!isEntry) {
        skipped++;
        continue;
      }
      try {
        const r = await this.recordEntryScan(e.uid, e.venueId, e.at);
        if (r.recorded) recorded++;
        else skipped++;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== 'MASTER_ERR_PERSON_NOT_FOUND' && code !== 'MASTER_ERR_VENUE_NOT_FOUND') throw err;
        skipped++;
      }
    }
    return { recorded, skipped };
  }

  // -------------------------------------------------------------------------
  // Scheduler and rule sweeps
  // -------------------------------------------------------------------------

  /**
   * `reevaluateDue(now, limit) → {evaluated, changed}`
   *
   * One transaction: up to `limit` codes whose next_eval_at ≤ now (an
   * `until` or an entry-test deadline passed, an override lapsed), person
   * rows locked FOR UPDATE SKIP LOCKED, re-evaluated with the version in
   * force at `now`, written in bulk. Safe with any number of schedulers.
   */
  async reevaluateDue(now: number, limit: number): Promise<DueResult> {
    if (!isSeconds(now)) throw bad('now', 'must be unix seconds');
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw bad('limit', 'must be 1–100000');
    await this.ready();
    return this.store.transaction(async (s) => {
      const tx = s.db;
      const rows = await lockDue(tx, now, limit);
      if (rows.length === 0) return { evaluated: 0, changed: 0 };
      const rules = await this.rulesAt(tx, now);
      const w = await writeDecisions(s, plan(rules, rows, now), rules.version, 'scheduler', now);
      const lapsed = rows.filter((r) => r.override !== null && !overrideActive(r.override, now)).map((r) => r.personId);
      if (lapsed.length > 0) {
        await tx.query('DELETE FROM code_overrides WHERE person_id IN (SELECT value::bigint FROM jsonb_array_elements_text($1::jsonb))', [
          JSON.stringify(lapsed),
        ]);
      }
      return { evaluated: rows.length, changed: w.changed };
    });
  }

  /**
   * One chunk of the rule sweep, in one transaction holding the rule_state
   * row: when the version in force at `now` is not the one every code was
   * last swept with, evaluate the next `chunkSize` codes after the cursor.
   */
  private async sweepStep(now: number): Promise<{ done: boolean; version: string | null; evaluated: number; changed: number; transitions: TransitionCounter }> {
    return this.store.transaction(async (s) => {
      const tx = s.db;
      const st = (await tx.query<{ swept_version: string | null; sweep_version: string | null; sweep_cursor: number }>(
        'SELECT swept_version, sweep_version, sweep_cursor FROM rule_state FOR UPDATE',
      )).rows[0]!;
      const rules = await this.rules.activeAt(tx, now);
      const none = { done: true, version: rules?.version ?? null, evaluated: 0, changed: 0, transitions: new TransitionCounter() };
      if (rules === null || (st.swept_version === rules.version && st.sweep_version === null)) return none;
      const cursor = st.sweep_version === rules.version ? st.sweep_cursor : 0;
      const rows = await loadCodesAfter(tx, cursor, this.chunkSize, true);
      const w = await writeDecisions(s, plan(rules, rows, now), rules.version, `rules:${rules.version}`, now);
      const done = rows.length < this.chunkSize;
      if (done) {
        await tx.query('UPDATE rule_state SET swept_version = $1, sweep_version = NULL, sweep_cursor = 0, sweep_started_at = NULL', [rules.version]);
      } else {
        await tx.query(
          `UPDATE rule_state SET sweep_started_at = CASE WHEN sweep_version = $1 THEN sweep_started_at ELSE now() END,
             sweep_version = $1, sweep_cursor = $2`,
          [rules.version, rows[rows.length - 1]!.personId],
        );
      }
      return { done, version: rules.version, evaluated: rows.length, changed: w.changed, transitions: w.transitions };
    });
  }

  /**
   * `reevaluateAll({onProgress?}) → {version, evaluated, changed, transitions}`
   *
   * Brings every code in line with the version in force now — what a publish,
   * a rollback and a staged activation need. Chunked and resumable (see the
   * header); returns at once with evaluated 0 when codes are already in line.
   * Counts are those of the chunks this call processed (another process
   * sweeping at the same time reports its own).
   */
  reevaluateAll(opts: { onProgress?: (p: SweepProgress) => void } = {}): Promise<SweepResult> {
    const run = async (): Promise<SweepResult> => {
      await this.ready();
      const total = (await this.store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM codes')).rows[0]!.n;
      const transitions = new TransitionCounter();
      let evaluated = 0;
      let changed = 0;
      let version: string | null = null;
      for (;;) {
        const step = await this.sweepStep(this.nowSec());
        version = step.version;
        evaluated += step.evaluated;
        changed += step.changed;
        transitions.merge(step.transitions);
        if (step.evaluated > 0 && version !== null) opts.onProgress?.({ version, done: evaluated, total, changed });
        if (step.done) break;
      }
      return { version, evaluated, changed, transitions: transitions.list() };
    };
    const p = this.sweepQueue.then(run, run);
    this.sweepQueue = p.catch(() => undefined);
    return p;
  }

  /**
   * `tick(now?) → {sweep, due}` — one scheduler pass: finish or start a rule
   * sweep when the version in force changed (a staged version's activeFrom
   * arrived), then re-evaluate due codes in batches.
   */
  async tick(now = this.nowSec(), batch = 1000, maxBatches = 100): Promise<TickResult> {
    await this.ready();
    const st = (await this.store.db.query<{ swept_version: string | null; sweep_version: string | null }>(
      'SELECT swept_version, sweep_version FROM rule_state',
    )).rows[0]!;
    const active = await this.rules.activeAt(this.store.db, now);
    let sweep: SweepResult | null = null;
    if (active !== null && (st.swept_version !== active.version || st.sweep_version !== null)) sweep = await this.reevaluateAll();
    let evaluated = 0;
    let changed = 0;
    for (let i = 0; i < maxBatches; i++) {
      const r = await this.reevaluateDue(now, batch);
      evaluated += r.evaluated;
      changed += r.changed;
      if (r.evaluated < batch) break;
    }
    return { sweep, due: { evaluated, changed } };
  }

  /**
   * `startScheduler({intervalMs?, batch?, maxBatches?}) → {stop(): Promise<void>}`
   * Runs `tick` every intervalMs (after the previous pass ends: passes never
   * overlap). Errors (database down) are logged and the next pass retries.
   * The timer does not keep the process alive.
   */
  startScheduler(opts: SchedulerOptions = {}): SchedulerHandle {
    const intervalMs = opts.intervalMs ?? 1000;
    const batch = opts.batch ?? 1000;
    const maxBatches = opts.maxBatches ?? 100;
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) throw bad('intervalMs', 'must be a positive integer');
    if (!Number.isSafeInteger(batch) || batch < 1 || batch > 100_000) throw bad('batch', 'must be 1–100000');
    let stopped = false;
    let timer: NodeJS.Timeout | null = null;
    let running: Promise<void> = Promise.resolve();
    const pass = (): void => {
      timer = null;
      running = this.tick(this.nowSec(), batch, maxBatches).then(
        () => undefined,
        (err: unknown) => this.log(`code scheduler: ${(err as Error).message}`),
      ).then(() => {
        if (!stopped) {
          timer = setTimeout(pass, intervalMs);
          timer.unref();
        }
      });
    };
    timer = setTimeout(pass, 0);
    timer.unref();
    return {
      stop: async () => {
        stopped = true;
        if (timer !== null) clearTimeout(timer);
        await running;
      },
    };
  }
}

/** Decisions for a chunk (rows keep their order). */
function plan(rules: CompiledRules, rows: readonly ChunkRow[], now: number): Planned[] {
  const out: Planned[] = new Array<Planned>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    out[i] = { row, decision: decide(rules, row.facts, row.override, now) };
  }
  return out;
}
