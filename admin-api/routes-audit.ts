import type { FastifyInstance } from 'fastify';
import type { AuditListQuery } from '../master/audit-log.js';
import type { Ctx } from './context.js';
import { ERROR_BODY } from './schemas.js';

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
        },
      },
      response: { 400: ERROR_BODY },
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
    const entries = await audit.list(filter);
    await ctx.audit(req, { action: 'audit.read', outcome: 'ok', details: { count: entries.length } });
    return { entries };
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
