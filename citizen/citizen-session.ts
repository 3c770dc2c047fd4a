import type { FastifyInstance, FastifyRequest } from 'fastify';
import { verifySession } from '../core/session-token.js';
import type { Ctx } from '../admin-api/context.js';
import type { MasterStore, PersonRow } from '../master/store.js';
import { CitizenError } from './errors.js';

/**
 * How a citizen is recognised on /citizen/v1/*: the same session token the
 * citizen page already holds for the edge (POST /v1/session →
 * `Authorization: Bearer <token>`, core/session-token.ts), checked here with
 * the session key admin-api shares with the edges. The token carries only
 * the uid; the person is looked up by it. No second login, no cookie.
 *
 * The page is served by the edge (another origin: port 8080 vs 8081 in the
 * embedded stack), so these routes answer CORS like POST /v1/session does:
 * only ADMIN_CORS_ORIGINS get Access-Control-Allow-Origin.
 */
export async function citizenOf(req: FastifyRequest, ctx: Ctx, store: MasterStore): Promise<PersonRow> {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(h) : null;
  if (m === null) throw new CitizenError('CIT_ERR_SESSION');
  let uid: Buffer;
  try {
    uid = verifySession(ctx.deps.sessionKey, m[1]!, ctx.now()).uid;
  } catch {
    throw new CitizenError('CIT_ERR_SESSION');
  }
  const p = await store.getPersonByUid(uid);
  if (p === null) throw new CitizenError('CIT_ERR_SESSION', 'not registered');
  return p;
}

export const CITIZEN_PREFIX = '/citizen/v1/';

export function registerCitizenCors(app: FastifyInstance, ctx: Ctx): void {
  const allowed = (origin: string | undefined): string | null =>
    origin !== undefined && ctx.deps.config.corsOrigins.includes(origin) ? origin : null;
  app.options('/citizen/v1/*', { config: { access: 'public', rate: 'session' }, schema: { hide: true } as Record<string, unknown> }, async (req, reply) => {
    const origin = allowed(req.headers.origin);
    if (origin !== null) {
      void reply
        .header('access-control-allow-origin', origin)
        .header('access-control-allow-methods', 'GET, POST')
        .header('access-control-allow-headers', 'authorization, content-type, if-none-match')
        .header('access-control-expose-headers', 'etag')
        .header('access-control-max-age', '600')
        .header('vary', 'Origin');
    }
    return reply.code(204).send();
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.method !== 'OPTIONS' && req.url.startsWith(CITIZEN_PREFIX)) {
      const origin = allowed(req.headers.origin);
      if (origin !== null) void reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', 'etag').header('vary', 'Origin');
    }
    return payload;
  });
}
