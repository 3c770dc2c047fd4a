import type { FastifyInstance } from 'fastify';
import { chinaTime } from '../core/china-time.js';
import type { AuditEntry, AuditListQuery } from '../master/audit-log.js';
import { ACTION_LABEL, detailsZh, OUTCOME_LABEL } from './audit-labels.js';
import type { Ctx } from './context.js';
import { xlsxOf } from './routes-export.js';
import { ERROR_BODY } from './schemas.js';

const AUDIT_ENTRY = {
  type: 'object',
  properties: {
    seq: { type: 'integer' }, at: { type: 'string', description: 'ISO 8601' }, actor: { type: 'string' }, role: { type: 'string' },
    action: { type: 'string' }, target: { type: ['string', 'null'], description: 'identities masked' }, fromAddr: { type: ['string', 'null'] },
    outcome: { type: 'string' }, details: { type: 'object', additionalProperties: true }, prevHash: { type: 'string' }, hash: { type: 'string' },
  },
} as const;

const AUDIT_PAGE = { type: 'object', properties: { entries: { type: 'array', items: AUDIT_ENTRY } } } as const;

const FILTER_PROPS = {
  actor: { type: 'string', minLength: 1, maxLength: 128 },
  action: { type: 'string', minLength: 1, maxLength: 64 },
  from: { type: 'string', pattern: '^[0-9]{1,12}$', description: 'unix seconds, inclusive' },
  to: { type: 'string', pattern: '^[0-9]{1,12}$', description: 'unix seconds, exclusive' },
  outcome: { type: 'string', minLength: 1, maxLength: 32 },
} as const;

/** At most this many entries in one export (newest first); the sheet says when it was cut. */
const MAX_EXPORT = 50_000;

function filterOf(q: Record<string, string | undefined>): { -readonly [K in keyof AuditListQuery]: AuditListQuery[K] } {
  const f: { -readonly [K in keyof AuditListQuery]: AuditListQuery[K] } = {};
  if (q.actor !== undefined) f.actor = q.actor;
  if (q.action !== undefined) f.action = q.action;
  if (q.from !== undefined) f.from = Number(q.from);
  if (q.to !== undefined) f.to = Number(q.to);
  if (q.outcome !== undefined) f.outcome = q.outcome;
  return f;
}

function detailsText(d: Record<string, unknown>): string {
  return detailsZh(d).slice(0, 2000);
}

/**
 * The audit log (DESIGN §7; master/audit-log.ts): list and verify the hash
 * chain. Only the auditor and the province admin read it; reading it is
 * itself recorded (who looked at the trail is part of the trail).
 */
export function registerAuditRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { audit } = ctx.deps;

  app.get('/admin/v1/audit', {
    config: { access: 'audit.read', rate: 'admin' },
    schema: {
      summary: 'Audit entries (identities masked), ascending from `after` or newest first with order=desc',
      tags: ['audit'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          after: { type: 'string', pattern: '^[0-9]{1,15}$' },
          before: { type: 'string', pattern: '^[0-9]{1,15}$' },
          limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: '1–1000, default 100' },
          actor: { type: 'string', minLength: 1, maxLength: 128 },
          action: { type: 'string', minLength: 1, maxLength: 64 },
          order: { type: 'string', enum: ['asc', 'desc'] },
          from: { type: 'string', pattern: '^[0-9]{1,12}$', description: 'unix seconds, inclusive' },
          to: { type: 'string', pattern: '^[0-9]{1,12}$', description: 'unix seconds, exclusive' },
          outcome: { type: 'string', minLength: 1, maxLength: 32 },
        },
      },
      response: { 200: AUDIT_PAGE, 400: ERROR_BODY },
    },
  }, async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const filter: { -readonly [K in keyof AuditListQuery]: AuditListQuery[K] } = {};
    if (q.after !== undefined) filter.after = Number(q.after);
    if (q.before !== undefined) filter.before = Number(q.before);
    if (q.limit !== undefined) filter.limit = Number(q.limit);
    if (q.actor !== undefined) filter.actor = q.actor;
    if (q.action !== undefined) filter.action = q.action;
    if (q.order !== undefined) filter.order = q.order as 'asc' | 'desc';
    if (q.from !== undefined) filter.from = Number(q.from);
    if (q.to !== undefined) filter.to = Number(q.to);
    if (q.outcome !== undefined) filter.outcome = q.outcome;
    const entries = await audit.list(filter);
    await ctx.audit(req, { action: 'audit.read', outcome: 'ok', details: { count: entries.length } });
    return { entries };
  });

  app.get('/admin/v1/audit/export.xlsx', {
    config: { access: 'audit.read', rate: 'admin' },
    schema: {
      summary: 'The audit entries matching the filters (newest first, at most 50 000) as an .xlsx workbook; the export is itself audited',
      tags: ['audit'],
      querystring: { type: 'object', additionalProperties: false, properties: FILTER_PROPS },
      response: { 200: { description: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', type: 'string', format: 'binary' }, 400: ERROR_BODY },
    },
  }, async (req, reply) => {
    const filter = filterOf(req.query as Record<string, string | undefined>);
    const all: AuditEntry[] = [];
    let before: number | undefined;
    while (all.length < MAX_EXPORT) {
      const page = await audit.list({ ...filter, order: 'desc', limit: 1000, ...(before === undefined ? {} : { before }) });
      all.push(...page);
      if (page.length < 1000) break;
      before = page[page.length - 1]!.seq;
    }
    const rows = all.slice(0, MAX_EXPORT).map((e) => [
      e.seq, chinaTime(Date.parse(e.at), true), e.actor, e.role, ACTION_LABEL[e.action] ?? e.action, e.target, e.fromAddr,
      OUTCOME_LABEL[e.outcome] ?? e.outcome, detailsText(e.details),
    ]);
    const buf = await xlsxOf('审计日志', ['序号', '时间（北京时间）', '操作人', '角色', '操作', '对象（脱敏）', '来源地址', '结果', '详情'], rows);
    await ctx.audit(req, { action: 'audit.export', outcome: 'ok', details: { rows: rows.length, filter } });
    return reply
      .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('content-disposition', `attachment; filename="audit.xlsx"; filename*=UTF-8''${encodeURIComponent('审计日志.xlsx')}`)
      .send(buf);
  });

  app.post('/admin/v1/audit/verify', {
    config: { access: 'audit.read', rate: 'admin' },
    schema: {
      summary: 'Recompute the hash chain: {ok, entries} or the first bad entry (edited, inserted or deleted rows)',
      tags: ['audit'],
      body: { type: 'object', additionalProperties: false, properties: {} },
      response: {
        200: {
          type: 'object',
          properties: {
            ok: { type: 'boolean' }, entries: { type: 'integer' }, firstBadSeq: { type: 'integer' },
            problem: { type: 'string' }, detail: { type: 'string' },
          },
        },
      },
    },
  }, async (req) => {
    const r = await audit.verify();
    // Best effort: a tampered log may refuse appends (a forged row can sit where the next entry goes),
    // and the verdict must reach the auditor all the more then.
    await ctx.audit(req, { action: 'audit.verify', outcome: r.ok ? 'ok' : 'tampered', details: { ...r } })
      .catch((err: unknown) => req.log.error({ err }, 'could not record the audit verification'));
    return r;
  });
}
