import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CapabilityHost } from '../admin-api/capability.js';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { inScope } from '../admin-api/roles.js';
import { ERROR_BODY } from '../admin-api/schemas.js';
import { ExchangeError } from './errors.js';
import type { ImportJobs } from './import-jobs.js';
import { validateReturnRecipient, type ReturnItem, type ReturnLedger } from './return-ledger.js';
import type { ReturnPusher } from './return-push.js';

/**
 * The masked data return's API (智能数据返还, issue 10 item 6):
 *
 *   GET  /admin/v1/exchange/return-recipients               返还对象 (a city officer: its region's)
 *   PUT  /admin/v1/exchange/return-recipients/:id           add / change one (exchange.secrets)
 *   GET  /admin/v1/exchange/return-recipients/:id/policy    masking policy in force + versions
 *   PUT  /admin/v1/exchange/return-recipients/:id/policy    next version {fields: {idNo: 'hash', …}} (exchange.secrets)
 *   POST /admin/v1/exchange/return-items/produce            make the returns not made yet (optionally of one batch)
 *   GET  /admin/v1/exchange/return-items                    the ledger (?recipient ?batch ?todo=1)
 *   GET  /admin/v1/exchange/return-items/:id                one return with every taking
 *   GET  /admin/v1/exchange/return-items/:id/file.csv|xlsx  download (recorded + audited)
 *   POST /admin/v1/exchange/return-items/:id/ack            签收
 *   GET  /admin/v1/exchange/return-todo                     待办: not acknowledged, overdue first
 *   GET  /admin/v1/exchange/return-stats                    monitoring per recipient and day, and what is missing
 *   GET  /admin/v1/exchange/uploads                         数据上报: each department's uploads, status, rejects
 *
 * Region scoping: a city officer sees, downloads and acknowledges only the
 * returns of recipients inside its region; others answer 404 as if absent.
 */
const RID_PARAM = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', maxLength: 40 } } } as const;
const ITEM_PARAM = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{12}$' } } } as const;
const DIGITS = { type: 'string', pattern: '^[0-9]{1,9}$' } as const;

function intOf(s: string | undefined, def: number, min: number, max: number): number {
  return s === undefined ? def : Math.min(max, Math.max(min, Number(s)));
}

const prefixOf = (req: FastifyRequest): string => principalOf(req).regionPrefix;

export function registerReturnRoutes(app: FastifyInstance, ctx: Ctx, host: CapabilityHost, parts: { ledger: ReturnLedger; pusher: ReturnPusher; jobs: ImportJobs }): void {
  const { ledger, jobs } = parts;

  app.get('/admin/v1/exchange/return-recipients', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'Return recipients (返还对象) in the caller\'s region, with the policy version in force', tags: ['exchange'] },
  }, async (req) => ({ recipients: await ledger.recipients(prefixOf(req)) }));

  app.put('/admin/v1/exchange/return-recipients/:id', {
    config: { access: 'exchange.secrets', rate: 'admin' },
    schema: {
      summary: 'Add or change a return recipient: Chinese name, GB/T 2260 region (\'\' = province), department (its own uploads only), datasets, forwarding recipient to push to, due hours',
      tags: ['exchange'], params: RID_PARAM,
      body: {
        type: 'object', additionalProperties: false, required: ['name', 'region'],
        properties: {
          name: { type: 'string' }, region: { type: 'string' }, department: { type: ['string', 'null'] },
          datasets: { type: 'array', items: { type: 'string' }, maxItems: 50 }, sftpRecipient: { type: ['string', 'null'] }, dueHours: { type: 'integer' },
        },
      },
      response: { 400: ERROR_BODY },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const input = validateReturnRecipient(id, req.body);
    await ledger.setRecipient(id, input, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.return_recipient.set', target: `return-recipient:${id}`, outcome: 'ok', details: { ...input } });
    return { id };
  });

  app.get('/admin/v1/exchange/return-recipients/:id/policy', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'The masking policy in force (version 0 = the safe default) and every earlier version', tags: ['exchange'], params: RID_PARAM, response: { 404: ERROR_BODY } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    await ledger.recipient(id, prefixOf(req));
    return ledger.policies(id);
  });

  app.put('/admin/v1/exchange/return-recipients/:id/policy', {
    config: { access: 'exchange.secrets', rate: 'admin' },
    schema: {
      summary: 'Set the next version of a recipient\'s masking policy: {fields: {column: keep|mask|hash|drop}}; columns not given keep the default', tags: ['exchange'],
      params: RID_PARAM, body: { type: 'object' }, response: { 400: ERROR_BODY, 404: ERROR_BODY },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    await ledger.recipient(id, prefixOf(req));
    const r = await ledger.setPolicy(id, req.body, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.return_policy.set', target: `return-recipient:${id}`, outcome: 'ok', details: { version: r.version, policy: r.policy } });
    return { id, ...r };
  });

  app.post('/admin/v1/exchange/return-items/produce', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: {
      summary: 'Make the returns not made yet (the background pass does the same); with {batch} only that batch, also for recipients set up after it',
      tags: ['exchange'], body: { type: 'object', additionalProperties: false, properties: { batch: { type: 'string', pattern: '^[A-Za-z0-9_-]{12}$' } } },
      response: { 404: ERROR_BODY },
    },
  }, async (req) => {
    const batch = ((req.body ?? {}) as { batch?: string }).batch;
    if (batch !== undefined) {
      const b = await jobs.get(batch);
      if (b === null || !inScope(prefixOf(req), b.region)) throw new ExchangeError('EXC_ERR_BATCH_NOT_FOUND');
    }
    const made = await ledger.produce({ ...(batch !== undefined ? { batchId: batch } : {}), actor: principalOf(req).username });
    await ctx.audit(req, { action: 'exchange.return.produce', target: batch === undefined ? 'returns' : `import:${batch}`, outcome: 'ok', details: { made } });
    return { made };
  });

  app.get('/admin/v1/exchange/return-items', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: 'The return ledger: recipient, batch, rows, sha256, pushed / downloaded / acknowledged', tags: ['exchange'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { recipient: { type: 'string', maxLength: 40 }, batch: { type: 'string', maxLength: 12 }, todo: { type: 'string', enum: ['0', '1'] }, limit: DIGITS, offset: DIGITS },
      },
    },
  }, async (req) => {
    const q = req.query as { recipient?: string; batch?: string; todo?: string; limit?: string; offset?: string };
    return {
      items: await ledger.items(prefixOf(req), {
        ...(q.recipient !== undefined ? { recipient: q.recipient } : {}), ...(q.batch !== undefined ? { batch: q.batch } : {}),
        todo: q.todo === '1', limit: intOf(q.limit, 100, 1, 500), offset: intOf(q.offset, 0, 0, 1e9),
      }),
    };
  });

  app.get('/admin/v1/exchange/return-items/:id', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'One return and every taking of it (push, downloads, acknowledgement)', tags: ['exchange'], params: ITEM_PARAM, response: { 404: ERROR_BODY } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const item = await ledger.item(id, prefixOf(req));
    return { ...item, takes: await ledger.takes(id) };
  });

  for (const format of ['csv', 'xlsx'] as const) {
    app.get(`/admin/v1/exchange/return-items/:id/file.${format}`, {
      config: { access: 'exchange.write', rate: 'admin' },
      schema: { summary: `Download a return as ${format.toUpperCase()} (masked by the recipient's policy; recorded and audited)`, tags: ['exchange'], params: ITEM_PARAM, response: { 404: ERROR_BODY, 409: ERROR_BODY } },
    }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const item: ReturnItem = await ledger.item(id, prefixOf(req));
      if (item.rows === 0) throw new ExchangeError('EXC_ERR_RETURN_EMPTY');
      const p = principalOf(req);
      await host.db.transaction(async (tx) => {
        await ledger.recordTake(id, format, p.username, tx);
        await ctx.audit(req, {
          action: 'exchange.return.download', target: `return:${id}`, outcome: 'ok',
          details: { recipient: item.recipientId, batch: item.batchId, rows: item.rows, sha256: item.sha256, format, policyVersion: item.policyVersion, downloadNo: item.downloads + 1 },
        }, tx);
      });
      const out = new PassThrough();
      (format === 'csv' ? ledger.writeCsv(item, out) : ledger.writeXlsx(item, out)).catch((err: unknown) => {
        host.log(`exchange: return download ${id} failed: ${(err as Error).name}`);
        out.destroy(err as Error);
      });
      void reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      void reply.header('content-disposition', `attachment; filename="${item.remoteName.replace(/\.zip$/, `.${format}`)}"`);
      void reply.header('x-content-sha256', item.sha256);
      return reply.send(out);
    });
  }

  app.post('/admin/v1/exchange/return-items/:id/ack', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: { summary: 'Acknowledge (签收) a return: it leaves the to-do list', tags: ['exchange'], params: ITEM_PARAM, response: { 404: ERROR_BODY, 409: ERROR_BODY } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const item = await ledger.item(id, prefixOf(req));
    if (item.rows === 0) throw new ExchangeError('EXC_ERR_RETURN_EMPTY');
    await ledger.acknowledge(id, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.return.ack', target: `return:${id}`, outcome: 'ok', details: { recipient: item.recipientId, batch: item.batchId, rows: item.rows } });
    return ledger.item(id, prefixOf(req));
  });

  app.get('/admin/v1/exchange/return-todo', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'To-do: returns made and not yet acknowledged, the overdue first', tags: ['exchange'] },
  }, async (req) => {
    const items = await ledger.items(prefixOf(req), { todo: true, limit: 500 });
    return { total: items.length, overdue: items.filter((x) => x.overdue).length, items };
  });

  app.get('/admin/v1/exchange/return-stats', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: 'Monitoring: returns per recipient and China day (made, rows, pushed, downloaded, downloaded again, acknowledged, overdue) and batches not yet returned',
      tags: ['exchange'], querystring: { type: 'object', additionalProperties: false, properties: { days: DIGITS } },
    },
  }, async (req) => ledger.stats(prefixOf(req), intOf((req.query as { days?: string }).days, 30, 1, 366)));

  app.get('/admin/v1/exchange/uploads', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: '数据上报: what each department uploaded (batches, status, accepted / rejected rows, failures), newest first',
      tags: ['exchange'],
      querystring: { type: 'object', additionalProperties: false, properties: { department: { type: 'string', maxLength: 64 }, days: DIGITS } },
    },
  }, async (req) => {
    const q = req.query as { department?: string; days?: string };
    const since = new Date(host.nowMs() - intOf(q.days, 30, 1, 366) * 86_400_000);
    const r = await host.db.query<{ department: string; id: string; dataset: string; file_name: string; status: string; rows_total: number; accepted: number; rejected: number; error_code: string | null; created_at: Date; origin: string }>(
      `SELECT department, id, dataset, file_name, status, rows_total, accepted, rejected, error_code, created_at, origin FROM exchange_batches
        WHERE created_at >= $1 AND ($2 = '' OR region LIKE $2 || '%') AND ($3::text IS NULL OR department = $3)
        ORDER BY department, created_at DESC, id LIMIT 2000`,
      [since, prefixOf(req), q.department ?? null],
    );
    // rejected rows by rule (error code) per department: what a department has to fix in its own data
    const rules = await host.db.query<{ department: string; code: string; n: number }>(
      `SELECT b.department, c.code, sum(c.n)::int AS n FROM exchange_batches b JOIN exchange_rule_counts c ON c.batch_id = b.id
        WHERE b.created_at >= $1 AND ($2 = '' OR b.region LIKE $2 || '%') AND ($3::text IS NULL OR b.department = $3)
        GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2`,
      [since, prefixOf(req), q.department ?? null],
    );
    const by = new Map<string, { department: string; batches: number; rows: number; accepted: number; rejected: number; failed: number; pending: number; lastAt: number; byRule: Record<string, number>; recent: unknown[] }>();
    for (const x of r.rows) {
      const d = by.get(x.department) ?? {
        department: x.department, batches: 0, rows: 0, accepted: 0, rejected: 0, failed: 0, pending: 0, lastAt: 0,
        byRule: Object.fromEntries(rules.rows.filter((r) => r.department === x.department).map((r) => [r.code, r.n])), recent: [],
      };
      const at = Math.floor(new Date(x.created_at).getTime() / 1000);
      d.batches += 1;
      d.rows += x.rows_total;
      d.accepted += x.accepted;
      d.rejected += x.rejected;
      if (x.status === 'failed') d.failed += 1;
      if (x.status === 'queued' || x.status === 'running') d.pending += 1;
      d.lastAt = Math.max(d.lastAt, at);
      if (d.recent.length < 20) {
        d.recent.push({ id: x.id, dataset: x.dataset, fileName: x.file_name, status: x.status, rows: { total: x.rows_total, accepted: x.accepted, rejected: x.rejected }, errorCode: x.error_code, origin: x.origin, createdAt: at });
      }
      by.set(x.department, d);
    }
    return { departments: [...by.values()] };
  });
}
