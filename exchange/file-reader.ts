import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { parse } from 'csv-parse';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { ExchangeError } from './errors.js';

/**
 * Rows of an uploaded file, streamed: CSV through a decoder and csv-parse,
 * XLSX through exceljs' streaming reader. Neither holds the file in memory;
 * one record at a time (bounded by MAX_RECORD_BYTES) flows to the import.
 *
 * Encoding (CSV): a BOM decides (UTF-8, UTF-16 LE/BE); otherwise the first
 * 64 KiB are tried as strict UTF-8, and GB18030 is assumed when they are not
 * (the two encodings departments' systems write). Bytes that do not decode
 * become U+FFFD, which the row check refuses with EXC_ERR_ENCODING: a file
 * of mixed encodings loses exactly its undecodable rows, visibly.
 */
export type FileFormat = 'csv' | 'xlsx';
export type Encoding = 'utf8' | 'gb18030' | 'utf16le' | 'utf16be';

export interface RawRow {
  /** record number in the file, the header being 1 */
  readonly row: number;
  readonly cells: string[];
  /** XLSX: 0-based columns holding a formula */
  readonly formulaCols?: number[];
}

/** A record (CSV) larger than this fails the batch: it protects memory, and no standard field comes close. */
export const MAX_RECORD_BYTES = 1 << 20;
const SNIFF_BYTES = 64 * 1024;

export async function sniffEncoding(path: string): Promise<Encoding> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    const b = buf.subarray(0, bytesRead);
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return 'utf8';
    if (b[0] === 0xff && b[1] === 0xfe) return 'utf16le';
    if (b[0] === 0xfe && b[1] === 0xff) return 'utf16be';
    // Cut a multi-byte sequence split by the sniff window before testing.
    let end = b.length;
    if (bytesRead === SNIFF_BYTES) {
      let i = end - 1;
      while (i > end - 4 && i >= 0 && (b[i]! & 0xc0) === 0x80) i--;
      if (i >= 0 && b[i]! >= 0xc0) end = i;
    }
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, end));
      return 'utf8';
    } catch {
      return 'gb18030';
    }
  } finally {
    await fh.close();
  }
}

/** Maps csv-parse's own errors to the batch codes. */
function csvError(err: unknown): ExchangeError {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'CSV_MAX_RECORD_SIZE') return new ExchangeError('EXC_ERR_RECORD_TOO_LARGE', `超过 ${MAX_RECORD_BYTES} 字节`);
  if (err instanceof ExchangeError) return err;
  return new ExchangeError('EXC_ERR_FILE_UNREADABLE', code === '' ? 'CSV' : code);
}

/** Bytes of the file read so far (progress of a running batch). */
export interface ReadProgress {
  bytesRead: number;
}

export async function* csvRows(path: string, encoding: Encoding, progress: ReadProgress = { bytesRead: 0 }): AsyncGenerator<RawRow> {
  const parser = parse({
    relax_column_count: true,
    skip_empty_lines: true,
    bom: true,
    max_record_size: MAX_RECORD_BYTES,
  });
  const source = createReadStream(path, { highWaterMark: 256 * 1024 });
  source.on('data', (b) => {
    progress.bytesRead += b.length;
  });
  const decoder = iconv.decodeStream(encoding, { stripBOM: true });
  source.on('error', (e) => parser.destroy(e));
  decoder.on('error', (e) => parser.destroy(e));
  source.pipe(decoder).pipe(parser);
  let row = 0;
  try {
    for await (const rec of parser as AsyncIterable<string[]>) {
      row++;
      yield { row, cells: rec };
    }
  } catch (err) {
    throw csvError(err);
  } finally {
    source.destroy();
    parser.destroy();
  }
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** exceljs gives a date cell as a Date whose UTC fields are the wall clock typed into the sheet. */
function wallClock(d: Date): string {
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

type Cell = ExcelJS.CellValue;

function cellText(v: Cell): { text: string; formula: boolean } {
  if (v === null || v === undefined) return { text: '', formula: false };
  if (typeof v === 'string') return { text: v, formula: false };
  if (typeof v === 'number' || typeof v === 'boolean') return { text: String(v), formula: false };
  if (v instanceof Date) return { text: wallClock(v), formula: false };
  const o = v as unknown as Record<string, unknown>;
  if ('formula' in o || 'sharedFormula' in o) return { text: '', formula: true };
  if (Array.isArray(o.richText)) return { text: (o.richText as { text: string }[]).map((t) => t.text).join(''), formula: false };
  if (typeof o.text === 'string') return { text: o.text, formula: false };
  if ('error' in o) return { text: String(o.error), formula: false };
  return { text: '', formula: false };
}

/** Bytes at the end of `b` that start a UTF-8 sequence the buffer does not finish. */
function incompleteTail(b: Buffer): number {
  for (let i = b.length - 1, n = 1; i >= 0 && n <= 4; i--, n++) {
    const c = b[i]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > n ? n : 0;
  }
  return 0;
}

/**
 * exceljs' streaming reader decodes every chunk of the sheet XML on its own
 * (utils/parse-sax.js), so a Chinese character split across two chunks
 * becomes U+FFFD — measured: 2 of 2 000 rows of Chinese text. These re-cut
 * the chunks at UTF-8 character boundaries before exceljs sees them.
 */
async function* utf8Chunks(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    const b = carry.length === 0 ? Buffer.from(chunk) : Buffer.concat([carry, chunk]);
    const cut = b.length - incompleteTail(b);
    carry = b.subarray(cut);
    if (cut > 0) yield b.subarray(0, cut);
  }
  if (carry.length > 0) yield carry;
}

class Utf8Boundary extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const b = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const cut = b.length - incompleteTail(b);
    this.carry = b.subarray(cut);
    cb(null, cut > 0 ? b.subarray(0, cut) : undefined);
  }
  override _flush(cb: TransformCallback): void {
    cb(null, this.carry.length > 0 ? this.carry : undefined);
  }
}

type PatchedReader = {
  _parseWorksheet(iterator: AsyncIterable<Buffer>, sheetNo: string): AsyncGenerator<unknown>;
  _parseSharedStrings(entry: NodeJS.ReadableStream): AsyncGenerator<unknown>;
};

/** Applies the UTF-8 re-cutting to one reader instance (exceljs itself is left alone). */
function fixUtf8Chunking(reader: ExcelJS.stream.xlsx.WorkbookReader): void {
  const r = reader as unknown as PatchedReader;
  const ws = r._parseWorksheet.bind(r);
  const ss = r._parseSharedStrings.bind(r);
  r._parseWorksheet = (iterator, sheetNo) => ws(utf8Chunks(iterator), sheetNo);
  r._parseSharedStrings = (entry) => ss(entry.pipe(new Utf8Boundary()));
}

/** The first worksheet's rows. Corrupt archives and non-XLSX files → EXC_ERR_FILE_UNREADABLE. */
export async function* xlsxRows(path: string, progress: ReadProgress = { bytesRead: 0 }): AsyncGenerator<RawRow> {
  const source = createReadStream(path, { highWaterMark: 256 * 1024 });
  source.on('data', (b) => {
    progress.bytesRead += b.length;
  });
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(source, {
    worksheets: 'emit', sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'cache', entries: 'emit',
  } as Partial<ExcelJS.stream.xlsx.WorkbookStreamReaderOptions>);
  fixUtf8Chunking(reader);
  let width = 0;
  try {
    for await (const sheet of reader) {
      for await (const r of sheet) {
        const vals = r.values as Cell[];
        const cells: string[] = [];
        const formulaCols: number[] = [];
        for (let c = 1; c < vals.length; c++) {
          const t = cellText(vals[c]);
          cells.push(t.text);
          if (t.formula) formulaCols.push(c - 1);
        }
        if (cells.every((c) => c.trim() === '') && formulaCols.length === 0) continue;
        if (width === 0) width = cells.length;
        // exceljs omits trailing empty cells: pad to the header's width.
        while (cells.length < width) cells.push('');
        while (cells.length > width && cells[cells.length - 1]!.trim() === '') cells.pop();
        yield formulaCols.length > 0 ? { row: r.number, cells, formulaCols } : { row: r.number, cells };
      }
      break; // the first worksheet only
    }
  } catch (err) {
    if (err instanceof ExchangeError) throw err;
    throw new ExchangeError('EXC_ERR_FILE_UNREADABLE', 'XLSX');
  } finally {
    source.destroy();
  }
}

export async function openRows(
  path: string, format: FileFormat, progress: ReadProgress = { bytesRead: 0 },
): Promise<{ encoding: Encoding | null; rows: AsyncGenerator<RawRow> }> {
  if (format === 'xlsx') return { encoding: null, rows: xlsxRows(path, progress) };
  const encoding = await sniffEncoding(path);
  return { encoding, rows: csvRows(path, encoding, progress) };
}
