import type { FastifyInstance } from 'fastify';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { seesMasked } from '../admin-api/roles.js';
import { FullSearch, SEARCH_KINDS, searchPattern, type SearchHit } from './full-search.js';
import { ERRORS_4XX, textSearchBody } from './schemas.js';
import { effectivePrefix } from './scope.js';

/**
 * POST /admin/v1/tracing/search — 全文检索 over batches, lineage, rule
 * versions, risk areas and venues. The text travels in the body (it may be a
 * batch id or, pasted by mistake, a certificate number: never in a URL or
 * the audit log — the audit entry keeps its length and the hit counts).
 * Masked roles do not see the accounts that uploaded or wrote rules.
 */
export function registerFullSearchRoutes(app: FastifyInstance, ctx: Ctx, search: FullSearch): void {
  app.post('/admin/v1/tracing/search', {
    config: { access: 'stats.read', rate: 'admin' },
    schema: {
      summary: 'Full search over import batches, facts lineage, rule versions, risk areas and venues; paged per kind, region-scoped',
      tags: ['tracing'],
      body: textSearchBody({
        kinds: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...SEARCH_KINDS] } },
        offset: { type: 'integer', minimum: 0, maximum: 100_000 },
      }),
      response: ERRORS_4XX,
    },
  }, async (req) => {
    const who = principalOf(req);
    const b = req.body as { q: string; kinds?: (typeof SEARCH_KINDS)[number][]; region?: string; offset?: number; limit?: number };
    searchPattern(b.q); // coded refusal before any query
    const prefix = effectivePrefix(who, b.region);
    const pages = await search.search(b.q, prefix, b.kinds ?? SEARCH_KINDS, b.offset ?? 0, b.limit ?? 20);
    const masked = seesMasked(who.role);
    const out = pages.map((p) => ({ ...p, hits: p.hits.map((h) => (masked ? maskHit(h) : h)) }));
    await ctx.audit(req, {
      action: 'tracing.search', target: null, outcome: 'ok',
      details: { length: [...b.q.trim()].length, offset: b.offset ?? 0, masked, hits: Object.fromEntries(pages.map((p) => [p.kind, p.hits.length])) },
    });
    return { offset: b.offset ?? 0, results: out };
  });
}

function maskHit(h: SearchHit): SearchHit {
  if (!('createdBy' in h.detail)) return h;
  return { ...h, detail: { ...h.detail, createdBy: '***' } };
}
