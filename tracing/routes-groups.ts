import ExcelJS from 'exceljs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { seesMasked } from '../admin-api/roles.js';
import { ANY_OBJECT, COLOR, REASON, UNIX_SECONDS } from '../admin-api/schemas.js';
import type { Color } from '../core/code-record.js';
import { maskIdNo, maskPhone } from '../core/identity.js';
import { regionName } from '../core/regions.js';
import { raiseAlertEvent } from '../master/alert-events.js';
import type { MasterStore, PersonRow } from '../master/store.js';
import { TracingError } from './errors.js';
import type { GroupRow, GroupService } from './groups.js';
import { evidenceView, loadPersons, personLine } from './people.js';
import { ID_PARAMS, PAGE_QUERY, pageOf } from './routes-tasks.js';
import { ERRORS_4XX } from './schemas.js';
import { registerReadRoutes } from './read-routes.js';
import type { TaskService } from './tasks.js';

/**
 * Risk groups: make one from a task, read it, page its people, export it
 * (XLSX, masked by the caller's role, audited), and ask for one code change
 * of the whole group — a pending bulk request that a second official
 * approves through the shell's bulk flow (POST /admin/v1/codes/bulk/:id/approve).
 */
const COLOR_ZH: Record<string, string> = { green: '绿码', yellow: '黄码', red: '红码', none: '未赋码' };

/** The masked look-up label the bulk flow shows its approver and writes to the audit log. */
export function maskedLabel(store: MasterStore, p: PersonRow): string {
  const r = store.revealPerson(p);
  if (r.certificate !== null) return `${r.certificate.type}:${maskIdNo(r.certificate.number)}`;
  if (r.phone !== null) return maskPhone(r.phone);
  return `person:${p.id}`;
}

function groupView(g: GroupRow): Record<string, unknown> {
  return { ...g, regionName: g.regionPrefix === '' ? '全省' : regionName(g.regionPrefix) };
}

export function registerGroupRoutes(app: FastifyInstance, ctx: Ctx, tasks: TaskService, groups: GroupService, maxGroup: number): void {
  const { store } = ctx.deps;
  void tasks;
  /** groups whose change request is being prepared in this process */
  const inFlight = new Set<number>();

  app.post('/admin/v1/tracing/tasks/:id/group', {
    config: { access: 'tracing.write', rate: 'admin' },
    schema: {
      summary: 'Make the task\'s people a risk group', tags: ['tracing'], params: ID_PARAMS,
      body: { type: 'object', additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } },
      response: { 201: ANY_OBJECT, ...ERRORS_4XX },
    },
  }, async (req, reply) => {
    const who = principalOf(req);
    const taskId = Number((req.params as { id: string }).id);
    const g = await groups.createFromTask(taskId, (req.body as { name?: string } | undefined)?.name, who);
    await ctx.audit(req, { action: 'tracing.group.create', target: `group:${g.id}`, outcome: 'ok', details: { id: g.id, taskId, people: g.people } });
    return reply.code(201).send(groupView(g));
  });

  registerReadRoutes(app, [
    {
      path: '/admin/v1/tracing/groups', access: 'tracing.read', summary: 'Risk groups of your region, newest first',
      answer: async (_req, who) => ({ groups: (await groups.list(who.regionPrefix)).map(groupView) }),
    },
    {
      path: '/admin/v1/tracing/groups/:id', access: 'tracing.read', params: ID_PARAMS,
      summary: 'A risk group: counts by current colour, code changes asked and their state',
      answer: async (req, who) => {
        const g = await groups.get(Number((req.params as { id: string }).id), who.regionPrefix);
        const changes = (await groups.changes(g.id)).map((c) => ({
          ...c,
          // pending while the shell holds it; once decided (or expired) it leaves the pending set
          status: ctx.bulk.get(c.bulkRequestId)?.status ?? 'decided',
        }));
        return { ...groupView(g), colours: await groups.colours(g.id), changes };
      },
    },
  ]);

  registerReadRoutes(app, [{
    path: '/admin/v1/tracing/groups/:id/people', access: 'tracing.read', params: ID_PARAMS, querystring: PAGE_QUERY,
    summary: 'People of a risk group (masked for masked roles); audited',
    answer: async (req, who) => {
      const g = await groups.get(Number((req.params as { id: string }).id), who.regionPrefix);
      const { offset, limit } = pageOf(req.query);
      const members = await groups.members(g.id, offset, limit);
      const persons = await loadPersons(store.db, members.map((m) => m.personId));
      const evidence = await evidenceOf(store, g.taskId, members.map((m) => m.personId));
      const people = members.flatMap((m) => {
        const p = persons.get(m.personId);
        return p === undefined ? [] : [{ ...personLine(store, p, who), evidence: evidenceView(evidence.get(m.personId) ?? { venues: [], trips: [] }, who) }];
      });
      await ctx.audit(req, { action: 'tracing.group.people', target: `group:${g.id}`, outcome: 'ok', details: { id: g.id, offset, count: people.length } });
      return { total: g.people, offset, people };
    },
  }]);

  app.get('/admin/v1/tracing/groups/:id/export.xlsx', {
    config: { access: 'tracing.read', rate: 'admin' },
    schema: { summary: 'The group as an XLSX workbook, masked by your role; audited', tags: ['tracing'], params: ID_PARAMS, response: ERRORS_4XX },
  }, async (req, reply) => {
    const who = principalOf(req);
    const g = await groups.get(Number((req.params as { id: string }).id), who.regionPrefix);
    const members = await groups.members(g.id);
    const masked = seesMasked(who.role);
    // audited before the data leaves (no audit, no data)
    await ctx.audit(req, { action: 'tracing.group.export', target: `group:${g.id}`, outcome: 'ok', details: { id: g.id, count: members.length, masked } });
    const wb = new ExcelJS.Workbook();
    wb.creator = '健康码管理后台';
    const ws = wb.addWorksheet('风险人群');
    ws.columns = [
      { header: '序号', key: 'n', width: 6 },
      { header: '姓名', key: 'name', width: 12 },
      { header: '证件号码', key: 'idNo', width: 22 },
      { header: '手机号码', key: 'phone', width: 14 },
      { header: '所属地区', key: 'region', width: 28 },
      { header: '当前码色', key: 'color', width: 10 },
      { header: '关联场所次数', key: 'venues', width: 12 },
      { header: '同乘车次数', key: 'trips', width: 12 },
    ];
    const evidence = await evidenceOf(store, g.taskId, members.map((m) => m.personId));
    let n = 0;
    for (let off = 0; off < members.length; off += 1000) {
      const page = members.slice(off, off + 1000);
      const persons = await loadPersons(store.db, page.map((m) => m.personId));
      for (const m of page) {
        const p = persons.get(m.personId);
        if (p === undefined) continue;
        const v = personLine(store, p, who);
        const e = evidence.get(m.personId);
        ws.addRow({
          n: ++n, name: v.name, idNo: v.idNo ?? '', phone: v.phone ?? '', region: v.regionName,
          color: COLOR_ZH[v.color ?? 'none'], venues: e?.venues.length ?? 0, trips: e?.trips.length ?? 0,
        });
      }
    }
    ws.getRow(1).font = { bold: true };
    const buf = Buffer.from(await wb.xlsx.writeBuffer());
    const file = encodeURIComponent(`${g.name}.xlsx`);
    return reply
      .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('content-disposition', `attachment; filename="group-${g.id}.xlsx"; filename*=UTF-8''${file}`)
      .header('cache-control', 'no-store')
      .send(buf);
  });

  app.post('/admin/v1/tracing/groups/:id/change', {
    config: { access: 'codes.write', rate: 'admin' },
    schema: {
      summary: 'Ask for one code change of the whole group: a bulk request a second official approves', tags: ['tracing'], params: ID_PARAMS,
      body: { type: 'object', additionalProperties: false, required: ['color', 'reason'], properties: { color: COLOR, reason: REASON, until: UNIX_SECONDS } },
      response: { 202: ANY_OBJECT, ...ERRORS_4XX },
    },
  }, async (req, reply) => {
    const who = principalOf(req);
    const g = await groups.get(Number((req.params as { id: string }).id), who.regionPrefix);
    const b = req.body as { color: Color; reason: string; until?: number };
    const until = b.until ?? null;
    if (until !== null && until <= ctx.now()) throw new TracingError('TRC_ERR_UNTIL_PAST', undefined, 'until');
    // two officials pressing at once: the second is refused here, before any await
    if (inFlight.has(g.id)) throw new TracingError('TRC_ERR_CHANGE_PENDING');
    inFlight.add(g.id);
    try {
      return await requestChange(g, b, until, who.username, req, reply);
    } finally {
      inFlight.delete(g.id);
    }
  });

  async function requestChange(
    g: GroupRow, b: { color: Color; reason: string }, until: number | null, username: string, req: FastifyRequest, reply: FastifyReply,
  ): Promise<FastifyReply> {
    const pending = (await groups.changes(g.id)).find((c) => ctx.bulk.get(c.bulkRequestId)?.status === 'pending');
    if (pending !== undefined) throw new TracingError('TRC_ERR_CHANGE_PENDING', `request ${pending.bulkRequestId}`);
    const members = await groups.members(g.id);
    if (members.length === 0) throw new TracingError('TRC_ERR_GROUP_EMPTY');
    if (members.length > maxGroup) throw new TracingError('TRC_ERR_GROUP_TOO_LARGE', `${members.length} people, at most ${maxGroup}`);
    const targets: string[] = [];
    for (let off = 0; off < members.length; off += 1000) {
      const page = members.slice(off, off + 1000);
      const persons = await loadPersons(store.db, page.map((m) => m.personId));
      for (const m of page) {
        const p = persons.get(m.personId);
        targets.push(p === undefined ? `person:${m.personId}` : maskedLabel(store, p.row));
      }
    }
    const change = { color: b.color, reason: b.reason, until };
    const request = ctx.bulk.create({
      requestedBy: username, change,
      personIds: members.map((m) => m.personId), regions: members.map((m) => m.region), targets,
    });
    await store.db.transaction(async (tx) => {
      await groups.recordChange(tx, g.id, { bulkRequestId: request.id, ...change, requestedBy: username, people: members.length });
      // the alerting capability turns this into the SMS hook (notify the group's members once approved)
      await raiseAlertEvent(tx, {
        source: 'tracing', kind: 'tracing.group.change_requested', severity: 'info', key: `group:${g.id}`,
        summary: `风险人群「${g.name.slice(0, 60)}」申请批量转为${COLOR_ZH[b.color]}，共 ${members.length} 人，待复核`,
        details: { groupId: g.id, bulkRequestId: request.id, color: b.color, people: members.length },
        ...(g.regionPrefix.length >= 2 ? { region: g.regionPrefix } : {}),
      });
      await ctx.audit(req, {
        action: 'codes.bulk.request', target: `bulk:${request.id}`, outcome: 'pending',
        details: { id: request.id, count: members.length, ...change, groupId: g.id },
      }, tx);
    });
    return reply.code(202).send({ groupId: g.id, bulkRequestId: request.id, status: request.status, count: members.length, expiresAt: request.expiresAt });
  }
}

async function evidenceOf(store: MasterStore, taskId: number, ids: readonly number[]): Promise<Map<number, { venues: unknown[]; trips: unknown[] }>> {
  if (ids.length === 0) return new Map();
  const r = await store.db.query<{ person_id: number; evidence: { venues: unknown[]; trips: unknown[] } }>(
    `SELECT person_id, evidence FROM tracing_task_people
      WHERE task_id = $1 AND person_id IN (SELECT jsonb_array_elements_text($2::jsonb)::bigint)`,
    [taskId, JSON.stringify(ids)],
  );
  return new Map(r.rows.map((x) => [x.person_id, x.evidence]));
}
