import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { applyRiskAreas, diffRiskAreas, type RiskAreaDiff } from '../master/risk-import.js';
import type { Ctx } from './context.js';
import { principalOf } from './context.js';
import { AdminError } from './errors.js';
import { ANY_OBJECT, ERROR_BODY, REGION, UNIX_SECONDS } from './schemas.js';
import { RISK_AREAS, RISK_PUBLISHED, RISK_STAGED } from './response-schemas.js';

/**
 * Risk areas (DESIGN §3, §7): import the whole national list → see the diff
 * → publish exactly that diff.
 *
 * The import is staged here (in memory, one hour) under an id. Publishing
 * recomputes the diff against the areas stored NOW and refuses (409) if it
 * differs from the one shown — another import was published meanwhile — so
 * what an operator confirmed is what goes out, never a silent mix of two
 * lists. master/risk-import.ts applies it in one transaction, one delta per
 * area.
 */
const STAGE_TTL_SEC = 3600;
const MAX_STAGED = 20;
const MAX_AREAS = 200_000;

interface Staged {
  readonly incoming: readonly unknown[];
  readonly digest: string;
  readonly expiresAt: number;
  readonly by: string;
}

function digestOf(d: RiskAreaDiff): string {
  return createHash('sha256').update(JSON.stringify([d.added, d.changed, d.removed])).digest('hex');
}

function summary(d: RiskAreaDiff): Record<string, number> {
  return { added: d.added.length, changed: d.changed.length, removed: d.removed.length, unchanged: d.unchanged };
}

const AREA = {
  type: 'object', additionalProperties: false, required: ['region', 'level', 'since'],
  properties: { region: REGION, level: { type: 'string', enum: ['high', 'medium', 'low'] }, since: UNIX_SECONDS },
} as const;

export function registerRiskRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { store } = ctx.deps;
  const staged = new Map<string, Staged>();
  const sweep = (): void => {
    const now = ctx.now();
    for (const [k, v] of staged) if (v.expiresAt <= now) staged.delete(k);
  };

  app.get('/admin/v1/risk-areas', {
    config: { access: 'risk.read', rate: 'admin' },
    schema: { response: { 200: RISK_AREAS }, summary: 'Risk areas in force', tags: ['risk areas'] },
  }, async () => ({ areas: await store.listRiskAreas() }));

  app.post('/admin/v1/risk-areas/import', {
    config: { access: 'risk.write', rate: 'admin' },
    schema: {
      summary: 'Stage the whole national list ([{region, level, since}]) and show its diff against the areas in force',
      tags: ['risk areas'],
      body: { type: 'array', maxItems: MAX_AREAS, items: AREA },
      response: { 201: RISK_STAGED, 400: ERROR_BODY },
    },
  }, async (req, reply) => {
    const incoming = req.body as unknown[];
    const diff = diffRiskAreas(await store.listRiskAreas(), incoming);
    sweep();
    if (staged.size >= MAX_STAGED) staged.delete(staged.keys().next().value!);
    const id = randomBytes(12).toString('base64url');
    staged.set(id, { incoming, digest: digestOf(diff), expiresAt: ctx.now() + STAGE_TTL_SEC, by: principalOf(req).username });
    await ctx.audit(req, { action: 'risk.import', target: `risk-import:${id}`, outcome: 'staged', details: summary(diff) });
    return reply.code(201).send({ id, expiresAt: ctx.now() + STAGE_TTL_SEC, diff });
  });

  app.post('/admin/v1/risk-areas/import/:id/publish', {
    config: { access: 'risk.write', rate: 'admin' },
    schema: {
      summary: 'Publish a staged import exactly as its diff showed (409 if the areas changed since)',
      tags: ['risk areas'],
      params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{16}$' } } },
      body: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: RISK_PUBLISHED, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    sweep();
    const s = staged.get(id);
    if (s === undefined) throw new AdminError('ADM_ERR_NOT_FOUND', 'no such staged import (expired after an hour, or published)', undefined, '预览已过期（一小时）或已发布，请重新预览');
    const diff = diffRiskAreas(await store.listRiskAreas(), s.incoming);
    if (digestOf(diff) !== s.digest) {
      staged.delete(id);
      throw new AdminError('ADM_ERR_REQUEST_STATE', 'the risk areas changed since this diff was shown: import the list again', undefined, '预览之后名单已被他人修改，请重新预览');
    }
    staged.delete(id);
    const r = await applyRiskAreas(store, diff);
    if (r.seqs.length > 0) ctx.committed();
    const out = { added: r.added, changed: r.changed, removed: r.removed, firstSeq: r.seqs[0] ?? null, lastSeq: r.seqs[r.seqs.length - 1] ?? null };
    await ctx.audit(req, { action: 'risk.publish', target: `risk-import:${id}`, outcome: 'ok', details: out });
    return out;
  });
}
