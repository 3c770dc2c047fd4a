import type { Venue } from '../core/code-record.js';
import type { SqlClient } from '../master/sql-client.js';

/**
 * A page of venues with the total (the console's 场所码 list: "today it
 * stops at 50 rows"): name substring (ILIKE, wildcards escaped, empty = all),
 * region prefix, kind; ordered by name then id so pages are stable.
 * MasterStore.searchVenues stays the tracing search (no total, no offset).
 */
export async function listVenues(
  db: SqlClient,
  q: { text: string; regionPrefix: string; kind: 'normal' | 'entry' | null; limit: number; offset: number },
): Promise<{ venues: (Venue & { disabledAt: number | null })[]; total: number }> {
  const pattern = '%' + q.text.trim().replace(/[\\%_]/g, (ch) => '\\' + ch) + '%';
  const where = `name ILIKE $1 ESCAPE '\\' AND region LIKE $2 AND ($3::text IS NULL OR kind = $3)`;
  const args = [pattern, q.regionPrefix + '%', q.kind];
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM venues WHERE ${where}`, args);
  // disabled venues stay listed, flagged (disabledAt), so that they can be found and enabled again
  const r = await db.query<{ id: string; name: string; region: string; kind: Venue['kind']; entry_test_hours: number | null; disabled_at: Date | null }>(
    `SELECT id, name, region, kind, entry_test_hours, disabled_at FROM venues WHERE ${where} ORDER BY name, id LIMIT $4 OFFSET $5`,
    [...args, q.limit, q.offset],
  );
  return {
    venues: r.rows.map((x) => ({
      id: x.id, name: x.name, region: x.region, kind: x.kind, entryTestHours: x.entry_test_hours,
      disabledAt: x.disabled_at === null ? null : Math.floor(new Date(x.disabled_at).getTime() / 1000),
    })),
    total: total.rows[0]!.n,
  };
}
