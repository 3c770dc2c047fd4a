import type { FastifyInstance } from 'fastify';
import { demoName, demoResidentId } from '../demo-data.js';
import type { Ctx } from './context.js';
import { AdminError } from './errors.js';

/**
 * GET /v1/session/demo: which demo identities exist, for the citizen page's
 * login form when the stack runs with demo data (issue 15 item 6). These are
 * the synthetic people of demo-data.ts (resident IDs computed from an index,
 * never a real person); on a real database (`demoPeople` absent) the route
 * is 404, so no identity of anyone real can ever be listed.
 *
 * One of each colour when the demo has them (the rules make about 3 % of the
 * demo people yellow or red), found by looking the first few hundred up.
 * Public and CORS-open to the configured citizen-page origins like POST
 * /v1/session; computed once and kept (colours change only by officials'
 * actions, the list is a hint).
 */
const SCAN = 400;
const MAX_GREEN = 2;

interface DemoIdentity {
  idType: 'resident';
  idNo: string;
  name: string;
  color: string;
}

export function registerDemoRoutes(app: FastifyInstance, ctx: Ctx): void {
  let cached: { at: number; people: DemoIdentity[] } | null = null;

  async function find(): Promise<DemoIdentity[]> {
    const n = Math.min(ctx.deps.demoPeople ?? 0, SCAN);
    const byColor: Record<string, DemoIdentity[]> = { green: [], yellow: [], red: [] };
    for (let i = 0; i < n; i++) {
      const idNo = demoResidentId(i);
      const p = await ctx.deps.store.findPersonByCertificate('resident', idNo);
      if (p === null) continue;
      const code = await ctx.deps.store.getCode(p.id);
      const color = code?.color ?? 'green';
      const list = byColor[color];
      if (list === undefined || list.length >= (color === 'green' ? MAX_GREEN : 1)) continue;
      list.push({ idType: 'resident', idNo, name: demoName(i), color });
      if (byColor.green!.length >= MAX_GREEN && byColor.yellow!.length >= 1 && byColor.red!.length >= 1) break;
    }
    return [...byColor.green!, ...byColor.yellow!, ...byColor.red!];
  }

  app.get('/v1/session/demo', {
    config: { access: 'public', rate: 'session' },
    schema: {
      summary: 'Demo identities for the citizen page login (only when the stack runs with demo data)',
      tags: ['citizen'],
      response: {
        200: {
          type: 'object', required: ['people'],
          properties: {
            people: {
              type: 'array',
              items: {
                type: 'object', required: ['idType', 'idNo', 'name', 'color'],
                properties: { idType: { type: 'string' }, idNo: { type: 'string' }, name: { type: 'string' }, color: { type: 'string', enum: ['green', 'yellow', 'red'] } },
              },
            },
          },
        },
      },
    },
  }, async (req, reply) => {
    if ((ctx.deps.demoPeople ?? 0) <= 0) throw new AdminError('ADM_ERR_NOT_FOUND', 'the stack runs without demo data');
    const origin = req.headers.origin;
    if (origin !== undefined && ctx.deps.config.corsOrigins.includes(origin)) void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    const now = ctx.now();
    if (cached === null || now - cached.at > 60) cached = { at: now, people: await find() };
    return { people: cached.people };
  });
}
