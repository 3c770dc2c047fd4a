import { reevaluationPlan } from '../core/rule-schedule.js';
import { validateRuleSet, type RuleSet } from '../core/rule-set.js';
import { loadCodesAfter, TransitionCounter, type Transition } from './code-batch.js';
import { decide, plannedRecord } from './code-decision.js';
import { CodeService, type SweepProgress } from './code-service.js';
import { MasterError } from './errors.js';
import type { MasterStore } from './store.js';

/**
 * Rule set versions (DESIGN §3, §7): upload → draft, dry run, publish,
 * rollback, staging with a future activeFrom.
 *
 *   upload(rs)            validate (CORE_ERR_RULE_INVALID with a path), store as 'draft'
 *   dryRun(v)             how many codes v WOULD change now, by from → to colour and reason
 *   publish(v, {activeFrom?})
 *                         'published' + a `rules` delta (edges stage it) in one
 *                         transaction; if activeFrom ≤ now, every code is then
 *                         re-evaluated (CodeService.reevaluateAll: chunked, one
 *                         multi-row write per chunk, code deltas batched)
 *   rollback()            the version in force → 'rolled_back'; the previous one
 *                         is published again with activeFrom = now (same path)
 *
 * Which version is in force is decided by active-rules.ts (newest activeFrom
 * that has begun). A staged version needs no action at its activeFrom: the
 * scheduler (CodeService.tick) sees the version in force differ from the one
 * codes were swept with and sweeps.
 *
 * The dry run and the publish share `decide` and `plannedRecord`, so at the
 * same instant on the same data their counts are equal (tested).
 */
export type RuleStatus = 'draft' | 'published' | 'rolled_back';

export interface RuleVersionInfo {
  readonly version: string;
  readonly status: RuleStatus;
  /** unix seconds; for a draft, its upload time (set on publish) */
  readonly activeFrom: number;
  readonly createdBy: string;
  /** unix seconds */
  readonly createdAt: number;
  readonly publishedAt: number | null;
  /** in force now */
  readonly active: boolean;
  /** published with an activeFrom still ahead */
  readonly staged: boolean;
}

export interface UploadResult {
  readonly version: string;
  readonly status: 'draft';
  /** whether the scheduler can compute exact re-evaluation times for it (core/rule-schedule.ts) */
  readonly exact: boolean;
  readonly inexactReason: string | null;
}

export interface DryRunResult {
  readonly version: string;
  /** the instant evaluated, unix seconds */
  readonly at: number;
  readonly evaluated: number;
  readonly changed: number;
  /** most frequent first */
  readonly transitions: Transition[];
}

export interface PublishResult {
  readonly version: string;
  readonly activeFrom: number;
  /** activeFrom is ahead: edges stage it, codes are re-evaluated when it begins */
  readonly staged: boolean;
  /** outbox sequence of the `rules` delta */
  readonly seq: number;
  readonly evaluated: number;
  readonly changed: number;
  readonly transitions: Transition[];
}

export interface PublicationEntry {
  readonly version: string;
  readonly action: 'publish' | 'rollback';
  readonly activeFrom: number;
  readonly actor: string;
  readonly at: number;
  readonly seq: number;
}

export interface RuleVersionsOptions {
  /** codes per dry-run page (default 5000) */
  readonly chunkSize?: number;
}

const MAX_SECONDS = 0xffff_ffff;

function bad(field: string, detail: string): MasterError {
  return new MasterError('MASTER_ERR_INVALID', detail, field);
}

function checkActor(actor: unknown): string {
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > 128 || /[\u0000-\u001f\u007f]/.test(actor)) {
    throw bad('actor', 'must be 1–128 characters without control characters');
  }
  return actor;
}

function checkVersion(version: unknown): string {
  if (typeof version !== 'string' || version.length === 0 || version.length > 64) throw bad('version', 'must be 1–64 characters');
  return version;
}

interface VersionRow {
  version: string;
  status: RuleStatus;
  active_from: number;
  created_by: string;
  created_at: number;
  published_at: number | null;
}

const INFO_COLUMNS = `version, status, extract(epoch FROM active_from)::bigint AS active_from, created_by,
  extract(epoch FROM created_at)::bigint AS created_at, extract(epoch FROM published_at)::bigint AS published_at`;

export class RuleVersions {
  readonly store: MasterStore;
  readonly codes: CodeService;
  private readonly chunkSize: number;

  /** `new RuleVersions(store, codes?, { chunkSize? })` — pass the CodeService the scheduler runs on, so they share compiled rules. */
  constructor(store: MasterStore, codes?: CodeService, opts: RuleVersionsOptions = {}) {
    this.store = store;
    this.codes = codes ?? new CodeService(store);
    const chunk = opts.chunkSize ?? 5000;
    if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > 50_000) throw bad('chunkSize', 'must be 1–50000');
    this.chunkSize = chunk;
  }

  private nowSec(): number {
    return Math.floor(this.store.nowMs() / 1000);
  }

  /**
   * `upload(ruleSet: unknown, actor) → {version, status: 'draft', exact, inexactReason}`
   * Validates (CORE_ERR_RULE_INVALID, field = path in the rule set) and stores
   * a draft under ruleSet.version. Versions are immutable: a second upload
   * under a name → MASTER_ERR_RULE_VERSION_EXISTS.
   */
  async upload(ruleSet: unknown, actor: string): Promise<UploadResult> {
    checkActor(actor);
    const rs = validateRuleSet(ruleSet);
    const plan = reevaluationPlan(rs);
    const r = await this.store.db.query(
      `INSERT INTO rule_versions (version, rule_set, active_from, created_by, created_at) VALUES ($1, $2::jsonb, $3, $4, $3)
       ON CONFLICT (version) DO NOTHING RETURNING version`,
      [rs.version, JSON.stringify(rs), new Date(this.store.nowMs()), actor],
    );
    if (r.rows.length === 0) throw new MasterError('MASTER_ERR_RULE_VERSION_EXISTS', rs.version, 'version');
    return { version: rs.version, status: 'draft', exact: plan.exact, inexactReason: plan.reason };
  }

  /** `list() → RuleVersionInfo[]` — newest first (by publish, else upload time). */
  async list(): Promise<RuleVersionInfo[]> {
    const now = this.nowSec();
    const active = await this.codes.activeRules(now);
    const r = await this.store.db.query<VersionRow>(
      `SELECT ${INFO_COLUMNS} FROM rule_versions ORDER BY COALESCE(published_at, created_at) DESC, version DESC`,
    );
    return r.rows.map((x) => info(x, active.version, now));
  }

  /** `get(version) → RuleVersionInfo & {ruleSet}` — MASTER_ERR_RULE_VERSION_NOT_FOUND if unknown. */
  async get(version: string): Promise<RuleVersionInfo & { readonly ruleSet: RuleSet }> {
    checkVersion(version);
    const now = this.nowSec();
    const active = await this.codes.activeRules(now);
    const r = await this.store.db.query<VersionRow & { rule_set: unknown }>(
      `SELECT ${INFO_COLUMNS}, rule_set FROM rule_versions WHERE version = $1`,
      [version],
    );
    if (r.rows.length === 0) throw new MasterError('MASTER_ERR_RULE_VERSION_NOT_FOUND', version, 'version');
    const x = r.rows[0]!;
    return { ...info(x, active.version, now), ruleSet: this.codes.rules.compiled(version, x.rule_set).ruleSet };
  }

  /** `active() → {version, activeFrom, ruleSet}` — the version in force now (the built-in set on a fresh master). */
  async active(): Promise<{ version: string; activeFrom: number; ruleSet: RuleSet }> {
    const a = await this.codes.activeRules(this.nowSec());
    return { version: a.version, activeFrom: a.activeFrom, ruleSet: a.ruleSet };
  }

  /** `publications(limit = 100) → PublicationEntry[]` — publishes and rollbacks, newest first. */
  async publications(limit = 100): Promise<PublicationEntry[]> {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw bad('limit', 'must be 1–10000');
    const r = await this.store.db.query<{ version: string; action: 'publish' | 'rollback'; active_from: number; actor: string; at: number; seq: number }>(
      `SELECT version, action, extract(epoch FROM active_from)::bigint AS active_from, actor, extract(epoch FROM at)::bigint AS at, seq
         FROM rule_publications ORDER BY id DESC LIMIT $1`,
      [limit],
    );
    return r.rows.map((x) => ({ version: x.version, action: x.action, activeFrom: x.active_from, actor: x.actor, at: x.at, seq: x.seq }));
  }

  /**
   * `dryRun(version, {at?, onProgress?}) → {version, at, evaluated, changed, transitions}`
   *
   * Evaluates every code against `version` (any status) at `at` (default
   * now) exactly as a publish would, writing nothing: keyset pages of
   * chunkSize codes (memory stays flat at 1M people), no locks, progress
   * after each page.
   */
  async dryRun(version: string, opts: { at?: number; onProgress?: (p: SweepProgress) => void } = {}): Promise<DryRunResult> {
    checkVersion(version);
    const at = opts.at ?? this.nowSec();
    if (!Number.isSafeInteger(at) || at < 0 || at > MAX_SECONDS) throw bad('at', 'must be unix seconds');
    const db = this.store.db;
    const rules = await this.codes.rules.load(db, version);
    if (rules === null) throw new MasterError('MASTER_ERR_RULE_VERSION_NOT_FOUND', version, 'version');
    const total = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM codes')).rows[0]!.n;
    const counter = new TransitionCounter();
    let evaluated = 0;
    let cursor = 0;
    for (;;) {
      const rows = await loadCodesAfter(db, cursor, this.chunkSize, false);
      for (const row of rows) {
        const d = decide(rules, row.facts, row.override, at);
        if (plannedRecord(row, row.name, d, at).changed) counter.add(row.color, d.color, d.reason);
      }
      evaluated += rows.length;
      if (rows.length > 0) {
        cursor = rows[rows.length - 1]!.personId;
        opts.onProgress?.({ version, done: evaluated, total, changed: counter.total });
      }
      if (rows.length < this.chunkSize) break;
    }
    return { version, at, evaluated, changed: counter.total, transitions: counter.list() };
  }

  /**
   * `publish(version, {activeFrom?, actor?, onProgress?}) → {version, activeFrom, staged, seq, evaluated, changed, transitions}`
   *
   * activeFrom: unix seconds, default now; earlier than now is refused
   * (history is not rewritten). Publishing a published version →
   * MASTER_ERR_RULE_STATE; unknown → MASTER_ERR_RULE_VERSION_NOT_FOUND.
   */
  async publish(
    version: string, opts: { activeFrom?: number; actor?: string; onProgress?: (p: SweepProgress) => void } = {},
  ): Promise<PublishResult> {
    checkVersion(version);
    const actor = checkActor(opts.actor ?? 'admin');
    const now = this.nowSec();
    const activeFrom = opts.activeFrom ?? now;
    if (!Number.isSafeInteger(activeFrom) || activeFrom < now || activeFrom > MAX_SECONDS) {
      throw bad('activeFrom', 'must be unix seconds, now or later');
    }
    await this.codes.activeRules(now); // a fresh master publishes the built-in set first: there is then something to roll back to
    const seq = await this.store.transaction(async (s) => {
      const tx = s.db;
      await tx.query('SELECT id FROM rule_state FOR UPDATE');
      const r = await tx.query<{ status: RuleStatus; rule_set: unknown }>(
        'SELECT status, rule_set FROM rule_versions WHERE version = $1 FOR UPDATE',
        [version],
      );
      if (r.rows.length === 0) throw new MasterError('MASTER_ERR_RULE_VERSION_NOT_FOUND', version, 'version');
      if (r.rows[0]!.status === 'published') throw new MasterError('MASTER_ERR_RULE_STATE', `${version} is already published`, 'version');
      const rs = this.codes.rules.compiled(version, r.rows[0]!.rule_set).ruleSet;
      return this.goLive(s, version, rs, activeFrom, actor, 'publish');
    });
    return this.finish(version, activeFrom, now, seq, opts.onProgress);
  }

  /**
   * `rollback({actor?, onProgress?}) → PublishResult`
   *
   * The version in force now becomes 'rolled_back'; the published version
   * that was in force before it (greatest activeFrom ≤ now among the rest)
   * is published again with activeFrom = now — a `rules` delta edges apply
   * like any publish — and every code is re-evaluated. Rolling back again
   * walks further back. No earlier version → MASTER_ERR_RULE_STATE. A staged
   * version (activeFrom ahead) is not touched.
   */
  async rollback(opts: { actor?: string; onProgress?: (p: SweepProgress) => void } = {}): Promise<PublishResult> {
    const actor = checkActor(opts.actor ?? 'admin');
    const now = this.nowSec();
    await this.codes.activeRules(now);
    const { version, seq } = await this.store.transaction(async (s) => {
      const tx = s.db;
      await tx.query('SELECT id FROM rule_state FOR UPDATE');
      const cur = await this.codes.rules.activeAt(tx, now);
      if (cur === null) throw new MasterError('MASTER_ERR_RULE_STATE', 'no rule set is in force');
      const prev = await tx.query<{ version: string; rule_set: unknown }>(
        `SELECT version, rule_set FROM rule_versions
          WHERE status = 'published' AND version <> $1 AND active_from <= $2
          ORDER BY active_from DESC, published_at DESC LIMIT 1`,
        [cur.version, new Date(now * 1000)],
      );
      if (prev.rows.length === 0) {
        throw new MasterError('MASTER_ERR_RULE_STATE', `no published version before ${cur.version} to roll back to`);
      }
      await tx.query("UPDATE rule_versions SET status = 'rolled_back' WHERE version = $1", [cur.version]);
      const p = prev.rows[0]!;
      const rs = this.codes.rules.compiled(p.version, p.rule_set).ruleSet;
      return { version: p.version, seq: await this.goLive(s, p.version, rs, now, actor, 'rollback') };
    });
    return this.finish(version, now, now, seq, opts.onProgress);
  }

  /** Marks `version` published from `activeFrom`, writes its `rules` delta and the publication row; returns the seq. */
  private async goLive(
    s: MasterStore, version: string, rs: RuleSet, activeFrom: number, actor: string, action: 'publish' | 'rollback',
  ): Promise<number> {
    const tx = s.db;
    const at = new Date(this.store.nowMs());
    const from = new Date(activeFrom * 1000);
    await tx.query(
      "UPDATE rule_versions SET status = 'published', active_from = $2, published_at = $3 WHERE version = $1",
      [version, from, at],
    );
    const seq = await s.appendOutbox(tx, { type: 'rules', version, activeFrom, ruleSet: rs });
    await tx.query(
      'INSERT INTO rule_publications (version, action, active_from, actor, at, seq) VALUES ($1, $2, $3, $4, $5, $6)',
      [version, action, from, actor, at, seq],
    );
    return seq;
  }

  private async finish(
    version: string, activeFrom: number, now: number, seq: number, onProgress?: (p: SweepProgress) => void,
  ): Promise<PublishResult> {
    if (activeFrom > now) return { version, activeFrom, staged: true, seq, evaluated: 0, changed: 0, transitions: [] };
    const sweep = await this.codes.reevaluateAll(onProgress === undefined ? {} : { onProgress });
    return { version, activeFrom, staged: false, seq, evaluated: sweep.evaluated, changed: sweep.changed, transitions: sweep.transitions };
  }
}

function info(x: VersionRow, activeVersion: string, now: number): RuleVersionInfo {
  return {
    version: x.version,
    status: x.status,
    activeFrom: x.active_from,
    createdBy: x.created_by,
    createdAt: x.created_at,
    publishedAt: x.published_at,
    active: x.version === activeVersion,
    staged: x.status === 'published' && x.active_from > now,
  };
}
