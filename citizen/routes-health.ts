import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../admin-api/context.js';
import type { CapabilityHost } from '../admin-api/capability.js';
import { citizenOf } from './citizen-session.js';
import type { HealthStatusReader } from './health-status.js';

/**
 * GET /citizen/v1/health-status — the logged-in citizen's latest 核酸 result
 * and vaccine doses for the card (health-status.ts). Whose: only the
 * session's person; no identity in the URL or the answer. Personal: the back
 * office's default `Cache-Control: no-store` stays; the page keeps its own
 * offline copy.
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: Ctx, host: CapabilityHost, reader: HealthStatusReader): void {
  app.get('/citizen/v1/health-status', {
    config: { access: 'public', rate: 'session' },
    schema: {
      summary: '核酸 / 疫苗 on the citizen card: latest nucleic-acid result (negative|positive, sampledAt unix s) and vaccine doses on record; null when unknown',
      tags: ['citizen'],
      response: {
        200: {
          type: 'object', additionalProperties: false, required: ['nat', 'vaccination'],
          properties: {
            nat: {
              anyOf: [{ type: 'null' }, {
                type: 'object', additionalProperties: false, required: ['result', 'sampledAt'],
                properties: { result: { type: 'string', enum: ['negative', 'positive'] }, sampledAt: { type: 'integer' } },
              }],
            },
            vaccination: {
              anyOf: [{ type: 'null' }, {
                type: 'object', additionalProperties: false, required: ['doses', 'lastAt'],
                properties: { doses: { type: 'integer' }, lastAt: { type: 'integer' } },
              }],
            },
          },
        },
      },
    },
  }, async (req) => {
    const person = await citizenOf(req, ctx, host.store);
    return reader.of(person.id);
  });
}
