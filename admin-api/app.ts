import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { AdminTokens } from './admin-tokens.js';
import { BulkRequests } from './bulk-requests.js';
import type { AdminDeps, Ctx, RateGroup } from './context.js';
import { adminErrorHandler } from './error-handler.js';
import { AdminError } from './errors.js';
import { RateLimiter } from './rate-limit.js';
import { can } from './roles.js';
import { registerAccountRoutes } from './routes-account.js';
import { registerAuditRoutes } from './routes-audit.js';
import { registerCodeRoutes } from './routes-codes.js';
import { registerPersonNameRoutes } from './routes-person-name.js';
import { registerDemoRoutes } from './routes-demo.js';
import { registerDocsRoutes } from './routes-docs.js';
import { registerExportRoutes } from './routes-export.js';
import { registerOverviewRoutes } from './routes-overview.js';
import { registerRiskRoutes } from './routes-risk.js';
import { registerRuleRoutes } from './routes-rules.js';
import { registerSessionRoutes } from './routes-session.js';
import { registerVenueRoutes } from './routes-venues.js';

export type { AdminDeps } from './context.js';

/**
 * Log redaction (pino `redact`, fast-redact paths). Fastify's request
 * serializer logs method, URL and address only, and no route puts personal
 * data in a URL; these paths are the second line: if anything ever logs a
 * header set or a body, the credential and identity fields come out as
 * "[redacted]". Proven by app-logs.test.ts on captured log lines.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  'authorization', 'password', 'token', 'idNo', 'phone', 'name',
  '*.authorization', '*.password', '*.token', '*.idNo', '*.phone', '*.name',
  '*.*.idNo', '*.*.phone', '*.*.name', '*.*.password',
];

function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  // RFC 6750 §2.1: "Bearer" is case-insensitive, one space, then the token
  const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(h.trim());
  return m === null ? null : m[1]!;
}

/**
 * Builds the back office (DESIGN §1, §5, §7) on Fastify: not listening yet —
 * the caller `listen`s (the embedded stack on ADMIN_HOST:ADMIN_PORT, tests on
 * port 0) and `close`s.
 *
 * Request life cycle, in order:
 *   onRequest    rate limit (per client address and route group), then
 *                bearer token → principal → role check. Before the body is
 *                read: an anonymous or unauthorised caller never reaches
 *                validation, so it learns nothing about the schema.
 *   validation   closed JSON schemas (schemas.ts), no type coercion of
 *                bodies (an 18-digit JSON number would lose digits).
 *   handler      route modules routes-*.ts; every write and every read of
 *                personal data appends to the audit log.
 *   errors       one handler (error-handler.ts): {error, message, field?}.
 */
export async function buildAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  const cfg = deps.config;
  if (deps.sessionKey.length < 32) throw new AdminError('ADM_ERR_CONFIG', 'session key must be at least 32 bytes', 'sessionKey');
  const nowMs = (): number => deps.store.nowMs();

  const app = Fastify({
    logger: {
      level: cfg.logLevel,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      ...(deps.logStream === undefined ? {} : { stream: deps.logStream }),
    },
    trustProxy: cfg.trustProxy.length > 0 ? [...cfg.trustProxy] : false,
    bodyLimit: cfg.bodyLimit,
    // Fastify's defaults are removeAdditional: true (an unknown field is
    // silently DROPPED — mass assignment hidden, not refused) and
    // coerceTypes: 'array'. Both off: unknown fields → 400, types exact.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    return503OnClosing: true,
  });

  const tokens = new AdminTokens({ ttlSec: cfg.adminTokenTtlSec, idleSec: cfg.adminIdleTimeoutSec, now: nowMs });
  const bulk = new BulkRequests(cfg.bulkRequestTtlSec, nowMs);
  const limiters: Record<Exclude<RateGroup, 'none'>, RateLimiter> = {
    session: new RateLimiter({ perMinute: cfg.sessionRatePerMin, now: nowMs }),
    login: new RateLimiter({ perMinute: cfg.loginRatePerMin, now: nowMs }),
    admin: new RateLimiter({ perMinute: cfg.adminRatePerMin, now: nowMs }),
  };

  const ctx: Ctx = {
    deps,
    tokens,
    bulk,
    now: () => Math.floor(nowMs() / 1000),
    committed: () => {
      try {
        deps.onCommit?.();
      } catch (err) {
        app.log.error({ err }, 'onCommit failed');
      }
    },
    audit: (req, e, db) => {
      const p = req.principal;
      return deps.audit.append(
        {
          actor: e.actor ?? p?.username ?? 'anonymous',
          role: e.role ?? p?.role ?? 'none',
          action: e.action,
          target: e.target ?? null,
          fromAddr: req.ip,
          outcome: e.outcome,
          details: e.details ?? {},
        },
        db,
      );
    },
  };

  app.decorateRequest('principal', null);
  app.setErrorHandler(adminErrorHandler);
  app.setNotFoundHandler((req, reply) => adminErrorHandler(new AdminError('ADM_ERR_NOT_FOUND', 'no such route'), req, reply));

  // Deny by default: a route without a declared access level does not start.
  // Also documents the access level and the bearer scheme in the OpenAPI document.
  app.addHook('onRoute', (r) => {
    const access = r.config?.access;
    if (access === undefined) throw new Error(`admin-api route ${r.method} ${r.url} declares no access level`);
    const schema = { ...(r.schema ?? {}) } as Record<string, unknown>;
    const note = access === 'public' ? 'Access: public.' : `Access: bearer token whose role grants \`${access}\`.`;
    schema.description = typeof schema.description === 'string' ? `${schema.description}\n\n${note}` : note;
    if (access !== 'public') schema.security = [{ bearer: [] }];
    r.schema = schema;
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Health code back office (admin-api)',
        version: '1',
        description:
          'DESIGN §5 operating contract and §7. Errors: {error, message, field?} with the status of the code ' +
          '(admin-api/ERRORS.md, core/ERRORS.md, master/ERRORS.md). Times are unix seconds.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  app.addHook('onRequest', async (req, reply) => {
    const rc = req.routeOptions.config;
    const group = rc.rate ?? 'none';
    if (group !== 'none') {
      const wait = limiters[group].take(req.ip);
      if (wait > 0) {
        void reply.header('retry-after', String(wait));
        throw new AdminError('ADM_ERR_RATE_LIMITED', `retry in ${wait} s`);
      }
    }
    const access = rc.access;
    if (access === undefined || access === 'public') return;
    const token = bearer(req);
    const session = token === null ? null : tokens.check(token);
    if (session === null) throw new AdminError('ADM_ERR_UNAUTHENTICATED');
    req.principal = session;
    if (access !== 'authenticated' && !can(session.role, access)) {
      await ctx.audit(req, { action: 'access', outcome: 'denied', details: { method: req.method, route: req.routeOptions.url ?? '' } });
      throw new AdminError('ADM_ERR_FORBIDDEN', `role ${session.role} lacks ${access}`);
    }
  });

  // A bodiless POST validates as {} (so `POST /admin/v1/audit/verify` needs no body, and required fields still fail).
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.method === 'POST') (req as { body: unknown }).body = {};
  });

  // Answers carry tokens and personal data: never cached by a browser or proxy (RFC 9111 §5.2.2.5).
  app.addHook('onSend', async (_req, reply, payload) => {
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.get('/admin/openapi.json', { config: { access: 'public' }, schema: { hide: true } as Record<string, unknown> }, async () => app.swagger());
  app.get('/healthz', { config: { access: 'public' }, schema: { hide: true } as Record<string, unknown> }, async () => ({ ok: true }));

  registerSessionRoutes(app, ctx);
  registerDemoRoutes(app, ctx);
  registerAccountRoutes(app, ctx);
  registerCodeRoutes(app, ctx);
  registerPersonNameRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerRuleRoutes(app, ctx);
  registerRiskRoutes(app, ctx);
  registerVenueRoutes(app, ctx);
  registerExportRoutes(app, ctx);
  registerOverviewRoutes(app, ctx);
  registerDocsRoutes(app, ctx);
  for (const cap of deps.capabilities ?? []) await cap.routes?.(app, ctx);
  // Not ready()-ed: the caller may add routes (the web console's static files) before listen().
  return app;
}
