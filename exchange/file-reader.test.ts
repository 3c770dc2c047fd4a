import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { csvRows, sniffEncoding, xlsxRows } from './file-reader.js';

/** The streaming readers without a database: encodings, and exceljs' chunk-split characters. */
const dir = mkdtempSync(join(tmpdir(), 'hc-reader-'));

describe('file readers', () => {
  it('sniffs UTF-8 (with or without BOM), GB18030 and UTF-16 by BOM', async () => {
    const text = '证件类型,姓名\n居民身份证,张三\n';
    const cases: [Buffer, string][] = [
      [Buffer.from(text), 'utf8'],
      [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), 'utf8'],
      [iconv.encode(text, 'gb18030'), 'gb18030'],
      [Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf16le')]), 'utf16le'],
    ];
    for (const [i, [buf, enc]] of cases.entries()) {
      const p = join(dir, `e${i}.csv`);
      writeFileSync(p, buf);
      expect(await sniffEncoding(p)).toBe(enc);
      const rows = [];
      for await (const r of csvRows(p, enc as 'utf8')) rows.push(r.cells);
      expect(rows).toEqual([['证件类型', '姓名'], ['居民身份证', '张三']]);
    }
  });

  it('XLSX: Chinese text split across exceljs\' stream chunks still reads whole', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('s');
    for (let i = 0; i < 4000; i++) ws.addRow([`欧阳娜娜${i}`, '成都市第一人民医院检验科核酸检测实验室', i]);
    const p = join(dir, 'big.xlsx');
    await wb.xlsx.writeFile(p);
    let n = 0;
    for await (const r of xlsxRows(p)) {
      expect(r.cells[0]).toBe(`欧阳娜娜${n}`);
      expect(r.cells[1]).toBe('成都市第一人民医院检验科核酸检测实验室');
      n++;
    }
    expect(n).toBe(4000);
  });
});
