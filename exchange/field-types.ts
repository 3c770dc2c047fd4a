import { CoreError } from '../core/errors.js';
import { maskName, normaliseCertificate, normalisePhone, ID_TYPES, type IdType } from '../core/identity.js';
import { isKnownRegion } from '../core/regions.js';
import type { ExchangeErrorCode } from './errors.js';

/**
 * The field types of the data standards (数据标准): each turns the text of a
 * cell into the canonical value or names the coded reason it is refused.
 * Pure functions; dataset definitions (datasets.ts) refer to them by name.
 */
export type FieldType = 'idType' | 'idNo' | 'mobile' | 'name' | 'region' | 'datetime' | 'date' | 'enum' | 'text';

export const FIELD_TYPES: readonly FieldType[] = ['idType', 'idNo', 'mobile', 'name', 'region', 'datetime', 'date', 'enum', 'text'];

export type FieldResult = { ok: true; value: string | number } | { ok: false; code: ExchangeErrorCode; detail: string };

/** The certificate code table: canonical types plus the names departments write (GB/T 2659-style labels). */
export const ID_TYPE_TABLE: Readonly<Record<string, IdType>> = Object.freeze({
  ...Object.fromEntries(ID_TYPES.map((t) => [t, t])),
  居民身份证: 'resident', 身份证: 'resident', 1: 'resident', '01': 'resident',
  护照: 'passport', 普通护照: 'passport',
  港澳居民来往内地通行证: 'hk_macau', 港澳通行证: 'hk_macau',
  台湾居民来往大陆通行证: 'taiwan', 台胞证: 'taiwan',
  外国人永久居留身份证: 'foreign_permanent', 外国人永久居留证: 'foreign_permanent',
});

const CHINA_OFFSET_MS = 8 * 3600 * 1000;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function validYmd(y: number, m: number, d: number): boolean {
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * Unix seconds of `YYYY-MM-DD HH:mm[:ss]` China time (UTC+8, no DST since
 * 1991) or of ISO 8601 with Z/offset; a `T` form without offset is China time too.
 * null when malformed or impossible (2月30日, 25:00).
 */
export function parseDateTime(s: string): number | null {
  let m = LOCAL.exec(s);
  let offsetMs = CHINA_OFFSET_MS;
  if (m === null) {
    m = ISO.exec(s);
    if (m === null) return null;
    const z = m[7]!;
    if (z === 'Z') offsetMs = 0;
    else {
      const sign = z[0] === '-' ? -1 : 1;
      const digits = z.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = Number(digits.slice(2));
      if (oh > 14 || om > 59) return null;
      offsetMs = sign * (oh * 60 + om) * 60_000;
    }
  }
  const [y, mo, d, h, mi, se] = [1, 2, 3, 4, 5, 6].map((i) => Number(m![i] ?? 0)) as [number, number, number, number, number, number];
  if (!validYmd(y, mo, d) || h > 23 || mi > 59 || se > 59) return null;
  return Math.floor((Date.UTC(y, mo - 1, d, h, mi, se) - offsetMs) / 1000);
}

/** 'YYYY-MM-DD' (also 'YYYY/MM/DD', 'YYYYMMDD') → canonical 'YYYY-MM-DD', or null. */
export function parseDate(s: string): string | null {
  // An XLSX date cell arrives as 'YYYY-MM-DD 00:00:00' (file-reader.ts).
  const u = s.replace(/[ T]00:00(?::00)?$/, '');
  const t = /^\d{8}$/.test(u) ? `${u.slice(0, 4)}-${u.slice(4, 6)}-${u.slice(6)}` : u.replace(/\//g, '-');
  const m = DATE.exec(t);
  if (m === null || !validYmd(Number(m[1]), Number(m[2]), Number(m[3]))) return null;
  return t;
}

/** Maps core's identity error codes to the exchange's row codes. */
function identityCode(err: unknown, fallback: ExchangeErrorCode): ExchangeErrorCode {
  if (err instanceof CoreError) {
    if (err.code === 'CORE_ERR_ID_CHECK_DIGIT') return 'EXC_ERR_ID_CHECK_DIGIT';
    if (err.code === 'CORE_ERR_PHONE') return 'EXC_ERR_PHONE';
  }
  return fallback;
}

export interface FieldSpec {
  readonly type: FieldType;
  /** enum: accepted text → canonical value (the code table) */
  readonly values?: Readonly<Record<string, string>>;
  /** text: longest accepted length in characters */
  readonly max?: number;
  /** region: accepted lengths (default [6]) */
  readonly regionLengths?: readonly number[];
}

/**
 * Checks one non-empty cell. `idType` is the row's already-checked
 * certificate type (idNo depends on it). `now` bounds birth dates.
 */
export function checkField(spec: FieldSpec, raw: string, idType: IdType | undefined, now: Date): FieldResult {
  switch (spec.type) {
    case 'idType': {
      const t = ID_TYPE_TABLE[raw];
      return t === undefined ? { ok: false, code: 'EXC_ERR_ENUM', detail: 'unknown certificate type' } : { ok: true, value: t };
    }
    case 'idNo':
      try {
        return { ok: true, value: normaliseCertificate(idType ?? 'resident', raw, now).number };
      } catch (err) {
        return { ok: false, code: identityCode(err, 'EXC_ERR_ID_INVALID'), detail: err instanceof CoreError ? err.code : 'invalid' };
      }
    case 'mobile':
      try {
        return { ok: true, value: normalisePhone(raw) };
      } catch (err) {
        return { ok: false, code: identityCode(err, 'EXC_ERR_PHONE'), detail: 'not a mobile number' };
      }
    case 'name':
      // the master masks names for display (张*三) and refuses what it cannot mask: check it here, per row
      try {
        maskName(raw);
      } catch {
        return { ok: false, code: 'EXC_ERR_NAME', detail: 'malformed name' };
      }
      if ([...raw].length > (spec.max ?? 64)) return { ok: false, code: 'EXC_ERR_FIELD_TOO_LONG', detail: 'name too long' };
      return { ok: true, value: raw };
    case 'region': {
      const lengths = spec.regionLengths ?? [6];
      if (!lengths.includes(raw.length) || !isKnownRegion(raw)) return { ok: false, code: 'EXC_ERR_REGION', detail: 'unknown region' };
      return { ok: true, value: raw };
    }
    case 'datetime': {
      const t = parseDateTime(raw);
      return t === null ? { ok: false, code: 'EXC_ERR_DATETIME', detail: 'bad date-time' } : { ok: true, value: t };
    }
    case 'date': {
      const d = parseDate(raw);
      return d === null ? { ok: false, code: 'EXC_ERR_DATE', detail: 'bad date' } : { ok: true, value: d };
    }
    case 'enum': {
      const v = spec.values?.[raw];
      return v === undefined ? { ok: false, code: 'EXC_ERR_ENUM', detail: 'not in the code table' } : { ok: true, value: v };
    }
    case 'text': {
      const max = spec.max ?? 64;
      if ([...raw].length > max) return { ok: false, code: 'EXC_ERR_FIELD_TOO_LONG', detail: `longer than ${max}` };
      return { ok: true, value: raw };
    }
  }
}
