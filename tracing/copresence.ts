import type { SqlClient } from '../master/sql-client.js';
import type { Trip, VenueWindow } from './task-query.js';

/**
 * The two searches of a tracing task, as SQL over the master's tables.
 *
 * Co-presence (时空伴随): one GROUP BY per venue window, UNION ALL'd, each a
 * range scan of scans_venue_at_ix (venue_id, at) in only the day partitions
 * its window touches (the bounds are parameters, so PostgreSQL prunes the
 * partitions at executor start); then scans' pseudonymous uid → persons.
 * A join against a VALUES list of windows would let the planner pick one
 * plan for all windows and lose the per-window pruning.
 *
 * Co-travel (同乘): travel_segments_vehicle_ix (mode, number, travel_date).
 */
export interface VenueEvidence {
  readonly venueId: string;
  /** unix seconds of the first and last scan in the window */
  readonly first: number;
  readonly last: number;
  readonly scans: number;
}

export interface TripEvidence {
  readonly mode: string;
  readonly number: string;
  readonly date: string;
  readonly seat: string | null;
}

export interface PersonHit {
  readonly personId: number;
  readonly region: string | null;
  readonly venues: VenueEvidence[];
  readonly trips: TripEvidence[];
}

export interface SearchResult {
  /** scans matched (of people in scope) */
  readonly scans: number;
  readonly people: Map<number, PersonHit>;
}

function hit(people: Map<number, PersonHit>, personId: number, region: string | null): PersonHit {
  let h = people.get(personId);
  if (h === undefined) people.set(personId, (h = { personId, region, venues: [], trips: [] }));
  return h;
}

export async function searchCopresence(
  db: SqlClient, windows: readonly VenueWindow[], regionPrefix: string, into: Map<number, PersonHit> = new Map(),
): Promise<SearchResult> {
  if (windows.length === 0) return { scans: 0, people: into };
  const params: unknown[] = [regionPrefix];
  const parts = windows.map((w, i) => {
    params.push(w.venueId, new Date((w.from - (w.before ?? 0)) * 1000), new Date((w.to + (w.after ?? 0)) * 1000));
    const n = params.length;
    return `SELECT ${i} AS w, uid, min(at) AS first, max(at) AS last, count(*) AS n FROM scans
      WHERE venue_id = $${n - 2} AND at >= $${n - 1}::timestamptz AND at < $${n}::timestamptz GROUP BY uid`;
  });
  const r = await db.query<{ w: number; person_id: number; region: string | null; first: Date; last: Date; n: number }>(
    `WITH h AS (${parts.join('\nUNION ALL\n')})
     SELECT h.w, p.id AS person_id, p.region, h.first, h.last, h.n FROM h JOIN persons p ON p.uid = h.uid
      WHERE $1 = '' OR p.region LIKE $1 || '%'`,
    params,
  );
  let scans = 0;
  for (const x of r.rows) {
    scans += Number(x.n);
    hit(into, x.person_id, x.region).venues.push({
      venueId: windows[x.w]!.venueId, first: Math.floor(x.first.getTime() / 1000), last: Math.floor(x.last.getTime() / 1000), scans: Number(x.n),
    });
  }
  return { scans, people: into };
}

export async function searchCotravel(
  db: SqlClient, trips: readonly Trip[], regionPrefix: string, into: Map<number, PersonHit> = new Map(),
): Promise<SearchResult> {
  if (trips.length === 0) return { scans: 0, people: into };
  const r = await db.query<{ person_id: number; region: string | null; mode: string; number: string; travel_date: string; seat: string | null }>(
    `SELECT t.person_id, p.region, t.mode, t.number, t.travel_date, t.seat
       FROM jsonb_to_recordset($1::jsonb) AS q(mode text, number text, date date)
       JOIN travel_segments t ON t.mode = q.mode AND t.number = q.number AND t.travel_date = q.date
       JOIN persons p ON p.id = t.person_id
      WHERE $2 = '' OR p.region LIKE $2 || '%'
      ORDER BY t.person_id, t.id`,
    [JSON.stringify(trips), regionPrefix],
  );
  for (const x of r.rows) {
    const h = hit(into, x.person_id, x.region);
    if (!h.trips.some((t) => t.mode === x.mode && t.number === x.number && t.date === x.travel_date)) {
      h.trips.push({ mode: x.mode, number: x.number, date: x.travel_date, seat: x.seat });
    }
  }
  return { scans: 0, people: into };
}
