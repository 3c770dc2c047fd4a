import type { FastifyInstance } from 'fastify';
import type { Venue } from '../core/code-record.js';
import type { Ctx } from './context.js';
import { principalOf } from './context.js';
import { AdminError } from './errors.js';
import { newVenueId, placeCodePng, placeCodeSvg, placeCodeText, VENUE_ID_PATTERN } from './place-code.js';
import { inScope } from './roles.js';
import { parseVenueFile } from './venue-file.js';
import { listVenues } from './venue-list.js';
import { venuePosterPdf } from './venue-poster.js';
import { ANY_OBJECT, ERROR_BODY, REGION } from './schemas.js';
import { PNG, SVG, VENUE_IMPORTED } from './response-schemas.js';

/**
 * Venues and their place codes (DESIGN §3, §7). A venue of kind 'entry'
 * (入川即检) carries the hours within which an arrival must be tested.
 * Region-scoped accounts create, import and see only venues in their region.
 * The QR images encode `HCV1:<venue id>` (place-code.ts, README.md).
 */
const MAX_IMPORT = 10_000;

const VENUE_PROPS = {
  id: { type: 'string', pattern: VENUE_ID_PATTERN, description: 'place code id; generated (V + 16 Base32) when absent' },
  name: { type: 'string', minLength: 1, maxLength: 200 },
  region: REGION,
  kind: { type: 'string', enum: ['normal', 'entry'], default: 'normal' },
  entryTestHours: { type: 'integer', minimum: 1, maximum: 336, description: "required for kind 'entry', absent otherwise" },
} as const;

const VENUE_BODY = { type: 'object', additionalProperties: false, required: ['name', 'region'], properties: VENUE_PROPS } as const;

const ID_PARAM = {
  type: 'object', additionalProperties: false, required: ['id'],
  properties: { id: { type: 'string', pattern: VENUE_ID_PATTERN } },
} as const;

type VenueBody = { id?: string; name: string; region: string; kind?: 'normal' | 'entry'; entryTestHours?: number };

function toVenue(b: VenueBody, id: string): Venue {
  const kind = b.kind ?? 'normal';
  // a normal venue with hours, or an entry venue without, is refused by the store (MASTER_ERR_INVALID naming the field)
  return { id, name: b.name, region: b.region, kind, entryTestHours: b.entryTestHours ?? null };
}

/** A venue as the API shows it. */
export const VENUE_VIEW = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, region: { type: 'string', description: 'GB/T 2260' },
    kind: { type: 'string', enum: ['normal', 'entry'] }, entryTestHours: { type: ['integer', 'null'] },
    placeCode: { type: 'string', description: 'the QR text, HCV1:<id>' },
    disabledAt: { type: ['integer', 'null'], description: '停用 since (unix s): not on the edges, scans refused, place code not printed; null in service' },
  },
} as const;

const VENUE_PAGE = {
  type: 'object',
  properties: {
    venues: { type: 'array', items: VENUE_VIEW },
    total: { type: 'integer', description: 'venues matching, all pages' },
    offset: { type: 'integer' }, limit: { type: 'integer' },
  },
} as const;

function venueView(v: Venue & { disabledAt?: number | null }): Record<string, unknown> {
  return { ...v, placeCode: placeCodeText(v.id) };
}

export function registerVenueRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { store } = ctx.deps;

  /** The venue if it exists and the caller may see it; else 404 (out-of-scope looks like absent). */
  async function visibleVenue(req: Parameters<typeof principalOf>[0], id: string): Promise<Venue> {
    const v = await store.getVenue(id);
    if (v === null || !inScope(principalOf(req).regionPrefix, v.region)) throw new AdminError('ADM_ERR_NOT_FOUND', 'no such venue');
    return v;
  }

  /** A place code is generated or printed only for a venue in service (issue 15 item 4). */
  async function printableVenue(req: Parameters<typeof principalOf>[0], id: string): Promise<Venue> {
    const v = await visibleVenue(req, id);
    if ((await store.venueDisabledAt(id)) !== null) throw new AdminError('ADM_ERR_VENUE_DISABLED', `venue ${id} is disabled`);
    return v;
  }

  function checkScope(req: Parameters<typeof principalOf>[0], region: string, field: string): void {
    const who = principalOf(req);
    if (!inScope(who.regionPrefix, region)) throw new AdminError('ADM_ERR_FORBIDDEN', `region is outside ${who.regionPrefix}`, field, '超出您的管辖地区');
  }

  app.post('/admin/v1/venues', {
    config: { access: 'venues.write', rate: 'admin' },
    schema: {
      summary: 'Create a venue (place code)',
      tags: ['venues'], body: VENUE_BODY,
      response: { 201: VENUE_VIEW, 400: ERROR_BODY, 403: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req, reply) => {
    const b = req.body as VenueBody;
    checkScope(req, b.region, 'region');
    const id = b.id ?? newVenueId();
    if ((await store.getVenue(id)) !== null) throw new AdminError('ADM_ERR_CONFLICT', `venue ${id} exists`, 'id', '该场所编号已存在');
    const v = toVenue(b, id);
    const r = await store.upsertVenue(v); // MASTER_ERR_INVALID for kind/entryTestHours mismatches
    if (r.changed) ctx.committed();
    await ctx.audit(req, { action: 'venues.create', target: `venue:${id}`, outcome: 'ok', details: { region: v.region, kind: v.kind, seq: r.seq } });
    return reply.code(201).send(venueView(v));
  });

  app.post('/admin/v1/venues/import', {
    config: { access: 'venues.write', rate: 'admin' },
    schema: {
      summary: 'Create or update many venues in one transaction (all or nothing)',
      tags: ['venues'],
      body: {
        type: 'object', additionalProperties: false, required: ['venues'],
        properties: { venues: { type: 'array', minItems: 1, maxItems: MAX_IMPORT, items: VENUE_BODY } },
      },
      response: { 200: VENUE_IMPORTED, 400: ERROR_BODY, 403: ERROR_BODY },
    },
  }, async (req) => {
    const { venues } = req.body as { venues: VenueBody[] };
    const list = venues.map((b, i) => {
      checkScope(req, b.region, `venues[${i}].region`);
      return toVenue(b, b.id ?? newVenueId());
    });
    const seen = new Set<string>();
    list.forEach((v, i) => {
      if (seen.has(v.id)) throw new AdminError('ADM_ERR_VALIDATION', `id ${v.id} is listed twice`, `venues[${i}].id`, '编号在名单中重复');
      seen.add(v.id);
    });
    const scope = principalOf(req).regionPrefix;
    const changed = await store.transaction(async (s) => {
      let n = 0;
      for (const v of list) {
        // an existing venue of another region is not the caller's to overwrite
        const old = scope === '' ? null : await s.getVenue(v.id);
        if (old !== null && !inScope(scope, old.region)) throw new AdminError('ADM_ERR_CONFLICT', `venue ${v.id} exists elsewhere`, 'id', '该编号已被管辖地区以外的场所使用');
        if ((await s.upsertVenue(v)).changed) n++;
      }
      return n;
    });
    if (changed > 0) ctx.committed();
    await ctx.audit(req, { action: 'venues.import', outcome: 'ok', details: { count: list.length, changed } });
    return { count: list.length, changed, unchanged: list.length - changed, ids: list.map((v) => v.id) };
  });

  app.get('/admin/v1/venues', {
    config: { access: 'venues.read', rate: 'admin' },
    schema: {
      summary: 'Venues by name (substring, case-insensitive; empty = all) within a region prefix, a page at a time with the total',
      tags: ['venues'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          q: { type: 'string', maxLength: 100 },
          region: { type: 'string', pattern: '^[0-9]{1,12}$' },
          kind: { type: 'string', enum: ['normal', 'entry'] },
          limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: '1–1000, default 50' },
          offset: { type: 'string', pattern: '^[0-9]{1,9}$', description: 'rows to skip, default 0' },
        },
      },
      response: { 200: VENUE_PAGE, 400: ERROR_BODY },
    },
  }, async (req) => {
    const q = req.query as { q?: string; region?: string; kind?: 'normal' | 'entry'; limit?: string; offset?: string };
    const scope = principalOf(req).regionPrefix;
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (limit < 1 || limit > 1000) throw new AdminError('ADM_ERR_VALIDATION', 'must be 1–1000', 'limit', '应为 1–1000');
    const offset = q.offset === undefined ? 0 : Number(q.offset);
    let prefix = q.region ?? '';
    // narrow to the caller's region; a prefix outside it finds nothing rather than everything
    if (!prefix.startsWith(scope)) {
      if (scope.startsWith(prefix)) prefix = scope;
      else return { venues: [], total: 0, offset, limit };
    }
    const page = await listVenues(store.db, { text: q.q ?? '', regionPrefix: prefix, kind: q.kind ?? null, limit, offset });
    return { venues: page.venues.map(venueView), total: page.total, offset, limit };
  });

  app.post('/admin/v1/venues/parse', {
    config: { access: 'venues.write', rate: 'admin' },
    schema: {
      summary: 'Read a venue spreadsheet (.xlsx or .csv, base64) into rows with a Chinese problem per bad row; writes nothing',
      tags: ['venues'],
      body: {
        type: 'object', additionalProperties: false, required: ['filename', 'data'],
        properties: { filename: { type: 'string', minLength: 1, maxLength: 200 }, data: { type: 'string', maxLength: 6 * 1024 * 1024, description: 'file bytes, base64' } },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            rows: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  row: { type: 'integer', description: 'row number as the spreadsheet shows it' },
                  venue: { anyOf: [{ type: 'null' }, { type: 'object', additionalProperties: true }] },
                  problem: { type: ['string', 'null'], description: 'Chinese' },
                },
              },
            },
            columns: { type: 'array', items: { type: 'string' } },
          },
        },
        400: ERROR_BODY,
      },
    },
  }, async (req) => {
    const b = req.body as { filename: string; data: string };
    return parseVenueFile(b.filename, Buffer.from(b.data, 'base64'));
  });

  app.post('/admin/v1/venues/:id', {
    config: { access: 'venues.write', rate: 'admin' },
    schema: {
      summary: 'Change a venue (name, region, kind, hours); the place code (its id) stays, printed posters stay valid',
      tags: ['venues'], params: ID_PARAM,
      body: { type: 'object', additionalProperties: false, required: ['name', 'region'], properties: { name: VENUE_PROPS.name, region: VENUE_PROPS.region, kind: VENUE_PROPS.kind, entryTestHours: VENUE_PROPS.entryTestHours } },
      response: { 200: VENUE_VIEW, 400: ERROR_BODY, 403: ERROR_BODY, 404: ERROR_BODY },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const old = await visibleVenue(req, id);
    const b = req.body as VenueBody;
    checkScope(req, b.region, 'region');
    const v = toVenue(b, id);
    const r = await store.upsertVenue(v);
    if (r.changed) ctx.committed();
    await ctx.audit(req, {
      action: 'venues.update', target: `venue:${id}`, outcome: 'ok',
      details: { from: { name: old.name, region: old.region, kind: old.kind, entryTestHours: old.entryTestHours }, to: { name: v.name, region: v.region, kind: v.kind, entryTestHours: v.entryTestHours }, seq: r.seq },
    });
    return venueView(v);
  });

  /**
   * 停用 and 恢复启用: the same route but for the store call, the answer's
   * disabledAt and what the audit keeps (a disable keeps the venue as it was).
   */
  const serviceChange = (action: 'disable' | 'enable', summary: string, change: (id: string) => Promise<{ changed: boolean; seq: number | null }>) =>
    app.post(`/admin/v1/venues/:id/${action}`, {
      config: { access: 'venues.write', rate: 'admin' },
      schema: {
        summary,
        tags: ['venues'], params: ID_PARAM, body: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: VENUE_VIEW, 404: ERROR_BODY },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const v = await visibleVenue(req, id);
      const r = await change(id);
      if (r.changed) ctx.committed();
      const details = { changed: r.changed, seq: r.seq };
      await ctx.audit(req, { action: `venues.${action}`, target: `venue:${id}`, outcome: 'ok', details: action === 'disable' ? { venue: v, ...details } : details });
      return venueView({ ...v, disabledAt: action === 'disable' ? await store.venueDisabledAt(id) : null });
    });

  serviceChange(
    'disable',
    '停用: take a place code out of service — kept with disabledAt, removed from the edges (scans refused as an invalid place code), not printed; enable brings it back',
    (id) => store.disableVenue(id),
  );
  serviceChange(
    'enable',
    '恢复启用: a disabled place code back in service with the same id (printed posters are valid again), published to the edges',
    (id) => store.enableVenue(id),
  );

  app.get('/admin/v1/venues/:id/poster.pdf', {
    config: { access: 'venues.read', rate: 'admin' },
    schema: {
      summary: 'Printable A4 place-code poster (PDF): name, region, QR, place-code text, instructions',
      tags: ['venues'], params: ID_PARAM,
      response: { 200: { description: 'application/pdf', type: 'string', format: 'binary' }, 404: ERROR_BODY },
    },
  }, async (req, reply) => {
    const v = await printableVenue(req, (req.params as { id: string }).id);
    const pdf = await venuePosterPdf(v);
    await ctx.audit(req, { action: 'venues.poster', target: `venue:${v.id}`, outcome: 'ok' });
    return reply.type('application/pdf').header('content-disposition', `inline; filename="venue-${v.id}.pdf"`).send(pdf);
  });

  app.get('/admin/v1/venues/:id', {
    config: { access: 'venues.read', rate: 'admin' },
    schema: { summary: 'One venue', tags: ['venues'], params: ID_PARAM, response: { 200: VENUE_VIEW, 404: ERROR_BODY } },
  }, async (req) => {
    const v = await visibleVenue(req, (req.params as { id: string }).id);
    return venueView({ ...v, disabledAt: await store.venueDisabledAt(v.id) });
  });

  app.get('/admin/v1/venues/:id/qr.png', {
    config: { access: 'venues.read', rate: 'admin' },
    schema: { response: { 200: PNG }, summary: 'Place code as PNG (HCV1:<id>, error correction M)', tags: ['venues'], params: ID_PARAM },
  }, async (req, reply) => {
    const v = await printableVenue(req, (req.params as { id: string }).id);
    return reply.type('image/png').header('content-disposition', `inline; filename="venue-${v.id}.png"`).send(await placeCodePng(v.id));
  });

  app.get('/admin/v1/venues/:id/qr.svg', {
    config: { access: 'venues.read', rate: 'admin' },
    schema: { response: { 200: SVG }, summary: 'Place code as SVG (HCV1:<id>, error correction M)', tags: ['venues'], params: ID_PARAM },
  }, async (req, reply) => {
    const v = await printableVenue(req, (req.params as { id: string }).id);
    return reply.type('image/svg+xml').header('content-disposition', `inline; filename="venue-${v.id}.svg"`).send(await placeCodeSvg(v.id));
  });
}
