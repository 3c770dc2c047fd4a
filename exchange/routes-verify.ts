import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CapabilityHost } from '../admin-api/capability.js';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { seesMasked } from '../admin-api/roles.js';
import { ERROR_BODY } from '../admin-api/schemas.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import { mismatchRows, statsPdf, statsXlsx, taskReport, taskReportPdf, taskReportXlsx, verifyStats } from './verify-report.js';
import type { VerifyRule, VerifyRules } from './verify-rules.js';
import { MISMATCH_KINDS, type MismatchKind, type VerifyTasks } from './verify-tasks.js';

/**
 * The assignment verification's API (赋码数据核查, issue 10 item 5):
 *
 *   GET  /admin/v1/exchange/verify/rules                  rules (a city officer: its region's)
 *   POST /admin/v1/exchange/verify/rules                  a new rule → 201
 *   GET  /admin/v1/exchange/verify/rules/:id              one rule
 *   PUT  /admin/v1/exchange/verify/rules/:id              change it (tasks keep what they ran with)
 *   POST /admin/v1/exchange/verify/rules/:id/tasks        start a task {periodFrom?, periodTo?} → 202
 *   GET  /admin/v1/exchange/verify/tasks                  tasks, newest first (?rule=)
 *   GET  /admin/v1/exchange/verify/tasks/:id              state, progress, counts and run log
 *   POST /admin/v1/exchange/verify/tasks/:id/stop|resume|rerun
 *   GET  /admin/v1/exchange/verify/tasks/:id/report       problems first, counts, by certificate type, first mismatches
 *   GET  /admin/v1/exchange/verify/tasks/:id/mismatches   drill-down, paged, ?kind=
 *   GET  /admin/v1/exchange/verify/tasks/:id/report.xlsx|.pdf   (audited)
 *   GET  /admin/v1/exchange/verify/stats                  by rule and China day (?rule=&days=)
 *   GET  /admin/v1/exchange/verify/stats.xlsx|.pdf        (audited)
 *
 * Reading needs exchange.read, changing exchange.write (as the other exchange
 * routes); a city officer's rules and tasks cover its region only, and those
 * of other regions answer 404 like missing ones. Identities are masked for
 * roles that see masked data (the analyst).
 */
const RULE_ID = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^vr_[0-9a-f]{12}$' } } } as const;
const TASK_ID = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^vt_[0-9a-f]{12}$' } } } as const;
/** admin-api validates without type coercion: numbers in a query string are digit strings. */
const DIGITS = { type: 'string', pattern: '^[0-9]{1,9}$' } as const;
const RULE_BODY = {
  type: 'object', additionalProperties: false,
  properties: {
    name: { type: 'string' }, dataset: { type: 'string' }, codeSource: { type: 'string' }, checkDistribution: { type: 'boolean' },
    windowDays: { type: ['integer', 'null'] }, periodFrom: { type: ['integer', 'null'] }, periodTo: { type: ['integer', 'null'] },
    validFrom: { type: ['integer', 'null'] }, validUntil: { type: ['integer', 'null'] },
    checkEdges: { type: 'boolean' }, schedule: { type: ['object', 'null'] },
  },
} as const;
const ANY = { type: 'object', additionalProperties: true } as const;
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

function intOf(s: string | undefined, def: number, min: number, max: number): number {
  return s === undefined ? def : Math.min(max, Math.max(min, Number(s)));
}

function ruleView(r: VerifyRule): VerifyRule {
  return r;
}

export interface VerifyParts {
  readonly rules: VerifyRules;
  readonly tasks: VerifyTasks;
}

export function registerVerifyRoutes(app: FastifyInstance, ctx: Ctx, host: CapabilityHost, parts: VerifyParts): void {
  const { rules, tasks } = parts;
  const crypto = new PiiCrypto(host.secrets);
  const read = (): typeof host.db => host.readDb ?? host.db;
  const scope = (req: FastifyRequest): string => principalOf(req).regionPrefix;
  const masked = (req: FastifyRequest): boolean => seesMasked(principalOf(req).role);

  app.get('/admin/v1/exchange/verify/rules', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'Assignment verification rules (赋码数据核查规则)', tags: ['exchange'] },
  }, async (req) => ({ rules: (await rules.list(scope(req))).map(ruleView) }));

  app.post('/admin/v1/exchange/verify/rules', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: {
      summary: 'A new verification rule: name, dataset, codeSource (current|history), checkDistribution, checkEdges (the node replicas), windowDays or periodFrom/periodTo, validFrom/validUntil (unix s), schedule ({kind:daily, at:HH:mm} China time | {kind:every, hours})',
      tags: ['exchange'], body: RULE_BODY, response: { 201: ANY, 400: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req, reply) => {
    const p = principalOf(req);
    const r = await rules.create(req.body, p.regionPrefix, p.username);
    await ctx.audit(req, { action: 'exchange.verify.rule.add', target: `verify-rule:${r.id}`, outcome: 'ok', details: { dataset: r.dataset, codeSource: r.codeSource, checkEdges: r.checkEdges, schedule: r.schedule === null ? null : JSON.stringify(r.schedule) } });
    return reply.code(201).send(ruleView(r));
  });

  app.get('/admin/v1/exchange/verify/rules/:id', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'One verification rule', tags: ['exchange'], params: RULE_ID, response: { 404: ERROR_BODY } },
  }, async (req) => ruleView(await rules.get((req.params as { id: string }).id, scope(req))));

  app.put('/admin/v1/exchange/verify/rules/:id', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: { summary: 'Change a verification rule (tasks keep the settings they ran with)', tags: ['exchange'], params: RULE_ID, body: RULE_BODY, response: { 400: ERROR_BODY, 404: ERROR_BODY } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const r = await rules.update(id, req.body, scope(req));
    await ctx.audit(req, { action: 'exchange.verify.rule.set', target: `verify-rule:${id}`, outcome: 'ok', details: { dataset: r.dataset, codeSource: r.codeSource, checkEdges: r.checkEdges, schedule: r.schedule === null ? null : JSON.stringify(r.schedule) } });
    return ruleView(r);
  });

  app.post('/admin/v1/exchange/verify/rules/:id/tasks', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: {
      summary: "Start a verification task from a rule; the period is the body's (unix s), else the rule's", tags: ['exchange'], params: RULE_ID,
      body: { type: ['object', 'null'], additionalProperties: false, properties: { periodFrom: { type: 'integer' }, periodTo: { type: 'integer' } } },
      response: { 202: ANY, 400: ERROR_BODY, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const b = (req.body ?? {}) as { periodFrom?: number; periodTo?: number };
    const p = principalOf(req);
    const t = await tasks.start(id, p.regionPrefix, p.username, { from: b.periodFrom, to: b.periodTo });
    await ctx.audit(req, { action: 'exchange.verify.task.start', target: `verify-task:${t.id}`, outcome: 'queued', details: { rule: id, periodFrom: t.periodFrom, periodTo: t.periodTo } });
    return reply.code(202).send(t);
  });

  app.get('/admin/v1/exchange/verify/tasks', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: 'Verification tasks, newest first', tags: ['exchange'],
      querystring: { type: 'object', additionalProperties: false, properties: { rule: { type: 'string', maxLength: 20 }, limit: DIGITS } },
    },
  }, async (req) => {
    const q = req.query as { rule?: string; limit?: string };
    return { tasks: await tasks.list(scope(req), q.rule, intOf(q.limit, 100, 1, 500)) };
  });

  app.get('/admin/v1/exchange/verify/tasks/:id', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'A verification task: state, progress, counts and its run log', tags: ['exchange'], params: TASK_ID, response: { 404: ERROR_BODY } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const t = await tasks.get(id, scope(req));
    return { ...t, log: await tasks.runLog(id) };
  });

  for (const action of ['stop', 'resume', 'rerun'] as const) {
    app.post(`/admin/v1/exchange/verify/tasks/:id/${action}`, {
      config: { access: 'exchange.write', rate: 'admin' },
      schema: {
        summary: { stop: 'Stop a task (a running one after its chunk in flight)', resume: 'Continue a stopped task where it stopped', rerun: 'Run a finished task again as a new task (same settings and period, current data)' }[action],
        tags: ['exchange'], params: TASK_ID, response: { 200: ANY, 202: ANY, 404: ERROR_BODY, 409: ERROR_BODY },
      },
    }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const p = principalOf(req);
      const t = await tasks[action](id, p.regionPrefix, p.username);
      await ctx.audit(req, { action: `exchange.verify.task.${action}`, target: `verify-task:${t.id}`, outcome: 'ok', details: action === 'rerun' ? { rerunOf: id } : {} });
      return reply.code(action === 'rerun' ? 202 : 200).send(t);
    });
  }

  app.get('/admin/v1/exchange/verify/tasks/:id/report', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'The report of a task: problems first, what was compared, counts, mismatches by certificate type, the first mismatches', tags: ['exchange'], params: TASK_ID, response: { 404: ERROR_BODY } },
  }, async (req) => {
    const t = await tasks.get((req.params as { id: string }).id, scope(req));
    return taskReport(read(), crypto, t, { masked: masked(req), rowLimit: 50, nowMs: host.nowMs() });
  });

  app.get('/admin/v1/exchange/verify/tasks/:id/mismatches', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: 'Drill-down: the mismatching persons of a task (paged, by kind)', tags: ['exchange'], params: TASK_ID,
      querystring: { type: 'object', additionalProperties: false, properties: { kind: { type: 'string', enum: [...MISMATCH_KINDS] }, offset: DIGITS, limit: DIGITS } },
      response: { 404: ERROR_BODY },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as { kind?: MismatchKind; offset?: string; limit?: string };
    await tasks.get(id, scope(req));
    const offset = intOf(q.offset, 0, 0, 1e9);
    const r = await mismatchRows(read(), crypto, id, { kind: q.kind, offset, limit: intOf(q.limit, 50, 1, 500), masked: masked(req) });
    return { ...r, offset, masked: masked(req) };
  });

  async function send(req: FastifyRequest, reply: FastifyReply, what: string, target: string, name: string, body: Buffer, details: Record<string, unknown>): Promise<FastifyReply> {
    await ctx.audit(req, { action: 'exchange.verify.export', target, outcome: 'ok', details: { what, masked: masked(req), ...details } });
    void reply.header('content-type', name.endsWith('.pdf') ? 'application/pdf' : XLSX);
    void reply.header('content-disposition', `attachment; filename="${name}"`);
    return reply.send(body);
  }

  for (const ext of ['xlsx', 'pdf'] as const) {
    app.get(`/admin/v1/exchange/verify/tasks/:id/report.${ext}`, {
      config: { access: 'exchange.read', rate: 'admin' },
      schema: { summary: `The report of a task as ${ext.toUpperCase()} (Chinese; identities masked by role; audited)`, tags: ['exchange'], params: TASK_ID, response: { 404: ERROR_BODY } },
    }, async (req, reply) => {
      const t = await tasks.get((req.params as { id: string }).id, scope(req));
      const r = await taskReport(read(), crypto, t, { masked: masked(req), rowLimit: ext === 'pdf' ? 300 : 100_000, nowMs: host.nowMs() });
      const body = ext === 'pdf' ? await taskReportPdf(r) : await taskReportXlsx(r);
      return send(req, reply, `report.${ext}`, `verify-task:${t.id}`, `verify-report-${t.id}.${ext}`, body, { rows: r.rows.length });
    });

    app.get(`/admin/v1/exchange/verify/stats.${ext}`, {
      config: { access: 'exchange.read', rate: 'admin' },
      schema: {
        summary: `Verification statistics by rule and day as ${ext.toUpperCase()} (audited)`, tags: ['exchange'],
        querystring: { type: 'object', additionalProperties: false, properties: { rule: { type: 'string', maxLength: 20 }, days: DIGITS } },
      },
    }, async (req, reply) => {
      const q = req.query as { rule?: string; days?: string };
      const s = await verifyStats(read(), { scope: scope(req), ruleId: q.rule, sinceMs: host.nowMs() - intOf(q.days, 30, 1, 366) * 86_400_000, nowMs: host.nowMs() });
      const body = ext === 'pdf' ? await statsPdf(s) : await statsXlsx(s);
      return send(req, reply, `stats.${ext}`, q.rule === undefined ? 'verify-stats' : `verify-rule:${q.rule}`, `verify-stats.${ext}`, body, { days: s.days.length });
    });
  }

  app.get('/admin/v1/exchange/verify/stats', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: 'Verification statistics over time: per rule and China day, tasks, persons checked, mismatches by kind', tags: ['exchange'],
      querystring: { type: 'object', additionalProperties: false, properties: { rule: { type: 'string', maxLength: 20 }, days: DIGITS } },
    },
  }, async (req) => {
    const q = req.query as { rule?: string; days?: string };
    return verifyStats(read(), { scope: scope(req), ruleId: q.rule, sinceMs: host.nowMs() - intOf(q.days, 30, 1, 366) * 86_400_000, nowMs: host.nowMs() });
  });
}
