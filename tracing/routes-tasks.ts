import type { FastifyInstance } from 'fastify';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { ANY_OBJECT } from '../admin-api/schemas.js';
import { regionName } from '../core/regions.js';
import type { MasterStore } from '../master/store.js';
import { evidenceView, loadPersons, personLine } from './people.js';
import { ERRORS_4XX } from './schemas.js';
import { registerReadRoutes } from './read-routes.js';
import type { TaskQuery } from './task-query.js';
import { TaskService, type TaskRow } from './tasks.js';

/**
 * Tracing tasks (精准找人): create (runs at once: co-presence in well under a
 * second, PERFORMANCE in README.md), list, read, and page through the people
 * found. Reading people is reading personal data: audited before the answer.
 *
 * The body schema leaves array lengths and window order to the task
 * validation so a 10,000-venue task or an inverted window gets its own
 * TRC_ERR_* code rather than a generic schema error.
 */
/** ids in the path are strings to the schema (the shell's Ajv does not coerce) */
export const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } } } as const;
/** ?offset=&limit= of the people lists (tasks' and groups'): limit 1–500, default 100. */
export const PAGE_QUERY = {
  type: 'object', additionalProperties: false,
  properties: { offset: { type: 'string', pattern: '^[0-9]{1,9}$' }, limit: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9]{2}|500)$' } },
} as const;
export function pageOf(query: unknown): { offset: number; limit: number } {
  const q = query as { offset?: string; limit?: string };
  return { offset: Number(q.offset ?? 0), limit: Number(q.limit ?? 100) };
}
const SECONDS = { type: 'integer', minimum: 0, maximum: 0xffff_ffff } as const;

const TASK_BODY = {
  type: 'object', additionalProperties: false, required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    venues: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['venueId', 'from', 'to'],
        properties: { venueId: { type: 'string', minLength: 1, maxLength: 64 }, from: SECONDS, to: SECONDS, before: { type: 'integer' }, after: { type: 'integer' } },
      },
    },
    trips: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['mode', 'number', 'date'],
        properties: { mode: { type: 'string' }, number: { type: 'string', maxLength: 64 }, date: { type: 'string', maxLength: 10 } },
      },
    },
    exclude: { anyOf: [{ type: 'string', enum: ['all'] }, { type: 'array', maxItems: 1000, items: { type: 'integer', minimum: 1 } }] },
  },
} as const;

export function taskView(t: TaskRow): Record<string, unknown> {
  return {
    id: t.id, name: t.name, state: t.state, createdBy: t.createdBy, createdAt: t.createdAt, finishedAt: t.finishedAt,
    scans: t.scans, people: t.people, excluded: t.excluded, error: t.error, groupId: t.groupId,
    regionPrefix: t.regionPrefix, regionName: t.regionPrefix === '' ? '全省' : regionName(t.regionPrefix),
    query: t.query,
  };
}

export function registerTaskRoutes(app: FastifyInstance, ctx: Ctx, tasks: TaskService): void {
  const { store } = ctx.deps;

  app.post('/admin/v1/tracing/tasks', {
    config: { access: 'tracing.write', rate: 'admin' },
    schema: { summary: 'Create and run a tracing task (co-presence at venues, co-travel on trips)', tags: ['tracing'], body: TASK_BODY, response: { 201: ANY_OBJECT, ...ERRORS_4XX } },
  }, async (req, reply) => {
    const who = principalOf(req);
    const b = req.body as TaskQuery;
    const t0 = performance.now();
    let t: TaskRow;
    try {
      t = await tasks.create({ name: b.name, venues: b.venues ?? [], trips: b.trips ?? [], ...(b.exclude === undefined ? {} : { exclude: b.exclude }) }, who);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      await ctx.audit(req, {
        action: 'tracing.task.create', outcome: 'refused',
        details: { code: typeof code === 'string' ? code : 'error', venues: (b.venues ?? []).length, trips: (b.trips ?? []).length },
      });
      throw err;
    }
    const ms = Math.round(performance.now() - t0);
    await ctx.audit(req, {
      action: 'tracing.task.create', target: `task:${t.id}`, outcome: 'ok',
      details: { id: t.id, venues: t.query.venues.length, trips: t.query.trips.length, people: t.people, scans: t.scans, excluded: t.excluded, ms },
    });
    return reply.code(201).send({ ...taskView(t), ms });
  });

  registerReadRoutes(app, [
    {
      path: '/admin/v1/tracing/tasks', access: 'tracing.read', summary: 'Tracing tasks of your region, newest first',
      answer: async (_req, who) => ({ tasks: (await tasks.list(who.regionPrefix)).map(taskView) }),
    },
    {
      path: '/admin/v1/tracing/tasks/:id', access: 'tracing.read', summary: 'One tracing task: query, state, counts', params: ID_PARAMS,
      answer: async (req, who) => {
        const t = await tasks.get(Number((req.params as { id: string }).id), who.regionPrefix);
        const names = await venueNames(store, t.query.venues.map((v) => v.venueId));
        return { ...taskView(t), venueNames: names };
      },
    },
  ]);

  registerReadRoutes(app, [{
    path: '/admin/v1/tracing/tasks/:id/people', access: 'tracing.read', params: ID_PARAMS, querystring: PAGE_QUERY,
    summary: 'People a task found, with evidence (masked for masked roles); audited',
    answer: async (req, who) => {
      const t = await tasks.get(Number((req.params as { id: string }).id), who.regionPrefix);
      const { offset, limit } = pageOf(req.query);
      const rows = await tasks.people(t.id, offset, limit);
      const persons = await loadPersons(store.db, rows.map((r) => r.personId));
      const people = rows.flatMap((r) => {
        const p = persons.get(r.personId);
        return p === undefined ? [] : [{ ...personLine(store, p, who), evidence: evidenceView(r.evidence, who) }];
      });
      await ctx.audit(req, { action: 'tracing.task.people', target: `task:${t.id}`, outcome: 'ok', details: { id: t.id, offset, count: people.length } });
      return { total: t.people, offset, people };
    },
  }]);
}

export async function venueNames(store: MasterStore, ids: readonly string[]): Promise<Record<string, string>> {
  if (ids.length === 0) return {};
  const r = await store.db.query<{ id: string; name: string }>(
    'SELECT id, name FROM venues WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))', [JSON.stringify([...new Set(ids)])],
  );
  return Object.fromEntries(r.rows.map((x) => [x.id, x.name]));
}
