import type { FastifyInstance } from 'fastify';
import type { Ctx } from './context.js';
import { principalOf } from './context.js';
import { can } from './roles.js';

/**
 * GET /admin/v1/overview — the console's landing page (首页): codes by
 * colour and by reason (for a city officer: of the people of their city),
 * venues, risk areas, pending bulk changes, and — for roles that read the
 * audit log — the latest audit entries. Counts only: no person is named.
 * The analytics dashboards are the tracing capability's (tracing/).
 */
const COUNT = { type: 'integer' } as const;

export function registerOverviewRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { store, audit } = ctx.deps;
  app.get('/admin/v1/overview', {
    config: { access: 'authenticated', rate: 'admin' },
    schema: {
      summary: 'Landing dashboard: codes by colour and reason, venues, risk areas, pending bulk changes, recent audit entries (counts; region-scoped)',
      tags: ['overview'],
      response: {
        200: {
          type: 'object',
          properties: {
            regionPrefix: { type: 'string' },
            colors: { type: 'object', properties: { green: COUNT, yellow: COUNT, red: COUNT } },
            reasons: { type: 'array', items: { type: 'object', properties: { color: { type: 'string' }, reason: { type: 'string' }, n: COUNT } } },
            people: COUNT,
            venues: COUNT,
            riskAreas: { type: 'object', properties: { high: COUNT, medium: COUNT, low: COUNT } },
            pendingBulk: COUNT,
            recentAudit: { type: ['array', 'null'], items: { type: 'object', additionalProperties: true } },
          },
        },
      },
    },
  }, async (req) => {
    const who = principalOf(req);
    const prefix = who.regionPrefix;
    const sees = can(who.role, 'codes.read');
    const colors = { green: 0, yellow: 0, red: 0 };
    const reasons: { color: string; reason: string; n: number }[] = [];
    let people = 0;
    if (sees) {
      const r = await store.db.query<{ color: 'green' | 'yellow' | 'red'; reason: string; n: number }>(
        `SELECT c.color, c.reason, count(*)::int AS n FROM codes c JOIN persons p ON p.id = c.person_id
          WHERE $1 = '' OR p.region LIKE $1 || '%' GROUP BY c.color, c.reason ORDER BY n DESC`,
        [prefix],
      );
      for (const x of r.rows) {
        colors[x.color] += x.n;
        people += x.n;
        if (x.color !== 'green') reasons.push(x);
      }
    }
    const venues = (await store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM venues WHERE region LIKE $1 || '%' AND disabled_at IS NULL`, [prefix])).rows[0]!.n;
    const riskAreas = { high: 0, medium: 0, low: 0 };
    for (const a of await store.listRiskAreas()) if (a.region.startsWith(prefix.slice(0, Math.min(prefix.length, a.region.length)))) riskAreas[a.level]++;
    const pendingBulk = can(who.role, 'codes.approve') ? ctx.bulk.list().filter((b) => b.status === 'pending').length : 0;
    const recentAudit = can(who.role, 'audit.read') ? await audit.list({ order: 'desc', limit: 10 }) : null;
    return { regionPrefix: prefix, colors, reasons: reasons.slice(0, 20), people, venues, riskAreas, pendingBulk, recentAudit };
  });
}
