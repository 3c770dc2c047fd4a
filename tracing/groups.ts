import type { SqlClient } from '../master/sql-client.js';
import { TracingError } from './errors.js';
import { TaskService } from './tasks.js';

/**
 * Risk groups (风险人群): a finished task's people frozen into one unit that
 * officials act on. The code change of a group is NOT applied here: it
 * becomes a pending bulk request of the back office (admin-api
 * bulk-requests.ts) that a second official approves with the shell's own
 * POST /admin/v1/codes/bulk/:id/approve — which transcodes every member,
 * writes their outbox deltas (pushed to every edge) and audits each. This
 * table only remembers which request belongs to which group.
 */
export interface GroupRow {
  readonly id: number;
  readonly taskId: number;
  readonly name: string;
  readonly regionPrefix: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly people: number;
}

export interface GroupChangeRow {
  readonly id: number;
  readonly bulkRequestId: string;
  readonly color: string;
  readonly reason: string;
  readonly until: number | null;
  readonly requestedBy: string;
  readonly requestedAt: number;
  readonly people: number;
}

const sec = (d: Date | null): number | null => (d === null ? null : Math.floor(d.getTime() / 1000));

export class GroupService {
  constructor(
    private readonly db: SqlClient,
    private readonly tasks: TaskService,
    private readonly nowMs: () => number,
  ) {}

  async createFromTask(taskId: number, name: string | undefined, who: { username: string; regionPrefix: string }): Promise<GroupRow> {
    const t = await this.tasks.get(taskId, who.regionPrefix);
    if (t.groupId !== null) throw new TracingError('TRC_ERR_GROUP_EXISTS');
    if (t.state !== 'done' || t.people === 0) throw new TracingError('TRC_ERR_GROUP_EMPTY');
    const id = await this.db.transaction(async (tx) => {
      const g = await tx.query<{ id: number }>(
        `INSERT INTO tracing_groups (task_id, name, region_prefix, created_by, created_at, people)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [t.id, name ?? `${t.name} 风险人群`, t.regionPrefix, who.username, new Date(this.nowMs()), t.people],
      );
      const gid = g.rows[0]!.id;
      await tx.query(
        'INSERT INTO tracing_group_members (group_id, person_id) SELECT $1, person_id FROM tracing_task_people WHERE task_id = $2',
        [gid, t.id],
      );
      return gid;
    });
    return this.get(id, who.regionPrefix);
  }

  async get(id: number, prefix: string): Promise<GroupRow> {
    const r = await this.db.query<{ id: number; task_id: number; name: string; region_prefix: string; created_by: string; created_at: Date; people: number }>(
      'SELECT id, task_id, name, region_prefix, created_by, created_at, people FROM tracing_groups WHERE id = $1', [id],
    );
    const g = r.rows[0];
    if (g === undefined || !TaskService.visible(g.region_prefix, prefix)) throw new TracingError('TRC_ERR_GROUP_NOT_FOUND');
    return { id: g.id, taskId: g.task_id, name: g.name, regionPrefix: g.region_prefix, createdBy: g.created_by, createdAt: sec(g.created_at)!, people: g.people };
  }

  async list(prefix: string, limit = 100): Promise<GroupRow[]> {
    const r = await this.db.query<{ id: number }>(
      `SELECT id FROM tracing_groups WHERE region_prefix LIKE $1 || '%' ORDER BY id DESC LIMIT $2`, [prefix, limit],
    );
    return Promise.all(r.rows.map((x) => this.get(x.id, prefix)));
  }

  /** Members with their region (for the bulk request's approver scoping), in person id order. */
  async members(groupId: number, offset = 0, limit = 1_000_000): Promise<{ personId: number; region: string | null }[]> {
    const r = await this.db.query<{ person_id: number; region: string | null }>(
      `SELECT m.person_id, p.region FROM tracing_group_members m JOIN persons p ON p.id = m.person_id
        WHERE m.group_id = $1 ORDER BY m.person_id OFFSET $2 LIMIT $3`,
      [groupId, offset, limit],
    );
    return r.rows.map((x) => ({ personId: x.person_id, region: x.region }));
  }

  /** How many members hold each colour now (the group page's progress after an approval). */
  async colours(groupId: number): Promise<Record<string, number>> {
    const r = await this.db.query<{ color: string | null; n: number }>(
      `SELECT c.color, count(*)::int AS n FROM tracing_group_members m LEFT JOIN codes c ON c.person_id = m.person_id
        WHERE m.group_id = $1 GROUP BY c.color`, [groupId],
    );
    return Object.fromEntries(r.rows.map((x) => [x.color ?? 'none', x.n]));
  }

  async changes(groupId: number): Promise<GroupChangeRow[]> {
    const r = await this.db.query<{
      id: number; bulk_request_id: string; color: string; reason: string; until_at: Date | null; requested_by: string; requested_at: Date; people: number;
    }>('SELECT * FROM tracing_group_changes WHERE group_id = $1 ORDER BY id', [groupId]);
    return r.rows.map((x) => ({
      id: x.id, bulkRequestId: x.bulk_request_id, color: x.color, reason: x.reason, until: sec(x.until_at),
      requestedBy: x.requested_by, requestedAt: sec(x.requested_at)!, people: x.people,
    }));
  }

  async recordChange(tx: SqlClient, groupId: number, c: { bulkRequestId: string; color: string; reason: string; until: number | null; requestedBy: string; people: number }): Promise<void> {
    await tx.query(
      `INSERT INTO tracing_group_changes (group_id, bulk_request_id, color, reason, until_at, requested_by, requested_at, people)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [groupId, c.bulkRequestId, c.color, c.reason, c.until === null ? null : new Date(c.until * 1000), c.requestedBy, new Date(this.nowMs()), c.people],
    );
  }
}
