import { randomBytes } from 'node:crypto';
import type { SqlClient } from '../master/sql-client.js';
import type { DatasetStore } from './dataset-store.js';
import type { DatasetTarget } from './datasets.js';
import { ExchangeError } from './errors.js';
import { DATASET_KEYS } from './verify-meaning.js';
import { firstSlot, parseSchedule, type Schedule } from './verify-schedule.js';

/**
 * Rules of the assignment verification (赋码数据核查): which dataset and
 * period is compared with which assigned codes, with what was distributed
 * and with what the nodes serve, when it runs.
 *
 * What a dataset's rows say a code should be is read from the rule set IN
 * FORCE when a task starts (verify-meaning.ts; the version is recorded on
 * the task), not from fixed defaults. Only datasets whose target feeds the
 * rule engine's colour keys can be verified (nat-result: a positive result;
 * risk-person: confirmed, suspected, close and secondary contacts); others
 * (vaccination, arrival, carrier stays) are refused (EXC_ERR_VERIFY_DATASET).
 *
 * codeSource 'current' compares with the code each person holds now;
 * 'history' with code_history: was the person at least that colour at some
 * time from the fact on, while the rule set says it held. checkDistribution
 * compares the master's current code with the code delta the edges were
 * sent (the outbox row of the code's seq, up to the outbox top when the task
 * started); checkEdges with what the node replicas serve (verify-edge.ts).
 * A schedule (verify-schedule.ts) starts tasks by itself.
 *
 * The period is either fixed (periodFrom–periodTo) or the last windowDays
 * days before a task starts. A rule is valid from validFrom until validUntil
 * (open when null); a task cannot be started outside that validity.
 * A rule belongs to the creator's region: a city officer's rules and tasks
 * only look at persons resident in the city.
 */
export type Color = 'green' | 'yellow' | 'red';
export const SEVERITY: Record<Color, number> = { green: 0, yellow: 1, red: 2 };

export interface VerifyRule {
  readonly id: string;
  readonly name: string;
  readonly dataset: string;
  readonly target: DatasetTarget;
  readonly codeSource: 'current' | 'history';
  readonly checkDistribution: boolean;
  /** also compare what the node replicas serve (verify-edge.ts) */
  readonly checkEdges: boolean;
  /** scheduled runs (verify-schedule.ts), null: started by hand only */
  readonly schedule: Schedule | null;
  /** unix s of the next scheduled run, null: none */
  readonly nextRunAt: number | null;
  /** relative period: the last N days before the task starts */
  readonly windowDays: number | null;
  /** fixed period, unix seconds */
  readonly periodFrom: number | null;
  readonly periodTo: number | null;
  /** unix seconds */
  readonly validFrom: number;
  readonly validUntil: number | null;
  readonly region: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface RuleInput {
  name?: unknown;
  dataset?: unknown;
  codeSource?: unknown;
  checkDistribution?: unknown;
  windowDays?: unknown;
  periodFrom?: unknown;
  periodTo?: unknown;
  validFrom?: unknown;
  validUntil?: unknown;
  checkEdges?: unknown;
  schedule?: unknown;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_PERIOD_S = 366 * 86_400;

function bad(field: string, detail: string): ExchangeError {
  return new ExchangeError('EXC_ERR_VERIFY_RULE_INVALID', detail, field);
}

function secs(v: unknown, field: string, nullable: boolean): number | null {
  if (v === undefined || v === null) {
    if (nullable) return null;
    throw bad(field, 'required');
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > 4_102_444_800) throw bad(field, 'unix seconds');
  return v;
}

/**
 * Checks a period: from < to, not starting in the future, at most 366 days.
 * Inverted or empty → EXC_ERR_VERIFY_PERIOD.
 */
export function checkPeriod(from: number, to: number, nowS: number): void {
  if (!(from < to)) throw new ExchangeError('EXC_ERR_VERIFY_PERIOD', 'periodFrom must be before periodTo', 'periodFrom');
  if (from > nowS) throw new ExchangeError('EXC_ERR_VERIFY_PERIOD', 'the period starts in the future', 'periodFrom');
  if (to - from > MAX_PERIOD_S) throw new ExchangeError('EXC_ERR_VERIFY_PERIOD', 'the period is longer than 366 days', 'periodTo');
}

/** The target of a dataset if it can be verified, else EXC_ERR_VERIFY_DATASET (unknown: EXC_ERR_DATASET_UNKNOWN). */
export async function verifiableTarget(datasets: DatasetStore, id: string): Promise<DatasetTarget> {
  const def = await datasets.get(id);
  if (DATASET_KEYS[def.target] === undefined) throw new ExchangeError('EXC_ERR_VERIFY_DATASET', `dataset ${def.id} (${def.target})`, 'dataset');
  return def.target;
}

interface Validated {
  name: string; dataset: string; target: DatasetTarget; codeSource: 'current' | 'history'; checkDistribution: boolean;
  windowDays: number | null; periodFrom: number | null; periodTo: number | null; validFrom: number; validUntil: number | null;
  checkEdges: boolean; schedule: Schedule | null;
}

export async function validateRule(body: unknown, datasets: DatasetStore, nowS: number): Promise<Validated> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('', 'must be an object');
  const b = body as RuleInput;
  if (typeof b.name !== 'string' || b.name.trim().length === 0 || b.name.length > 80 || CONTROL.test(b.name)) throw bad('name', '1–80 characters');
  if (typeof b.dataset !== 'string' || b.dataset.length === 0 || b.dataset.length > 40) throw new ExchangeError('EXC_ERR_DATASET_UNKNOWN', undefined, 'dataset');
  const target = await verifiableTarget(datasets, b.dataset);
  const codeSource = b.codeSource ?? 'current';
  if (codeSource !== 'current' && codeSource !== 'history') throw bad('codeSource', "'current' or 'history'");
  const checkDistribution = b.checkDistribution ?? true;
  if (typeof checkDistribution !== 'boolean') throw bad('checkDistribution', 'boolean');
  const periodFrom = secs(b.periodFrom, 'periodFrom', true);
  const periodTo = secs(b.periodTo, 'periodTo', true);
  let windowDays: number | null = null;
  if (periodFrom === null && periodTo === null) {
    const w = b.windowDays ?? 1;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > 366) throw bad('windowDays', '1–366 days');
    windowDays = w;
  } else {
    if (b.windowDays !== undefined && b.windowDays !== null) throw bad('windowDays', 'give windowDays or periodFrom/periodTo, not both');
    if (periodFrom === null || periodTo === null) throw bad(periodFrom === null ? 'periodFrom' : 'periodTo', 'both ends of a fixed period are needed');
    checkPeriod(periodFrom, periodTo, nowS);
  }
  const validFrom = secs(b.validFrom, 'validFrom', true) ?? nowS;
  const validUntil = secs(b.validUntil, 'validUntil', true);
  if (validUntil !== null && validUntil <= validFrom) throw bad('validUntil', 'must be after validFrom');
  const checkEdges = b.checkEdges ?? false;
  if (typeof checkEdges !== 'boolean') throw bad('checkEdges', 'boolean');
  const schedule = parseSchedule(b.schedule);
  return { name: b.name.trim(), dataset: b.dataset, target, codeSource, checkDistribution, windowDays, periodFrom, periodTo, validFrom, validUntil, checkEdges, schedule };
}

export const RULE_COLUMNS = `id, name, dataset, code_source, check_distribution, window_days, period_from, period_to, valid_from, valid_until,
  region, created_by, created_at, updated_at, check_edges, schedule, next_run_at`;

export interface RuleRow {
  id: string; name: string; dataset: string; code_source: 'current' | 'history'; check_distribution: boolean; window_days: number | null;
  period_from: Date | null; period_to: Date | null; valid_from: Date; valid_until: Date | null; region: string; created_by: string;
  created_at: Date; updated_at: Date; check_edges: boolean; schedule: Schedule | null; next_run_at: Date | null;
}

const sec = (d: Date): number => Math.floor(new Date(d).getTime() / 1000);
const secOrNull = (d: Date | null): number | null => (d === null ? null : sec(d));
const dateOf = (s: number | null): Date | null => (s === null ? null : new Date(s * 1000));

/** The first scheduled run of a rule set or changed at `nowMs` (an 'every' schedule counts from then). */
function slotDate(v: Validated, nowMs: number): Date | null {
  const slot = firstSlot(v.schedule, nowMs, v.validFrom, v.validUntil);
  return slot === null ? null : new Date(slot);
}

export class VerifyRules {
  constructor(private readonly db: SqlClient, private readonly datasets: DatasetStore, private readonly nowMs: () => number) {}

  private async toRule(r: RuleRow): Promise<VerifyRule> {
    const def = await this.datasets.get(r.dataset).catch(() => null);
    return {
      id: r.id, name: r.name, dataset: r.dataset, target: def?.target ?? 'nat-result', codeSource: r.code_source, checkDistribution: r.check_distribution,
      windowDays: r.window_days, periodFrom: secOrNull(r.period_from), periodTo: secOrNull(r.period_to), validFrom: sec(r.valid_from),
      validUntil: secOrNull(r.valid_until), region: r.region, createdBy: r.created_by, createdAt: sec(r.created_at), updatedAt: sec(r.updated_at),
      checkEdges: r.check_edges, schedule: r.schedule, nextRunAt: secOrNull(r.next_run_at),
    };
  }

  async create(body: unknown, region: string, actor: string): Promise<VerifyRule> {
    const now = this.nowMs();
    const v = await validateRule(body, this.datasets, Math.floor(now / 1000));
    const id = `vr_${randomBytes(6).toString('hex')}`;
    const r = await this.db.query<RuleRow>(
      `INSERT INTO exchange_verify_rules (id, name, dataset, code_source, check_distribution, window_days, period_from, period_to, valid_from, valid_until, region, created_by, created_at, updated_at,
              check_edges, schedule, next_run_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15::jsonb, $16) RETURNING ${RULE_COLUMNS}`,
      [id, v.name, v.dataset, v.codeSource, v.checkDistribution, v.windowDays, dateOf(v.periodFrom), dateOf(v.periodTo), dateOf(v.validFrom), dateOf(v.validUntil), region, actor, new Date(now),
        v.checkEdges, v.schedule === null ? null : JSON.stringify(v.schedule), slotDate(v, now)],
    );
    return this.toRule(r.rows[0]!);
  }

  /** Replaces a rule's settings (tasks keep the snapshot they ran with). */
  async update(id: string, body: unknown, scope: string): Promise<VerifyRule> {
    await this.get(id, scope);
    const now = this.nowMs();
    const v = await validateRule(body, this.datasets, Math.floor(now / 1000));
    const r = await this.db.query<RuleRow>(
      `UPDATE exchange_verify_rules SET name = $2, dataset = $3, code_source = $4, check_distribution = $5, window_days = $6, period_from = $7,
              period_to = $8, valid_from = $9, valid_until = $10, updated_at = $11, check_edges = $12, schedule = $13::jsonb, next_run_at = $14
        WHERE id = $1 RETURNING ${RULE_COLUMNS}`,
      [id, v.name, v.dataset, v.codeSource, v.checkDistribution, v.windowDays, dateOf(v.periodFrom), dateOf(v.periodTo), dateOf(v.validFrom), dateOf(v.validUntil), new Date(now),
        v.checkEdges, v.schedule === null ? null : JSON.stringify(v.schedule), slotDate(v, now)],
    );
    return this.toRule(r.rows[0]!);
  }

  /** A rule visible to an account of region prefix `scope` (another region's: not found, like a missing one). */
  async get(id: string, scope: string): Promise<VerifyRule> {
    const r = await this.db.query<RuleRow>(`SELECT ${RULE_COLUMNS} FROM exchange_verify_rules WHERE id = $1`, [id]);
    const row = r.rows[0];
    if (row === undefined || !row.region.startsWith(scope)) throw new ExchangeError('EXC_ERR_VERIFY_RULE_NOT_FOUND');
    return this.toRule(row);
  }

  async list(scope: string): Promise<VerifyRule[]> {
    const r = await this.db.query<RuleRow>(
      `SELECT ${RULE_COLUMNS} FROM exchange_verify_rules WHERE $1 = '' OR region LIKE $1 || '%' ORDER BY created_at DESC, id LIMIT 500`, [scope],
    );
    return Promise.all(r.rows.map((x) => this.toRule(x)));
  }
}

/** Whether a rule may run at `nowS` (inside its validity). */
export function ruleValidAt(r: VerifyRule, nowS: number): boolean {
  return r.validFrom <= nowS && (r.validUntil === null || nowS < r.validUntil);
}
