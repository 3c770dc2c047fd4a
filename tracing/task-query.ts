import type { SqlClient } from '../master/sql-client.js';
import { TracingError } from './errors.js';

/**
 * What a tracing task asks (流调任务), validated before anything runs:
 *
 *   venues   each with its own window [from, to) and 前推 (before) / 后推
 *            (after) margins in seconds: co-presence searches
 *            [from − before, to + after) at that venue
 *   trips    同乘: a vehicle (mode + number) on a China date; everyone with
 *            a travel_segments row for it
 *   exclude  'all' = people already in any earlier risk group, or a list
 *            of group ids; absent = nobody excluded
 */
export interface VenueWindow {
  readonly venueId: string;
  /** unix seconds */
  readonly from: number;
  readonly to: number;
  /** 前推 / 后推, seconds (default 0) */
  readonly before?: number;
  readonly after?: number;
}

export const TRIP_MODES = ['train', 'flight', 'bus', 'ship', 'car', 'other'] as const;
export type TripMode = (typeof TRIP_MODES)[number];

export interface Trip {
  readonly mode: TripMode;
  readonly number: string;
  /** China date YYYY-MM-DD */
  readonly date: string;
}

export interface TaskQuery {
  readonly name: string;
  readonly venues: readonly VenueWindow[];
  readonly trips: readonly Trip[];
  readonly exclude?: 'all' | readonly number[];
}

export interface TaskLimits {
  readonly retentionDays: number;
  readonly maxVenues: number;
}

export const MAX_TRIPS = 50;
const MAX_MARGIN = 14 * 86_400;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function validDate(s: string): boolean {
  const m = DATE.exec(s);
  if (m === null) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** Vehicle numbers as carriers print them: 'g 1234' → 'G1234'. */
export function normaliseNumber(n: string): string {
  return n.normalize('NFKC').replace(/\s+/g, '').toUpperCase();
}

/**
 * Checks a task's shape against the limits and the clock (unix seconds);
 * returns the query with margins defaulted and trip numbers normalised.
 * Venue existence and region are checked by `checkVenues` (needs the db).
 */
export function validateTask(q: TaskQuery, limits: TaskLimits, nowSec: number): TaskQuery {
  const venues = q.venues ?? [];
  const trips = q.trips ?? [];
  if (venues.length === 0 && trips.length === 0) throw new TracingError('TRC_ERR_NO_TARGETS', undefined, 'venues');
  if (venues.length > limits.maxVenues) {
    throw new TracingError('TRC_ERR_TOO_MANY_VENUES', `${venues.length} venues, at most ${limits.maxVenues}`, 'venues');
  }
  if (trips.length > MAX_TRIPS) throw new TracingError('TRC_ERR_TOO_MANY_VENUES', `${trips.length} trips, at most ${MAX_TRIPS}`, 'trips');
  const retention = limits.retentionDays * 86_400;
  const out: VenueWindow[] = venues.map((v, i) => {
    const f = `venues[${i}]`;
    const before = v.before ?? 0;
    const after = v.after ?? 0;
    if (v.to <= v.from) throw new TracingError('TRC_ERR_WINDOW_INVERTED', undefined, `${f}.to`);
    if (before < 0 || before > MAX_MARGIN) throw new TracingError('TRC_ERR_MARGIN', undefined, `${f}.before`);
    if (after < 0 || after > MAX_MARGIN) throw new TracingError('TRC_ERR_MARGIN', undefined, `${f}.after`);
    const start = v.from - before;
    const end = v.to + after;
    if (end - start > retention) {
      throw new TracingError('TRC_ERR_WINDOW_TOO_LONG', `${Math.ceil((end - start) / 86_400)} days, scans are kept ${limits.retentionDays}`, `${f}.from`);
    }
    if (start < nowSec - retention || start > nowSec) throw new TracingError('TRC_ERR_WINDOW_EXPIRED', undefined, `${f}.from`);
    return { venueId: v.venueId, from: v.from, to: v.to, before, after };
  });
  const outTrips: Trip[] = trips.map((t, i) => {
    const f = `trips[${i}]`;
    if (!(TRIP_MODES as readonly string[]).includes(t.mode)) throw new TracingError('TRC_ERR_TRIP', 'unknown mode', `${f}.mode`);
    const number = normaliseNumber(t.number ?? '');
    if (number.length === 0 || number.length > 32) throw new TracingError('TRC_ERR_TRIP', 'number must be 1–32 characters', `${f}.number`);
    if (!validDate(t.date)) throw new TracingError('TRC_ERR_TRIP', 'date must be YYYY-MM-DD', `${f}.date`);
    return { mode: t.mode, number, date: t.date };
  });
  return { name: q.name, venues: out, trips: outTrips, ...(q.exclude === undefined ? {} : { exclude: q.exclude }) };
}

/**
 * Every venue must exist and lie in the caller's region; one that does not
 * is answered like one that does not exist (the officer must not learn that
 * a place id belongs to another city). Returns venue id → region.
 */
export async function checkVenues(db: SqlClient, venues: readonly VenueWindow[], regionPrefix: string): Promise<Map<string, { name: string; region: string }>> {
  const wanted = [...new Set(venues.map((v) => v.venueId))];
  const r = await db.query<{ id: string; name: string; region: string }>(
    'SELECT id, name, region FROM venues WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))', [JSON.stringify(wanted)],
  );
  const found = new Map(r.rows.map((v) => [v.id, { name: v.name, region: v.region }]));
  venues.forEach((v, i) => {
    const x = found.get(v.venueId);
    if (x === undefined || !x.region.startsWith(regionPrefix)) throw new TracingError('TRC_ERR_VENUE_NOT_FOUND', undefined, `venues[${i}].venueId`);
  });
  return found;
}
