import { checkCodeRecord, checkRiskArea, checkVenue, decodeVersioned, type Notice, type RiskArea, type Venue } from '../core/code-record.js';
import type { Delta } from '../core/delta.js';
import { CoreError } from '../core/errors.js';
import { MasterError } from './errors.js';

/**
 * The master store's input checks and conversions (master/store.ts): every
 * value is checked here before it reaches SQL, and outbox rows are rebuilt
 * into deltas the way an edge would check them.
 */
export const REGION6 = /^[0-9]{6}$/;
export const REGION_ANY = /^[0-9]{6}([0-9]{3}([0-9]{3})?)?$/;
export const MAX_TEXT = 64;
export const DAY = 86_400;
/** Scan partitions follow China Standard Time days (UTC+8, no DST since 1991): what operators call "the 3rd". */
export const DAY_OFFSET = 8 * 3600;
/** Earliest scan time accepted (2020-01-01 UTC+8): anything older is a broken clock, not a spooled scan. */
export const MIN_SCAN_AT = 1_577_808_000;
/** A scan more than this far in the future is a broken clock; it would create partitions years ahead. */
export const MAX_SCAN_AHEAD = DAY;
export const SCAN_CHUNK = 2_000;
export const OUTBOX_CHUNK = 500;
export const OUTBOX_BULK_CHUNK = 5000;

export function bad(field: string, detail: string): MasterError {
  return new MasterError('MASTER_ERR_INVALID', detail, field);
}

export function given(v: unknown): v is string {
  return typeof v === 'string' && v.trim().length > 0;
}

export function isSeconds(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= 0xffff_ffff;
}

export function toDate(seconds: number): Date {
  return new Date(seconds * 1000);
}

export function toSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

export function toSecondsOrNull(d: Date | null): number | null {
  return d === null ? null : Math.floor(d.getTime() / 1000);
}

export function checkText(field: string, v: unknown, max = MAX_TEXT): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw bad(field, `must be 1–${max} characters`);
  return v;
}

export function checkNotices(v: unknown): Notice[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 16) throw bad('notices', 'must be an array of at most 16 notices');
  return v.map((n: unknown, i) => {
    const o = n as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null) throw bad(`notices[${i}]`, 'must be an object');
    const kind = checkText(`notices[${i}].kind`, o.kind);
    if (typeof o.message !== 'string' || o.message.length > 500) throw bad(`notices[${i}].message`, 'must be a string of at most 500 characters');
    if (o.until !== null && !isSeconds(o.until)) throw bad(`notices[${i}].until`, 'must be unix seconds or null');
    return { kind, message: o.message, until: o.until as number | null };
  });
}

export function sameNotices(a: readonly Notice[], b: readonly Notice[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.kind !== y.kind || x.message !== y.message || x.until !== y.until) return false;
  }
  return true;
}

export function checkVenueInput(v: Venue): Venue {
  if (typeof v !== 'object' || v === null) throw bad('venue', 'must be an object');
  checkText('id', v.id);
  checkText('name', v.name, 200);
  if (typeof v.region !== 'string' || !REGION_ANY.test(v.region)) throw bad('region', 'must be a GB/T 2260 code of 6, 9 or 12 digits');
  if (v.kind !== 'normal' && v.kind !== 'entry') throw bad('kind', "must be 'normal' or 'entry'");
  if (v.kind === 'entry') {
    if (!Number.isSafeInteger(v.entryTestHours) || (v.entryTestHours as number) < 1 || (v.entryTestHours as number) > 24 * 14) {
      throw bad('entryTestHours', 'an entry venue needs 1–336 hours to test within');
    }
  } else if (v.entryTestHours !== null) {
    throw bad('entryTestHours', 'must be null for a normal venue');
  }
  return { id: v.id, name: v.name, region: v.region, kind: v.kind, entryTestHours: v.entryTestHours };
}

export function checkRiskAreaInput(a: RiskArea): RiskArea {
  if (typeof a !== 'object' || a === null) throw bad('area', 'must be an object');
  if (typeof a.region !== 'string' || !REGION_ANY.test(a.region)) throw bad('region', 'must be a GB/T 2260 code of 6, 9 or 12 digits');
  if (a.level !== 'high' && a.level !== 'medium' && a.level !== 'low') throw bad('level', "must be 'high', 'medium' or 'low'");
  if (!isSeconds(a.since)) throw bad('since', 'must be unix seconds');
  return { region: a.region, level: a.level, since: a.since };
}

/** Rebuilds the Delta of an outbox row (payload = delta without seq), checking it like an edge would. */
export function toDelta(seq: number, type: string, payload: Buffer): Delta {
  const what = `outbox ${seq}`;
  const o = decodeVersioned(payload, what) as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.type !== type) {
    throw new CoreError('CORE_ERR_RECORD_INVALID', `${what}: payload type does not match the row's type ${type}`);
  }
  switch (type) {
    case 'code': {
      const uid = o.uid;
      if (!(uid instanceof Uint8Array) || uid.length !== 16) throw new CoreError('CORE_ERR_RECORD_INVALID', `${what}: uid`);
      const record = o.record === null ? null : checkCodeRecord({ ...(o.record as object), seq }, what);
      return { seq, type: 'code', uid, record };
    }
    case 'venue':
      return { seq, type: 'venue', id: o.id as string, venue: o.venue === null ? null : checkVenue(o.venue, what) };
    case 'risk_area':
      return { seq, type: 'risk_area', region: o.region as string, area: o.area === null ? null : checkRiskArea(o.area, what) };
    case 'rules':
      return { seq, type: 'rules', version: o.version as string, activeFrom: o.activeFrom as number, ruleSet: o.ruleSet };
    case 'keys':
      return { seq, type: 'keys', keys: o.keys };
    default:
      return { seq, type: 'noop' };
  }
}
