import type { FastifyInstance } from 'fastify';
import type { DatasetStore } from './dataset-store.js';

/**
 * The data standards' editor API (数据标准管理, console):
 *
 *   GET /admin/v1/exchange/datasets/:id/versions/:version   one version's full definition
 *
 * The list (`GET /admin/v1/exchange/datasets`) answers a display view: code
 * tables as pairs, no region lengths, no time-order pairs. The console's
 * editor starts a new version from the previous one and must not drop what
 * the view leaves out (an arrival's 出发时间 ≤ 到达时间 check, a carrier
 * city's 4-digit codes), so it reads the definition exactly as stored.
 */
const PARAMS = {
  type: 'object', additionalProperties: false, required: ['id', 'version'],
  properties: { id: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,39}$' }, version: { type: 'string', pattern: '^[0-9]{1,6}$' } },
} as const;

export function registerStandardsRoutes(app: FastifyInstance, datasets: DatasetStore): void {
  app.get('/admin/v1/exchange/datasets/:id/versions/:version', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'One version of a data standard, the definition exactly as stored (the editor starts from it)', tags: ['exchange'], params: PARAMS },
  }, async (req) => {
    const p = req.params as { id: string; version: string };
    return { definition: await datasets.get(p.id, Number(p.version)) };
  });
}
