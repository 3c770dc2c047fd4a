import type { SqlClient } from '../master/sql-client.js';
import { TracingError } from './errors.js';

/**
 * Back-office statistics (统计分析) as SQL over the master's tables, each
 * scoped by a region prefix ('' = the province) through persons.region or
 * venues.region. Days are China days (UTC+8, no daylight saving): the day
 * of an instant is ((at AT TIME ZONE 'UTC') + 8 h)::date, which needs no
 * time-zone database (PGlite has none to rely on).
 *
 * All of it runs on the read replica when there is one (host.readDb).
 */
export const CHINA_DAY = (col: string): string => `(((${col}) AT TIME ZONE 'UTC') + interval '8 hours')::date`;

export interface DayRange {
  readonly from: string;
  readonly to: string;
  /** unix seconds of from 00:00 and (to + 1 day) 00:00, China time */
  readonly start: number;
  readonly end: number;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function chinaDay(unixSec: number): string {
  return new Date((unixSec + 8 * 3600) * 1000).toISOString().slice(0, 10);
}

/** A China-date range, default the last `defDays` days up to today; inverted or > 366 days → TRC_ERR_RANGE. */
export function dayRange(from: string | undefined, to: string | undefined, nowSec: number, defDays = 7): DayRange {
  const t = to ?? chinaDay(nowSec);
  const f = from ?? chinaDay(Date.parse(`${t}T00:00:00Z`) / 1000 - (defDays - 1) * 86_400);
  for (const [v, field] of [[f, 'from'], [t, 'to']] as const) {
    if (!DATE.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) throw new TracingError('TRC_ERR_RANGE', 'must be YYYY-MM-DD', field);
  }
  const start = Date.parse(`${f}T00:00:00+08:00`) / 1000;
  const end = Date.parse(`${t}T00:00:00+08:00`) / 1000 + 86_400;
  if (end <= start) throw new TracingError('TRC_ERR_RANGE', 'from is after to', 'from');
  if (end - start > 366 * 86_400) throw new TracingError('TRC_ERR_RANGE', 'at most 366 days', 'from');
  return { from: f, to: t, start, end };
}

const inScope = (col: string, p: string): string => `(${p} = '' OR ${col} LIKE ${p} || '%')`;

export class StatsService {
  constructor(private readonly db: SqlClient) {}

  /**
   * Codes assigned per China day, city, colour, rule reason and source: how
   * many people got their first code (assigned) and how many changed colour
   * (changed); source is the writer (code_history.actor: the department
   * import, 'manual', or the official's account for a transcode).
   */
  async daily(range: DayRange, prefix: string): Promise<{ day: string; city: string | null; color: string; reason: string; source: string; ruleVersion: string | null; assigned: number; changed: number }[]> {
    const r = await this.db.query<{ day: string; city: string | null; color: string; reason: string; source: string; rule_version: string | null; assigned: number; changed: number }>(
      `SELECT ${CHINA_DAY('h.at')}::text AS day, left(p.region, 4) AS city, h.color, h.reason, h.actor AS source, h.rule_version,
              count(*) FILTER (WHERE h.prev_color IS NULL)::int AS assigned,
              count(*) FILTER (WHERE h.prev_color IS NOT NULL AND h.prev_color <> h.color)::int AS changed
         FROM code_history h JOIN persons p ON p.id = h.person_id
        WHERE h.at >= $1 AND h.at < $2 AND ${inScope('p.region', '$3')}
        GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5`,
      [new Date(range.start * 1000), new Date(range.end * 1000), prefix],
    );
    return r.rows.map((x) => ({ day: x.day, city: x.city, color: x.color, reason: x.reason, source: x.source, ruleVersion: x.rule_version, assigned: x.assigned, changed: x.changed }));
  }

  /** People holding a red or yellow code now, per city, colour and reason. */
  async redYellow(prefix: string, filter: { color?: string; reason?: string }): Promise<{ city: string | null; color: string; reason: string; people: number }[]> {
    const r = await this.db.query<{ city: string | null; color: string; reason: string; people: number }>(
      `SELECT left(p.region, 4) AS city, c.color, c.reason, count(*)::int AS people
         FROM codes c JOIN persons p ON p.id = c.person_id
        WHERE c.color <> 'green' AND ${inScope('p.region', '$1')}
          AND ($2::text IS NULL OR c.color = $2) AND ($3::text IS NULL OR c.reason = $3)
        GROUP BY 1, 2, 3 ORDER BY people DESC, 1, 2, 3`,
      [prefix, filter.color ?? null, filter.reason ?? null],
    );
    return r.rows;
  }

  /** Red/yellow codes given per day (the trend line). */
  async redYellowTrend(range: DayRange, prefix: string): Promise<{ day: string; red: number; yellow: number }[]> {
    const r = await this.db.query<{ day: string; red: number; yellow: number }>(
      `SELECT ${CHINA_DAY('h.at')}::text AS day,
              count(*) FILTER (WHERE h.color = 'red')::int AS red, count(*) FILTER (WHERE h.color = 'yellow')::int AS yellow
         FROM code_history h JOIN persons p ON p.id = h.person_id
        WHERE h.at >= $1 AND h.at < $2 AND h.color <> 'green' AND h.prev_color IS DISTINCT FROM h.color AND ${inScope('p.region', '$3')}
        GROUP BY 1 ORDER BY 1`,
      [new Date(range.start * 1000), new Date(range.end * 1000), prefix],
    );
    return r.rows;
  }

  /** Registered venues per city and kind. */
  async venues(prefix: string): Promise<{ city: string; kind: string; venues: number }[]> {
    const r = await this.db.query<{ city: string; kind: string; venues: number }>(
      `SELECT left(region, 4) AS city, kind, count(*)::int AS venues FROM venues WHERE ${inScope('region', '$1')}
        GROUP BY 1, 2 ORDER BY 1, 2`,
      [prefix],
    );
    return r.rows;
  }

  /** Scans per venue per day, the busiest venues first. */
  async venueScans(range: DayRange, prefix: string, limit = 50): Promise<{ venueId: string; name: string; region: string; day: string; scans: number; people: number }[]> {
    const r = await this.db.query<{ venue_id: string; name: string; region: string; day: string; scans: number; people: number }>(
      `SELECT s.venue_id, v.name, v.region, ${CHINA_DAY('s.at')}::text AS day, count(*)::int AS scans, count(DISTINCT s.uid)::int AS people
         FROM scans s JOIN venues v ON v.id = s.venue_id
        WHERE s.at >= $1 AND s.at < $2 AND ${inScope('v.region', '$3')}
        GROUP BY 1, 2, 3, 4 ORDER BY scans DESC, 1, 4 LIMIT $4`,
      [new Date(range.start * 1000), new Date(range.end * 1000), prefix, limit],
    );
    return r.rows.map((x) => ({ venueId: x.venue_id, name: x.name, region: x.region, day: x.day, scans: x.scans, people: x.people }));
  }

  /**
   * The data-flow map (数据流通一张图), from real counts: departments' facts
   * per source (import:<dataset>, an interface, a console action) → the
   * master (people, codes by colour, travel rows) → the outbox every edge
   * replays → scans the edges return. People-bound counts are scoped;
   * the outbox is the province's one stream (no personal data in a count).
   */
  async flow(range: DayRange, prefix: string): Promise<{
    sources: { source: string; facts: number; people: number }[];
    travel: { source: string; rows: number }[];
    master: { people: number; codes: Record<string, number> };
    outbox: { type: string; deltas: number }[];
    returns: { node: string; scans: number }[];
    anomalies: { unknownVenueScans: number; factsWithoutRegion: number; newRed: number; failedTasks: number };
  }> {
    const from = new Date(range.start * 1000);
    const to = new Date(range.end * 1000);
    const [sources, travel, people, codes, outbox, returns, anomalies] = await Promise.all([
      this.db.query<{ source: string; facts: number; people: number }>(
        `SELECT CASE WHEN f.source LIKE 'import:%' THEN f.source ELSE split_part(f.source, ':', 1) END AS source,
                count(*)::int AS facts, count(DISTINCT f.person_id)::int AS people
           FROM facts f JOIN persons p ON p.id = f.person_id
          WHERE f.created_at >= $1 AND f.created_at < $2 AND ${inScope('p.region', '$3')}
          GROUP BY 1 ORDER BY facts DESC LIMIT 50`, [from, to, prefix]),
      this.db.query<{ source: string; rows: number }>(
        `SELECT t.source, count(*)::int AS rows FROM travel_segments t JOIN persons p ON p.id = t.person_id
          WHERE t.created_at >= $1 AND t.created_at < $2 AND ${inScope('p.region', '$3')} GROUP BY 1 ORDER BY rows DESC LIMIT 50`, [from, to, prefix]),
      this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM persons p WHERE ${inScope('p.region', '$1')}`, [prefix]),
      this.db.query<{ color: string; n: number }>(
        `SELECT c.color, count(*)::int AS n FROM codes c JOIN persons p ON p.id = c.person_id WHERE ${inScope('p.region', '$1')} GROUP BY 1`, [prefix]),
      this.db.query<{ type: string; n: number }>(
        'SELECT type, count(*)::int AS n FROM outbox WHERE created_at >= $1 AND created_at < $2 GROUP BY 1 ORDER BY 2 DESC', [from, to]),
      this.db.query<{ node: string; n: number }>(
        `SELECT s.node, count(*)::int AS n FROM scans s LEFT JOIN venues v ON v.id = s.venue_id
          WHERE s.at >= $1 AND s.at < $2 AND ($3 = '' OR v.region LIKE $3 || '%') GROUP BY 1 ORDER BY 2 DESC LIMIT 50`, [from, to, prefix]),
      // 今日异常数据: scans of place codes the master does not know (a forged or
      // deleted code; province-wide only, they have no region), facts about
      // people without a region (no city can see them), people turned red,
      // tracing tasks that failed
      this.db.query<{ unknown_venue: number; no_region: number; new_red: number; failed: number }>(
        `SELECT
           (SELECT count(*)::int FROM scans s WHERE s.at >= $1 AND s.at < $2 AND $3 = '' AND s.venue_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM venues v WHERE v.id = s.venue_id)) AS unknown_venue,
           (SELECT count(*)::int FROM facts f JOIN persons p ON p.id = f.person_id
             WHERE f.created_at >= $1 AND f.created_at < $2 AND p.region IS NULL AND $3 = '') AS no_region,
           (SELECT count(*)::int FROM code_history h JOIN persons p ON p.id = h.person_id
             WHERE h.at >= $1 AND h.at < $2 AND h.color = 'red' AND h.prev_color IS DISTINCT FROM 'red' AND ${inScope('p.region', '$3')}) AS new_red,
           (SELECT count(*)::int FROM tracing_tasks t WHERE t.created_at >= $1 AND t.created_at < $2 AND t.state = 'failed'
              AND t.region_prefix LIKE $3 || '%') AS failed`, [from, to, prefix]),
    ]);
    const a = anomalies.rows[0]!;
    return {
      sources: sources.rows,
      travel: travel.rows,
      master: { people: people.rows[0]!.n, codes: Object.fromEntries(codes.rows.map((x) => [x.color, x.n])) },
      outbox: outbox.rows.map((x) => ({ type: x.type, deltas: x.n })),
      returns: returns.rows.map((x) => ({ node: x.node, scans: x.n })),
      anomalies: { unknownVenueScans: a.unknown_venue, factsWithoutRegion: a.no_region, newRed: a.new_red, failedTasks: a.failed },
    };
  }

  /**
   * File- and interface-level lineage (溯源到文件/接口): what each source
   * brought in, per batch (facts.source_ref = '<batchId>:<row>', the
   * exchange's convention; an interface call without a batch is '—'), with
   * the people it concerned and the code changes that source made. Scoped
   * by the people's region.
   */
  async batches(range: DayRange, prefix: string, source: string | undefined): Promise<{
    source: string; batch: string; facts: number; people: number; kinds: Record<string, number>; first: number; last: number; codeChanges: number;
  }[]> {
    const r = await this.db.query<{ source: string; batch: string; facts: number; people: number; kinds: Record<string, number>; first: Date; last: Date }>(
      `WITH f AS (
         SELECT f.source, COALESCE(NULLIF(split_part(f.source_ref, ':', 1), ''), '—') AS batch, f.kind, f.person_id, f.created_at
           FROM facts f JOIN persons p ON p.id = f.person_id
          WHERE f.created_at >= $1 AND f.created_at < $2 AND ${inScope('p.region', '$3')} AND ($4::text IS NULL OR f.source = $4)),
       k AS (SELECT source, batch, kind, count(*)::int AS n FROM f GROUP BY 1, 2, 3),
       b AS (SELECT source, batch, count(*)::int AS facts, count(DISTINCT person_id)::int AS people, min(created_at) AS first, max(created_at) AS last
               FROM f GROUP BY 1, 2)
       SELECT b.source, b.batch, b.facts, b.people, b.first, b.last,
              (SELECT jsonb_object_agg(k.kind, k.n) FROM k WHERE k.source = b.source AND k.batch = b.batch) AS kinds
         FROM b ORDER BY b.first DESC, b.source, b.batch LIMIT 200`,
      [new Date(range.start * 1000), new Date(range.end * 1000), prefix, source ?? null],
    );
    const changes = await this.db.query<{ source: string; n: number }>(
      `SELECT h.actor AS source, count(*)::int AS n FROM code_history h JOIN persons p ON p.id = h.person_id
        WHERE h.at >= $1 AND h.at < $2 AND ${inScope('p.region', '$3')} AND ($4::text IS NULL OR h.actor = $4) GROUP BY 1`,
      [new Date(range.start * 1000), new Date(range.end * 1000), prefix, source ?? null],
    );
    const bySource = new Map(changes.rows.map((x) => [x.source, x.n]));
    return r.rows.map((x) => ({
      source: x.source, batch: x.batch, facts: x.facts, people: x.people, kinds: x.kinds,
      first: Math.floor(x.first.getTime() / 1000), last: Math.floor(x.last.getTime() / 1000), codeChanges: bySource.get(x.source) ?? 0,
    }));
  }
}
