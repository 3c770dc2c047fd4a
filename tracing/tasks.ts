import type { SqlClient } from '../master/sql-client.js';
import { searchCopresence, searchCotravel, type PersonHit } from './copresence.js';
import { TracingError } from './errors.js';
import { checkVenues, validateTask, type TaskLimits, type TaskQuery } from './task-query.js';

/**
 * Tracing tasks: validate → search (co-presence, co-travel) → drop people
 * already in earlier groups → keep query, result and state.
 *
 * The task row is written 'running' first and committed, so a task whose
 * search fails (a timeout on a huge window, the database gone) is left
 * 'failed' with the error code instead of vanishing; its people and the
 * 'done' state then commit together, so a reader never sees half a result.
 */
export interface TaskRow {
  readonly id: number;
  readonly name: string;
  readonly query: TaskQuery;
  readonly state: 'running' | 'done' | 'failed';
  readonly regionPrefix: string;
  readonly createdBy: string;
  /** unix seconds */
  readonly createdAt: number;
  readonly finishedAt: number | null;
  readonly scans: number;
  readonly people: number;
  readonly excluded: number;
  readonly error: string | null;
  readonly groupId: number | null;
}

interface TaskDbRow {
  id: number; name: string; query: TaskQuery; state: TaskRow['state']; region_prefix: string; created_by: string;
  created_at: Date; finished_at: Date | null; scans: number; people: number; excluded: number; error: string | null; group_id: number | null;
}

const COLUMNS = `t.id, t.name, t.query, t.state, t.region_prefix, t.created_by, t.created_at, t.finished_at, t.scans, t.people,
  t.excluded, t.error, g.id AS group_id`;

function toTask(r: TaskDbRow): TaskRow {
  return {
    id: r.id, name: r.name, query: r.query, state: r.state, regionPrefix: r.region_prefix, createdBy: r.created_by,
    createdAt: Math.floor(r.created_at.getTime() / 1000), finishedAt: r.finished_at === null ? null : Math.floor(r.finished_at.getTime() / 1000),
    scans: Number(r.scans), people: r.people, excluded: r.excluded, error: r.error, groupId: r.group_id,
  };
}

export interface TaskPersonRow {
  readonly personId: number;
  readonly evidence: { venues: PersonHit['venues']; trips: PersonHit['trips'] };
}

export class TaskService {
  constructor(
    private readonly db: SqlClient,
    private readonly readDb: SqlClient,
    private readonly limits: TaskLimits,
    private readonly nowMs: () => number,
  ) {}

  /** Whether a record made in scope `made` is visible to a caller with prefix `caller`. */
  static visible(made: string, caller: string): boolean {
    return made.startsWith(caller);
  }

  async create(input: TaskQuery, who: { username: string; regionPrefix: string }): Promise<TaskRow> {
    const nowSec = Math.floor(this.nowMs() / 1000);
    const q = validateTask(input, this.limits, nowSec);
    await checkVenues(this.readDb, q.venues, who.regionPrefix);
    const excludeIds = await this.exclusionGroups(q.exclude, who.regionPrefix);
    const ins = await this.db.query<{ id: number }>(
      `INSERT INTO tracing_tasks (name, query, state, region_prefix, created_by, created_at)
       VALUES ($1, $2::jsonb, 'running', $3, $4, $5) RETURNING id`,
      [q.name, JSON.stringify(q), who.regionPrefix, who.username, new Date(this.nowMs())],
    );
    const id = ins.rows[0]!.id;
    try {
      const people = new Map<number, PersonHit>();
      const cp = await searchCopresence(this.readDb, q.venues, who.regionPrefix, people);
      await searchCotravel(this.readDb, q.trips, who.regionPrefix, people);
      let excluded = 0;
      if (excludeIds !== null && people.size > 0) {
        const r = await this.readDb.query<{ person_id: number }>(
          `SELECT DISTINCT person_id FROM tracing_group_members
            WHERE person_id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)
              AND ($2::jsonb IS NULL OR group_id IN (SELECT jsonb_array_elements_text($2::jsonb)::bigint))`,
          [JSON.stringify([...people.keys()]), excludeIds === 'all' ? null : JSON.stringify(excludeIds)],
        );
        for (const x of r.rows) if (people.delete(x.person_id)) excluded++;
      }
      await this.db.transaction(async (tx) => {
        const rows = [...people.values()].map((p) => ({ p: p.personId, e: { venues: p.venues, trips: p.trips } }));
        for (let off = 0; off < rows.length; off += 5000) {
          await tx.query(
            `INSERT INTO tracing_task_people (task_id, person_id, evidence)
             SELECT $1, x.p, x.e FROM jsonb_to_recordset($2::jsonb) AS x(p bigint, e jsonb)`,
            [id, JSON.stringify(rows.slice(off, off + 5000))],
          );
        }
        await tx.query(
          `UPDATE tracing_tasks SET state = 'done', finished_at = $2, scans = $3, people = $4, excluded = $5 WHERE id = $1`,
          [id, new Date(this.nowMs()), cp.scans, people.size, excluded],
        );
      });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      await this.db.query(`UPDATE tracing_tasks SET state = 'failed', finished_at = $2, error = $3 WHERE id = $1`, [
        id, new Date(this.nowMs()), typeof code === 'string' ? code : 'error',
      ]);
      throw err;
    }
    return this.get(id, who.regionPrefix);
  }

  /** null = exclude nobody, 'all' = every group, else the listed groups (each must be visible). */
  private async exclusionGroups(ex: TaskQuery['exclude'], prefix: string): Promise<'all' | number[] | null> {
    if (ex === undefined) return null;
    if (ex === 'all') return 'all';
    if (ex.length === 0) return null;
    const r = await this.readDb.query<{ id: number; region_prefix: string }>(
      'SELECT id, region_prefix FROM tracing_groups WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)', [JSON.stringify(ex)],
    );
    const seen = new Map(r.rows.map((g) => [g.id, g.region_prefix]));
    ex.forEach((gid, i) => {
      const made = seen.get(gid);
      if (made === undefined || !TaskService.visible(made, prefix)) throw new TracingError('TRC_ERR_GROUP_NOT_FOUND', undefined, `exclude[${i}]`);
    });
    return [...ex];
  }

  async get(id: number, prefix: string): Promise<TaskRow> {
    const r = await this.db.query<TaskDbRow>(
      `SELECT ${COLUMNS} FROM tracing_tasks t LEFT JOIN tracing_groups g ON g.task_id = t.id WHERE t.id = $1`, [id],
    );
    const row = r.rows[0];
    if (row === undefined || !TaskService.visible(row.region_prefix, prefix)) throw new TracingError('TRC_ERR_TASK_NOT_FOUND');
    return toTask(row);
  }

  async list(prefix: string, limit = 100): Promise<TaskRow[]> {
    const r = await this.db.query<TaskDbRow>(
      `SELECT ${COLUMNS} FROM tracing_tasks t LEFT JOIN tracing_groups g ON g.task_id = t.id
        WHERE t.region_prefix LIKE $1 || '%' ORDER BY t.id DESC LIMIT $2`, [prefix, limit],
    );
    return r.rows.map(toTask);
  }

  async people(taskId: number, offset: number, limit: number): Promise<TaskPersonRow[]> {
    const r = await this.db.query<{ person_id: number; evidence: TaskPersonRow['evidence'] }>(
      'SELECT person_id, evidence FROM tracing_task_people WHERE task_id = $1 ORDER BY person_id OFFSET $2 LIMIT $3',
      [taskId, offset, limit],
    );
    return r.rows.map((x) => ({ personId: x.person_id, evidence: x.evidence }));
  }
}
