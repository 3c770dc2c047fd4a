import type { FastifyInstance } from 'fastify';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { ERROR_BODY } from '../admin-api/schemas.js';
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

/**
 * The data standards editor's writes (数据标准管理):
 *
 *   GET  /admin/v1/exchange/code-tables                          code tables (码表), every version, newest first per table
 *   GET  /admin/v1/exchange/code-tables/:id/versions/:version    one version
 *   POST /admin/v1/exchange/code-tables                          a new table {id, name, description?, entries: [{code, name, aliases?}]} → 201 (version 1)
 *   POST /admin/v1/exchange/code-tables/:id/versions             its next version {name, description?, entries} → 201
 *   POST /admin/v1/exchange/datasets/new                         a new dataset (version 1; fields may reference code tables) → 201
 *
 * Reading needs exchange.read, writing exchange.write; every write is audited.
 * Coded errors: EXC_ERR_CODE_TABLE_INVALID|EMPTY|EXISTS|UNKNOWN, EXC_ERR_DATASET_ID|EXISTS|TARGET_FIELDS,
 * EXC_ERR_FIELD_TYPE (ERRORS.md).
 */
const TABLE_ID = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,39}$' } } } as const;
const TABLE_VERSION = {
  type: 'object', additionalProperties: false, required: ['id', 'version'],
  properties: { id: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,39}$' }, version: { type: 'string', pattern: '^[0-9]{1,6}$' } },
} as const;
const OBJECT = { type: 'object' } as const;
const ANY_OUT = { type: 'object', additionalProperties: true } as const;

export function registerCodeTableRoutes(app: FastifyInstance, ctx: Ctx, datasets: DatasetStore): void {
  const tables = datasets.codeTables;

  app.get('/admin/v1/exchange/code-tables', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'Code tables (码表) of the data standards: code → Chinese name, every version', tags: ['exchange'] },
  }, async () => ({ codeTables: (await tables.list()).map((x) => ({ ...x.table, createdBy: x.createdBy, createdAt: x.createdAt })) }));

  app.get('/admin/v1/exchange/code-tables/:id/versions/:version', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'One version of a code table', tags: ['exchange'], params: TABLE_VERSION, response: { 400: ERROR_BODY } },
  }, async (req) => {
    const p = req.params as { id: string; version: string };
    return { codeTable: await tables.get(p.id, Number(p.version)) };
  });

  app.post('/admin/v1/exchange/code-tables', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: { summary: 'A new code table (version 1)', tags: ['exchange'], body: OBJECT, response: { 201: ANY_OUT, 400: ERROR_BODY, 409: ERROR_BODY } },
  }, async (req, reply) => {
    const t = await tables.create(req.body, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.code_table.add', target: `code-table:${t.id}`, outcome: 'ok', details: { version: t.version, entries: t.entries.length } });
    return reply.code(201).send(t);
  });

  app.post('/admin/v1/exchange/code-tables/:id/versions', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: { summary: 'The next version of a code table', tags: ['exchange'], params: TABLE_ID, body: OBJECT, response: { 201: ANY_OUT, 400: ERROR_BODY } },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const t = await tables.addVersion(id, req.body, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.code_table.version', target: `code-table:${t.id}`, outcome: 'ok', details: { version: t.version, entries: t.entries.length } });
    return reply.code(201).send(t);
  });

  app.post('/admin/v1/exchange/datasets/new', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: {
      summary: 'A new data standard (version 1): id, name, description, target, fields (enum fields may give codeTable), key, notFuture, order?',
      tags: ['exchange'], body: OBJECT, response: { 201: ANY_OUT, 400: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req, reply) => {
    const d = await datasets.create(req.body, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.dataset.create', target: `dataset:${d.id}`, outcome: 'ok', details: { version: d.version, target: d.target, fields: d.fields.length } });
    return reply.code(201).send({ definition: d });
  });
}
