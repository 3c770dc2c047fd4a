import type { FastifyInstance, FastifyRequest } from 'fastify';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { AdminError } from '../admin-api/errors.js';
import { can, inScope, seesMasked } from '../admin-api/roles.js';
import type { CapabilityHost } from '../admin-api/capability.js';
import type { PersonRow } from '../master/store.js';
import { citizenView, officialView, type Appeals, type AppealRow, type FileInput } from './appeals.js';
import { citizenOf } from './citizen-session.js';
import { CitizenError } from './errors.js';
import { APPEAL_STATUSES, APPEAL_TYPES, type AppealStatus, type AppealType } from './labels.js';
import { MAX_PHOTO_BYTES } from './photo-vault.js';

/**
 * Routes of 我要申诉.
 *
 *   citizen (session token)      POST /citizen/v1/appeals, GET /citizen/v1/appeals[/:id]
 *   officials (appeals.read)     GET  /admin/v1/appeals, /admin/v1/appeals/:id, /:id/photo, /admin/v1/appeals-stats
 *   officials (appeals.write)    POST /admin/v1/appeals (hotline, on a caller's behalf), /:id/accept|reply|close|transcode
 *
 * Every official view of an order (list, detail, photo) is audited; region
 * scoping by the account's prefix (roles.ts inScope); masked roles (the
 * hotline seat) see the call-back number masked.
 */
/** base64 of a 2 MB photo is 2.8 MB; JSON around it is small. */
const FILE_BODY_LIMIT = Math.ceil((MAX_PHOTO_BYTES * 4) / 3) + 64 * 1024;

const FILE_PROPS = {
  type: { type: 'string', enum: [...APPEAL_TYPES] },
  text: { type: 'string', maxLength: 4000 },
  contact: { type: 'string', maxLength: 20 },
  photo: { type: 'string', description: 'JPEG or PNG, base64, at most 2 MB decoded' },
} as const;

const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$' } } } as const;

export function registerAppealRoutes(app: FastifyInstance, ctx: Ctx, host: CapabilityHost, appeals: Appeals): void {
  // ---- citizen ----------------------------------------------------------
  app.post('/citizen/v1/appeals', {
    config: { access: 'public', rate: 'session' },
    bodyLimit: FILE_BODY_LIMIT,
    schema: {
      summary: '我要申诉: a citizen files an appeal (session token of the citizen page)',
      tags: ['citizen'],
      body: { type: 'object', additionalProperties: false, required: ['type', 'text'], properties: FILE_PROPS },
    },
  }, async (req) => {
    const person = await citizenOf(req, ctx, host.store);
    const a = await appeals.file(person, req.body as FileInput, { channel: 'page', filedBy: 'citizen' });
    await ctx.audit(req, { actor: 'citizen', role: 'citizen', action: 'appeal.file', target: `appeal:${a.id}`, outcome: 'ok',
      details: { appealId: a.id, type: a.type, photo: a.hasPhoto } });
    return citizenView(a);
  });

  app.get('/citizen/v1/appeals', {
    config: { access: 'public', rate: 'session' },
    schema: { summary: 'The citizen\'s own appeals, newest first', tags: ['citizen'] },
  }, async (req) => {
    const person = await citizenOf(req, ctx, host.store);
    return { appeals: (await appeals.ofPerson(person.id)).map(citizenView) };
  });

  app.get('/citizen/v1/appeals/:id', {
    config: { access: 'public', rate: 'session' },
    schema: { summary: 'One of the citizen\'s own appeals with its reply', tags: ['citizen'], params: ID_PARAMS },
  }, async (req) => {
    const person = await citizenOf(req, ctx, host.store);
    const a = await appeals.get(Number((req.params as { id: string }).id));
    // someone else's order is "not found", never "forbidden" (no probing of ids)
    if (a.personId !== person.id) throw new CitizenError('CIT_ERR_APPEAL_NOT_FOUND');
    return citizenView(a);
  });

  // ---- officials --------------------------------------------------------
  /** The caller a seat names by certificate (exact) or phone (one person only). */
  async function callerOf(b: { idType?: string; idNo?: string; phone?: string }): Promise<PersonRow | null> {
    if (b.idNo !== undefined && b.idNo !== '') return host.store.findPersonByCertificate(b.idType ?? 'resident', b.idNo);
    if (b.phone !== undefined && b.phone !== '') {
      const all = await host.store.findPersonsByPhone(b.phone);
      if (all.length > 1) throw new CitizenError('CIT_ERR_INVALID', 'several people registered this number: use the certificate', 'phone');
      return all[0] ?? null;
    }
    throw new CitizenError('CIT_ERR_INVALID', 'give the caller\'s certificate or phone', 'idNo');
  }

  function scoped(req: FastifyRequest, a: AppealRow): void {
    if (!inScope(principalOf(req).regionPrefix, a.region)) throw new CitizenError('CIT_ERR_OUT_OF_REGION');
  }

  app.get('/admin/v1/appeals', {
    config: { access: 'appeals.read', rate: 'admin' },
    schema: {
      summary: 'Work orders of the account\'s region: open and overdue first',
      tags: ['citizen'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          status: { type: 'string', enum: [...APPEAL_STATUSES] }, type: { type: 'string', enum: [...APPEAL_TYPES] },
          overdue: { type: 'string', enum: ['true', 'false'] }, limit: { type: 'string', pattern: '^[0-9]{1,3}$' },
        },
      },
    },
  }, async (req) => {
    const who = principalOf(req);
    const q = req.query as { status?: AppealStatus; type?: AppealType; overdue?: string; limit?: string };
    const rows = await appeals.list({
      regionPrefix: who.regionPrefix, ...(q.status === undefined ? {} : { status: q.status }), ...(q.type === undefined ? {} : { type: q.type }),
      ...(q.overdue === undefined ? {} : { overdue: q.overdue === 'true' }), limit: Math.min(500, Math.max(1, Number(q.limit ?? 200))),
    });
    await ctx.audit(req, { action: 'appeal.list', outcome: 'ok', details: { n: rows.length, status: q.status ?? null, type: q.type ?? null } });
    return { appeals: rows.map(officialView) };
  });

  app.get('/admin/v1/appeals-stats', {
    config: { access: 'appeals.read', rate: 'admin' },
    schema: { summary: 'Orders by type and region, time to close, orders per day (14 days)', tags: ['citizen'] },
  }, async (req) => {
    const who = principalOf(req);
    return appeals.stats(who.regionPrefix);
  });

  app.get('/admin/v1/appeals/:id', {
    config: { access: 'appeals.read', rate: 'admin' },
    schema: { summary: 'One order with the person\'s code, its history and timeline (audited view)', tags: ['citizen'], params: ID_PARAMS },
  }, async (req) => {
    const who = principalOf(req);
    const a = await appeals.get(Number((req.params as { id: string }).id));
    if (!inScope(who.regionPrefix, a.region)) {
      await ctx.audit(req, { action: 'appeal.view', target: `appeal:${a.id}`, outcome: 'denied_scope' });
      throw new CitizenError('CIT_ERR_OUT_OF_REGION');
    }
    const person = (await host.store.getPerson(a.personId))!;
    const masked = seesMasked(who.role);
    const code = await host.store.getCode(a.personId);
    const history = await host.codes.history(a.personId, 20);
    const events = await appeals.events(a.id);
    await ctx.audit(req, { action: 'appeal.view', target: `appeal:${a.id}`, outcome: 'ok', details: { appealId: a.id, personId: a.personId } });
    return {
      ...officialView(a),
      contact: appeals.contactOf(a, person.uid, masked),
      person: {
        id: person.id, name: person.nameMasked, region: person.region,
        code: code === null ? null : { color: code.color, reason: code.reason, since: code.since, until: code.until },
        history,
      },
      events,
      canTranscode: can(who.role, 'codes.write'),
    };
  });

  app.get('/admin/v1/appeals/:id/photo', {
    config: { access: 'appeals.read', rate: 'admin' },
    schema: { summary: 'The order\'s photo, decrypted (audited view)', tags: ['citizen'], params: ID_PARAMS },
  }, async (req, reply) => {
    const a = await appeals.get(Number((req.params as { id: string }).id));
    scoped(req, a);
    if (a.photoFile === null) throw new CitizenError('CIT_ERR_APPEAL_NOT_FOUND', a.hasPhoto ? 'photo deleted after the retention period' : 'no photo');
    const bytes = appeals.photos.get(a.photoFile);
    await ctx.audit(req, { action: 'appeal.photo', target: `appeal:${a.id}`, outcome: 'ok', details: { appealId: a.id } });
    return reply.type(a.photoType ?? 'application/octet-stream').header('cache-control', 'no-store').send(bytes);
  });

  app.post('/admin/v1/appeals', {
    config: { access: 'appeals.write', rate: 'admin' },
    bodyLimit: FILE_BODY_LIMIT,
    schema: {
      summary: 'A hotline seat files an appeal on a caller\'s behalf (certificate or phone of the caller)',
      tags: ['citizen'],
      body: {
        type: 'object', additionalProperties: false, required: ['type', 'text'],
        properties: {
          ...FILE_PROPS,
          idType: { type: 'string', maxLength: 32 }, idNo: { type: 'string', maxLength: 32 }, phone: { type: 'string', maxLength: 20 },
        },
      },
    },
  }, async (req) => {
    const who = principalOf(req);
    const b = req.body as { idType?: string; idNo?: string; phone?: string } & FileInput;
    const person = await callerOf(b);
    if (person === null || !inScope(who.regionPrefix, person.region)) {
      await ctx.audit(req, { action: 'appeal.file', outcome: 'not_found' });
      throw new CitizenError('CIT_ERR_PERSON_NOT_FOUND');
    }
    const a = await appeals.file(person, b, { channel: 'hotline', filedBy: who.username });
    await ctx.audit(req, { action: 'appeal.file', target: `appeal:${a.id}`, outcome: 'ok', details: { appealId: a.id, type: a.type, channel: 'hotline' } });
    return officialView(a);
  });

  app.post('/admin/v1/appeals/lookup', {
    config: { access: 'appeals.read', rate: 'admin' },
    schema: {
      summary: 'A hotline seat looks up a caller\'s orders (certificate or phone in the body, never the URL); audited',
      tags: ['citizen'],
      body: {
        type: 'object', additionalProperties: false,
        properties: { idType: { type: 'string', maxLength: 32 }, idNo: { type: 'string', maxLength: 32 }, phone: { type: 'string', maxLength: 20 } },
      },
    },
  }, async (req) => {
    const who = principalOf(req);
    const person = await callerOf(req.body as { idType?: string; idNo?: string; phone?: string });
    if (person === null || !inScope(who.regionPrefix, person.region)) {
      await ctx.audit(req, { action: 'appeal.lookup', outcome: 'not_found' });
      throw new CitizenError('CIT_ERR_PERSON_NOT_FOUND');
    }
    const rows = await appeals.ofPerson(person.id);
    await ctx.audit(req, { action: 'appeal.lookup', outcome: 'ok', details: { personId: person.id, n: rows.length } });
    return { name: person.nameMasked, appeals: rows.map(officialView) };
  });

  for (const action of ['accept', 'reply', 'close'] as const) {
    app.post(`/admin/v1/appeals/:id/${action}`, {
      config: { access: 'appeals.write', rate: 'admin' },
      schema: {
        summary: { accept: 'Accept the order (受理)', reply: 'Reply to the citizen (答复)', close: 'Close the order with a resolution (办结)' }[action],
        tags: ['citizen'],
        params: ID_PARAMS,
        body: {
          type: 'object', additionalProperties: false,
          properties: action === 'reply' ? { reply: { type: 'string', maxLength: 4000 } } : action === 'close' ? { resolution: { type: 'string' } } : {},
        },
      },
    }, async (req) => {
      const who = principalOf(req);
      const id = Number((req.params as { id: string }).id);
      const a = await appeals.step(id, action, who.username, (req.body ?? {}) as Record<string, unknown>, async (tx, row) => {
        await ctx.audit(req, { action: `appeal.${action}`, target: `appeal:${row.id}`, outcome: 'ok', details: { appealId: row.id, status: row.status } }, tx);
      }, (cur) => scoped(req, cur));
      return officialView(a);
    });
  }

  app.post('/admin/v1/appeals/:id/transcode', {
    config: { access: 'appeals.write', rate: 'admin' },
    schema: {
      summary: 'Handle the order by changing the person\'s code (转码; needs codes.write too), audited with the order',
      tags: ['citizen'],
      params: ID_PARAMS,
      body: {
        type: 'object', additionalProperties: false, required: ['color', 'reason'],
        properties: {
          color: { type: 'string', enum: ['green', 'yellow', 'red'] }, reason: { type: 'string', minLength: 1, maxLength: 64 },
          until: { type: ['integer', 'null'], minimum: 0, maximum: 4294967295 },
        },
      },
    },
  }, async (req) => {
    const who = principalOf(req);
    if (!can(who.role, 'codes.write')) {
      await ctx.audit(req, { action: 'access', outcome: 'denied', details: { route: 'appeal.transcode' } });
      throw new AdminError('ADM_ERR_FORBIDDEN', `role ${who.role} lacks codes.write`);
    }
    const a = await appeals.get(Number((req.params as { id: string }).id));
    scoped(req, a);
    if (a.status === 'closed') throw new CitizenError('CIT_ERR_APPEAL_STATE', 'is closed');
    const b = req.body as { color: 'green' | 'yellow' | 'red'; reason: string; until?: number | null };
    const change = { color: b.color, reason: b.reason, until: b.until ?? null };
    const r = await host.codes.transcode(a.personId, change, who.username, {
      sameTx: async (s, res) => {
        await ctx.audit(req, {
          action: 'codes.transcode', target: `appeal:${a.id}`, outcome: 'ok',
          details: { appealId: a.id, personId: a.personId, ...change, changed: res.changed, seq: res.seq },
        }, s.db);
      },
    });
    if (r.changed) ctx.committed();
    return { changed: r.changed, color: r.record.color, reason: r.record.reason, until: r.record.until };
  });
}
