import type { SqlClient } from '../master/sql-client.js';
import { ExchangeError } from './errors.js';

/**
 * Scheduled verification runs (定时核查): a rule may carry a schedule,
 *
 *   { kind: 'daily', at: 'HH:mm' }   every day at that China wall time (UTC+8, no DST)
 *   { kind: 'every', hours: N }      every N hours (1–168), counted from when the schedule was set
 *
 * and the rule's `next_run_at` holds the next due instant. The runner
 * (verify-tasks.ts runDue) starts the due ones. One run per slot, however
 * many admin processes poll: a slot is taken by a conditional UPDATE
 * (`SET next_run_at = <next> WHERE id = $1 AND next_run_at = <slot>`) in the
 * same transaction as the task's INSERT, whose (rule_id, scheduled_for) is
 * unique — a second process's UPDATE finds next_run_at moved (PostgreSQL
 * re-checks the WHERE after the first commits) and starts nothing.
 *
 * Missed slots (the back office was down over 08:00) run once when it is
 * back, not once per missed slot; the next slot is then the first one after
 * now. A slot outside the rule's validity is skipped without a task; after
 * validUntil there is no next run.
 */
export type Schedule = { readonly kind: 'daily'; readonly at: string } | { readonly kind: 'every'; readonly hours: number };

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const CHINA_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;

function bad(detail: string): ExchangeError {
  return new ExchangeError('EXC_ERR_VERIFY_SCHEDULE', detail, 'schedule');
}

/** Validates a schedule (null/undefined: none). */
export function parseSchedule(x: unknown): Schedule | null {
  if (x === undefined || x === null) return null;
  if (typeof x !== 'object' || Array.isArray(x)) throw bad('must be an object');
  const o = x as Record<string, unknown>;
  if (o.kind === 'daily') {
    if (Object.keys(o).some((k) => k !== 'kind' && k !== 'at')) throw bad('daily takes only at');
    if (typeof o.at !== 'string' || !HHMM.test(o.at)) throw bad('at must be HH:mm (00:00–23:59)');
    return { kind: 'daily', at: o.at };
  }
  if (o.kind === 'every') {
    if (Object.keys(o).some((k) => k !== 'kind' && k !== 'hours')) throw bad('every takes only hours');
    if (typeof o.hours !== 'number' || !Number.isInteger(o.hours) || o.hours < 1 || o.hours > 168) throw bad('hours must be an integer 1–168');
    return { kind: 'every', hours: o.hours };
  }
  throw bad("kind must be 'daily' or 'every'");
}

/**
 * The first slot strictly after `afterMs` (unix ms). `anchorMs` is when an
 * 'every' schedule was set: its slots are anchor + k·N h.
 */
export function nextSlot(s: Schedule, afterMs: number, anchorMs: number): number {
  if (s.kind === 'daily') {
    const [h, m] = s.at.split(':').map(Number) as [number, number];
    const local = afterMs + CHINA_MS;
    const dayStart = Math.floor(local / DAY_MS) * DAY_MS;
    let slot = dayStart + (h * 60 + m) * 60_000 - CHINA_MS;
    if (slot <= afterMs) slot += DAY_MS;
    return slot;
  }
  const step = s.hours * 3600_000;
  if (afterMs < anchorMs) return anchorMs + step;
  return anchorMs + (Math.floor((afterMs - anchorMs) / step) + 1) * step;
}

/** The first slot of a schedule set at `nowMs` inside the validity (null: none left). */
export function firstSlot(s: Schedule | null, nowMs: number, validFromS: number, validUntilS: number | null): number | null {
  if (s === null) return null;
  let slot = nextSlot(s, Math.max(nowMs, validFromS * 1000 - 1), nowMs);
  if (validUntilS !== null && slot >= validUntilS * 1000) return null;
  return slot;
}

/** Chinese description for logs and the console. */
export function describeSchedule(s: Schedule | null): string {
  if (s === null) return '不定时（手动执行）';
  return s.kind === 'daily' ? `每天 ${s.at}（北京时间）` : `每 ${s.hours} 小时`;
}

export interface DueRule {
  readonly id: string;
  readonly slotMs: number;
}

/** Rules whose next run is due at `nowMs`, oldest first. */
export async function dueRules(db: SqlClient, nowMs: number, limit = 50): Promise<DueRule[]> {
  const r = await db.query<{ id: string; next_run_at: Date }>(
    'SELECT id, next_run_at FROM exchange_verify_rules WHERE next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY next_run_at, id LIMIT $2',
    [new Date(nowMs), limit],
  );
  return r.rows.map((x) => ({ id: x.id, slotMs: new Date(x.next_run_at).getTime() }));
}
