import ExcelJS from 'exceljs';
import type { FastifyInstance } from 'fastify';
import type { Ctx } from './context.js';
import { principalOf } from './context.js';
import { ERROR_BODY } from './schemas.js';

/**
 * POST /admin/v1/export/xlsx — any table of the console as an Excel
 * workbook (issue 15: XLSX export of every table). The console sends the
 * rows it shows: they were already masked by the server for this role, so
 * an export never holds more than the screen did. The export itself is
 * audited (title and row count, never the contents).
 *
 * The sheet: a bold header row, frozen; column widths from the content
 * (CJK characters count double); strings stay strings (exceljs never turns
 * `=…` into a formula).
 */
const MAX_ROWS = 100_000;
const MAX_COLS = 40;

export const EXPORT_BODY = {
  type: 'object', additionalProperties: false, required: ['title', 'columns', 'rows'],
  properties: {
    title: { type: 'string', minLength: 1, maxLength: 64, description: 'sheet name and file title (Chinese)' },
    columns: { type: 'array', minItems: 1, maxItems: MAX_COLS, items: { type: 'string', maxLength: 64 } },
    rows: {
      type: 'array', maxItems: MAX_ROWS,
      items: { type: 'array', maxItems: MAX_COLS, items: { anyOf: [{ type: 'string', maxLength: 2000 }, { type: 'number' }, { type: 'null' }] } },
    },
  },
} as const;

function width(v: unknown): number {
  const s = v === null || v === undefined ? '' : String(v);
  let w = 0;
  for (const ch of s) w += /[\u2e80-\uffff]/.test(ch) ? 2 : 1;
  return w;
}

export async function xlsxOf(title: string, columns: readonly string[], rows: readonly (readonly (string | number | null)[])[]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = '健康码管理后台';
  wb.created = new Date();
  // sheet names: at most 31 characters, none of : \ / ? * [ ]
  const ws = wb.addWorksheet(title.replace(/[:\\/?*[\]]/g, ' ').slice(0, 31), { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.addRow([...columns]).font = { bold: true };
  for (const r of rows) ws.addRow([...r]);
  ws.columns.forEach((c, i) => {
    let w = width(columns[i]);
    for (let k = 0; k < Math.min(rows.length, 500); k++) w = Math.max(w, width(rows[k]![i]));
    c.width = Math.min(60, Math.max(8, w + 2));
  });
  return Buffer.from(await wb.xlsx.writeBuffer());
}

export function registerExportRoutes(app: FastifyInstance, ctx: Ctx): void {
  app.post('/admin/v1/export/xlsx', {
    config: { access: 'authenticated', rate: 'admin' },
    bodyLimit: 32 * 1024 * 1024,
    schema: {
      summary: 'A table as an .xlsx workbook (the rows the console shows); the export is audited',
      tags: ['export'],
      body: EXPORT_BODY,
      response: {
        200: { description: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', type: 'string', format: 'binary' },
        400: ERROR_BODY,
      },
    },
  }, async (req, reply) => {
    const b = req.body as { title: string; columns: string[]; rows: (string | number | null)[][] };
    const buf = await xlsxOf(b.title, b.columns, b.rows);
    await ctx.audit(req, { action: 'export', target: b.title, outcome: 'ok', details: { rows: b.rows.length, role: principalOf(req).role } });
    const name = encodeURIComponent(`${b.title}.xlsx`);
    return reply
      .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('content-disposition', `attachment; filename="export.xlsx"; filename*=UTF-8''${name}`)
      .send(buf);
  });
}
