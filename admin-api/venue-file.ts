import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { isKnownRegion, REGION_CODES, regionName, regionShortName } from '../core/regions.js';
import { AdminError } from './errors.js';

/**
 * Venue import from a spreadsheet (issue 15: "venue import from XLSX/CSV"):
 * the file an office keeps, first sheet, a header row naming the columns in
 * Chinese or English, one venue a row. Parsing only — nothing is written:
 * the console shows the rows (and each row's problem, in Chinese) and then
 * sends the good ones to POST /admin/v1/venues/import, all or nothing.
 *
 *   场所名称 | 名称 | name              required
 *   区划代码 | 地区代码 | region        a GB/T 2260 code, or
 *   地区 | 所在地区 | 区县             a full name (四川省成都市锦江区) or a unique short name (锦江区)
 *   类型 | kind                       普通场所 / 入川卡口 (or normal / entry); default 普通
 *   检测时限 | 检测时限（小时）| entryTestHours   hours, for 入川卡口
 *   编号 | 场所编号 | id               optional: an existing id updates that venue
 *
 * CSV: UTF-8 (with or without BOM) or GB18030 (what Excel on a Chinese
 * Windows saves), detected by whether the bytes are valid UTF-8.
 */
export interface ParsedVenue {
  row: number;
  venue: { id?: string; name: string; region: string; kind: 'normal' | 'entry'; entryTestHours?: number } | null;
  problem: string | null;
}

const MAX_ROWS = 10_000;

const COLUMNS: Record<string, readonly string[]> = {
  name: ['场所名称', '名称', 'name', '场所'],
  region: ['区划代码', '地区代码', '行政区划代码', 'region', 'regioncode'],
  regionName: ['地区', '所在地区', '区县', '地区名称', 'regionname'],
  kind: ['类型', '场所类型', 'kind'],
  hours: ['检测时限', '检测时限（小时）', '检测时限(小时)', 'entrytesthours', 'hours'],
  id: ['编号', '场所编号', 'id'],
};

let byName: Map<string, string[]> | null = null;

/** Full or short region name → codes (a short name like 城关镇 may name several). */
function codesNamed(name: string): string[] {
  if (byName === null) {
    byName = new Map();
    for (const c of REGION_CODES) {
      if (c.length < 6) continue;
      for (const n of new Set([regionName(c), regionShortName(c)])) {
        const list = byName.get(n) ?? [];
        list.push(c);
        byName.set(n, list);
      }
    }
  }
  return byName.get(name) ?? [];
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object' && v !== null) {
    const o = v as { text?: unknown; result?: unknown; richText?: { text: string }[] };
    if (Array.isArray(o.richText)) return o.richText.map((t) => t.text).join('').trim();
    if (o.result !== undefined) return text(o.result);
    if (o.text !== undefined) return text(o.text);
  }
  return String(v).trim();
}

function decodeCsv(buf: Buffer): string {
  const utf8 = new TextDecoder('utf-8', { fatal: false }).decode(buf);
  const valid = !utf8.includes('\uFFFD');
  return (valid ? utf8 : iconv.decode(buf, 'gb18030')).replace(/^\uFEFF/, '');
}

async function rowsOf(filename: string, data: Buffer): Promise<string[][]> {
  if (/\.xlsx$/i.test(filename)) {
    const wb = new ExcelJS.Workbook();
    try {
      await wb.xlsx.load(data as unknown as ArrayBuffer);
    } catch {
      throw new AdminError('ADM_ERR_VALIDATION', 'not a readable .xlsx workbook', 'file', '不是可读取的 Excel（.xlsx）文件');
    }
    const ws = wb.worksheets[0];
    if (ws === undefined) throw new AdminError('ADM_ERR_VALIDATION', 'the workbook has no sheet', 'file', '工作簿中没有工作表');
    const out: string[][] = [];
    ws.eachRow({ includeEmpty: true }, (row) => {
      const vals = (row.values as unknown[]).slice(1).map(text);
      out.push(vals);
    });
    return out;
  }
  if (/\.(csv|txt)$/i.test(filename)) {
    try {
      return parseCsv(decodeCsv(data), { relax_column_count: true, skip_empty_lines: false, trim: true }) as string[][];
    } catch {
      throw new AdminError('ADM_ERR_VALIDATION', 'not a readable CSV file', 'file', '不是可读取的 CSV 文件');
    }
  }
  throw new AdminError('ADM_ERR_VALIDATION', 'only .xlsx and .csv files', 'file', '只支持 Excel（.xlsx）和 CSV 文件');
}

export async function parseVenueFile(filename: string, data: Buffer): Promise<{ rows: ParsedVenue[]; columns: string[] }> {
  const all = await rowsOf(filename, data);
  const headerAt = all.findIndex((r) => r.some((c) => c !== ''));
  if (headerAt < 0) throw new AdminError('ADM_ERR_VALIDATION', 'the file is empty', 'file', '文件是空的');
  const header = all[headerAt]!.map((h) => h.replace(/\s+/g, '').toLowerCase());
  const col: Record<string, number> = {};
  for (const [k, names] of Object.entries(COLUMNS)) {
    const i = header.findIndex((h) => names.some((n) => n.toLowerCase() === h));
    if (i >= 0) col[k] = i;
  }
  if (col.name === undefined || (col.region === undefined && col.regionName === undefined)) {
    throw new AdminError('ADM_ERR_VALIDATION', 'the header row needs a name and a region column', 'file', '表头须包含“场所名称”和“区划代码”（或“地区”）两列');
  }
  const body = all.slice(headerAt + 1);
  if (body.length > MAX_ROWS) throw new AdminError('ADM_ERR_VALIDATION', `at most ${MAX_ROWS} rows`, 'file', `一次最多导入 ${MAX_ROWS} 行`);
  const rows: ParsedVenue[] = [];
  body.forEach((r, i) => {
    const row = headerAt + i + 2; // 1-based, as the spreadsheet shows it
    const get = (k: string): string => (col[k] === undefined ? '' : (r[col[k]!] ?? '').trim());
    if (r.every((c) => (c ?? '').trim() === '')) return;
    const name = get('name');
    const fail = (problem: string): void => {
      rows.push({ row, venue: null, problem });
    };
    if (name === '') return fail('场所名称为空');
    if (name.length > 200) return fail('场所名称超过 200 字');
    let region = get('region');
    if (region === '') {
      const n = get('regionName');
      const codes = codesNamed(n);
      if (n === '') return fail('缺少区划代码或地区名称');
      if (codes.length === 0) return fail(`找不到地区“${n}”`);
      if (codes.length > 1) return fail(`地区“${n}”有重名，请写完整名称或区划代码`);
      region = codes[0]!;
    }
    if (!/^[0-9]{6}([0-9]{3}([0-9]{3})?)?$/.test(region) || !isKnownRegion(region)) return fail(`区划代码“${region}”无效`);
    const k = get('kind');
    const kind = k === '' || /^(普通|普通场所|normal)$/i.test(k) ? 'normal' : /^(入川卡口|入川卡口（入川即检）|卡口|entry)$/i.test(k) ? 'entry' : null;
    if (kind === null) return fail(`类型“${k}”无法识别（应为 普通场所 或 入川卡口）`);
    const h = get('hours');
    let hours: number | undefined;
    if (kind === 'entry') {
      hours = h === '' ? 24 : Number(h);
      if (!Number.isInteger(hours) || hours < 1 || hours > 336) return fail(`检测时限“${h}”应为 1–336 的整数小时`);
    }
    const id = get('id');
    if (id !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) return fail(`编号“${id}”格式不正确`);
    rows.push({
      row,
      venue: { ...(id === '' ? {} : { id }), name, region, kind, ...(hours === undefined ? {} : { entryTestHours: hours }) },
      problem: null,
    });
  });
  return { rows, columns: Object.keys(col) };
}
