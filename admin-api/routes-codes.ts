import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Color } from '../core/code-record.js';
import { CodedError } from '../core/coded-error.js';
import type { CodeChangeResult } from '../master/code-service.js';
import type { CodeRow, MasterStore, PersonRow } from '../master/store.js';
import type { AdminSession } from './admin-tokens.js';
import type { BulkRequest } from './bulk-requests.js';
import type { Ctx } from './context.js';
import { principalOf } from './context.js';
import { AdminError } from './errors.js';
import {
  factsView, notFound, onlyOne, personView, refLabel, resolvePersons, type PersonRef,
} from './person-view.js';
import { inScope } from './roles.js';
import { ANY_OBJECT, COLOR, ERROR_BODY, PERSON_REF, PERSON_REF_PROPS, REASON, UNIX_SECONDS } from './schemas.js';
import { BULK_APPLIED, BULK_LIST, BULK_ONE, CODE_CHANGE, CODE_QUERY } from './response-schemas.js';

/**
 * Codes (DESIGN §7): query by certificate or phone, manual change (转码),
 * bulk change with a second approver.
 *
 * All of it is POST with the identity in the JSON body: an identity in a URL
 * ends up in proxy logs, browser history and Referer headers. Reads of
 * personal data are audited before the answer is sent (no audit, no data);
 * a change and its audit entry commit in one transaction
 * (CodeService.transcode's sameTx).
 */
const MAX_BULK = 5000;

const CHANGE_PROPS = { color: COLOR, reason: REASON, until: { ...UNIX_SECONDS, description: 'unix seconds, in the future; absent = until cleared' } } as const;

const ID_PARAM = {
  type: 'object', additionalProperties: false, required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{16}$' } },
} as const;

type ChangeBody = PersonRef & { color: Color; reason: string; until?: number };

function codeView(c: CodeRow | null): Record<string, unknown> | null {
  if (c === null) return null;
  return {
    color: c.color, reason: c.reason, since: c.since, until: c.until, notices: c.notices, name: c.name,
    ruleVersion: c.ruleVersion, seq: c.seq, nextEvalAt: c.nextEvalAt,
  };
}

function changeView(r: CodeChangeResult): Record<string, unknown> {
  return {
    personId: r.personId, changed: r.changed, seq: r.seq, overridden: r.overridden, ruleVersion: r.ruleVersion,
    nextEvalAt: r.nextEvalAt, code: r.record,
  };
}

function failureCode(err: unknown): string {
  const c = (err as { code?: unknown }).code;
  return typeof c === 'string' ? c : 'error';
}

/** Resolves one person for a write, auditing a refusal (not found / out of scope / ambiguous) before throwing. */
async function personFor(ctx: Ctx, req: FastifyRequest, ref: PersonRef, action: string, target: string): Promise<PersonRow> {
  const who = principalOf(req);
  const r = await resolvePersons(ctx.deps.store, ref, who);
  try {
    return onlyOne(r);
  } catch (err) {
    const outcome = r.visible.length === 0 ? (r.hidden > 0 ? 'denied_scope' : 'not_found') : 'ambiguous';
    await ctx.audit(req, { action, target, outcome });
    throw err;
  }
}

function requestView(b: BulkRequest): Record<string, unknown> {
  return {
    id: b.id, status: b.status, requestedBy: b.requestedBy, createdAt: b.createdAt, expiresAt: b.expiresAt,
    change: b.change, count: b.personIds.length, targets: b.targets.slice(0, 200),
  };
}

function visibleTo(b: BulkRequest, who: AdminSession): boolean {
  return b.regions.every((r) => inScope(who.regionPrefix, r));
}

async function queryOne(store: MasterStore, ctx: Ctx, p: PersonRow, who: AdminSession): Promise<Record<string, unknown>> {
  const [code, override, facts, history] = await Promise.all([
    store.getCode(p.id), ctx.deps.codes.getOverride(p.id), ctx.deps.codes.facts(p.id), ctx.deps.codes.history(p.id),
  ]);
  return { person: personView(store, p, who), code: codeView(code), override, facts: factsView(facts, who), history };
}

export function registerCodeRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { store, codes } = ctx.deps;

  app.post('/admin/v1/codes/query', {
    config: { access: 'codes.read', rate: 'admin' },
    schema: {
      summary: 'Code, facts and history of a person, by certificate or phone (masked for masked roles)',
      tags: ['codes'],
      body: PERSON_REF,
      response: { 200: CODE_QUERY, 400: ERROR_BODY, 404: ERROR_BODY },
    },
  }, async (req) => {
    const who = principalOf(req);
    const ref = req.body as PersonRef;
    const target = refLabel(ref, new Date(store.nowMs())); // CORE_ERR_* for a malformed identity, before any look-up
    const r = await resolvePersons(store, ref, who);
    if (r.visible.length === 0) {
      await ctx.audit(req, { action: 'codes.query', target, outcome: r.hidden > 0 ? 'denied_scope' : 'not_found' });
      throw notFound();
    }
    const results = [];
    for (const p of r.visible) results.push(await queryOne(store, ctx, p, who));
    await ctx.audit(req, { action: 'codes.query', target, outcome: 'ok', details: { personIds: r.visible.map((p) => p.id) } });
    return { results };
  });

  app.post('/admin/v1/codes/transcode', {
    config: { access: 'codes.write', rate: 'admin' },
    schema: {
      summary: 'Manual code change (转码) with a reason: new code, outbox delta and audit entry in one transaction',
      tags: ['codes'],
      body: { type: 'object', additionalProperties: false, required: ['color', 'reason'], properties: { ...PERSON_REF_PROPS, ...CHANGE_PROPS } },
      response: { 200: CODE_CHANGE, 400: ERROR_BODY, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req) => {
    const who = principalOf(req);
    const b = req.body as ChangeBody;
    const target = refLabel(b, new Date(store.nowMs()));
    const p = await personFor(ctx, req, b, 'codes.transcode', target);
    const change = { color: b.color, reason: b.reason, until: b.until ?? null };
    let r: CodeChangeResult;
    try {
      r = await codes.transcode(p.id, change, who.username, {
        sameTx: async (s, res) => {
          await ctx.audit(req, {
            action: 'codes.transcode', target, outcome: 'ok',
            details: { personId: p.id, ...change, changed: res.changed, seq: res.seq, overridden: res.overridden },
          }, s.db);
        },
      });
    } catch (err) {
      await ctx.audit(req, { action: 'codes.transcode', target, outcome: 'failed', details: { personId: p.id, code: failureCode(err) } })
        .catch((e: unknown) => req.log.error({ err: e }, 'audit of a failed transcode failed'));
      throw err;
    }
    if (r.changed) ctx.committed();
    return changeView(r);
  });

  app.post('/admin/v1/codes/clear', {
    config: { access: 'codes.write', rate: 'admin' },
    schema: {
      summary: 'End a manual change: the rules decide the code again, at once',
      tags: ['codes'],
      body: PERSON_REF,
      response: { 200: CODE_CHANGE, 400: ERROR_BODY, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req) => {
    const who = principalOf(req);
    const ref = req.body as PersonRef;
    const target = refLabel(ref, new Date(store.nowMs()));
    const p = await personFor(ctx, req, ref, 'codes.clear', target);
    const r = await codes.clearOverride(p.id, who.username, {
      sameTx: async (s, res) => {
        await ctx.audit(req, { action: 'codes.clear', target, outcome: 'ok', details: { personId: p.id, changed: res.changed, seq: res.seq } }, s.db);
      },
    });
    if (r.changed) ctx.committed();
    return changeView(r);
  });

  // ---- bulk change: request by one user, approval by another (GB/T 35273-2020 7.1) ----

  app.post('/admin/v1/codes/bulk', {
    config: { access: 'codes.write', rate: 'admin' },
    schema: {
      summary: 'Request a bulk code change; it applies only when a different user approves it',
      tags: ['codes'],
      body: {
        type: 'object', additionalProperties: false, required: ['items', 'color', 'reason'],
        properties: { items: { type: 'array', minItems: 1, maxItems: MAX_BULK, items: PERSON_REF }, ...CHANGE_PROPS },
      },
      response: { 202: BULK_ONE, 400: ERROR_BODY, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req, reply) => {
    const who = principalOf(req);
    const b = req.body as { items: PersonRef[]; color: Color; reason: string; until?: number };
    const now = new Date(store.nowMs());
    const ids = new Map<number, { region: string | null; label: string }>();
    for (let i = 0; i < b.items.length; i++) {
      const field = `items[${i}]`;
      const ref = b.items[i]!;
      let label: string;
      try {
        label = refLabel(ref, now);
      } catch (err) {
        // same code and status, the path says which item: items[3].idNo
        if (err instanceof CodedError) {
          const f = err.field === undefined ? field : `${field}.${err.field}`;
          throw new CodedError(err.code, err.statusCode, `${field}: ${err.message}`, f);
        }
        throw err;
      }
      const r = await resolvePersons(store, ref, who);
      if (r.visible.length !== 1) {
        await ctx.audit(req, {
          action: 'codes.bulk.request', target: label,
          outcome: r.visible.length === 0 ? (r.hidden > 0 ? 'denied_scope' : 'not_found') : 'ambiguous', details: { item: i },
        });
      }
      const p = onlyOne(r, field);
      ids.set(p.id, { region: p.region, label });
    }
    const change = { color: b.color, reason: b.reason, until: b.until ?? null };
    if (change.until !== null && change.until <= ctx.now()) throw new AdminError('ADM_ERR_VALIDATION', 'must be in the future', 'until', '须晚于当前时间');
    const entries = [...ids.entries()];
    const request = ctx.bulk.create({
      requestedBy: who.username,
      change,
      personIds: entries.map(([id]) => id),
      regions: entries.map(([, v]) => v.region),
      targets: entries.map(([, v]) => v.label),
    });
    await ctx.audit(req, {
      action: 'codes.bulk.request', target: `bulk:${request.id}`, outcome: 'pending',
      details: { id: request.id, count: entries.length, ...change },
    });
    return reply.code(202).send(requestView(request));
  });

  app.get('/admin/v1/codes/bulk', {
    config: { access: 'codes.approve', rate: 'admin' },
    schema: { response: { 200: BULK_LIST }, summary: 'Pending bulk changes you may see', tags: ['codes'] },
  }, async (req) => {
    const who = principalOf(req);
    return { requests: ctx.bulk.list().filter((b) => visibleTo(b, who)).map(requestView) };
  });

  app.post('/admin/v1/codes/bulk/:id/approve', {
    config: { access: 'codes.approve', rate: 'admin' },
    schema: {
      summary: 'Approve and apply a bulk change (a different user than the requester)',
      tags: ['codes'], params: ID_PARAM, body: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: BULK_APPLIED, 403: ERROR_BODY, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req) => {
    const who = principalOf(req);
    const { id } = req.params as { id: string };
    const pending = ctx.bulk.get(id);
    if (pending === undefined || !visibleTo(pending, who)) throw new AdminError('ADM_ERR_NOT_FOUND', 'no such pending bulk request');
    if (pending.requestedBy === who.username) {
      await ctx.audit(req, { action: 'codes.bulk.approve', target: `bulk:${id}`, outcome: 'denied', details: { reason: 'same user' } });
      throw new AdminError('ADM_ERR_SAME_APPROVER');
    }
    if (pending.change.until !== null && pending.change.until <= ctx.now()) {
      throw new AdminError('ADM_ERR_REQUEST_STATE', 'its until has passed: request it again', undefined, '申请中的有效期已过，请重新提交申请');
    }
    const b = ctx.bulk.decide(id, who.username, 'approved'); // synchronous: a second approval now finds nothing pending
    let changed = 0;
    const failed: { index: number; error: string }[] = [];
    for (let i = 0; i < b.personIds.length; i++) {
      const personId = b.personIds[i]!;
      try {
        const r = await codes.transcode(personId, b.change, who.username, {
          sameTx: async (s, res) => {
            await ctx.audit(req, {
              action: 'codes.transcode', target: b.targets[i]!, outcome: 'ok',
              details: { personId, ...b.change, bulk: b.id, requestedBy: b.requestedBy, changed: res.changed, seq: res.seq },
            }, s.db);
          },
        });
        if (r.changed) changed++;
      } catch (err) {
        failed.push({ index: i, error: failureCode(err) });
      }
    }
    if (changed > 0) ctx.committed();
    await ctx.audit(req, {
      action: 'codes.bulk.approve', target: `bulk:${id}`, outcome: failed.length === 0 ? 'ok' : 'partial',
      details: { id, requestedBy: b.requestedBy, count: b.personIds.length, changed, failed: failed.length },
    });
    return { ...requestView(b), applied: b.personIds.length - failed.length, changed, failed };
  });

  app.post('/admin/v1/codes/bulk/:id/reject', {
    config: { access: 'codes.approve', rate: 'admin' },
    schema: {
      summary: 'Reject (or, by its requester, withdraw) a pending bulk change',
      tags: ['codes'], params: ID_PARAM, body: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: BULK_ONE, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req) => {
    const who = principalOf(req);
    const { id } = req.params as { id: string };
    const pending = ctx.bulk.get(id);
    if (pending === undefined || !visibleTo(pending, who)) throw new AdminError('ADM_ERR_NOT_FOUND', 'no such pending bulk request');
    const b = ctx.bulk.decide(id, who.username, 'rejected');
    await ctx.audit(req, { action: 'codes.bulk.reject', target: `bulk:${id}`, outcome: 'ok', details: { id, requestedBy: b.requestedBy } });
    return requestView(b);
  });
}
