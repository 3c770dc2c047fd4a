import { maskIdNo, maskName, maskPhone } from '../core/identity.js';
import { isKnownRegion, regionName } from '../core/regions.js';
import type { PiiCrypto } from '../master/pii-crypto.js';
import { ExchangeError } from './errors.js';

/**
 * Per-recipient masking policies of the data return (智能数据返还), as data:
 * for each column of a return, what the recipient gets —
 *
 *   keep  the value as processed (a city's CDC that has to phone people needs the number)
 *   mask  the static mask: 5101**********106X, 欧**娜, 139****0021, the region
 *         cut to its city, a time cut to its day
 *   hash  a keyed pseudonym (HMAC with the lookup key, bound to the recipient
 *         and the column): the recipient can link its own returns, two
 *         recipients cannot join theirs, nobody can reverse it without the key
 *   drop  the column is not in the file at all
 *
 * Not every column takes every action (a result has nothing to mask); the
 * default — used while a recipient has no policy of its own — masks the
 * three identifying columns and keeps the rest, so forgetting to set a
 * policy never releases an identity in clear. Policies are versioned
 * (exchange_return_policies); each return records the version it was made with.
 */
export type MaskAction = 'keep' | 'mask' | 'hash' | 'drop';

export const RETURN_COLUMNS = ['idType', 'idNo', 'name', 'phone', 'region', 'kind', 'at', 'result'] as const;
export type ReturnColumn = (typeof RETURN_COLUMNS)[number];

/** Column headings of a return file (行号 first, always kept: it points back at the uploaded row). */
export const COLUMN_ZH: Record<ReturnColumn, string> = {
  idType: '证件类型', idNo: '证件号码', name: '姓名', phone: '手机号', region: '所在地区', kind: '事项', at: '时间', result: '结果',
};

export const ACTION_ZH: Record<MaskAction, string> = { keep: '保留原值', mask: '部分遮盖', hash: '不可逆代号', drop: '不提供' };

/** Which actions each column accepts. */
export const ALLOWED: Record<ReturnColumn, readonly MaskAction[]> = {
  idType: ['keep', 'drop'],
  idNo: ['keep', 'mask', 'hash', 'drop'],
  name: ['keep', 'mask', 'hash', 'drop'],
  phone: ['keep', 'mask', 'hash', 'drop'],
  region: ['keep', 'mask', 'drop'],
  kind: ['keep', 'drop'],
  at: ['keep', 'mask', 'drop'],
  result: ['keep', 'drop'],
};

export type ReturnPolicy = Readonly<Record<ReturnColumn, MaskAction>>;

export const DEFAULT_POLICY: ReturnPolicy = Object.freeze({
  idType: 'keep', idNo: 'mask', name: 'mask', phone: 'mask', region: 'keep', kind: 'keep', at: 'keep', result: 'keep',
});

function bad(field: string, detail: string): never {
  throw new ExchangeError('EXC_ERR_RETURN_POLICY', detail, field);
}

/**
 * `{fields: {idNo: 'hash', phone: 'keep', …}}`: the columns given replace the
 * default's action, the others keep the default's (safe) one.
 */
export function validatePolicy(x: unknown): ReturnPolicy {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) bad('policy', 'must be an object {fields: {...}}');
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'fields') bad(k, 'unknown property');
  const f = o.fields;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) bad('fields', 'must be an object column → action');
  const out: Record<string, MaskAction> = { ...DEFAULT_POLICY };
  for (const [col, action] of Object.entries(f as Record<string, unknown>)) {
    if (!(RETURN_COLUMNS as readonly string[]).includes(col)) bad(`fields.${col}`, `unknown column; columns are ${RETURN_COLUMNS.join(', ')}`);
    const allowed = ALLOWED[col as ReturnColumn];
    if (typeof action !== 'string' || !(allowed as readonly string[]).includes(action)) bad(`fields.${col}`, `must be one of ${allowed.join(', ')}`);
    out[col] = action as MaskAction;
  }
  if (RETURN_COLUMNS.every((c) => out[c] === 'drop')) bad('fields', 'a return must keep at least one column');
  return Object.freeze(out) as ReturnPolicy;
}

/** One processed row in clear, as read back from the import's lineage (never stored or logged like this). */
export interface ClearRow {
  readonly row: number;
  readonly idType: string;
  readonly idNo: string;
  readonly name: string;
  readonly phone: string;
  /** GB/T 2260 code of residence, '' unknown */
  readonly region: string;
  readonly kind: string;
  /** China time 'YYYY-MM-DD HH:mm:ss' */
  readonly at: string;
  readonly result: string;
}

/** The columns a policy lets through, in file order. */
export function columnsOf(policy: ReturnPolicy): ReturnColumn[] {
  return RETURN_COLUMNS.filter((c) => policy[c] !== 'drop');
}

export function headerOf(policy: ReturnPolicy): string[] {
  return ['行号', ...columnsOf(policy).map((c) => COLUMN_ZH[c])];
}

function maskValue(col: ReturnColumn, v: string): string {
  if (v === '') return '';
  switch (col) {
    case 'idNo':
      return maskIdNo(v);
    case 'name':
      return maskName(v);
    case 'phone':
      return maskPhone(v);
    case 'region':
      return regionName(v.slice(0, 4));
    case 'at':
      return v.slice(0, 10);
    default:
      return v;
  }
}

/** The cells of one row for one recipient under its policy (行号 first). */
export function applyPolicy(crypto: PiiCrypto, recipientId: string, policy: ReturnPolicy, r: ClearRow): (string | number)[] {
  const out: (string | number)[] = [r.row];
  for (const col of columnsOf(policy)) {
    const v = r[col];
    const a = policy[col];
    if (a === 'keep') out.push(col === 'region' ? (v === '' ? '' : isKnownRegion(v) ? regionName(v) : v) : v);
    else if (a === 'mask') out.push(maskValue(col, v));
    else out.push(v === '' ? '' : crypto.lookupHash(`R:${recipientId}:${col}:${v}`).toString('hex').slice(0, 16).toUpperCase());
  }
  return out;
}
