import type { SqlClient } from '../master/sql-client.js';
import type { DayRange } from './stats.js';

/**
 * 今日异常数据, drilled down: rows the exchange rejected per dataset and
 * department (only where its tables exist), scans of unknown place codes
 * per code and edge node (province only: they have no region), and code
 * changes per rule version — a version that is not the one in force (a
 * draft, rolled back, or an older one) changing codes is unusual and
 * flagged. Region-scoped like the dashboard.
 */
const inScope = (col: string, p: string): string => `(${p} = '' OR ${col} LIKE ${p} || '%')`;

export interface Anomalies {
  rejected: { dataset: string; department: string; batches: number; rows: number; rejected: number }[];
  unknownVenues: { venueId: string; node: string; scans: number }[];
  ruleVersions: { version: string | null; status: string | null; current: boolean; unusual: boolean; changed: number; people: number }[];
}

export async function anomaliesOf(db: SqlClient, range: DayRange, prefix: string): Promise<Anomalies> {
  const from = new Date(range.start * 1000);
  const to = new Date(range.end * 1000);
  const hasExchange = (await db.query<{ t: string | null }>("SELECT to_regclass('exchange_batches')::text AS t")).rows[0]?.t != null;
  const rejected = hasExchange
    ? (await db.query<{ dataset: string; department: string; batches: number; rows: number; rejected: number }>(
      `SELECT dataset, department, count(*)::int AS batches, sum(rows_total)::int AS rows, sum(rejected)::int AS rejected
         FROM exchange_batches WHERE created_at >= $1 AND created_at < $2 AND ${inScope('region', '$3')}
        GROUP BY 1, 2 HAVING sum(rejected) > 0 OR bool_or(status = 'failed') ORDER BY rejected DESC, 1, 2 LIMIT 100`, [from, to, prefix])).rows
    : [];
  const unknownVenues = prefix !== '' ? [] : (await db.query<{ venue_id: string; node: string; scans: number }>(
    `SELECT s.venue_id, s.node, count(*)::int AS scans FROM scans s
      WHERE s.at >= $1 AND s.at < $2 AND s.venue_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM venues v WHERE v.id = s.venue_id)
      GROUP BY 1, 2 ORDER BY scans DESC, 1, 2 LIMIT 100`, [from, to])).rows.map((x) => ({ venueId: x.venue_id, node: x.node, scans: x.scans }));
  const versions = await db.query<{ version: string | null; status: string | null; current: boolean; changed: number; people: number }>(
    `WITH cur AS (SELECT version FROM rule_versions WHERE status = 'published' AND active_from <= $2 ORDER BY active_from DESC, published_at DESC LIMIT 1)
     SELECT h.rule_version AS version, r.status, (h.rule_version = (SELECT version FROM cur)) IS TRUE AS current,
            count(*)::int AS changed, count(DISTINCT h.person_id)::int AS people
       FROM code_history h JOIN persons p ON p.id = h.person_id LEFT JOIN rule_versions r ON r.version = h.rule_version
      WHERE h.at >= $1 AND h.at < $2 AND h.prev_color IS DISTINCT FROM h.color AND h.rule_version IS NOT NULL AND ${inScope('p.region', '$3')}
      GROUP BY 1, 2, 3 ORDER BY changed DESC, 1`, [from, to, prefix]);
  const anyCurrent = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM rule_versions WHERE status = 'published'")).rows[0]!.n > 0;
  return {
    rejected,
    unknownVenues,
    // with no published version at all (the built-in rules) nothing is unusual
    ruleVersions: versions.rows.map((v) => ({ ...v, unusual: anyCurrent && !v.current })),
  };
}
