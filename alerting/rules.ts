import type { AlertSeverity } from '../master/alert-events.js';
import { AlertingError } from './errors.js';
import type { Recipients } from './sms-client.js';

/**
 * Alert rules are data (告警规则, table alerting_rules), Alertmanager's
 * vocabulary: a condition over an alert event or a monitor metric, a
 * for-duration before it fires, a severity, who hears it, how alerts group
 * into one message, how often an unresolved group is re-sent, when an
 * unacknowledged alert escalates. Event rules are tried in order, the first
 * that matches an event takes it (Alertmanager's route tree, flattened).
 */
export type Op = '>' | '>=' | '<' | '<=';
export type GroupLabel = 'source' | 'kind' | 'region' | 'key';

export type RuleCondition =
  | { readonly type: 'event'; readonly source?: string; readonly kind?: string; readonly minSeverity?: AlertSeverity }
  | { readonly type: 'metric'; readonly metric: string; readonly op: Op; readonly value: number };

export interface RuleSpec {
  readonly id: string;
  /** Chinese: what the SMS and the console call it */
  readonly name: string;
  readonly enabled: boolean;
  readonly severity: AlertSeverity;
  readonly condition: RuleCondition;
  /** the condition must hold this long before the alert fires (pending until then) */
  readonly forSec: number;
  readonly recipients: Recipients;
  readonly groupBy: readonly GroupLabel[];
  /** wait this long after the first alert of a new group so a storm becomes one SMS */
  readonly groupWaitSec: number;
  readonly repeatSec: number;
  /** event alerts: resolved when no event came for this long (Alertmanager resolve_timeout) */
  readonly resolveAfterSec: number;
  /** 0 = never; otherwise an unacknowledged firing alert goes to `escalateTo` after this long */
  readonly escalateAfterSec: number;
  readonly escalateTo: Recipients;
}

/** Metrics a rule may watch (monitors.ts produces them). */
export const METRICS: Readonly<Record<string, string>> = {
  process_cpu_ratio: '进程 CPU 占用（单核比例）',
  process_rss_bytes: '进程常驻内存（字节）',
  process_open_fds_ratio: '进程已用文件描述符比例',
  disk_free_ratio: '数据盘剩余空间比例',
  event_loop_lag_seconds: '事件循环延迟（秒）',
  db_connections_ratio: '数据库连接占用比例',
  db_long_transactions: '数据库长事务数（>60 秒）',
  db_lock_waits: '数据库锁等待数',
  db_deadlocks_delta: '新增死锁数',
  db_replication_lag_seconds: '数据库复制延迟（秒）',
  outbox_backlog: '待发布变更数（outbox 积压）',
  edge_replica_lag: '边缘副本落后条数',
  edge_replica_lag_seconds: '边缘副本同步延迟（秒）',
  edge_scrape_failed: '边缘节点不可达',
  edge_process_cpu_ratio: '边缘服务进程 CPU 占用（单核比例，最高的进程）',
  edge_process_rss_bytes: '边缘服务进程常驻内存（字节，最高的进程）',
  edge_process_open_fds: '边缘服务进程已用文件描述符（最多的进程）',
  sms_queue_oldest_seconds: '短信队列最久待发（秒）',
  publish_stalled_seconds: '变更发布停滞时长（秒）',
  delta_stream_rate: '变更流速率（条/秒）',
  snapshot_age_seconds: '最新快照年龄（秒）',
};

export const SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];
export const SEVERITY_ZH: Readonly<Record<AlertSeverity, string>> = { info: '提示', warning: '警告', critical: '严重' };

const base = { enabled: true, recipients: 'oncall', groupWaitSec: 10, resolveAfterSec: 300, escalateTo: 'escalation' } as const;

export const DEFAULT_RULES: readonly RuleSpec[] = [
  { ...base, id: 'events-critical', name: '严重事件', severity: 'critical', condition: { type: 'event', minSeverity: 'critical' }, forSec: 0, groupBy: ['source', 'kind'], repeatSec: 3600, escalateAfterSec: 900 },
  { ...base, id: 'events-warning', name: '一般事件', severity: 'warning', condition: { type: 'event', minSeverity: 'warning' }, forSec: 0, groupBy: ['source', 'kind'], repeatSec: 4 * 3600, escalateAfterSec: 0 },
  { ...base, id: 'cpu-high', name: '进程 CPU 过高', severity: 'warning', condition: { type: 'metric', metric: 'process_cpu_ratio', op: '>', value: 0.9 }, forSec: 120, groupBy: [], repeatSec: 3600, escalateAfterSec: 0 },
  { ...base, id: 'memory-high', name: '进程内存过高', severity: 'warning', condition: { type: 'metric', metric: 'process_rss_bytes', op: '>', value: 3 * 1024 ** 3 }, forSec: 300, groupBy: [], repeatSec: 3600, escalateAfterSec: 0 },
  { ...base, id: 'fds-high', name: '文件描述符将耗尽', severity: 'critical', condition: { type: 'metric', metric: 'process_open_fds_ratio', op: '>', value: 0.8 }, forSec: 60, groupBy: [], repeatSec: 3600, escalateAfterSec: 900 },
  { ...base, id: 'disk-low', name: '数据盘空间不足', severity: 'critical', condition: { type: 'metric', metric: 'disk_free_ratio', op: '<', value: 0.1 }, forSec: 60, groupBy: [], repeatSec: 3600, escalateAfterSec: 900 },
  { ...base, id: 'db-connections', name: '数据库连接将满', severity: 'warning', condition: { type: 'metric', metric: 'db_connections_ratio', op: '>', value: 0.85 }, forSec: 60, groupBy: [], repeatSec: 3600, escalateAfterSec: 0 },
  { ...base, id: 'db-long-tx', name: '数据库长事务', severity: 'warning', condition: { type: 'metric', metric: 'db_long_transactions', op: '>', value: 0 }, forSec: 60, groupBy: [], repeatSec: 3600, escalateAfterSec: 0 },
  { ...base, id: 'db-lock-waits', name: '数据库锁等待', severity: 'warning', condition: { type: 'metric', metric: 'db_lock_waits', op: '>', value: 5 }, forSec: 60, groupBy: [], repeatSec: 3600, escalateAfterSec: 0 },
  { ...base, id: 'db-deadlocks', name: '数据库死锁', severity: 'warning', condition: { type: 'metric', metric: 'db_deadlocks_delta', op: '>', value: 0 }, forSec: 0, groupBy: [], repeatSec: 3600, escalateAfterSec: 0 },
  { ...base, id: 'db-replication-lag', name: '数据库复制延迟', severity: 'critical', condition: { type: 'metric', metric: 'db_replication_lag_seconds', op: '>', value: 30 }, forSec: 60, groupBy: [], repeatSec: 3600, escalateAfterSec: 900 },
  { ...base, id: 'outbox-backlog', name: '变更发布积压', severity: 'critical', condition: { type: 'metric', metric: 'outbox_backlog', op: '>', value: 5000 }, forSec: 60, groupBy: [], repeatSec: 1800, escalateAfterSec: 900 },
  { ...base, id: 'edge-lag', name: '边缘节点副本落后', severity: 'critical', condition: { type: 'metric', metric: 'edge_replica_lag', op: '>', value: 1000 }, forSec: 60, groupBy: [], repeatSec: 1800, escalateAfterSec: 900 },
  { ...base, id: 'edge-down', name: '边缘节点不可达', severity: 'critical', condition: { type: 'metric', metric: 'edge_scrape_failed', op: '>', value: 0 }, forSec: 30, groupBy: [], repeatSec: 1800, escalateAfterSec: 900 },
  { ...base, id: 'publish-stalled', name: '变更发布停滞', severity: 'critical', condition: { type: 'metric', metric: 'publish_stalled_seconds', op: '>', value: 30 }, forSec: 0, groupBy: [], repeatSec: 1800, escalateAfterSec: 900 },
  // no built-in rule on snapshot_age_seconds: the snapshot service checkpoints only after changes,
  // so a quiet province's newest snapshot is legitimately old (the metric is for the dashboard)
  { ...base, id: 'sms-stuck', name: '告警短信积压', severity: 'warning', condition: { type: 'metric', metric: 'sms_queue_oldest_seconds', op: '>', value: 600 }, forSec: 0, groupBy: [], repeatSec: 3600, escalateAfterSec: 0 },
];

function bad(field: string, why: string): never {
  throw new AlertingError('ALR_ERR_RULE_INVALID', why, field);
}

function dur(o: Record<string, unknown>, f: string, max: number, min = 0): number {
  const v = o[f];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(f, `must be a whole number of seconds, ${min}–${max}`);
  return v;
}

const RECIPIENTS: readonly Recipients[] = ['oncall', 'escalation'];
const LABELS: readonly GroupLabel[] = ['source', 'kind', 'region', 'key'];

/** Validates untrusted input into a RuleSpec (the console's rule editor posts it). */
export function parseRule(input: unknown): RuleSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad('rule', 'must be an object');
  const o = input as Record<string, unknown>;
  if (typeof o.id !== 'string' || !/^[a-z][a-z0-9-]{0,63}$/.test(o.id)) bad('id', 'must be lower case letters, digits and -');
  if (typeof o.name !== 'string' || o.name.trim().length < 1 || o.name.length > 60) bad('name', 'must be 1–60 characters');
  if (typeof o.enabled !== 'boolean') bad('enabled', 'must be true or false');
  if (!SEVERITIES.includes(o.severity as AlertSeverity)) bad('severity', 'must be info, warning or critical');
  if (!RECIPIENTS.includes(o.recipients as Recipients)) bad('recipients', 'must be oncall or escalation');
  if (!RECIPIENTS.includes(o.escalateTo as Recipients)) bad('escalateTo', 'must be oncall or escalation');
  if (!Array.isArray(o.groupBy) || o.groupBy.some((g) => !LABELS.includes(g as GroupLabel))) bad('groupBy', 'must list source, kind, region or key');
  const c = o.condition as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null) bad('condition', 'is required');
  let condition: RuleCondition;
  if (c.type === 'event') {
    for (const f of ['source', 'kind'] as const) {
      if (c[f] !== undefined && (typeof c[f] !== 'string' || !/^[a-z][a-z0-9_.*-]{0,63}$/.test(c[f]))) bad(`condition.${f}`, 'must be a lower-case code (a trailing * matches a prefix)');
    }
    if (c.minSeverity !== undefined && !SEVERITIES.includes(c.minSeverity as AlertSeverity)) bad('condition.minSeverity', 'must be info, warning or critical');
    condition = {
      type: 'event',
      ...(c.source === undefined ? {} : { source: c.source as string }),
      ...(c.kind === undefined ? {} : { kind: c.kind as string }),
      ...(c.minSeverity === undefined ? {} : { minSeverity: c.minSeverity as AlertSeverity }),
    };
  } else if (c.type === 'metric') {
    if (typeof c.metric !== 'string' || !(c.metric in METRICS)) bad('condition.metric', `must be one of ${Object.keys(METRICS).join(', ')}`);
    if (!['>', '>=', '<', '<='].includes(c.op as string)) bad('condition.op', 'must be >, >=, < or <=');
    if (typeof c.value !== 'number' || !Number.isFinite(c.value)) bad('condition.value', 'must be a number');
    condition = { type: 'metric', metric: c.metric, op: c.op as Op, value: c.value };
  } else {
    bad('condition.type', 'must be event or metric');
  }
  return {
    id: o.id,
    name: o.name.trim(),
    enabled: o.enabled,
    severity: o.severity as AlertSeverity,
    condition,
    forSec: dur(o, 'forSec', 86_400),
    recipients: o.recipients as Recipients,
    groupBy: [...new Set(o.groupBy as GroupLabel[])],
    groupWaitSec: dur(o, 'groupWaitSec', 3600),
    repeatSec: dur(o, 'repeatSec', 7 * 86_400, 60),
    resolveAfterSec: dur(o, 'resolveAfterSec', 7 * 86_400, 10),
    escalateAfterSec: dur(o, 'escalateAfterSec', 7 * 86_400),
    escalateTo: o.escalateTo as Recipients,
  };
}

function codeMatches(pattern: string | undefined, value: string): boolean {
  if (pattern === undefined) return true;
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value;
}

export function eventMatches(c: Extract<RuleCondition, { type: 'event' }>, e: { source: string; kind: string; severity: AlertSeverity }): boolean {
  if (!codeMatches(c.source, e.source) || !codeMatches(c.kind, e.kind)) return false;
  return c.minSeverity === undefined || SEVERITIES.indexOf(e.severity) >= SEVERITIES.indexOf(c.minSeverity);
}

export function compare(op: Op, a: number, b: number): boolean {
  return op === '>' ? a > b : op === '>=' ? a >= b : op === '<' ? a < b : a <= b;
}

export { codeMatches };
