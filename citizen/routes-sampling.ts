import type { FastifyInstance } from 'fastify';
import { principalOf, type Ctx } from '../admin-api/context.js';
import type { CapabilityHost } from '../admin-api/capability.js';
import { citizenOf } from './citizen-session.js';
import type { Registration, Sampling } from './sampling.js';

/**
 * 入川即检 登记 routes.
 *
 *   citizen (session)       POST /citizen/v1/sampling (register → signed QR), GET /citizen/v1/sampling (status + entry notice)
 *   anyone (public)         GET  /citizen/v1/sampling/keys (verify QRs offline)
 *   sampling site           POST /admin/v1/sampling/scan {qr, site} (venues.write: sites are run by whoever runs
 *                           the checkpoints and venues), audited
 *   console                 GET  /admin/v1/sampling (venues.read)
 */
function citizenView(r: Registration): Omit<Registration, 'personId'> {
  const { personId: _p, ...rest } = r;
  return rest;
}

export function registerSamplingRoutes(app: FastifyInstance, ctx: Ctx, host: CapabilityHost, sampling: Sampling): void {
  app.get('/citizen/v1/sampling/keys', {
    config: { access: 'public', rate: 'session' },
    schema: { summary: 'Public key(s) of the sampling QR (CS1), for offline verification at sampling sites', tags: ['citizen'] },
  }, async () => sampling.keys());

  app.post('/citizen/v1/sampling', {
    config: { access: 'public', rate: 'session' },
    schema: { summary: '入川即检: register for sampling, get the signed sampling QR', tags: ['citizen'] },
  }, async (req) => {
    const person = await citizenOf(req, ctx, host.store);
    const r = await sampling.register(person);
    await ctx.audit(req, { actor: 'citizen', role: 'citizen', action: 'sampling.register', target: `sampling:${r.id}`, outcome: 'ok', details: { registrationId: r.id } });
    return citizenView(r);
  });

  app.get('/citizen/v1/sampling', {
    config: { access: 'public', rate: 'session' },
    schema: { summary: 'The citizen\'s registrations with status, and whether the entry notice is still on the code', tags: ['citizen'] },
  }, async (req) => {
    const person = await citizenOf(req, ctx, host.store);
    const code = await host.store.getCode(person.id);
    const entry = code?.notices.find((n) => n.kind === 'entry_test' || n.kind === 'entry_test_overdue') ?? null;
    return { registrations: (await sampling.ofPerson(person.id)).map(citizenView), entryNotice: entry };
  });

  app.post('/admin/v1/sampling/scan', {
    config: { access: 'venues.write', rate: 'admin' },
    schema: {
      summary: 'A sampling site scans a CS1 sampling QR: verified, marked sampled (once), audited',
      tags: ['citizen'],
      body: {
        type: 'object', additionalProperties: false, required: ['qr', 'site'],
        properties: { qr: { type: 'string', maxLength: 400 }, site: { type: 'string', maxLength: 200 } },
      },
    },
  }, async (req) => {
    const who = principalOf(req);
    const b = req.body as { qr: string; site: string };
    try {
      const r = await sampling.scan(b.qr, b.site, who.username);
      await ctx.audit(req, { action: 'sampling.scan', target: `sampling:${r.id}`, outcome: 'ok', details: { registrationId: r.id } });
      return { id: r.id, nameMasked: r.nameMasked, sampledAt: r.sampledAt, site: r.site, status: r.status, statusZh: r.statusZh };
    } catch (err) {
      await ctx.audit(req, { action: 'sampling.scan', outcome: 'refused', details: { code: (err as { code?: string }).code ?? 'error' } });
      throw err;
    }
  });

  app.get('/admin/v1/sampling', {
    config: { access: 'venues.read', rate: 'admin' },
    schema: {
      summary: 'Registrations, newest first (no identities: registration id, times, site, status)',
      tags: ['citizen'],
      querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['registered', 'sampled'] } } },
    },
  }, async (req) => {
    const q = req.query as { status?: 'registered' | 'sampled' };
    const rows = await sampling.list(q.status);
    return { registrations: rows.map(({ qr: _q, personId: _p, ...rest }) => rest) };
  });
}
