import { regionName } from '../core/regions.js';
import { raiseAlertEvent, type AlertEventInput } from '../master/alert-events.js';
import type { SqlClient } from '../master/sql-client.js';

/**
 * Detectors: findings computed from the master's own records, raised into
 * alert_events like any capability's (so grouping, silences, SMS and audit
 * are the engine's, one path for everything).
 *
 * 红黄码异常 (red/yellow anomalies): red and yellow assignments of the last
 * hour, counted in total and by rule version, source and city, against the
 * same hour of the previous 14 days: robust z = (x − median) / (1.4826·MAD + 1)
 * — median and MAD shrug off the odd past outbreak day that would inflate a
 * mean and standard deviation; the +1 keeps a flat-zero history from turning
 * one assignment into infinity. A finding needs x ≥ minCount, z ≥ zThreshold
 * and x ≥ 2 × median. A rule version with no history that suddenly moves
 * many codes (a mis-published rule) shows up as rule-version movers.
 *
 * 日志审计行为告警 / 数据泄露行为告警 (operator behaviour, data leaks), from audit_log:
 *   mass change   ≥ ALERT_OPERATOR_MASS_CHANGES manual transcodes / clears / bulk
 *                 approvals by one account within ALERT_OPERATOR_WINDOW_MIN → critical
 *   volume        queries + exports of one account in the last hour against its
 *                 own hourly history (14 days, same robust z) → warning
 *   odd hours     queries, exports or transcodes by a person between 00:00 and
 *                 06:00 China time → warning, once per account and night
 *   identity export  an audited export whose details say identities left
 *                 unmasked (details.identities === true or details.masked === false) → critical
 *
 * Conditions that hold (anomaly, mass change, volume) are raised again on
 * every run while they hold: the engine folds them into one open alert and
 * resolves it five minutes after they stop. One-off findings (odd hours,
 * identity exports) follow a cursor over audit_log and are raised once.
 */
export interface DetectorOptions {
  /** reads (a replica when there is one) */
  readonly db: SqlClient;
  /** raises into alert_events */
  readonly writeDb: SqlClient;
  readonly now: () => number;
  readonly massChanges: number;
  readonly windowMin: number;
  /** failed back-office logins (all accounts, all addresses) in loginWindowMin that make a flood; default 30 in 5 */
  readonly loginFailures?: number;
  readonly loginWindowMin?: number;
  readonly minCount?: number;
  readonly zThreshold?: number;
  readonly baselineDays?: number;
}

export interface Finding {
  readonly kind: string;
  readonly key: string;
  readonly summary: string;
}

export interface DetectorRun {
  readonly atMs: number;
  readonly findings: Finding[];
  readonly ms: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
const CHANGE_ACTIONS = ['codes.transcode', 'codes.clear', 'codes.bulk.approve'];
const QUERY_ACTION = /^(codes\.query|.*export.*)$/;
const SENSITIVE = /^(codes\.(query|transcode|clear|bulk\.approve)|.*export.*)$/;
const COLOR_ZH: Record<string, string> = { red: '红', yellow: '黄' };

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Robust z of x against a history: (x − median) / (1.4826·MAD + 1). */
export function robustZ(x: number, history: readonly number[]): { median: number; mad: number; z: number } {
  const med = median(history);
  const mad = median(history.map((h) => Math.abs(h - med)));
  return { median: med, mad, z: (x - med) / (1.4826 * mad + 1) };
}

function sourceOf(actor: string): string {
  if (actor.startsWith('import:') || actor.startsWith('system:')) return actor.slice(0, 60);
  return 'manual';
}

function sourceZh(s: string): string {
  if (s === 'manual') return '人工转码';
  if (s.startsWith('import:')) return `数据导入 ${s.slice(7)}`;
  if (s.startsWith('system:')) return `系统 ${s.slice(7)}`;
  return s;
}

function chinaHour(ms: number): number {
  return new Date(ms + 8 * HOUR).getUTCHours();
}

function chinaDate(ms: number): string {
  return new Date(ms + 8 * HOUR).toISOString().slice(0, 10);
}

export class Detectors {
  lastRun: DetectorRun | null = null;

  constructor(private readonly o: DetectorOptions) {}

  async run(): Promise<DetectorRun> {
    const t0 = performance.now();
    const now = this.o.now();
    const events: AlertEventInput[] = [];
    events.push(...(await this.codeAnomalies(now)));
    events.push(...(await this.massChanges(now)));
    events.push(...(await this.loginFlood(now)));
    events.push(...(await this.volumes(now)));
    const audits = await this.auditScan(now);
    if (events.length > 0 || audits.events.length > 0 || audits.cursor !== null) {
      await this.o.writeDb.transaction(async (tx) => {
        for (const e of [...events, ...audits.events]) await raiseAlertEvent(tx, e);
        if (audits.cursor !== null) {
          await tx.query(
            `INSERT INTO alerting_cursor (name, last_id) VALUES ('audit_log', $1) ON CONFLICT (name) DO UPDATE SET last_id = EXCLUDED.last_id`,
            [audits.cursor],
          );
        }
        for (const k of audits.dedupKeys) {
          await tx.query(`INSERT INTO alerting_detections (key, last_raised_ms) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET last_raised_ms = EXCLUDED.last_raised_ms`, [k, now]);
        }
      });
    }
    const all = [...events, ...audits.events];
    this.lastRun = { atMs: now, findings: all.map((e) => ({ kind: e.kind, key: e.key, summary: e.summary })), ms: performance.now() - t0 };
    return this.lastRun;
  }

  /** Red/yellow assignments, last hour vs the same hour of the previous days. */
  async codeAnomalies(now: number): Promise<AlertEventInput[]> {
    const days = this.o.baselineDays ?? 14;
    const minCount = this.o.minCount ?? 20;
    const zMin = this.o.zThreshold ?? 5;
    const r = await this.o.db.query<{ d: number; color: string; rule_version: string | null; actor: string; city: string | null; n: string | number }>(
      `SELECT d, h.color, h.rule_version, h.actor, substr(p.region, 1, 4) AS city, count(*) AS n
         FROM generate_series(0, $2::int) AS d
         JOIN code_history h
           ON h.at >= to_timestamp(($1::double precision - d * ${DAY} - ${HOUR}) / 1000)
          AND h.at <  to_timestamp(($1::double precision - d * ${DAY}) / 1000)
         JOIN persons p ON p.id = h.person_id
        WHERE h.color IN ('red', 'yellow') AND h.prev_color IS DISTINCT FROM h.color
        GROUP BY d, h.color, h.rule_version, h.actor, substr(p.region, 1, 4)`,
      [now, days],
    );
    // series key → counts per day (index = days ago)
    const series = new Map<string, { dim: string; value: string; color: string; counts: number[] }>();
    const add = (dim: string, value: string, color: string, d: number, n: number): void => {
      const k = `${dim}|${value}|${color}`;
      let s = series.get(k);
      if (s === undefined) {
        s = { dim, value, color, counts: new Array<number>(days + 1).fill(0) };
        series.set(k, s);
      }
      s.counts[d]! += n;
    };
    for (const row of r.rows) {
      const n = Number(row.n);
      const d = Number(row.d);
      add('total', 'all', row.color, d, n);
      add('rule', row.rule_version ?? 'none', row.color, d, n);
      add('source', sourceOf(row.actor), row.color, d, n);
      if (row.city !== null) add('city', row.city, row.color, d, n);
    }
    const out: AlertEventInput[] = [];
    for (const s of series.values()) {
      const x = s.counts[0]!;
      const { median: med, z } = robustZ(x, s.counts.slice(1));
      if (x < minCount || z < zMin || x < 2 * med) continue;
      const color = COLOR_ZH[s.color]!;
      const by =
        s.dim === 'total' ? '全省合计'
        : s.dim === 'rule' ? `规则版本 ${s.value}`
        : s.dim === 'source' ? `来源 ${sourceZh(s.value)}`
        : `城市 ${regionName(s.value)}`;
      const kind = s.dim === 'rule' ? 'anomaly.rule_version' : 'anomaly.codes';
      out.push({
        source: 'alerting',
        kind,
        severity: s.color === 'red' && z >= 2 * zMin ? 'critical' : 'warning',
        key: `${s.dim}:${s.value}:${s.color}`.slice(0, 200),
        summary: `${color}码赋码异常：近1小时${by}新增${x}个，前${days}天同时段中位数${med}，偏离${z.toFixed(1)}`,
        details: { dim: s.dim, value: s.value, color: s.color, count: x, median: med, z: Math.round(z * 10) / 10, baseline: s.counts.slice(1) },
        region: s.dim === 'city' ? s.value : null,
      });
    }
    return out;
  }

  async massChanges(now: number): Promise<AlertEventInput[]> {
    const r = await this.o.db.query<{ actor: string; n: string | number }>(
      `SELECT actor, count(*) AS n FROM audit_log
        WHERE at >= to_timestamp($1::double precision / 1000) AND action = ANY($2::text[]) AND outcome IN ('ok', 'partial') AND actor NOT LIKE 'system:%'
        GROUP BY actor HAVING count(*) >= $3`,
      [now - this.o.windowMin * 60_000, CHANGE_ACTIONS, this.o.massChanges],
    );
    return r.rows.map((x) => ({
      source: 'alerting',
      kind: 'operator.mass_change',
      severity: 'critical' as const,
      key: x.actor,
      summary: `账号 ${x.actor} 在${this.o.windowMin}分钟内人工转码或批量变更${Number(x.n)}次（阈值${this.o.massChanges}次）`,
      details: { actor: x.actor, count: Number(x.n), windowMin: this.o.windowMin },
    }));
  }

  /**
   * 登录失败激增: failed or locked back-office logins across all accounts. The per-address
   * limiter (LOGIN_RATE_PER_MIN) stops one guesser; a run spread over many addresses passes
   * it and only shows in the sum. The attempted names stay out of the summary: a guesser
   * types phone and ID numbers as user names.
   */
  async loginFlood(now: number): Promise<AlertEventInput[]> {
    const threshold = this.o.loginFailures ?? 30;
    const windowMin = this.o.loginWindowMin ?? 5;
    const r = await this.o.db.query<{ n: string | number; accounts: string | number }>(
      `SELECT count(*) AS n, count(DISTINCT actor) AS accounts FROM audit_log
        WHERE at >= to_timestamp($1::double precision / 1000) AND action = 'auth.login' AND outcome IN ('failed', 'locked')`,
      [now - windowMin * 60_000],
    );
    const n = Number(r.rows[0]?.n ?? 0);
    if (n < threshold) return [];
    const accounts = Number(r.rows[0]!.accounts);
    return [{
      source: 'alerting',
      kind: 'auth.login_flood',
      severity: 'critical',
      key: 'admin-login',
      summary: `${windowMin}分钟内后台登录失败${n}次，涉及${accounts}个账号名（阈值${threshold}次）`,
      details: { count: n, accounts, windowMin, threshold },
    }];
  }

  async volumes(now: number): Promise<AlertEventInput[]> {
    const days = this.o.baselineDays ?? 14;
    const r = await this.o.db.query<{ actor: string; h: number; n: string | number }>(
      `SELECT actor, floor(($1::double precision - extract(epoch FROM at) * 1000) / ${HOUR})::int AS h, count(*) AS n
         FROM audit_log
        WHERE at >= to_timestamp(($1::double precision - $2::double precision * ${DAY}) / 1000) AND at < to_timestamp($1::double precision / 1000)
          AND (action = 'codes.query' OR action LIKE '%export%') AND actor NOT LIKE 'system:%'
        GROUP BY actor, h`,
      [now, days],
    );
    const per = new Map<string, number[]>();
    for (const row of r.rows) {
      const arr = per.get(row.actor) ?? new Array<number>(days * 24).fill(0);
      if (row.h >= 0 && row.h < arr.length) arr[row.h]! += Number(row.n);
      per.set(row.actor, arr);
    }
    const out: AlertEventInput[] = [];
    for (const [actor, counts] of per) {
      const x = counts[0]!;
      const { median: med, z } = robustZ(x, counts.slice(1));
      if (x < (this.o.minCount ?? 20) * 1.5 || z < (this.o.zThreshold ?? 5) * 2) continue;
      out.push({
        source: 'alerting',
        kind: 'operator.volume',
        severity: 'warning',
        key: actor,
        summary: `账号 ${actor} 近1小时查询或导出${x}次，远超其以往每小时中位数${med}（偏离${z.toFixed(1)}）`,
        details: { actor, count: x, median: med, z: Math.round(z * 10) / 10 },
      });
    }
    return out;
  }

  private async auditScan(now: number): Promise<{ events: AlertEventInput[]; cursor: number | null; dedupKeys: string[] }> {
    const c = await this.o.writeDb.query<{ last_id: string | number }>(`SELECT last_id FROM alerting_cursor WHERE name = 'audit_log'`);
    let after: number;
    if (c.rows.length === 0) {
      // first run: start at the head, history is not news
      const h = await this.o.db.query<{ seq: string | number | null }>(`SELECT max(seq) AS seq FROM audit_log`);
      return { events: [], cursor: Number(h.rows[0]!.seq ?? 0), dedupKeys: [] };
    }
    after = Number(c.rows[0]!.last_id);
    const rows = await this.o.db.query<{ seq: string | number; at_ms: string | number; actor: string; action: string; outcome: string; details: Record<string, unknown> | string }>(
      `SELECT seq, (extract(epoch FROM at) * 1000)::bigint AS at_ms, actor, action, outcome, details FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000`,
      [after],
    );
    if (rows.rows.length === 0) return { events: [], cursor: null, dedupKeys: [] };
    const events: AlertEventInput[] = [];
    const dedupKeys: string[] = [];
    const seenOdd = new Set<string>();
    for (const row of rows.rows) {
      after = Number(row.seq);
      if (row.actor.startsWith('system:') || !SENSITIVE.test(row.action) || row.outcome === 'denied') continue;
      const at = Number(row.at_ms);
      const details = typeof row.details === 'string' ? (JSON.parse(row.details) as Record<string, unknown>) : row.details;
      if (/export/.test(row.action) && (details.identities === true || details.masked === false)) {
        events.push({
          source: 'alerting', kind: 'leak.identity_export', severity: 'critical', key: `${row.actor}:${row.seq}`,
          summary: `账号 ${row.actor} 导出了未脱敏的身份信息（审计序号 ${row.seq}）`,
          details: { actor: row.actor, action: row.action, auditSeq: Number(row.seq) },
        });
      }
      const hour = chinaHour(at);
      if (hour < 6) {
        const k = `odd:${row.actor}:${chinaDate(at)}`;
        if (seenOdd.has(k)) continue;
        seenOdd.add(k);
        const prior = await this.o.writeDb.query(`SELECT 1 FROM alerting_detections WHERE key = $1`, [k]);
        if (prior.rows.length > 0) continue;
        dedupKeys.push(k);
        events.push({
          source: 'alerting', kind: 'operator.odd_hours', severity: 'warning', key: row.actor,
          summary: `账号 ${row.actor} 在凌晨${hour}点进行了敏感操作（${QUERY_ACTION.test(row.action) ? '查询或导出' : '转码'}）`,
          details: { actor: row.actor, action: row.action, auditSeq: Number(row.seq), chinaHour: hour },
        });
      }
    }
    void now;
    return { events, cursor: after, dedupKeys };
  }
}
