import type { SqlClient } from '../master/sql-client.js';
import type { LogAuditEngine } from './engine.js';
import type { ReportData } from './report.js';

/**
 * What the report shows — events per stored day (from the signed
 * manifests), the busiest devices, alerts per rule in [fromMs, toMs) — for
 * the on-demand export (open-ended: up to now) and the scheduled daily report alike.
 */
const KIND_ZH: Record<string, string> = { 'logaudit.device_silent': '设备静默', 'logaudit.device_back': '设备恢复', 'logaudit.flood': '日志源超速', 'logaudit.shed': '缓冲区满丢弃' };
const GENERATED = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'medium', hour12: false });

export async function reportData(engine: LogAuditEngine, db: SqlClient | null, nowMs: number, range: { days: readonly string[]; fromMs: number; toMs: number | null }): Promise<ReportData> {
  engine.store.seal();
  const days = range.days.map((d) => ({ day: d, events: engine.store.readManifest(d)?.events ?? 0 }));
  const devices = [...engine.assets.values()].sort((a, b) => b.events - a.events).slice(0, 50).map((a) => ({ ip: a.ip, hostName: a.hostName, dataset: a.dataset, events: a.events, silent: a.silent }));
  const rows = db
    ? (await db.query<{ rule: string; n: string | number }>(
      `SELECT COALESCE(details->>'rule', kind) AS rule, count(*) AS n FROM alert_events
        WHERE source = 'logaudit' AND at >= $1::timestamptz AND ($2::timestamptz IS NULL OR at < $2::timestamptz) GROUP BY 1 ORDER BY 2 DESC LIMIT 100`,
      [new Date(range.fromMs).toISOString(), range.toMs === null ? null : new Date(range.toMs).toISOString()],
    )).rows
    : [];
  const zh = new Map(engine.rules.map((r) => [r.id, r.zh]));
  return { generatedAt: GENERATED.format(new Date(nowMs)), days, devices, rules: rows.map((r) => ({ rule: r.rule, zh: zh.get(r.rule) ?? KIND_ZH[r.rule] ?? r.rule, alerts: Number(r.n) })) };
}
