import { createHash } from 'node:crypto';
import { alertEventsAfter, type AlertEvent, type AlertSeverity } from '../master/alert-events.js';
import type { AuditLog } from '../master/audit-log.js';
import type { SqlClient } from '../master/sql-client.js';
import { AlertingError } from './errors.js';
import { codeMatches, compare, DEFAULT_RULES, eventMatches, METRICS, parseRule, SEVERITY_ZH, type GroupLabel, type RuleSpec } from './rules.js';
import type { SmsClient, SmsPurpose } from './sms-client.js';

/**
 * The alert engine, Alertmanager's semantics over our tables:
 *
 *   alert_events (cursor) ─┐                   ┌─ pending ──for──▶ firing ──▶ resolved
 *   monitor samples ───────┴─▶ rules (data) ──▶│   one row per fingerprint (rule + key)
 *                                              └─ groups (rule + groupBy labels)
 *   per group, each tick:  new firing after group_wait → one SMS (a storm is one SMS)
 *                          still firing, unacked, repeat interval passed → repeat SMS
 *                          resolved after being told → one resolve SMS
 *                          unacked past escalateAfter → escalation SMS
 *   silences mute matching alerts; an acknowledgement stops repeats and escalation.
 *
 * Each phase is one transaction: the state change, its audit entries and the
 * SMS rows commit together, so a crash repeats nothing and loses nothing.
 * Times are the host's clock (host.nowMs()).
 */
export interface MetricSample {
  readonly metric: string;
  /** identifies the series: {edge: 'http://10.0.0.7:8080'}; {} for a single one */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export type AlertStatus = 'pending' | 'firing' | 'resolved';

export interface Alert {
  readonly id: number;
  readonly ruleId: string;
  readonly ruleName: string;
  readonly groupKey: string;
  readonly key: string;
  readonly source: string;
  readonly kind: string;
  readonly severity: AlertSeverity;
  readonly summary: string;
  readonly region: string | null;
  readonly value: number | null;
  readonly status: AlertStatus;
  readonly startedMs: number;
  readonly firedMs: number | null;
  readonly lastSeenMs: number;
  readonly resolvedMs: number | null;
  readonly notifiedMs: number | null;
  readonly ackedMs: number | null;
  readonly ackedBy: string | null;
  readonly escalatedMs: number | null;
  readonly events: number;
  readonly silenced: boolean;
}

export interface SilenceMatchers {
  readonly ruleId?: string;
  readonly source?: string;
  readonly kind?: string;
  readonly key?: string;
  readonly region?: string;
}

export interface Silence {
  readonly id: number;
  readonly matchers: SilenceMatchers;
  readonly startsMs: number;
  readonly endsMs: number;
  readonly createdBy: string;
  readonly comment: string;
  readonly createdMs: number;
  readonly expiredMs: number | null;
}

export interface EngineOptions {
  readonly db: SqlClient;
  readonly sms: SmsClient;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly log: (line: string) => void;
}

export interface TickResult {
  events: number;
  fired: number;
  resolved: number;
  messages: number;
}

const ACTOR = 'system:alerting';
const EVENT_BATCH = 2000;

interface AlertRow {
  id: string | number;
  fingerprint: string;
  rule_id: string;
  group_key: string;
  key: string;
  source: string;
  kind: string;
  severity: AlertSeverity;
  summary: string;
  region: string | null;
  value: number | null;
  status: AlertStatus;
  started_ms: string | number;
  fired_ms: string | number | null;
  last_seen_ms: string | number;
  resolved_ms: string | number | null;
  notified_ms: string | number | null;
  resolve_notified_ms: string | number | null;
  acked_ms: string | number | null;
  acked_by: string | null;
  escalated_ms: string | number | null;
  events: number;
}

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

/** Identity numbers and mobiles never reach an SMS, even if a producer slipped one into a summary. */
export function scrub(text: string): string {
  return text
    .replace(/(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g, (m) => `${m.slice(0, 4)}**********${m.slice(14)}`)
    .replace(/(?<![0-9A-Za-z])\d{15}(?![0-9A-Za-z])/g, (m) => `${m.slice(0, 4)}*******${m.slice(11)}`)
    .replace(/(?<![0-9])1[3-9]\d{9}(?![0-9])/g, (m) => `${m.slice(0, 3)}****${m.slice(7)}`);
}

/** China time for a message: 12-07 10:32. */
export function chinaTime(ms: number): string {
  const d = new Date(ms + 8 * 3_600_000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1024 ** 3) return `${(v / 1024 ** 3).toFixed(1)}G`;
  if (Math.abs(v) >= 1024 ** 2 && Number.isInteger(v)) return `${(v / 1024 ** 2).toFixed(0)}M`;
  if (!Number.isInteger(v)) return v < 1 ? `${(v * 100).toFixed(1)}%` : v.toFixed(2);
  return String(v);
}

function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
}

export class AlertEngine {
  private rulesCache: RuleSpec[] | null = null;
  private samples = new Map<string, { atMs: number; series: MetricSample[] }>();
  private running: Promise<TickResult> | null = null;
  /** alert_events cursor, read once from alerting_cursor then kept here (one engine per master) */
  private cursor: number | null = null;
  /** false once a round found nothing open and nothing to tell: the next quiet round skips the notify read */
  private mayNotify = true;
  readonly counters = { fired: 0, resolved: 0, messages: 0, events: 0 };

  constructor(private readonly o: EngineOptions) {}

  // ----------------------------------------------------------------- rules

  /** Seeds the built-in rules the first time (an operator's edits are kept). */
  async seedRules(): Promise<void> {
    for (const r of DEFAULT_RULES) {
      await this.o.db.query(
        `INSERT INTO alerting_rules (id, spec, builtin, updated_ms, updated_by) VALUES ($1, $2::jsonb, true, $3, $4) ON CONFLICT (id) DO NOTHING`,
        [r.id, JSON.stringify(r), this.o.now(), ACTOR],
      );
    }
    this.rulesCache = null;
  }

  async rules(): Promise<RuleSpec[]> {
    if (this.rulesCache === null) {
      const r = await this.o.db.query<{ spec: RuleSpec | string }>(`SELECT spec FROM alerting_rules ORDER BY builtin DESC, id`);
      const all = r.rows.map((x) => (typeof x.spec === 'string' ? (JSON.parse(x.spec) as RuleSpec) : x.spec));
      // event rules in a stable order: the built-in catch-alls last, so an operator's specific rule takes its events first
      this.rulesCache = [...all.filter((x) => !DEFAULT_RULES.some((d) => d.id === x.id)), ...all.filter((x) => DEFAULT_RULES.some((d) => d.id === x.id))];
    }
    return this.rulesCache;
  }

  async putRule(input: unknown, by: string): Promise<RuleSpec> {
    const rule = parseRule(input);
    await this.o.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO alerting_rules (id, spec, builtin, updated_ms, updated_by) VALUES ($1, $2::jsonb, false, $3, $4)
         ON CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec, updated_ms = EXCLUDED.updated_ms, updated_by = EXCLUDED.updated_by`,
        [rule.id, JSON.stringify(rule), this.o.now(), by],
      );
    });
    this.rulesCache = null;
    return rule;
  }

  async deleteRule(id: string): Promise<void> {
    const r = await this.o.db.query(`DELETE FROM alerting_rules WHERE id = $1`, [id]);
    if (r.rowCount === 0) throw new AlertingError('ALR_ERR_NOT_FOUND', `no rule ${id}`);
    this.rulesCache = null;
  }

  // --------------------------------------------------------------- samples

  /** The monitors' latest samples; metric rules are evaluated against them on the next tick. */
  observe(samples: readonly MetricSample[], metricsObserved: readonly string[]): void {
    const at = this.o.now();
    for (const m of metricsObserved) this.samples.set(m, { atMs: at, series: [] });
    for (const s of samples) {
      const e = this.samples.get(s.metric) ?? { atMs: at, series: [] };
      e.series.push(s);
      this.samples.set(s.metric, e);
    }
  }

  // ------------------------------------------------------------------ tick

  /** One round: events, metrics, state changes, notifications. Single flight. */
  tick(): Promise<TickResult> {
    if (this.running !== null) return this.running.then(() => this.tick());
    this.running = this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async round(): Promise<TickResult> {
    const res: TickResult = { events: 0, fired: 0, resolved: 0, messages: 0 };
    const rules = await this.rules();
    const byId = new Map(rules.map((r) => [r.id, r]));
    res.events = await this.ingestEvents(rules);
    await this.evaluateMetrics(rules, res);
    const open = await this.transitions(byId, res);
    if (open > 0 || res.events > 0 || res.resolved > 0 || this.mayNotify) {
      res.messages = await this.notify(byId);
      this.mayNotify = open > 0;
    }
    this.counters.fired += res.fired;
    this.counters.resolved += res.resolved;
    this.counters.messages += res.messages;
    this.counters.events += res.events;
    return res;
  }

  private async ingestEvents(rules: readonly RuleSpec[]): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.cursor === null) {
        const c = await this.o.db.query<{ last_id: string | number }>(`SELECT last_id FROM alerting_cursor WHERE name = 'alert_events'`);
        this.cursor = c.rows.length === 0 ? 0 : Number(c.rows[0]!.last_id);
      }
      const after = this.cursor;
      const events = await alertEventsAfter(this.o.db, after, EVENT_BATCH);
      if (events.length === 0) return total;
      const now = this.o.now();
      await this.o.db.transaction(async (tx) => {
        for (const e of events) {
          const rule = rules.find((r) => r.enabled && r.condition.type === 'event' && eventMatches(r.condition, e));
          if (rule !== undefined) await this.upsertEventAlert(tx, rule, e, now);
        }
        await tx.query(
          `INSERT INTO alerting_cursor (name, last_id) VALUES ('alert_events', $1) ON CONFLICT (name) DO UPDATE SET last_id = EXCLUDED.last_id`,
          [events[events.length - 1]!.id],
        );
      });
      this.cursor = events[events.length - 1]!.id;
      total += events.length;
      if (events.length < EVENT_BATCH) return total;
    }
  }

  private groupKey(rule: RuleSpec, labels: Record<GroupLabel, string>): string {
    return [rule.id, ...rule.groupBy.map((g) => `${g}=${labels[g]}`)].join('|');
  }

  private async upsertEventAlert(tx: SqlClient, rule: RuleSpec, e: AlertEvent, now: number): Promise<void> {
    const fp = `${rule.id}|${e.source}|${e.kind}|${e.key}`;
    const summary = scrub(e.summary);
    const r = await tx.query(
      `UPDATE alerting_alerts SET last_seen_ms = $2, events = events + 1, summary = $3 WHERE fingerprint = $1 AND status <> 'resolved'`,
      [fp, now, summary],
    );
    if (r.rowCount > 0) return;
    const gk = this.groupKey(rule, { source: e.source, kind: e.kind, region: e.region ?? '', key: e.key });
    await tx.query(
      `INSERT INTO alerting_alerts (fingerprint, rule_id, group_key, key, source, kind, severity, summary, region, status, started_ms, last_seen_ms, events)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $10, 1)`,
      [fp, rule.id, gk, e.key, e.source, e.kind, rule.severity, summary, e.region, now],
    );
  }

  private async evaluateMetrics(rules: readonly RuleSpec[], res: TickResult): Promise<void> {
    const now = this.o.now();
    const metricRules = rules.filter((r) => r.enabled && r.condition.type === 'metric');
    if (metricRules.length === 0 || this.samples.size === 0) return;
    // decide in memory first: a quiet system (nothing true, nothing open) writes nothing
    const open = await this.o.db.query<{ id: string | number; fingerprint: string; rule_id: string; status: AlertStatus; value: number | null }>(
      `SELECT a.id, a.fingerprint, a.rule_id, a.status, a.value FROM alerting_alerts a WHERE a.status <> 'resolved' AND a.source = 'monitor'`,
    );
    const openByFp = new Map(open.rows.map((a) => [a.fingerprint, a]));
    type Write = { kind: 'update' | 'insert'; fp: string; rule: RuleSpec; metric: string; lt: string; value: number; summary: string } | { kind: 'resolve'; id: number; rule: RuleSpec; status: AlertStatus };
    const writes: Write[] = [];
    for (const rule of metricRules) {
      const c = rule.condition as Extract<RuleSpec['condition'], { type: 'metric' }>;
      const obs = this.samples.get(c.metric);
      if (obs === undefined) continue;
      const trueFps = new Set<string>();
      for (const s of obs.series) {
        if (!compare(c.op, s.value, c.value)) continue;
        const lt = labelText(s.labels);
        const fp = `${rule.id}|${c.metric}|${lt}`;
        trueFps.add(fp);
        const summary = `${rule.name}：${METRICS[c.metric]} ${fmt(s.value)}（阈值 ${c.op} ${fmt(c.value)}）${lt === '' ? '' : `，${lt}`}`;
        writes.push({ kind: openByFp.has(fp) ? 'update' : 'insert', fp, rule, metric: c.metric, lt, value: s.value, summary });
      }
      // observed and no longer true: resolved (a pending one simply disappears into resolved, never told)
      for (const a of open.rows) {
        if (a.rule_id === rule.id && !trueFps.has(a.fingerprint)) writes.push({ kind: 'resolve', id: Number(a.id), rule, status: a.status });
      }
    }
    // a sample counts once: the next tick waits for the next monitor round instead of re-writing the same values
    for (const rule of metricRules) this.samples.delete((rule.condition as { metric: string }).metric);
    if (writes.length === 0) return;
    await this.o.db.transaction(async (tx) => {
      for (const w of writes) {
        if (w.kind === 'resolve') {
          await this.resolve(tx, w.id, w.rule, w.status, now, 'condition cleared');
          if (w.status === 'firing') res.resolved++;
        } else if (w.kind === 'update') {
          await tx.query(`UPDATE alerting_alerts SET last_seen_ms = $2, value = $3, summary = $4 WHERE fingerprint = $1 AND status <> 'resolved'`, [w.fp, now, w.value, w.summary]);
        } else {
          const gk = this.groupKey(w.rule, { source: 'monitor', kind: w.metric, region: '', key: w.lt });
          await tx.query(
            `INSERT INTO alerting_alerts (fingerprint, rule_id, group_key, key, source, kind, severity, summary, region, value, status, started_ms, last_seen_ms, events)
             VALUES ($1, $2, $3, $4, 'monitor', $5, $6, $7, NULL, $8, 'pending', $9, $9, 0)`,
            [w.fp, w.rule.id, gk, w.lt === '' ? w.metric : w.lt, w.metric, w.rule.severity, w.summary, w.value, now],
          );
        }
      }
    });
  }

  private async resolve(tx: SqlClient, id: number, rule: RuleSpec | undefined, from: AlertStatus, now: number, why: string): Promise<void> {
    await tx.query(`UPDATE alerting_alerts SET status = 'resolved', resolved_ms = $2 WHERE id = $1`, [id, now]);
    if (from === 'firing') {
      await this.o.audit.append({ actor: ACTOR, role: 'system', action: 'alerting.resolve', target: rule?.id ?? null, outcome: 'ok', details: { alertId: id, why } }, tx);
    }
  }

  /** Returns how many alerts are open (pending or firing) after it. */
  private async transitions(byId: Map<string, RuleSpec>, res: TickResult): Promise<number> {
    const now = this.o.now();
    const open = await this.o.db.query<AlertRow>(`SELECT * FROM alerting_alerts WHERE status <> 'resolved' ORDER BY id`);
    if (open.rows.length === 0) return 0;
    let stillOpen = open.rows.length;
    await this.o.db.transaction(async (tx) => {
      for (const a of open.rows) {
        const rule = byId.get(a.rule_id);
        const id = Number(a.id);
        if (rule === undefined || !rule.enabled) {
          await this.resolve(tx, id, rule, a.status, now, 'rule removed or disabled');
          if (a.status === 'firing') res.resolved++;
          stillOpen--;
          continue;
        }
        const quietFor = now - Number(a.last_seen_ms);
        if (rule.condition.type === 'event' && quietFor >= rule.resolveAfterSec * 1000) {
          await this.resolve(tx, id, rule, a.status, now, `no event for ${rule.resolveAfterSec} s`);
          if (a.status === 'firing') res.resolved++;
          stillOpen--;
          continue;
        }
        if (a.status === 'pending' && now - Number(a.started_ms) >= rule.forSec * 1000) {
          await tx.query(`UPDATE alerting_alerts SET status = 'firing', fired_ms = $2 WHERE id = $1`, [id, now]);
          await this.o.audit.append(
            { actor: ACTOR, role: 'system', action: 'alerting.fire', target: rule.id, outcome: 'ok', details: { alertId: id, kind: a.kind, source: a.source, severity: a.severity, key: a.key.slice(0, 120) } },
            tx,
          );
          res.fired++;
        }
      }
    });
    return stillOpen;
  }

  private async activeSilences(now: number): Promise<Silence[]> {
    return (await this.listSilences()).filter((s) => s.expiredMs === null && s.startsMs <= now && now < s.endsMs);
  }

  private static silencedBy(s: readonly Silence[], a: { rule_id: string; source: string; kind: string; key: string; region: string | null }): boolean {
    return s.some((x) => {
      const m = x.matchers;
      return (
        (m.ruleId === undefined || m.ruleId === a.rule_id) &&
        codeMatches(m.source, a.source) &&
        codeMatches(m.kind, a.kind) &&
        (m.key === undefined || m.key === a.key) &&
        (m.region === undefined || (a.region ?? '').startsWith(m.region))
      );
    });
  }

  private async notify(byId: Map<string, RuleSpec>): Promise<number> {
    const now = this.o.now();
    const rows = await this.o.db.query<AlertRow>(
      `SELECT * FROM alerting_alerts WHERE status = 'firing' OR (status = 'resolved' AND notified_ms IS NOT NULL AND resolve_notified_ms IS NULL) ORDER BY id`,
    );
    if (rows.rows.length === 0) return 0;
    const silences = await this.activeSilences(now);
    const groups = new Map<string, AlertRow[]>();
    for (const a of rows.rows) groups.set(a.group_key, [...(groups.get(a.group_key) ?? []), a]);
    const g = await this.o.db.query<{ group_key: string; last_notified_ms: string | number }>(`SELECT group_key, last_notified_ms FROM alerting_groups`);
    const lastNotified = new Map(g.rows.map((x) => [x.group_key, Number(x.last_notified_ms)]));
    let messages = 0;
    await this.o.db.transaction(async (tx) => {
      for (const [gk, alerts] of groups) {
        const rule = byId.get(alerts[0]!.rule_id);
        if (rule === undefined) continue;
        const firing = alerts.filter((a) => a.status === 'firing' && !AlertEngine.silencedBy(silences, a));
        const fresh = firing.filter((a) => a.notified_ms === null);
        const sev = `[${SEVERITY_ZH[rule.severity]}]`;
        const send = async (purpose: SmsPurpose, recipients: 'oncall' | 'escalation', head: string, list: readonly AlertRow[]): Promise<void> => {
          const id = `${purpose}-${createHash('sha256').update(`${gk}|${purpose}|${now}`).digest('hex').slice(0, 32)}`;
          const shown = list.slice(0, 3).map((a) => a.summary.slice(0, 60)).join('；');
          const more = list.length > 3 ? ` 等${list.length}条` : '';
          const text = `${head}：${shown}${more}。${chinaTime(now)}，请登录控制台处理。`;
          await this.o.sms.enqueue(tx, { id, text, recipients, severity: rule.severity, purpose, groupKey: gk });
          await this.o.audit.append(
            { actor: ACTOR, role: 'system', action: 'alerting.notify', target: rule.id, outcome: 'queued', details: { sms: id, purpose, alerts: list.length, alertIds: list.slice(0, 50).map((a) => Number(a.id)) } },
            tx,
          );
          messages++;
        };
        if (fresh.length > 0) {
          const firstFired = Math.min(...fresh.map((a) => Number(a.fired_ms)));
          if (now - firstFired >= rule.groupWaitSec * 1000) {
            await send('firing', rule.recipients, `${sev}${rule.name} 新增${fresh.length}条告警（未恢复共${firing.length}条）`, fresh);
            await tx.query(`UPDATE alerting_alerts SET notified_ms = $2 WHERE id = ANY($1::bigint[])`, [fresh.map((a) => Number(a.id)), now]);
            await this.touchGroup(tx, gk, rule.id, now);
            lastNotified.set(gk, now);
          }
        } else {
          const unacked = firing.filter((a) => a.notified_ms !== null && a.acked_ms === null);
          const last = lastNotified.get(gk) ?? 0;
          if (unacked.length > 0 && now - last >= rule.repeatSec * 1000) {
            await send('repeat', rule.recipients, `${sev}[重复]${rule.name} 仍有${unacked.length}条告警未恢复、未确认`, unacked);
            await this.touchGroup(tx, gk, rule.id, now);
          }
        }
        if (rule.escalateAfterSec > 0) {
          const due = firing.filter((a) => a.notified_ms !== null && a.acked_ms === null && a.escalated_ms === null && now - Number(a.fired_ms) >= rule.escalateAfterSec * 1000);
          if (due.length > 0) {
            await send('escalation', rule.escalateTo, `[升级]${sev}${rule.name} ${due.length}条告警超过${Math.round(rule.escalateAfterSec / 60)}分钟无人确认`, due);
            await tx.query(`UPDATE alerting_alerts SET escalated_ms = $2 WHERE id = ANY($1::bigint[])`, [due.map((a) => Number(a.id)), now]);
          }
        }
        const resolved = alerts.filter((a) => a.status === 'resolved');
        if (resolved.length > 0) {
          const told = resolved.filter((a) => !AlertEngine.silencedBy(silences, a));
          if (told.length > 0) await send('resolved', rule.recipients, `[已恢复]${rule.name} ${told.length}条告警已恢复`, told);
          await tx.query(`UPDATE alerting_alerts SET resolve_notified_ms = $2 WHERE id = ANY($1::bigint[])`, [resolved.map((a) => Number(a.id)), now]);
        }
      }
    });
    return messages;
  }

  private async touchGroup(tx: SqlClient, gk: string, ruleId: string, now: number): Promise<void> {
    await tx.query(
      `INSERT INTO alerting_groups (group_key, rule_id, last_notified_ms) VALUES ($1, $2, $3)
       ON CONFLICT (group_key) DO UPDATE SET last_notified_ms = EXCLUDED.last_notified_ms`,
      [gk, ruleId, now],
    );
  }

  // ------------------------------------------------------ console actions

  async ack(id: number, by: string, tx: SqlClient): Promise<void> {
    const r = await tx.query<{ status: AlertStatus; acked_ms: string | null }>(`SELECT status, acked_ms FROM alerting_alerts WHERE id = $1 FOR UPDATE`, [id]);
    if (r.rows.length === 0) throw new AlertingError('ALR_ERR_NOT_FOUND', `no alert ${id}`);
    if (r.rows[0]!.status === 'resolved' || r.rows[0]!.acked_ms !== null) throw new AlertingError('ALR_ERR_ALREADY_ACKED');
    await tx.query(`UPDATE alerting_alerts SET acked_ms = $2, acked_by = $3 WHERE id = $1`, [id, this.o.now(), by]);
  }

  async listAlerts(q: { status?: 'open' | 'resolved' | 'all'; limit?: number } = {}): Promise<Alert[]> {
    const where = q.status === 'resolved' ? `status = 'resolved'` : q.status === 'all' ? 'true' : `status <> 'resolved'`;
    const r = await this.o.db.query<AlertRow>(`SELECT * FROM alerting_alerts WHERE ${where} ORDER BY id DESC LIMIT $1`, [Math.min(Math.max(q.limit ?? 200, 1), 2000)]);
    const rules = new Map((await this.rules()).map((x) => [x.id, x]));
    const silences = await this.activeSilences(this.o.now());
    return r.rows.map((a) => ({
      id: Number(a.id),
      ruleId: a.rule_id,
      ruleName: rules.get(a.rule_id)?.name ?? a.rule_id,
      groupKey: a.group_key,
      key: a.key,
      source: a.source,
      kind: a.kind,
      severity: a.severity,
      summary: a.summary,
      region: a.region,
      value: a.value,
      status: a.status,
      startedMs: Number(a.started_ms),
      firedMs: num(a.fired_ms),
      lastSeenMs: Number(a.last_seen_ms),
      resolvedMs: num(a.resolved_ms),
      notifiedMs: num(a.notified_ms),
      ackedMs: num(a.acked_ms),
      ackedBy: a.acked_by,
      escalatedMs: num(a.escalated_ms),
      events: a.events,
      silenced: a.status !== 'resolved' && AlertEngine.silencedBy(silences, a),
    }));
  }

  async counts(): Promise<Record<AlertStatus, number>> {
    const r = await this.o.db.query<{ status: AlertStatus; n: string | number }>(`SELECT status, count(*) AS n FROM alerting_alerts WHERE status <> 'resolved' GROUP BY status`);
    const out: Record<AlertStatus, number> = { pending: 0, firing: 0, resolved: 0 };
    for (const x of r.rows) out[x.status] = Number(x.n);
    return out;
  }

  async createSilence(input: { matchers: SilenceMatchers; startsMs?: number; durationMin: number; comment: string }, by: string, tx: SqlClient): Promise<Silence> {
    const m = input.matchers;
    const keys = Object.entries(m).filter(([, v]) => v !== undefined && v !== '');
    if (keys.length === 0) throw new AlertingError('ALR_ERR_SILENCE_INVALID', 'at least one matcher', 'matchers');
    const now = this.o.now();
    const starts = input.startsMs ?? now;
    if (!Number.isInteger(input.durationMin) || input.durationMin < 1 || input.durationMin > 30 * 24 * 60) throw new AlertingError('ALR_ERR_SILENCE_INVALID', 'must be 1 minute to 30 days', 'durationMin');
    if (starts < now - 60_000 || starts > now + 30 * 86_400_000) throw new AlertingError('ALR_ERR_SILENCE_INVALID', 'must start between now and 30 days ahead', 'startsMs');
    if (input.comment.trim() === '') throw new AlertingError('ALR_ERR_SILENCE_INVALID', 'say why', 'comment');
    const clean = Object.fromEntries(keys) as SilenceMatchers;
    const r = await tx.query<{ id: string | number }>(
      `INSERT INTO alerting_silences (matchers, starts_ms, ends_ms, created_by, comment, created_ms) VALUES ($1::jsonb, $2, $3, $4, $5, $6) RETURNING id`,
      [JSON.stringify(clean), starts, starts + input.durationMin * 60_000, by, input.comment.trim(), now],
    );
    return { id: Number(r.rows[0]!.id), matchers: clean, startsMs: starts, endsMs: starts + input.durationMin * 60_000, createdBy: by, comment: input.comment.trim(), createdMs: now, expiredMs: null };
  }

  async expireSilence(id: number, tx: SqlClient): Promise<void> {
    const r = await tx.query(`UPDATE alerting_silences SET expired_ms = $2 WHERE id = $1 AND expired_ms IS NULL`, [id, this.o.now()]);
    if (r.rowCount === 0) throw new AlertingError('ALR_ERR_NOT_FOUND', `no active silence ${id}`);
  }

  async listSilences(): Promise<Silence[]> {
    const r = await this.o.db.query<{ id: string | number; matchers: SilenceMatchers | string; starts_ms: string; ends_ms: string; created_by: string; comment: string; created_ms: string; expired_ms: string | null }>(
      `SELECT * FROM alerting_silences ORDER BY id DESC LIMIT 500`,
    );
    return r.rows.map((s) => ({
      id: Number(s.id),
      matchers: typeof s.matchers === 'string' ? (JSON.parse(s.matchers) as SilenceMatchers) : s.matchers,
      startsMs: Number(s.starts_ms),
      endsMs: Number(s.ends_ms),
      createdBy: s.created_by,
      comment: s.comment,
      createdMs: Number(s.created_ms),
      expiredMs: num(s.expired_ms),
    }));
  }
}
