import { createHash } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import ExcelJS from 'exceljs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CapabilityHost } from '../admin-api/capability.js';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { inScope } from '../admin-api/roles.js';
import { ERROR_BODY } from '../admin-api/schemas.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import { decryptReject } from './apply-chunk.js';
import { writeMaskedReturn } from './data-return.js';
import type { ExchangeConfig } from './config.js';
import type { DatasetStore } from './dataset-store.js';
import { codeTable, type DatasetDef } from './datasets.js';
import { ExchangeError } from './errors.js';
import type { FileFormat } from './file-reader.js';
import { BATCH_COLUMNS, newBatchId, toBatch, type BatchRow, type ImportJobs } from './import-jobs.js';
import type { ArchiveIntake } from './archive-intake.js';
import { maskPattern } from './password-rules.js';
import { validateRecipient, type ExchangeSecrets } from './recipients.js';
import type { SftpForwarder } from './sftp-forward.js';
import { validateSource, type SftpPickup } from './sftp-pickup.js';

/**
 * The exchange's API (issue 10):
 *
 *   POST /admin/v1/imports                  multipart file + dataset + department → 202 {id}
 *   GET  /admin/v1/imports                  batch list (newest first)
 *   GET  /admin/v1/imports/:id              {status, rows: {total, accepted, rejected}, errors (paged), …}
 *   GET  /admin/v1/imports/:id/rejects.xlsx the rejected rows as they were sent, with the reasons
 *   GET  /admin/v1/exchange/datasets        data standards, every version
 *   POST /admin/v1/exchange/datasets        a new version of a standard
 *   GET  /admin/v1/exchange/conformance     rejected share per dataset and day, by rule
 *
 * City officers see and download only batches uploaded inside their region.
 */
const ID_PARAM = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{12}$' } } } as const;
const CONTROL = /[\u0000-\u001f\u007f]/;
/** admin-api validates without type coercion: numbers in a query string are digit strings. */
const DIGITS = { type: 'string', pattern: '^[0-9]{1,9}$' } as const;

function intOf(s: string | undefined, def: number, min: number, max: number): number {
  return s === undefined ? def : Math.min(max, Math.max(min, Number(s)));
}

function formatOf(name: string): FileFormat | null {
  const n = name.toLowerCase();
  if (n.endsWith('.csv') || n.endsWith('.txt')) return 'csv';
  if (n.endsWith('.xlsx')) return 'xlsx';
  return null;
}

function visible(req: FastifyRequest, b: BatchRow | null): BatchRow {
  if (b === null || !inScope(principalOf(req).regionPrefix, b.region)) throw new ExchangeError('EXC_ERR_BATCH_NOT_FOUND');
  return b;
}

function mapMultipartError(err: unknown): unknown {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'FST_REQ_FILE_TOO_LARGE') return new ExchangeError('EXC_ERR_FILE_TOO_LARGE');
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') return new ExchangeError('EXC_ERR_NOT_MULTIPART');
  if (code.startsWith('FST_')) return new ExchangeError('EXC_ERR_FORM', code);
  return err;
}

export function datasetView(d: DatasetDef): Record<string, unknown> {
  return {
    id: d.id, version: d.version, name: d.name, description: d.description, target: d.target, key: d.key, notFuture: d.notFuture,
    fields: d.fields.map((f) => ({
      name: f.name, zh: f.zh, aliases: f.aliases ?? [], type: f.type, required: f.required, max: f.max ?? null, values: codeTable(f),
      // the registered code table (码表) an enum field was published with, pinned to its version
      codeTable: f.codeTable ?? null, codeTableVersion: f.codeTableVersion ?? null,
    })),
  };
}

export interface ExchangeParts {
  readonly jobs: ImportJobs;
  readonly datasets: DatasetStore;
  readonly secrets: ExchangeSecrets;
  readonly intake: ArchiveIntake;
  readonly forwarder: SftpForwarder;
  readonly pickup: SftpPickup;
}

export async function registerExchangeRoutes(app: FastifyInstance, ctx: Ctx, host: CapabilityHost, cfg: ExchangeConfig, parts: ExchangeParts): Promise<void> {
  const { jobs, datasets, secrets } = parts;
  const crypto = new PiiCrypto(host.secrets);
  registerArchiveRoutes(app, ctx, host, parts);

  // Own encapsulated context: the multipart parser stays with these routes.
  await app.register(async (sub) => {
    await sub.register(multipart, { limits: { fileSize: cfg.maxUploadBytes, files: 1, fields: 8, fieldSize: 4096, parts: 10 } });

    sub.post('/admin/v1/imports', {
      config: { access: 'exchange.write', rate: 'admin' },
      schema: {
        summary: 'Upload a CSV or XLSX file of a dataset (multipart: file, dataset, department); it is checked and imported in the background',
        tags: ['exchange'], consumes: ['multipart/form-data'],
        response: { 202: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } }, 400: ERROR_BODY, 413: ERROR_BODY, 415: ERROR_BODY },
      },
    }, async (req, reply) => {
      if (!req.isMultipart()) throw new ExchangeError('EXC_ERR_NOT_MULTIPART');
      const id = newBatchId();
      const path = jobs.spoolPath(id);
      const fields: Record<string, string> = {};
      let file: { name: string; size: number; sha256: string } | null = null;
      try {
        for await (const part of req.parts()) {
          if (part.type === 'file') {
            if (file !== null) throw new ExchangeError('EXC_ERR_FORM', 'one file per upload');
            const hash = createHash('sha256');
            let size = 0;
            const tap = new Transform({
              transform(chunk: Buffer, _enc, cb) {
                hash.update(chunk);
                size += chunk.length;
                cb(null, chunk);
              },
            });
            await pipeline(part.file, tap, createWriteStream(path, { mode: 0o600 }));
            if (part.file.truncated) throw new ExchangeError('EXC_ERR_FILE_TOO_LARGE');
            file = { name: part.filename ?? '', size, sha256: hash.digest('hex') };
          } else if (typeof part.value === 'string') {
            fields[part.fieldname] = part.value;
          }
        }
        if (file === null) throw new ExchangeError('EXC_ERR_FILE_MISSING');
        const format = formatOf(file.name);
        if (format === null) throw new ExchangeError('EXC_ERR_FILE_TYPE', undefined, 'file');
        const department = (fields.department ?? '').trim();
        if (department.length === 0 || department.length > 64 || CONTROL.test(department)) throw new ExchangeError('EXC_ERR_DEPARTMENT', undefined, 'department');
        const def = await datasets.get((fields.dataset ?? '').trim());
        const p = principalOf(req);
        await jobs.create(id, {
          dataset: def, department, region: p.regionPrefix, fileName: file.name.slice(0, 200), format, sizeBytes: file.size,
          sha256: file.sha256, createdBy: p.username,
        });
        await ctx.audit(req, {
          action: 'exchange.import', target: `import:${id}`, outcome: 'queued',
          details: { dataset: def.id, version: def.version, department, format, bytes: file.size, sha256: file.sha256 },
        });
        return reply.code(202).send({ id });
      } catch (err) {
        rmSync(path, { force: true });
        throw mapMultipartError(err);
      }
    });
  });

  app.get('/admin/v1/imports', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: 'Import batches, newest first', tags: ['exchange'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          limit: DIGITS, offset: DIGITS,
          dataset: { type: 'string', maxLength: 40 }, status: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
        },
      },
    },
  }, async (req) => {
    const q0 = req.query as { limit?: string; offset?: string; dataset?: string; status?: string };
    const q = { ...q0, limit: intOf(q0.limit, 50, 1, 200), offset: intOf(q0.offset, 0, 0, 1e9) };
    const prefix = principalOf(req).regionPrefix;
    const r = await host.db.query<Parameters<typeof toBatch>[0]>(
      `SELECT ${BATCH_COLUMNS} FROM exchange_batches
        WHERE ($1::text IS NULL OR dataset = $1) AND ($2::text IS NULL OR status = $2) AND ($3 = '' OR region LIKE $3 || '%')
        ORDER BY created_at DESC, id LIMIT $4 OFFSET $5`,
      [q.dataset ?? null, q.status ?? null, prefix, q.limit, q.offset],
    );
    return { batches: r.rows.map(toBatch) };
  });

  app.get('/admin/v1/imports/:id', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: 'One batch: status, row counts and its errors (paged by errorsOffset / errorsLimit)', tags: ['exchange'],
      params: ID_PARAM,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { errorsOffset: DIGITS, errorsLimit: DIGITS },
      },
      response: { 404: ERROR_BODY },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const q0 = req.query as { errorsOffset?: string; errorsLimit?: string };
    const q = { errorsOffset: intOf(q0.errorsOffset, 0, 0, 1e9), errorsLimit: intOf(q0.errorsLimit, 100, 1, 1000) };
    const b = visible(req, await jobs.get(id));
    const e = await host.db.query<{ row: number; field: string; code: string; message: string }>(
      'SELECT row, field, code, message FROM exchange_errors WHERE batch_id = $1 ORDER BY row, id LIMIT $2 OFFSET $3',
      [id, q.errorsLimit, q.errorsOffset],
    );
    const n = await host.db.query<{ n: number }>('SELECT count(*)::int AS n FROM exchange_errors WHERE batch_id = $1', [id]);
    const read = jobs.bytesRead(id);
    return {
      ...b,
      progress: b.status === 'done' ? 1 : read === null || b.sizeBytes === 0 ? 0 : Math.min(0.99, read / b.sizeBytes),
      errors: e.rows,
      errorsTotal: n.rows[0]!.n,
      errorsOffset: q.errorsOffset,
    };
  });

  app.get('/admin/v1/imports/:id/rejects.xlsx', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: { summary: 'The rejected rows of a finished batch as XLSX, as sent, with row number and reasons', tags: ['exchange'], params: ID_PARAM },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const b = visible(req, await jobs.get(id));
    if (b.status !== 'done' && b.status !== 'failed') throw new ExchangeError('EXC_ERR_NOT_FINISHED');
    const h = await host.db.query<{ header: string[] | null }>('SELECT header FROM exchange_batches WHERE id = $1', [id]);
    const header = h.rows[0]?.header ?? [];
    await ctx.audit(req, { action: 'exchange.rejects.export', target: `import:${id}`, outcome: 'ok', details: { rejected: b.rows.rejected } });
    const out = new PassThrough();
    const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: false });
    const ws = wb.addWorksheet('拒收记录');
    ws.addRow(['行号', '错误原因', ...header]).commit();
    void (async () => {
      try {
        let after = 0;
        for (;;) {
          const r = await host.db.query<{ row: number; data: Buffer; reasons: string }>(
            `SELECT r.row, r.data, COALESCE((SELECT string_agg(e.message, '；' ORDER BY e.id) FROM exchange_errors e WHERE e.batch_id = r.batch_id AND e.row = r.row), '') AS reasons
               FROM exchange_rejects r WHERE r.batch_id = $1 AND r.row > $2 ORDER BY r.row LIMIT 1000`,
            [id, after],
          );
          for (const x of r.rows) ws.addRow([x.row, x.reasons, ...decryptReject(crypto, id, x.row, Buffer.from(x.data))]).commit();
          if (r.rows.length < 1000) break;
          after = r.rows[r.rows.length - 1]!.row;
        }
        ws.commit();
        await wb.commit();
      } catch (err) {
        host.log(`exchange: rejects export ${id} failed: ${(err as Error).name}`);
        out.destroy(err as Error);
      }
    })();
    void reply.header('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    void reply.header('content-disposition', `attachment; filename="rejects-${id}.xlsx"`);
    return reply.send(out);
  });

  app.get('/admin/v1/imports/:id/return.xlsx', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: "Masked data return: the batch's processed rows of one region (a city officer: its own), masked, as XLSX; recorded",
      tags: ['exchange'], params: ID_PARAM,
      querystring: { type: 'object', additionalProperties: false, properties: { region: { type: 'string', pattern: '^[0-9]{0,12}$' } } },
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const p = principalOf(req);
    const asked = (req.query as { region?: string }).region ?? '';
    // a scoped account gets its own region (or a part of it), never more
    const region = p.regionPrefix === '' || asked.startsWith(p.regionPrefix) ? (asked === '' ? p.regionPrefix : asked) : p.regionPrefix;
    const b = await jobs.get(id);
    if (b === null || (b.status !== 'done' && b.status !== 'failed')) throw new ExchangeError(b === null ? 'EXC_ERR_BATCH_NOT_FOUND' : 'EXC_ERR_NOT_FINISHED');
    const out = new PassThrough();
    const done = writeMaskedReturn(host.db, crypto, id, region, p.username, out);
    done.then(
      (rows) => ctx.audit(req, { action: 'exchange.return', target: `import:${id}`, outcome: 'ok', details: { region, rows } }),
      (err: unknown) => {
        host.log(`exchange: return ${id} failed: ${(err as Error).name}`);
        out.destroy(err as Error);
      },
    );
    void reply.header('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    void reply.header('content-disposition', `attachment; filename="return-${id}-${region || 'all'}.xlsx"`);
    return reply.send(out);
  });

  app.get('/admin/v1/exchange/returns', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'Monitoring of masked returns: which batch went to which region, by whom, when (a city officer: its own)', tags: ['exchange'] },
  }, async (req) => {
    const prefix = principalOf(req).regionPrefix;
    const r = await host.db.query<{ batch_id: string; region: string; actor: string; rows: number; at: Date }>(
      `SELECT batch_id, region, actor, rows, at FROM exchange_returns WHERE $1 = '' OR region LIKE $1 || '%' ORDER BY at DESC LIMIT 500`, [prefix],
    );
    return { returns: r.rows.map((x) => ({ batch: x.batch_id, region: x.region, actor: x.actor, rows: x.rows, at: Math.floor(new Date(x.at).getTime() / 1000) })) };
  });

  app.get('/admin/v1/exchange/datasets', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'Data standards (every version, newest first per dataset)', tags: ['exchange'] },
  }, async () => ({
    datasets: (await datasets.list()).map((d) => ({ ...datasetView(d.definition), createdBy: d.createdBy, createdAt: d.createdAt })),
  }));

  app.post('/admin/v1/exchange/datasets', {
    config: { access: 'exchange.write', rate: 'admin' },
    schema: { summary: 'Add the next version of a data standard (or a new one at version 1)', tags: ['exchange'], body: { type: 'object' }, response: { 201: { type: 'object', additionalProperties: true }, 400: ERROR_BODY } },
  }, async (req, reply) => {
    const d = await datasets.add(req.body, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.dataset.add', target: `dataset:${d.id}`, outcome: 'ok', details: { version: d.version } });
    return reply.code(201).send(datasetView(d));
  });

  app.get('/admin/v1/exchange/conformance', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: {
      summary: 'Conformance over time: per dataset and China day, rows, rejected rows and rejected rows by rule (error code)', tags: ['exchange'],
      querystring: { type: 'object', additionalProperties: false, properties: { dataset: { type: 'string', maxLength: 40 }, days: DIGITS } },
    },
  }, async (req) => {
    const q0 = req.query as { dataset?: string; days?: string };
    const q = { dataset: q0.dataset, days: intOf(q0.days, 30, 1, 366) };
    const prefix = principalOf(req).regionPrefix;
    const since = new Date(host.nowMs() - q.days * 86_400_000);
    const base = `FROM exchange_batches b WHERE b.created_at >= $1 AND ($2::text IS NULL OR b.dataset = $2) AND ($3 = '' OR b.region LIKE $3 || '%') AND b.status IN ('done', 'failed')`;
    const totals = await host.db.query<{ dataset: string; day: string; batches: number; rows: number; rejected: number }>(
      `SELECT b.dataset, to_char(b.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day, count(*)::int AS batches,
              sum(b.rows_total)::int AS rows, sum(b.rejected)::int AS rejected ${base} GROUP BY 1, 2 ORDER BY 1, 2`,
      [since, q.dataset ?? null, prefix],
    );
    const byRule = await host.db.query<{ dataset: string; day: string; code: string; n: number }>(
      `SELECT b.dataset, to_char(b.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day, c.code, sum(c.n)::int AS n
         ${base.replace('FROM exchange_batches b', 'FROM exchange_batches b JOIN exchange_rule_counts c ON c.batch_id = b.id')} GROUP BY 1, 2, 3`,
      [since, q.dataset ?? null, prefix],
    );
    return {
      days: totals.rows.map((t) => ({
        ...t,
        share: t.rows === 0 ? 0 : t.rejected / t.rows,
        byRule: Object.fromEntries(byRule.rows.filter((r) => r.dataset === t.dataset && r.day === t.day).map((r) => [r.code, r.n])),
      })),
    };
  });
}

/**
 * Password rules (exchange.secrets to change; the rule itself is never
 * answered, logged or audited — the console sees it masked), forwarding
 * recipients (their keys and passwords likewise), archives taken and their
 * forwards.
 */
function registerArchiveRoutes(app: FastifyInstance, ctx: Ctx, host: CapabilityHost, parts: ExchangeParts): void {
  const { secrets } = parts;
  const DEPT_PARAM = { type: 'object', additionalProperties: false, required: ['department'], properties: { department: { type: 'string', minLength: 1, maxLength: 64 } } } as const;

  app.get('/admin/v1/exchange/password-rules', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'Password rules of the departments (masked)', tags: ['exchange'] },
  }, async () => ({
    rules: (await secrets.listPasswordRules()).map((r) => ({ department: r.department, version: r.version, updatedBy: r.updatedBy, updatedAt: r.updatedAt, masked: maskPattern(r.rule) })),
  }));

  app.put('/admin/v1/exchange/password-rules/:department', {
    config: { access: 'exchange.secrets', rate: 'admin' },
    schema: {
      summary: "Set or rotate a department's archive password rule, e.g. {\"pattern\": \"CDJK{yyyyMMdd}\"}", tags: ['exchange'], params: DEPT_PARAM,
      body: { type: 'object', additionalProperties: false, required: ['pattern'], properties: { pattern: { type: 'string', maxLength: 64 } } },
      response: { 400: ERROR_BODY },
    },
  }, async (req) => {
    const { department } = req.params as { department: string };
    if (CONTROL.test(department)) throw new ExchangeError('EXC_ERR_DEPARTMENT', undefined, 'department');
    const version = await secrets.setPasswordRule(department, (req.body as { pattern: string }).pattern, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.password_rule.set', target: `department:${department}`, outcome: 'ok', details: { version } });
    return { department, version };
  });

  app.get('/admin/v1/exchange/recipients', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'Forwarding recipients (no secrets)', tags: ['exchange'] },
  }, async () => ({ recipients: await secrets.recipients() }));

  app.put('/admin/v1/exchange/recipients/:id', {
    config: { access: 'exchange.secrets', rate: 'admin' },
    schema: {
      summary: 'Add or change a forwarding recipient: SFTP server, login key or password, remote folder, datasets and its archive password rule', tags: ['exchange'],
      params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', maxLength: 40 } } },
      body: {
        type: 'object', additionalProperties: false, required: ['name', 'host', 'port', 'username', 'remoteDir', 'datasets', 'zipPattern'],
        properties: {
          name: { type: 'string' }, host: { type: 'string' }, port: { type: 'integer' }, username: { type: 'string' }, remoteDir: { type: 'string' },
          datasets: { type: 'array', items: { type: 'string' }, maxItems: 50 }, privateKey: { type: 'string', maxLength: 16384 },
          password: { type: 'string', maxLength: 256 }, zipPattern: { type: 'string', maxLength: 64 },
        },
      },
      response: { 400: ERROR_BODY },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const input = validateRecipient(id, req.body);
    await secrets.setRecipient(id, input, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.recipient.set', target: `recipient:${id}`, outcome: 'ok', details: { host: input.host, port: input.port, datasets: input.datasets } });
    return { id };
  });

  app.get('/admin/v1/exchange/sftp-sources', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'SFTP servers archives are pulled from (no secrets)', tags: ['exchange'] },
  }, async () => ({ sources: await parts.pickup.sources() }));

  app.put('/admin/v1/exchange/sftp-sources/:id', {
    config: { access: 'exchange.secrets', rate: 'admin' },
    schema: {
      summary: "Add or change a department's SFTP server to pull encrypted archives from", tags: ['exchange'],
      params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', maxLength: 40 } } },
      body: {
        type: 'object', additionalProperties: false, required: ['department', 'dataset', 'host', 'port', 'username', 'remoteDir'],
        properties: {
          department: { type: 'string' }, dataset: { type: 'string' }, host: { type: 'string' }, port: { type: 'integer' }, username: { type: 'string' },
          remoteDir: { type: 'string' }, privateKey: { type: 'string', maxLength: 16384 }, password: { type: 'string', maxLength: 256 },
        },
      },
      response: { 400: ERROR_BODY },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const s = validateSource(id, req.body);
    await parts.datasets.get(s.dataset);
    await parts.pickup.setSource(id, s, principalOf(req).username);
    await ctx.audit(req, { action: 'exchange.sftp_source.set', target: `sftp-source:${id}`, outcome: 'ok', details: { host: s.host, port: s.port, dataset: s.dataset } });
    return { id };
  });

  app.get('/admin/v1/exchange/archives', {
    config: { access: 'exchange.read', rate: 'admin' },
    schema: { summary: 'Archives taken in (newest first) with their batches and forwards', tags: ['exchange'] },
  }, async () => {
    const a = await host.db.query<{ id: string; department: string; dataset: string; file_name: string; size_bytes: string | number; status: string; error_code: string | null; error_message: string | null; batches: string[]; created_at: Date }>(
      'SELECT id, department, dataset, file_name, size_bytes, status, error_code, error_message, batches, created_at FROM exchange_archives ORDER BY created_at DESC, id LIMIT 200',
    );
    const fw = await host.db.query<{ id: string; archive_id: string; recipient_id: string; status: string; attempts: number; last_error: string | null; sent_at: Date | null }>(
      'SELECT id, archive_id, recipient_id, status, attempts, last_error, sent_at FROM exchange_forwards WHERE archive_id = ANY($1::text[])',
      [a.rows.map((x) => x.id)],
    );
    return {
      archives: a.rows.map((x) => ({
        id: x.id, department: x.department, dataset: x.dataset, fileName: x.file_name, sizeBytes: Number(x.size_bytes), status: x.status,
        error: x.error_code === null ? null : { code: x.error_code, message: x.error_message }, batches: x.batches,
        createdAt: Math.floor(new Date(x.created_at).getTime() / 1000),
        forwards: fw.rows.filter((f) => f.archive_id === x.id).map((f) => ({
          id: f.id, recipientId: f.recipient_id, status: f.status, attempts: f.attempts, lastError: f.last_error,
          sentAt: f.sent_at === null ? null : Math.floor(new Date(f.sent_at).getTime() / 1000),
        })),
      })),
    };
  });
}
