import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from './admin-fixture.common.js';
import { EXPORT_TABLES } from './console/src/export-columns.js';

/**
 * 导出 Excel of every console table (issue 15): each table the console
 * exports (console/src/export-columns.ts, the list the pages use) written by
 * POST /admin/v1/export/xlsx and read back with exceljs — a valid workbook,
 * the sheet named by the table, the Chinese headers bold and frozen, the
 * cells as sent (text stays text, `=…` is never a formula), the download
 * named in Chinese, the export audited. The audit log's own export
 * (GET /admin/v1/audit/export.xlsx) is read back the same way.
 */
let f: Fixture;
const CJK = /[\u4e00-\u9fff]/;

beforeAll(async () => {
  f = await startAdmin();
});
afterAll(async () => {
  await f?.close();
});

async function post(token: string, body: unknown): Promise<Response> {
  return fetch(`${f.base}/admin/v1/export/xlsx`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function workbook(r: Response): Promise<ExcelJS.Workbook> {
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  const buf = Buffer.from(await r.arrayBuffer());
  expect(buf.subarray(0, 2).toString()).toBe('PK'); // an OOXML package is a ZIP
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(buf as unknown as ArrayBuffer);
  return wb;
}

describe('every console table exports as a valid XLSX with Chinese headers', () => {
  for (const [key, table] of Object.entries(EXPORT_TABLES)) {
    it(`${key}: ${table.title}`, async () => {
      expect(table.columns.every((c) => CJK.test(c))).toBe(true);
      const rows = [
        table.columns.map((_, i) => (i === 0 ? '四川省成都市锦江区' : i === 1 ? 42 : i === 2 ? null : `=HYPERLINK("x")${i}`)),
        table.columns.map((c) => `${c}的值`),
      ];
      const r = await post(f.tokens.operator, { title: table.title, columns: table.columns, rows });
      expect(r.headers.get('content-disposition')).toContain(`filename*=UTF-8''${encodeURIComponent(`${table.title}.xlsx`)}`);
      const wb = await workbook(r);
      expect(wb.worksheets).toHaveLength(1);
      const ws = wb.worksheets[0]!;
      expect(ws.name).toBe(table.title);
      expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
      expect(ws.rowCount).toBe(3);
      const header = ws.getRow(1);
      expect(table.columns.map((_, i) => header.getCell(i + 1).value)).toEqual([...table.columns]);
      expect(header.getCell(1).font?.bold).toBe(true);
      const first = ws.getRow(2);
      expect(first.getCell(1).value).toBe('四川省成都市锦江区');
      expect(first.getCell(2).value).toBe(42);
      expect(first.getCell(3).value).toBeNull();
      if (table.columns.length > 3) {
        expect(first.getCell(4).value).toBe('=HYPERLINK("x")3'); // a string, not { formula }
        expect(first.getCell(4).type).toBe(ExcelJS.ValueType.String);
      }
      expect(table.columns.map((_, i) => ws.getRow(3).getCell(i + 1).value)).toEqual(table.columns.map((c) => `${c}的值`));
      const e = (await f.audit.list({ action: 'export', order: 'desc', limit: 1 }))[0]!;
      expect(e).toMatchObject({ actor: 'operator', target: table.title, outcome: 'ok', details: { rows: 2 } });
    });
  }

  it('the audit log export: Chinese headers', async () => {
    const r = await fetch(`${f.base}/admin/v1/audit/export.xlsx`, { headers: { authorization: `Bearer ${f.tokens.auditor}` } });
    const ws = (await workbook(r)).worksheets[0]!;
    const header = ws.getRow(1).values as unknown[];
    const cells = header.filter((v) => v !== undefined && v !== null).map(String);
    expect(cells.length).toBeGreaterThan(3);
    expect(cells.every((c) => CJK.test(c))).toBe(true);
    expect(ws.rowCount).toBeGreaterThan(1);
  });

  it('refuses what is not a table, with the field named in Chinese', async () => {
    const cases: [unknown, string][] = [
      [{ title: '', columns: ['甲'], rows: [] }, 'title'],
      [{ title: '表', columns: [], rows: [] }, 'columns'],
      [{ title: '表', columns: Array.from({ length: 41 }, (_, i) => `列${i}`), rows: [] }, 'columns'],
      [{ title: '表', columns: ['甲'], rows: [[{ formula: 'SUM(A1)' }]] }, 'rows[0][0]'],
      [{ title: '表', columns: ['甲'] }, 'rows'],
    ];
    for (const [body, field] of cases) {
      const r = await post(f.tokens.operator, body);
      expect(r.status).toBe(400);
      const j = (await r.json()) as { error: string; field: string; zh: string };
      expect(j.error).toBe('ADM_ERR_VALIDATION');
      expect(j.field).toBe(field);
      expect(j.zh).toMatch(CJK);
    }
    const anon = await fetch(`${f.base}/admin/v1/export/xlsx`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: '表', columns: ['甲'], rows: [] }) });
    expect(anon.status).toBe(401);
  });
});
