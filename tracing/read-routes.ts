import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminSession } from '../admin-api/admin-tokens.js';
import { principalOf, type Access } from '../admin-api/context.js';
import { ERRORS_4XX } from './schemas.js';

/**
 * Read-only GET routes of the tracing API as rows of a table: the path, who
 * may call it, the OpenAPI summary and schemas, and what it answers. Every
 * row gets the same shell config (access check, the admin rate limit) and
 * the coded error responses, so the statistics, tasks and groups routes do
 * not each spell out the same registration (they did: ten copies).
 */
export interface ReadRoute {
  readonly path: string;
  readonly access: Access;
  readonly summary: string;
  readonly params?: object;
  readonly querystring?: object;
  readonly answer: (req: FastifyRequest, who: AdminSession) => Promise<unknown>;
}

export function registerReadRoutes(app: FastifyInstance, routes: readonly ReadRoute[]): void {
  for (const r of routes) {
    app.get(r.path, {
      config: { access: r.access, rate: 'admin' },
      schema: {
        summary: r.summary, tags: ['tracing'], response: ERRORS_4XX,
        ...(r.params === undefined ? {} : { params: r.params }),
        ...(r.querystring === undefined ? {} : { querystring: r.querystring }),
      },
    }, async (req) => r.answer(req, principalOf(req)));
  }
}
