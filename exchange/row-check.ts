import type { IdType } from '../core/identity.js';
import { ExchangeError, zhOf, type ExchangeErrorCode } from './errors.js';
import { headerIndex, type DatasetDef, type FieldDef } from './datasets.js';
import { checkField } from './field-types.js';

/**
 * Quality review of one row against a dataset (数据质量核查): non-null,
 * format, code tables, field length, time not in the future, time order.
 * Duplicates need the database and are checked per chunk (apply-chunk.ts).
 */
export interface RowError {
  readonly row: number;
  readonly field: string;
  readonly code: ExchangeErrorCode;
  readonly message: string;
}

export type Value = string | number;

export interface CheckedRow {
  readonly row: number;
  /** field name → canonical value (absent when the optional cell was empty) */
  readonly values: Record<string, Value>;
}

/** Longest cell accepted at all (a cell beyond any field's own limit is refused early). */
export const MAX_CELL_CHARS = 4096;
const REPLACEMENT = '\uFFFD';

export function rowError(row: number, field: string, code: ExchangeErrorCode, detail?: string): RowError {
  return { row, field, code, message: detail === undefined ? zhOf(code) : `${zhOf(code)}：${detail}` };
}

/** The column layout of a file: which column holds which field. */
export interface Layout {
  readonly columns: readonly (FieldDef | null)[];
  readonly width: number;
}

/**
 * Matches a header row to the dataset: every required field present, no
 * unknown or repeated column (EXC_ERR_HEADER naming them, in Chinese).
 */
export function layoutOf(def: DatasetDef, header: readonly string[]): Layout {
  const index = headerIndex(def);
  const byName = new Map(def.fields.map((f) => [f.name, f]));
  const seen = new Set<string>();
  const unknown: string[] = [];
  const repeated: string[] = [];
  const columns = header.map((h) => {
    const name = index.get(h.replace(/^\uFEFF/, '').trim().toLowerCase());
    if (name === undefined) {
      unknown.push(h.slice(0, 32));
      return null;
    }
    if (seen.has(name)) repeated.push(h.slice(0, 32));
    seen.add(name);
    return byName.get(name)!;
  });
  const missing = def.fields.filter((f) => f.required && !seen.has(f.name)).map((f) => f.zh);
  if (missing.length > 0 || unknown.length > 0 || repeated.length > 0) {
    const parts = [
      missing.length > 0 ? `缺少列 ${missing.join('、')}` : '',
      unknown.length > 0 ? `无法识别的列 ${unknown.join('、')}` : '',
      repeated.length > 0 ? `重复的列 ${repeated.join('、')}` : '',
    ].filter((s) => s !== '');
    throw new ExchangeError('EXC_ERR_HEADER', parts.join('；'));
  }
  return { columns, width: header.length };
}

/**
 * Checks one data row. `row` = its number in the file (header = 1).
 * Returns the canonical values, or every error found in the row.
 */
export function checkRow(def: DatasetDef, layout: Layout, row: number, cells: readonly string[], nowMs: number): CheckedRow | RowError[] {
  if (cells.length !== layout.width) {
    return [rowError(row, '', 'EXC_ERR_RAGGED_ROW', `${cells.length} 列，表头 ${layout.width} 列`)];
  }
  const now = new Date(nowMs);
  const errors: RowError[] = [];
  const text = new Map<string, string>();
  for (let i = 0; i < cells.length; i++) {
    const f = layout.columns[i];
    if (f === null || f === undefined) continue;
    const raw = (cells[i] ?? '').trim();
    if (raw.includes(REPLACEMENT)) {
      errors.push(rowError(row, f.name, 'EXC_ERR_ENCODING'));
      continue;
    }
    if (raw.length > MAX_CELL_CHARS) {
      errors.push(rowError(row, f.name, 'EXC_ERR_FIELD_TOO_LONG', `${raw.length} 个字符`));
      continue;
    }
    if (raw !== '') text.set(f.name, raw);
  }
  const values: Record<string, Value> = {};
  let idType: IdType | undefined;
  // idType first: the certificate number's format depends on it.
  const ordered = [...def.fields].sort((a, b) => (a.type === 'idType' ? -1 : 0) - (b.type === 'idType' ? -1 : 0));
  for (const f of ordered) {
    if (errors.some((e) => e.field === f.name)) continue;
    const raw = text.get(f.name);
    if (raw === undefined) {
      if (f.required) errors.push(rowError(row, f.name, 'EXC_ERR_REQUIRED', f.zh));
      continue;
    }
    if (f.type === 'idNo' && idType === undefined && text.has('idType')) continue; // idType already failed
    const r = checkField(f, raw, idType, now);
    if (!r.ok) {
      errors.push(rowError(row, f.name, r.code, f.zh));
      continue;
    }
    values[f.name] = r.value;
    if (f.type === 'idType') idType = r.value as IdType;
  }
  if (errors.length > 0) return errors;
  const nowSec = Math.floor(nowMs / 1000);
  for (const name of def.notFuture) {
    const v = values[name];
    if (v === undefined) continue;
    const f = def.fields.find((x) => x.name === name)!;
    const future = typeof v === 'number' ? v > nowSec : v > chinaDay(nowMs);
    if (future) errors.push(rowError(row, name, 'EXC_ERR_FUTURE', f.zh));
  }
  for (const [a, b] of def.order ?? []) {
    const x = values[a];
    const y = values[b];
    if (typeof x === 'number' && typeof y === 'number' && x > y) errors.push(rowError(row, b, 'EXC_ERR_TIME_ORDER', `${def.fields.find((f) => f.name === a)!.zh}晚于${def.fields.find((f) => f.name === b)!.zh}`));
  }
  return errors.length > 0 ? errors : { row, values };
}

/** 'YYYY-MM-DD' of a unix-ms instant in China time. */
export function chinaDay(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
}

/** The duplicate key of a checked row: the key fields' canonical values. */
export function keyOf(def: DatasetDef, r: CheckedRow): string {
  return def.key.map((k) => String(r.values[k] ?? '')).join('\u001f');
}
