import type { Facts } from '../core/facts.js';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import { compileRuleSet } from '../core/rule-compile.js';
import { validateRuleSet, type RuleSet, type Verdict } from '../core/rule-set.js';
import type { SqlClient } from './sql-client.js';
import type { MasterStore } from './store.js';

/**
 * Which rule set is in force, and its compiled form (DESIGN §3: rules are
 * data, versioned, evaluated without a deploy). Shared by code-service.ts
 * and rule-versions.ts so both answer "which version?" the same way.
 *
 * The version in force at instant t is the PUBLISHED version with the
 * greatest active_from ≤ t; equal active_from → the later published_at.
 * That is the EU DCC gateway's rule ("the newest validFrom that has begun"),
 * and it is exactly what an edge can compute from the `rules` deltas it
 * holds, so master and edges agree without talking: a version published with
 * a future activeFrom is staged, and takes over by itself at that second.
 *
 * A version's rule set never changes once uploaded (rule-versions.ts refuses
 * a second upload under one name), so compiled functions are cached by
 * version name for the life of the process: one `new Function` per version,
 * ≈ 22 ns per evaluation afterwards (core/rule-compile.ts).
 */
export interface CompiledRules {
  readonly version: string;
  /** unix seconds */
  readonly activeFrom: number;
  /** the validated rule set; the same object every time (nextReevaluationAt caches its plan per object) */
  readonly ruleSet: RuleSet;
  readonly evaluate: (facts: Facts) => Verdict;
}

interface Compiled {
  readonly ruleSet: RuleSet;
  readonly evaluate: (facts: Facts) => Verdict;
}

/** Actor recorded for the automatic publication of the built-in rule set. */
export const BOOTSTRAP_ACTOR = 'system:bootstrap';

const ACTIVE_SQL = `SELECT version, extract(epoch FROM active_from)::bigint AS active_from FROM rule_versions
  WHERE status = 'published' AND active_from <= $1 ORDER BY active_from DESC, published_at DESC LIMIT 1`;

export class RuleCache {
  private readonly byVersion = new Map<string, Compiled>();

  /** Validates and compiles `json` once per version name (CORE_ERR_RULE_INVALID if it does not validate). */
  compiled(version: string, json: unknown): Compiled {
    let c = this.byVersion.get(version);
    if (c === undefined) {
      const ruleSet = validateRuleSet(json);
      c = { ruleSet, evaluate: compileRuleSet(ruleSet) };
      this.byVersion.set(version, c);
    }
    return c;
  }

  /** The compiled rule set of `version` (any status), or null when there is no such version. */
  async load(db: SqlClient, version: string, activeFrom?: number): Promise<CompiledRules | null> {
    const cached = this.byVersion.get(version);
    if (cached !== undefined && activeFrom !== undefined) return { version, activeFrom, ...cached };
    const r = await db.query<{ rule_set: unknown; active_from: number }>(
      'SELECT rule_set, extract(epoch FROM active_from)::bigint AS active_from FROM rule_versions WHERE version = $1',
      [version],
    );
    if (r.rows.length === 0) return null;
    const row = r.rows[0]!;
    return { version, activeFrom: activeFrom ?? row.active_from, ...this.compiled(version, row.rule_set) };
  }

  /** The version in force at `now` (unix seconds), or null when nothing is published yet. */
  async activeAt(db: SqlClient, now: number): Promise<CompiledRules | null> {
    const r = await db.query<{ version: string; active_from: number }>(ACTIVE_SQL, [new Date(now * 1000)]);
    if (r.rows.length === 0) return null;
    return this.load(db, r.rows[0]!.version, r.rows[0]!.active_from);
  }
}

/**
 * Makes sure some version is published: on a fresh master, publishes the
 * built-in DEFAULT_RULE_SET with active_from = 0 (in force since always) and
 * its `rules` delta, so the first registration has rules to run. Idempotent
 * and safe from several processes (it locks rule_state, like every rule
 * change). Returns true when it published.
 */
export async function ensureRulesPublished(store: MasterStore, ruleSet: RuleSet = DEFAULT_RULE_SET): Promise<boolean> {
  const quick = await store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM rule_versions WHERE status = 'published'");
  if (quick.rows[0]!.n > 0) return false;
  const rs = validateRuleSet(ruleSet);
  return store.transaction(async (s) => {
    const tx = s.db;
    await tx.query('SELECT id FROM rule_state FOR UPDATE');
    const again = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM rule_versions WHERE status = 'published'");
    if (again.rows[0]!.n > 0) return false;
    const at = new Date(store.nowMs());
    // A draft uploaded under the same name wins over the built-in text: what is published is what is stored.
    await tx.query(
      `INSERT INTO rule_versions (version, rule_set, active_from, created_by) VALUES ($1, $2::jsonb, to_timestamp(0), $3)
       ON CONFLICT (version) DO NOTHING`,
      [rs.version, JSON.stringify(rs), BOOTSTRAP_ACTOR],
    );
    const stored = await tx.query<{ rule_set: unknown }>(
      `UPDATE rule_versions SET status = 'published', active_from = to_timestamp(0), published_at = $2
        WHERE version = $1 RETURNING rule_set`,
      [rs.version, at],
    );
    const seq = await s.appendOutbox(tx, { type: 'rules', version: rs.version, activeFrom: 0, ruleSet: stored.rows[0]!.rule_set });
    await tx.query(
      `INSERT INTO rule_publications (version, action, active_from, actor, at, seq) VALUES ($1, 'publish', to_timestamp(0), $2, $3, $4)`,
      [rs.version, BOOTSTRAP_ACTOR, at, seq],
    );
    return true;
  });
}
