import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../admin-api/context.js';
import { principalOf } from '../admin-api/context.js';
import { ERRORS_4XX, textSearchBody } from './schemas.js';
import { regionName } from '../core/regions.js';
import { effectivePrefix } from './scope.js';
import type { VenueIndex } from './venue-index.js';

/**
 * POST /admin/v1/tracing/venues/search — fuzzy venue search (精准找人 step 1).
 * POST with the text in the body: a venue name from a case report is not
 * personal data, but a 1 MB text in a URL would be cut by the HTTP layer
 * before we could answer with a coded error; in a body the schema lets any
 * length through and the index refuses it as TRC_ERR_QUERY_TOO_LONG.
 */
export function registerSearchRoutes(app: FastifyInstance, ctx: Ctx, index: VenueIndex): void {
  app.post('/admin/v1/tracing/venues/search', {
    config: { access: 'tracing.read', rate: 'admin' },
    schema: {
      summary: 'Fuzzy venue search: partial, misspelt, traditional or pinyin initials; region-scoped',
      tags: ['tracing'],
      body: textSearchBody(),
      response: ERRORS_4XX,
    },
  }, async (req) => {
    const who = principalOf(req);
    const b = req.body as { q: string; region?: string; limit?: number };
    const prefix = effectivePrefix(who, b.region);
    const t0 = performance.now();
    const hits = await index.search(b.q, { regionPrefix: prefix, limit: b.limit ?? 20 });
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    void ctx;
    return {
      venues: hits.map((h) => ({ ...h, regionName: regionName(h.region) })),
      indexed: index.size,
      ms,
    };
  });
}
