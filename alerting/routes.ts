import type { FastifyInstance } from 'fastify';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { ANY_OBJECT, ERROR_BODY } from '../admin-api/schemas.js';
import { AlertingError } from './errors.js';
import { bearerOf, metricsTokenMatches } from './metrics-token.js';
import type { AlertingService } from './service.js';

/**
 * /admin/v1/alerting/* — the console's 告警, 告警规则, 短信记录 and 监控概览
 * pages, and the Prometheus scrape. Reading needs alerts.read (admin,
 * operator, auditor, security); acknowledging, silencing, editing rules and
 * test messages need alerts.write (admin, security: the 安全管理员 runs the
 * alerting, roles.ts). Every change is audited by the shell's ctx.audit in
 * the transaction of the change.
 */
const ID = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } } } as const;
const RULE_ID = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' } } } as const;
const CODE = { type: 'string', pattern: '^[a-z][a-z0-9_.*-]{0,63}$' } as const;

export function registerAlertingRoutes(app: FastifyInstance, ctx: Ctx, svc: AlertingService): void {
  const P = '/admin/v1/alerting';
  const { engine, sms } = svc;
  const db = (): typeof svc.db => svc.db;

  app.get(`${P}/alerts`, {
    config: { access: 'alerts.read', rate: 'admin' },
    schema: {
      summary: 'Alerts: open (default), resolved or all, newest first',
      tags: ['alerting'],
      querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['open', 'resolved', 'all'] }, limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', description: '1..2000 (default 200)' } } },
    },
  }, async (req) => {
    // a query string is text: the admin app does not coerce types, so `limit` is matched as digits here
    // (as an integer schema it answered 400 to the console's own 最近恢复 request, ?limit=50)
    const q = req.query as { status?: 'open' | 'resolved' | 'all'; limit?: string };
    return { alerts: await engine.listAlerts({ ...(q.status === undefined ? {} : { status: q.status }), ...(q.limit === undefined ? {} : { limit: Number(q.limit) }) }), counts: await engine.counts() };
  });

  app.post(`${P}/alerts/:id/ack`, {
    config: { access: 'alerts.write', rate: 'admin' },
    schema: { summary: 'Acknowledge an alert: no more repeats or escalation for it', tags: ['alerting'], params: ID, body: { type: 'object', additionalProperties: false, properties: {} }, response: { 404: ERROR_BODY, 409: ERROR_BODY } },
  }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    const by = principalOf(req).username;
    await db().transaction(async (tx) => {
      await engine.ack(id, by, tx);
      await ctx.audit(req, { action: 'alerting.ack', target: `alert:${id}`, outcome: 'ok' }, tx);
    });
    return { id, ackedBy: by };
  });

  app.get(`${P}/silences`, { config: { access: 'alerts.read', rate: 'admin' }, schema: { summary: 'Silences', tags: ['alerting'] } }, async () => ({ silences: await engine.listSilences() }));

  app.post(`${P}/silences`, {
    config: { access: 'alerts.write', rate: 'admin' },
    schema: {
      summary: 'Mute alerts matching all given matchers for a while',
      tags: ['alerting'],
      body: {
        type: 'object', additionalProperties: false, required: ['matchers', 'durationMin', 'comment'],
        properties: {
          matchers: {
            type: 'object', additionalProperties: false,
            properties: { ruleId: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' }, source: CODE, kind: CODE, key: { type: 'string', minLength: 1, maxLength: 200 }, region: { type: 'string', pattern: '^[0-9]{2,12}$' } },
          },
          startsMs: { type: 'integer', minimum: 0 },
          durationMin: { type: 'integer' },
          comment: { type: 'string', maxLength: 200 },
        },
      },
      response: { 201: ANY_OBJECT, 400: ERROR_BODY },
    },
  }, async (req, reply) => {
    const body = req.body as Parameters<typeof engine.createSilence>[0];
    const s = await db().transaction(async (tx) => {
      const s = await engine.createSilence(body, principalOf(req).username, tx);
      await ctx.audit(req, { action: 'alerting.silence', target: `silence:${s.id}`, outcome: 'ok', details: { matchers: s.matchers, startsMs: s.startsMs, endsMs: s.endsMs } }, tx);
      return s;
    });
    return reply.code(201).send(s);
  });

  app.delete(`${P}/silences/:id`, {
    config: { access: 'alerts.write', rate: 'admin' },
    schema: { summary: 'End a silence now', tags: ['alerting'], params: ID, response: { 404: ERROR_BODY } },
  }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    await db().transaction(async (tx) => {
      await engine.expireSilence(id, tx);
      await ctx.audit(req, { action: 'alerting.unsilence', target: `silence:${id}`, outcome: 'ok' }, tx);
    });
    return { id, expired: true };
  });

  app.get(`${P}/rules`, { config: { access: 'alerts.read', rate: 'admin' }, schema: { summary: 'Alert rules (data) and the metrics they may watch', tags: ['alerting'] } }, async () => ({
    rules: await engine.rules(),
    metrics: svc.metricNames(),
  }));

  app.put(`${P}/rules/:id`, {
    config: { access: 'alerts.write', rate: 'admin' },
    schema: { summary: 'Create or replace a rule', tags: ['alerting'], params: RULE_ID, body: { type: 'object' }, response: { 400: ERROR_BODY } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const rule = await engine.putRule({ ...(req.body as object), id }, principalOf(req).username);
    await ctx.audit(req, { action: 'alerting.rule.put', target: `rule:${id}`, outcome: 'ok', details: { rule: rule as unknown as Record<string, unknown> } });
    return rule;
  });

  app.delete(`${P}/rules/:id`, {
    config: { access: 'alerts.write', rate: 'admin' },
    schema: { summary: 'Delete a rule (its open alerts resolve)', tags: ['alerting'], params: RULE_ID, response: { 404: ERROR_BODY } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    await engine.deleteRule(id);
    await ctx.audit(req, { action: 'alerting.rule.delete', target: `rule:${id}`, outcome: 'ok' });
    return { id, deleted: true };
  });

  app.get(`${P}/sms`, {
    config: { access: 'alerts.read', rate: 'admin' },
    schema: { summary: 'SMS record (phones masked)', tags: ['alerting'], querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['queued', 'sent', 'rejected', 'over_budget'] }, limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', description: '1..1000 (default 100)' } } } },
  }, async (req) => {
    // digits, as for /alerts: without this the console's 短信记录 page (?limit=200) was answered 400
    const q = req.query as { status?: 'queued'; limit?: string };
    const limit = q.limit === undefined ? undefined : Math.min(Number(q.limit), 1000);
    return { messages: await sms.list({ ...(q.status === undefined ? {} : { status: q.status }), ...(limit === undefined ? {} : { limit }) }), queue: await sms.queueDepth(), gateway: svc.gatewayLabel() };
  });

  app.post(`${P}/sms/test`, {
    config: { access: 'alerts.write', rate: 'admin' },
    schema: { summary: 'Queue a test message to the on-call phones', tags: ['alerting'], body: { type: 'object', additionalProperties: false, properties: { recipients: { type: 'string', enum: ['oncall', 'escalation'] } } } },
  }, async (req, reply) => {
    const b = req.body as { recipients?: 'oncall' | 'escalation' };
    const id = await svc.testMessage(b.recipients ?? 'oncall', principalOf(req).username, async (tx, smsId) => {
      await ctx.audit(req, { action: 'alerting.sms.test', target: `sms:${smsId}`, outcome: 'queued' }, tx);
    });
    return reply.code(202).send({ id });
  });

  app.get(`${P}/overview`, {
    config: { access: 'alerts.read', rate: 'admin' },
    schema: { summary: 'Monitors: latest readings, what is not available here, open alerts, SMS queue', tags: ['alerting'] },
  }, async () => svc.overview());

  app.get(`${P}/metrics`, {
    config: { access: 'alerts.read', rate: 'none' },
    schema: { summary: 'Prometheus text exposition of the monitors and the alerting counters', tags: ['alerting'] },
  }, async (_req, reply) => {
    const text = await svc.prom.text();
    return reply.type(svc.prom.registry.contentType).send(text);
  });

  // Prometheus with a static token (ALERT_METRICS_TOKEN): no session, nothing else readable with it
  app.get(`${P}/metrics/scrape`, {
    config: { access: 'public', rate: 'none' },
    schema: { summary: 'Prometheus text exposition for a scraper holding ALERT_METRICS_TOKEN (Authorization: Bearer)', tags: ['alerting'], response: { 401: ERROR_BODY } },
  }, async (req, reply) => {
    if (!metricsTokenMatches(svc.cfg.metricsToken, bearerOf(req.headers.authorization))) {
      throw new AlertingError('ALR_ERR_METRICS_TOKEN', svc.cfg.metricsToken === null ? 'ALERT_METRICS_TOKEN is not configured on this master' : 'missing or wrong bearer token');
    }
    const text = await svc.prom.text();
    return reply.type(svc.prom.registry.contentType).send(text);
  });
}
