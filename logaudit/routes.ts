import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../admin-api/context.js';
import { ERROR_BODY } from '../admin-api/schemas.js';
import type { SqlClient } from '../master/sql-client.js';
import { catalog } from './catalog.js';
import { LogAuditError } from './errors.js';
import { reportPdf, reportXlsx, type ReportData } from './report.js';
import { reportData } from './report-data.js';
import { search } from './search.js';
import type { LogAuditService } from './service.js';
import { verifyStore } from './store.js';

/**
 * The log audit routes of the back office (permissions logaudit.read /
 * logaudit.write: admin, auditor read; security reads and writes). Every
 * search is itself audited — who looked at which logs is part of the trail.
 */
function isoOr(v: string | undefined, dflt: number, field: string): number {
  if (v === undefined) return dflt;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new LogAuditError('LOG_ERR_RANGE', 'not an ISO date', field);
  return t;
}

export function registerLogAuditRoutes(app: FastifyInstance, ctx: Ctx, svc: LogAuditService, db: SqlClient, now: () => number): void {
  const engine = svc.engine;

  app.get('/admin/v1/logaudit/catalog', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: {
      summary: 'What is shipped: device types, correlation rules and schema fields, counted from the data files',
      tags: ['logaudit'],
      querystring: { type: 'object', additionalProperties: false, properties: { detail: { type: 'string', enum: ['true', 'false'] } } },
    },
  }, async (req) => {
    const c = catalog();
    const counts = { deviceTypes: c.deviceTypes, rules: c.rules, fields: c.fields };
    return (req.query as { detail?: string }).detail === 'true' ? { ...counts, families: c.families, ruleList: c.ruleList, fieldList: c.fieldList } : counts;
  });

  app.get('/admin/v1/logaudit/health', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: { summary: 'Intake counters (received, stored, spooled, shed, each bad-input outcome), queue, spool, listeners', tags: ['logaudit'] },
  }, async () => {
    const lat = engine ? [...engine.alertLatencies].sort((a, b) => a - b) : [];
    return {
      ...(engine ? engine.health() : { mode: 'collector', counters: svc.collector!.counters }),
      ports: svc.ports,
      alertLatencyP99Ms: lat.length > 0 ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] : null,
      topShedSources: engine ? [...engine.perSourceShed.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([source, shed]) => ({ source, shed })) : [],
    };
  });

  app.get('/admin/v1/logaudit/search', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: {
      summary: 'Search stored events by fields and full text (see logaudit/search.ts for the query language)',
      tags: ['logaudit'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          q: { type: 'string', maxLength: 1000 },
          from: { type: 'string', maxLength: 40 },
          to: { type: 'string', maxLength: 40 },
          limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
        },
      },
      response: { 400: ERROR_BODY },
    },
  }, async (req) => {
    if (!engine) throw new LogAuditError('LOG_ERR_NOT_FOUND', 'a collector stores nothing: search the central system');
    const q = req.query as Record<string, string | undefined>;
    const to = isoOr(q.to, now(), 'to');
    const from = isoOr(q.from, to - 86_400_000, 'from');
    const limit = Math.max(1, Math.min(1000, Number(q.limit ?? 100)));
    const r = search(engine.store, { text: q.q ?? '', fromMs: from, toMs: to, limit }, svc.cfg.maxSkewMs, svc.cfg.retentionDays);
    await ctx.audit(req, { action: 'logaudit.search', outcome: 'ok', details: { q: (q.q ?? '').slice(0, 200), from: new Date(from).toISOString(), to: new Date(to).toISOString(), hits: r.events.length } });
    return r;
  });

  app.get('/admin/v1/logaudit/saved-queries', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: { summary: 'Saved queries', tags: ['logaudit'] },
  }, async () => {
    const r = await db.query('SELECT id, name, query, range_hours AS "rangeHours", owner, created_at AS "createdAt" FROM logaudit_saved_queries ORDER BY name');
    return { queries: r.rows };
  });

  app.post('/admin/v1/logaudit/saved-queries', {
    config: { access: 'logaudit.write', rate: 'admin' },
    schema: {
      summary: 'Save a query under a name',
      tags: ['logaudit'],
      body: {
        type: 'object', additionalProperties: false, required: ['name', 'query'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, query: { type: 'string', maxLength: 1000 }, rangeHours: { type: 'integer', minimum: 1, maximum: 4416 } },
      },
      response: { 400: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req) => {
    const b = req.body as { name: string; query: string; rangeHours?: number };
    // parse it now: a saved query that cannot run is refused at save time
    search(engine!.store, { text: b.query, fromMs: 0, toMs: 0, limit: 1 }, 0, svc.cfg.retentionDays);
    const username = req.principal?.username ?? 'unknown';
    return db.transaction(async (tx) => {
      const dup = await tx.query('SELECT 1 FROM logaudit_saved_queries WHERE name = $1', [b.name]);
      if (dup.rows.length > 0) throw new LogAuditError('LOG_ERR_CONFLICT', b.name, 'name');
      const r = await tx.query<{ id: number }>('INSERT INTO logaudit_saved_queries (name, query, range_hours, owner) VALUES ($1, $2, $3, $4) RETURNING id', [b.name, b.query, b.rangeHours ?? 24, username]);
      await ctx.audit(req, { action: 'logaudit.query.save', outcome: 'ok', details: { id: r.rows[0]!.id, name: b.name } }, tx);
      return { id: r.rows[0]!.id };
    });
  });

  app.delete('/admin/v1/logaudit/saved-queries/:id', {
    config: { access: 'logaudit.write', rate: 'admin' },
    schema: {
      summary: 'Delete a saved query', tags: ['logaudit'],
      params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,9}$' } }, required: ['id'] },
      response: { 404: ERROR_BODY },
    },
  }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    return db.transaction(async (tx) => {
      const r = await tx.query('DELETE FROM logaudit_saved_queries WHERE id = $1 RETURNING id', [id]);
      if (r.rows.length === 0) throw new LogAuditError('LOG_ERR_NOT_FOUND', `saved query ${id}`, 'id');
      await ctx.audit(req, { action: 'logaudit.query.delete', outcome: 'ok', details: { id } }, tx);
      return { deleted: id };
    });
  });

  app.get('/admin/v1/logaudit/assets', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: {
      summary: 'Devices sending logs: type, owner, last seen, silent ones first', tags: ['logaudit'],
      querystring: { type: 'object', additionalProperties: false, properties: { silent: { type: 'string', enum: ['true', 'false'] } } },
    },
  }, async (req) => {
    await svc.flush();
    const onlySilent = (req.query as { silent?: string }).silent === 'true';
    const r = await db.query(
      `SELECT ip, host_name AS "hostName", name, owner, device_type AS "deviceType", region, dataset, vendor, product,
              first_seen AS "firstSeen", last_seen AS "lastSeen", events, silent
         FROM logaudit_assets ${onlySilent ? 'WHERE silent' : ''} ORDER BY silent DESC, last_seen DESC LIMIT 2000`,
    );
    return { assets: r.rows.map((a) => ({ ...a, events: Number((a as { events: unknown }).events) })) };
  });

  app.put('/admin/v1/logaudit/assets/:ip', {
    config: { access: 'logaudit.write', rate: 'admin' },
    schema: {
      summary: 'Name a device, its owner, type and region', tags: ['logaudit'],
      params: { type: 'object', properties: { ip: { type: 'string', pattern: '^[0-9a-fA-F.:]{2,45}$' } }, required: ['ip'] },
      body: {
        type: 'object', additionalProperties: false,
        properties: {
          name: { type: 'string', maxLength: 64 }, owner: { type: 'string', maxLength: 64 },
          deviceType: { type: 'string', maxLength: 64 }, region: { type: 'string', pattern: '^[0-9]{2,12}$' },
        },
      },
      response: { 400: ERROR_BODY, 404: ERROR_BODY },
    },
  }, async (req) => {
    const ip = (req.params as { ip: string }).ip;
    const b = req.body as { name?: string; owner?: string; deviceType?: string; region?: string };
    await svc.flush();
    return db.transaction(async (tx) => {
      const r = await tx.query(
        `UPDATE logaudit_assets SET name = COALESCE($2, name), owner = COALESCE($3, owner), device_type = COALESCE($4, device_type), region = COALESCE($5, region)
          WHERE ip = $1 RETURNING ip`,
        [ip, b.name ?? null, b.owner ?? null, b.deviceType ?? null, b.region ?? null],
      );
      if (r.rows.length === 0) throw new LogAuditError('LOG_ERR_NOT_FOUND', `device ${ip}`, 'ip');
      await ctx.audit(req, { action: 'logaudit.asset.update', outcome: 'ok', target: ip, details: { ...b } }, tx);
      return { ip };
    });
  });

  app.get('/admin/v1/logaudit/collectors', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: { summary: 'Collectors (二级日志审计) and their health', tags: ['logaudit'] },
  }, async () => {
    await svc.flush();
    const r = await db.query(`SELECT id, remote, connected, last_seen AS "lastSeen", batches, events, backlog_bytes AS "backlogBytes" FROM logaudit_collectors ORDER BY id`);
    return { collectors: r.rows.map((c) => ({ ...c, batches: Number((c as { batches: unknown }).batches), events: Number((c as { events: unknown }).events), backlogBytes: Number((c as { backlogBytes: unknown }).backlogBytes) })) };
  });

  async function stats(n: number): Promise<ReportData> {
    if (!engine) throw new LogAuditError('LOG_ERR_NOT_FOUND', 'a collector stores nothing');
    const t = now();
    return reportData(engine, db, t, { days: engine.store.days().slice(-n), fromMs: t - n * 86_400_000, toMs: null });
  }

  app.get('/admin/v1/logaudit/stats', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: {
      summary: 'Report: events per day (from the signed manifests), per device, alerts per rule', tags: ['logaudit'],
      querystring: { type: 'object', additionalProperties: false, properties: { days: { type: 'string', pattern: '^[0-9]{1,3}$' } } },
    },
  }, async (req) => stats(Math.max(1, Math.min(366, Number((req.query as { days?: string }).days ?? 7)))));

  app.get('/admin/v1/logaudit/report.:fmt', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: {
      summary: 'The same report as XLSX or PDF (Chinese), audited', tags: ['logaudit'],
      params: { type: 'object', properties: { fmt: { type: 'string', enum: ['xlsx', 'pdf'] } }, required: ['fmt'] },
      querystring: { type: 'object', additionalProperties: false, properties: { days: { type: 'string', pattern: '^[0-9]{1,3}$' } } },
    },
  }, async (req, reply) => {
    const fmt = (req.params as { fmt: 'xlsx' | 'pdf' }).fmt;
    const n = Math.max(1, Math.min(366, Number((req.query as { days?: string }).days ?? 7)));
    const data = await stats(n);
    await ctx.audit(req, { action: 'logaudit.report', outcome: 'ok', details: { fmt, days: n } });
    if (fmt === 'xlsx') {
      return reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').header('content-disposition', `attachment; filename="logaudit-report-${n}d.xlsx"`).send(await reportXlsx(data));
    }
    return reply.type('application/pdf').header('content-disposition', `attachment; filename="logaudit-report-${n}d.pdf"`).send(await reportPdf(data));
  });

  app.get('/admin/v1/logaudit/reports', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: { summary: 'The scheduled daily reports written so far (LOGAUDIT_REPORT_AT, China time)', tags: ['logaudit'] },
  }, async () => {
    const m = svc.cfg.reportAtMinute;
    return {
      at: m === null || !svc.reports ? null : `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`,
      reports: svc.reports?.list() ?? [],
    };
  });

  app.get('/admin/v1/logaudit/reports/:name', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: {
      summary: 'One scheduled daily report file (XLSX or PDF), audited', tags: ['logaudit'],
      params: { type: 'object', properties: { name: { type: 'string', maxLength: 40 } }, required: ['name'] },
    },
  }, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const p = svc.reports?.path(name) ?? null;
    if (!p) throw new LogAuditError('LOG_ERR_NOT_FOUND', `report ${name}`, 'name');
    await ctx.audit(req, { action: 'logaudit.report', outcome: 'ok', target: name, details: { scheduled: true } });
    const type = name.endsWith('.pdf') ? 'application/pdf' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
    return reply.type(type).header('content-disposition', `attachment; filename="logaudit-daily-${name}"`).send(readFileSync(p));
  });

  app.post('/admin/v1/logaudit/verify', {
    config: { access: 'logaudit.read', rate: 'admin' },
    schema: { summary: 'Recompute every day\'s digests, chain and manifest signature', tags: ['logaudit'], body: { type: 'object', additionalProperties: false, properties: {} } },
  }, async (req) => {
    if (!engine) throw new LogAuditError('LOG_ERR_NOT_FOUND', 'a collector stores nothing');
    engine.store.seal();
    const r = verifyStore(engine.store.root, engine.store.publicKeyPem());
    await ctx.audit(req, { action: 'logaudit.verify', outcome: r.ok ? 'ok' : 'tampered', details: { days: r.days, events: r.events, problems: r.problems.slice(0, 10) } });
    return r;
  });
}
