import { MasterError } from './errors.js';
import type { SqlClient } from './sql-client.js';

/**
 * Alert events: the one way a capability tells the alerting engine that
 * something needs an operator (table `alert_events`, migration 3).
 *
 *   producer (exchange, logaudit, citizen, …)          alerting engine
 *   ── in the transaction of the cause ──▶ alert_events ──▶ reads id > cursor,
 *      raiseAlertEvent(tx, {...})          (append-only)    rules, grouping,
 *                                                            silences, SMS
 *
 * Written in the producer's own transaction, an event is exactly as durable
 * as what caused it: a rolled-back import raises nothing, a committed one
 * cannot lose its alert. The engine keeps its own cursor, so a restart
 * neither loses nor repeats events.
 *
 * `summary` is what the SMS and the console show (Chinese, one line);
 * it and `details` must never carry a certificate number, phone or full name.
 */
export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface AlertEventInput {
  /** the capability: 'exchange', 'logaudit', 'citizen', … */
  readonly source: string;
  /** stable machine code, e.g. 'exchange.reject_threshold' */
  readonly kind: string;
  readonly severity: AlertSeverity;
  /** what identifies "the same problem" for deduplication and grouping, e.g. the department or device */
  readonly key: string;
  /** Chinese, one line, no personal data */
  readonly summary: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** GB/T 2260 prefix the event concerns, if any (routing to a city's on-call) */
  readonly region?: string | null;
  /** unix ms; default now() of the database */
  readonly atMs?: number;
}

export interface AlertEvent {
  readonly id: number;
  /** unix ms */
  readonly atMs: number;
  readonly source: string;
  readonly kind: string;
  readonly severity: AlertSeverity;
  readonly key: string;
  readonly summary: string;
  readonly details: Record<string, unknown>;
  readonly region: string | null;
}

const SOURCE = /^[a-z][a-z0-9-]{0,31}$/;
const KIND = /^[a-z][a-z0-9_.-]{0,63}$/;
const SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

function bad(field: string, why: string): MasterError {
  return new MasterError('MASTER_ERR_INVALID', why, field);
}

/** Appends one event; pass the transaction client of the change that caused it. Returns its id. */
export async function raiseAlertEvent(db: SqlClient, e: AlertEventInput): Promise<number> {
  if (!SOURCE.test(e.source)) throw bad('source', 'must be a lower-case capability name');
  if (!KIND.test(e.kind)) throw bad('kind', 'must be a lower-case dotted code');
  if (!SEVERITIES.includes(e.severity)) throw bad('severity', `must be one of ${SEVERITIES.join(', ')}`);
  if (e.key.length < 1 || e.key.length > 200) throw bad('key', 'must be 1..200 characters');
  if (e.summary.length < 1 || e.summary.length > 500) throw bad('summary', 'must be 1..500 characters');
  if (e.region != null && !/^[0-9]{2,12}$/.test(e.region)) throw bad('region', 'must be a GB/T 2260 prefix');
  const r = await db.query<{ id: string | number }>(
    `INSERT INTO alert_events (at, source, kind, severity, key, summary, details, region)
     VALUES (COALESCE(to_timestamp($1::double precision / 1000), now()), $2, $3, $4, $5, $6, $7::jsonb, $8)
     RETURNING id`,
    [e.atMs ?? null, e.source, e.kind, e.severity, e.key, e.summary, JSON.stringify(e.details ?? {}), e.region ?? null],
  );
  return Number(r.rows[0]!.id);
}

interface Row {
  id: string | number;
  at_ms: string | number;
  source: string;
  kind: string;
  severity: AlertSeverity;
  key: string;
  summary: string;
  details: Record<string, unknown> | string;
  region: string | null;
}

/** Events with id > `afterId`, oldest first, at most `limit` (the engine's cursor read). */
export async function alertEventsAfter(db: SqlClient, afterId: number, limit = 1000): Promise<AlertEvent[]> {
  const r = await db.query<Row>(
    `SELECT id, (extract(epoch FROM at) * 1000)::bigint AS at_ms, source, kind, severity, key, summary, details, region
       FROM alert_events WHERE id > $1 ORDER BY id LIMIT $2`,
    [afterId, limit],
  );
  return r.rows.map((x) => ({
    id: Number(x.id),
    atMs: Number(x.at_ms),
    source: x.source,
    kind: x.kind,
    severity: x.severity,
    key: x.key,
    summary: x.summary,
    details: typeof x.details === 'string' ? (JSON.parse(x.details) as Record<string, unknown>) : x.details,
    region: x.region,
  }));
}
