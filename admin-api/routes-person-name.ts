import type { FastifyInstance } from 'fastify';
import type { Ctx } from './context.js';
import { principalOf } from './context.js';
import { onlyOne, refLabel, resolvePersons, type PersonRef } from './person-view.js';
import { ERROR_BODY, PERSON_REF_PROPS, REASON } from './schemas.js';

/**
 * POST /admin/v1/persons/rename — an official records a legal name change
 * (issue 15 item 7). What the identity provider is trusted with: only that
 * the citizen holds the certificate (routes-session.ts); a login with another
 * name is refused, never a rename. The name register is changed here, by an
 * official with codes.write inside their region, from documents, with a
 * reason, audited in the same transaction; no second approver (one person,
 * no code change). The new masked name reaches every edge as a code delta
 * through the outbox (MasterStore.renamePerson).
 *
 * The identity and the new name are in the JSON body, never in the URL; the
 * audit entry holds the masked names only (DESIGN §2: no full name in logs).
 */
type RenameBody = PersonRef & { name: string; reason: string };

export function registerPersonNameRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { store } = ctx.deps;
  app.post('/admin/v1/persons/rename', {
    config: { access: 'codes.write', rate: 'admin' },
    schema: {
      summary: '依法改名: change a person\'s registered name (certificate or phone in the body); the masked name goes to every edge through the outbox; audited',
      tags: ['codes'],
      body: {
        type: 'object', additionalProperties: false, required: ['name', 'reason'],
        properties: { ...PERSON_REF_PROPS, name: { type: 'string', minLength: 1, maxLength: 64 }, reason: REASON },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            personId: { type: 'integer' }, changed: { type: 'boolean' },
            seq: { type: ['integer', 'null'], description: 'outbox sequence of the code delta carrying the new masked name; null when none was needed' },
            name: { type: 'string', description: 'the new masked name' },
          },
        },
        400: ERROR_BODY, 403: ERROR_BODY, 404: ERROR_BODY, 409: ERROR_BODY,
      },
    },
  }, async (req) => {
    const b = req.body as RenameBody;
    const target = refLabel(b, new Date(store.nowMs())); // CORE_ERR_* for a malformed identity, before any look-up
    const found = await resolvePersons(store, b, principalOf(req));
    let personId: number;
    try {
      personId = onlyOne(found).id;
    } catch (err) {
      const outcome = found.visible.length === 0 ? (found.hidden > 0 ? 'denied_scope' : 'not_found') : 'ambiguous';
      await ctx.audit(req, { action: 'persons.rename', target, outcome });
      throw err;
    }
    const r = await store.transaction(async (s) => {
      const x = await s.renamePerson(personId, b.name);
      await ctx.audit(req, {
        action: 'persons.rename', target, outcome: 'ok',
        details: { personId, from: x.oldMasked, to: x.nameMasked, reason: b.reason, changed: x.changed, seq: x.seq },
      }, s.db);
      return x;
    });
    if (r.seq !== null) ctx.committed();
    return { personId, changed: r.changed, seq: r.seq, name: r.nameMasked };
  });
}
