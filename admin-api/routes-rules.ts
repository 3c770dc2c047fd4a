import type { FastifyInstance } from 'fastify';
import type { Ctx } from './context.js';
import { principalOf } from './context.js';
import { ANY_OBJECT, ERROR_BODY, UNIX_SECONDS } from './schemas.js';
import { DRY_RUN, RULES, RULE_ONE, RULE_PUBLISHED } from './response-schemas.js';

/** core/rule-set.ts VERSION_RE: letters, digits, dot, dash, underscore. */
const VERSION_PARAM = {
  type: 'object', additionalProperties: false, required: ['version'],
  properties: { version: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } },
} as const;

/**
 * Rule versions (DESIGN §3, §7; master/rule-versions.ts): upload a draft
 * (validated by core: CORE_ERR_RULE_INVALID with the path inside the rule
 * set), dry-run it (how many codes would change, by colour and reason),
 * publish it now or from a future activeFrom (edges stage it — the EU
 * gateway's lesson), roll back. Reading is rules.read; every change is
 * rules.write (province admin) and audited.
 */
export function registerRuleRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { rules } = ctx.deps;

  app.get('/admin/v1/rules', {
    config: { access: 'rules.read', rate: 'admin' },
    schema: { response: { 200: RULES }, summary: 'Rule versions, the one in force, and the publication history', tags: ['rules'] },
  }, async () => {
    const [active, versions, publications] = await Promise.all([rules.active(), rules.list(), rules.publications(50)]);
    return { active: { version: active.version, activeFrom: active.activeFrom }, versions, publications };
  });

  app.get('/admin/v1/rules/:version', {
    config: { access: 'rules.read', rate: 'admin' },
    schema: { summary: 'One rule version with its rule set', tags: ['rules'], params: VERSION_PARAM, response: { 200: RULE_ONE, 404: ERROR_BODY } },
  }, async (req) => rules.get((req.params as { version: string }).version));

  app.post('/admin/v1/rules', {
    config: { access: 'rules.write', rate: 'admin' },
    schema: {
      summary: 'Upload a new rule set version as a draft (validated; versions are immutable)',
      tags: ['rules'],
      body: {
        type: 'object', additionalProperties: false, required: ['ruleSet'],
        properties: { ruleSet: { type: 'object', description: 'core/rule-set.ts: {version, params, rules}; checked field by field by core' } },
      },
      response: { 201: RULE_ONE, 400: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req, reply) => {
    const who = principalOf(req);
    const { ruleSet } = req.body as { ruleSet: unknown };
    const r = await rules.upload(ruleSet, who.username);
    await ctx.audit(req, { action: 'rules.upload', target: `rules:${r.version}`, outcome: 'ok', details: { exact: r.exact } });
    return reply.code(201).send(r);
  });

  app.post('/admin/v1/rules/:version/dry-run', {
    config: { access: 'rules.write', rate: 'admin' },
    schema: {
      summary: 'How many codes this version would change (now, or at `at`), by from → to colour and reason; writes nothing',
      tags: ['rules'], params: VERSION_PARAM,
      body: { type: 'object', additionalProperties: false, properties: { at: UNIX_SECONDS } },
      response: { 200: DRY_RUN, 404: ERROR_BODY },
    },
  }, async (req) => {
    const { version } = req.params as { version: string };
    const { at } = req.body as { at?: number };
    const r = await rules.dryRun(version, at === undefined ? {} : { at });
    await ctx.audit(req, { action: 'rules.dry_run', target: `rules:${version}`, outcome: 'ok', details: { evaluated: r.evaluated, changed: r.changed } });
    return r;
  });

  app.post('/admin/v1/rules/:version/publish', {
    config: { access: 'rules.write', rate: 'admin' },
    schema: {
      summary: 'Publish a version to every edge, now or staged from a future activeFrom; codes are re-evaluated when it begins',
      tags: ['rules'], params: VERSION_PARAM,
      body: { type: 'object', additionalProperties: false, properties: { activeFrom: { ...UNIX_SECONDS, description: 'unix seconds, now or later (default now)' } } },
      response: { 200: RULE_PUBLISHED, 400: ERROR_BODY, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req) => {
    const who = principalOf(req);
    const { version } = req.params as { version: string };
    const { activeFrom } = req.body as { activeFrom?: number };
    const r = await rules.publish(version, { actor: who.username, ...(activeFrom === undefined ? {} : { activeFrom }) });
    ctx.committed();
    await ctx.audit(req, {
      action: 'rules.publish', target: `rules:${version}`, outcome: 'ok',
      details: { activeFrom: r.activeFrom, staged: r.staged, seq: r.seq, changed: r.changed },
    });
    return r;
  });

  app.post('/admin/v1/rules/rollback', {
    config: { access: 'rules.write', rate: 'admin' },
    schema: {
      summary: 'Roll back to the version in force before the current one (re-published from now)',
      tags: ['rules'], body: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: RULE_PUBLISHED, 409: ERROR_BODY },
    },
  }, async (req) => {
    const who = principalOf(req);
    const r = await rules.rollback({ actor: who.username });
    ctx.committed();
    await ctx.audit(req, { action: 'rules.rollback', target: `rules:${r.version}`, outcome: 'ok', details: { seq: r.seq, changed: r.changed } });
    return r;
  });
}
