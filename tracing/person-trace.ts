import type { HistoryEntry } from '../master/code-service.js';
import type { SqlClient } from '../master/sql-client.js';

/**
 * One person's red/yellow history and lineage (疫情数据溯源): where every
 * row about them came from — facts with their department source and
 * batch:row reference, each code change with the rule version or official
 * that made it, the outbox delta (seq) that carried it to every edge, the
 * scans the edges returned, travel rows with their import reference, and
 * the tracing tasks and groups they were found in.
 */
export interface RedYellowPeriod {
  readonly color: 'red' | 'yellow';
  readonly reason: string;
  /** unix seconds */
  readonly from: number;
  /** null = still in force */
  readonly to: number | null;
  readonly ruleVersion: string | null;
  readonly actor: string;
}

/** Periods of red or yellow from the code history (oldest first). */
export function redYellowPeriods(history: readonly HistoryEntry[]): RedYellowPeriod[] {
  const asc = [...history].sort((a, b) => a.seq - b.seq);
  const out: RedYellowPeriod[] = [];
  let open: { -readonly [K in keyof RedYellowPeriod]: RedYellowPeriod[K] } | null = null;
  for (const h of asc) {
    if (open !== null && (h.color !== open.color || h.reason !== open.reason)) {
      open.to = h.at;
      out.push(open);
      open = null;
    }
    if (open === null && (h.color === 'red' || h.color === 'yellow')) {
      open = { color: h.color, reason: h.reason, from: h.at, to: null, ruleVersion: h.ruleVersion, actor: h.actor };
    }
  }
  if (open !== null) out.push(open);
  return out;
}

export interface Pushes {
  readonly seq: number;
  readonly type: string;
  readonly at: number;
}

export async function pushesOf(db: SqlClient, seqs: readonly number[]): Promise<Pushes[]> {
  if (seqs.length === 0) return [];
  const r = await db.query<{ seq: number; type: string; created_at: Date }>(
    'SELECT seq, type, created_at FROM outbox WHERE seq IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) ORDER BY seq',
    [JSON.stringify(seqs)],
  );
  return r.rows.map((x) => ({ seq: x.seq, type: x.type, at: Math.floor(x.created_at.getTime() / 1000) }));
}

export async function scansOf(db: SqlClient, uid: Buffer, sinceSec: number, limit = 200): Promise<{
  at: number; venueId: string | null; venueName: string | null; region: string | null; node: string; kind: string; color: number;
}[]> {
  const r = await db.query<{ at: Date; venue_id: string | null; name: string | null; region: string | null; node: string; kind: string; color: number }>(
    `SELECT s.at, s.venue_id, v.name, v.region, s.node, s.kind, s.color FROM scans s LEFT JOIN venues v ON v.id = s.venue_id
      WHERE s.uid = $1 AND s.at >= $2 ORDER BY s.at DESC LIMIT $3`,
    [uid, new Date(sinceSec * 1000), limit],
  );
  return r.rows.map((x) => ({
    at: Math.floor(x.at.getTime() / 1000), venueId: x.venue_id, venueName: x.name, region: x.region, node: x.node, kind: x.kind, color: x.color,
  }));
}

export async function travelOf(db: SqlClient, personId: number): Promise<{
  mode: string; number: string; date: string; seat: string | null; fromRegion: string | null; toRegion: string | null; source: string; sourceRef: string | null;
}[]> {
  const r = await db.query<{ mode: string; number: string; travel_date: string; seat: string | null; from_region: string | null; to_region: string | null; source: string; source_ref: string | null }>(
    `SELECT mode, number, travel_date, seat, from_region, to_region, source, source_ref FROM travel_segments
      WHERE person_id = $1 ORDER BY travel_date DESC, id DESC LIMIT 200`, [personId],
  );
  return r.rows.map((x) => ({
    mode: x.mode, number: x.number, date: x.travel_date, seat: x.seat, fromRegion: x.from_region, toRegion: x.to_region, source: x.source, sourceRef: x.source_ref,
  }));
}

export async function tracingOf(db: SqlClient, personId: number, prefix: string): Promise<{ taskId: number; taskName: string; groupId: number | null }[]> {
  const r = await db.query<{ task_id: number; name: string; group_id: number | null }>(
    `SELECT tp.task_id, t.name, g.id AS group_id FROM tracing_task_people tp JOIN tracing_tasks t ON t.id = tp.task_id
       LEFT JOIN tracing_groups g ON g.task_id = t.id
      WHERE tp.person_id = $1 AND t.region_prefix LIKE $2 || '%' ORDER BY tp.task_id DESC LIMIT 100`,
    [personId, prefix],
  );
  return r.rows.map((x) => ({ taskId: x.task_id, taskName: x.name, groupId: x.group_id }));
}
