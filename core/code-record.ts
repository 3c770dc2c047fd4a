import { Packr } from 'msgpackr';
import { CoreError } from './errors.js';

/**
 * The records that cross the wire (deltas) and sit in LMDB (replica values).
 *
 * Every encoded value starts with one format byte so that an edge built for
 * format N refuses data written by a newer writer with a clear error instead
 * of misreading it (the EU DCC value sets learned this the hard way):
 *
 *   byte 0      format version (FORMAT_VERSION)
 *   bytes 1..   msgpack (msgpackr, plain structures — no shared structure
 *               table, so any reader decodes any value on its own)
 *
 * A reader accepts any version ≤ its own (older data stays readable) and
 * throws CORE_ERR_FORMAT_VERSION for newer ones.
 */
export const FORMAT_VERSION = 1;

export type Color = 'green' | 'yellow' | 'red';
export const COLORS: readonly Color[] = ['green', 'yellow', 'red'];
/** TF1 colour byte (DESIGN §4): 0 green, 1 yellow, 2 red. */
export function colorByte(c: Color): 0 | 1 | 2 {
  return c === 'green' ? 0 : c === 'yellow' ? 1 : 2;
}

export interface Notice {
  readonly kind: string;
  readonly message: string;
  /** unix seconds after which the notice no longer applies, or null */
  readonly until: number | null;
}

/** One person's current code as every edge holds it. Carries no identity: the uid is the key. */
export interface CodeRecord {
  readonly color: Color;
  /** short stable reason code, e.g. 'close_contact' */
  readonly reason: string;
  /** unix seconds */
  readonly since: number;
  /** unix seconds or null */
  readonly until: number | null;
  /** masked display name computed on the master (张*三); never the full name */
  readonly name: string;
  readonly notices: readonly Notice[];
  /** outbox sequence of the change that produced this record */
  readonly seq: number;
}

export type VenueKind = 'normal' | 'entry';
export interface Venue {
  /** place code id printed in the venue's QR */
  readonly id: string;
  readonly name: string;
  /** GB/T 2260 region code (6 digits, or 9/12 down to street level) */
  readonly region: string;
  readonly kind: VenueKind;
  /** for kind 'entry' (入川即检): hours within which an arrival must be tested */
  readonly entryTestHours: number | null;
}

export type RiskLevel = 'high' | 'medium' | 'low';
export interface RiskArea {
  readonly region: string;
  readonly level: RiskLevel;
  readonly since: number;
}

// One Packr for all: `useRecords: false` keeps the encoding self-describing
// (no structure table to share between master and edges); `mapsAsObjects`
// gives plain objects back.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** [format byte][msgpack]. */
export function encodeVersioned(value: unknown): Buffer {
  const body = packr.pack(value);
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = FORMAT_VERSION;
  body.copy(out, 1);
  return out;
}

export function decodeVersioned(bytes: Uint8Array, what: string): unknown {
  if (bytes.length < 2) throw new CoreError('CORE_ERR_RECORD_INVALID', `${what}: ${bytes.length} bytes`);
  const version = bytes[0]!;
  if (version === 0 || version > FORMAT_VERSION) {
    throw new CoreError(
      'CORE_ERR_FORMAT_VERSION',
      `${what} has format ${version}, this build reads up to ${FORMAT_VERSION}: upgrade this node`,
    );
  }
  try {
    return packr.unpack(bytes.subarray(1));
  } catch (err) {
    throw new CoreError('CORE_ERR_RECORD_INVALID', `${what}: ${(err as Error).message}`);
  }
}

function isFiniteInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function bad(what: string, field: string): never {
  throw new CoreError('CORE_ERR_RECORD_INVALID', `${what}.${field}`);
}

export function checkNotice(n: unknown, what: string): Notice {
  if (typeof n !== 'object' || n === null) bad(what, 'notice');
  const o = n as Record<string, unknown>;
  if (typeof o.kind !== 'string' || o.kind === '') bad(what, 'kind');
  if (typeof o.message !== 'string') bad(what, 'message');
  if (o.until !== null && !isFiniteInt(o.until)) bad(what, 'until');
  return { kind: o.kind, message: o.message, until: o.until as number | null };
}

export function checkCodeRecord(r: unknown, what = 'code record'): CodeRecord {
  if (typeof r !== 'object' || r === null) bad(what, '');
  const o = r as Record<string, unknown>;
  if (!COLORS.includes(o.color as Color)) bad(what, 'color');
  if (typeof o.reason !== 'string') bad(what, 'reason');
  if (!isFiniteInt(o.since)) bad(what, 'since');
  if (o.until !== null && !isFiniteInt(o.until)) bad(what, 'until');
  if (typeof o.name !== 'string') bad(what, 'name');
  if (!Array.isArray(o.notices)) bad(what, 'notices');
  if (!isFiniteInt(o.seq)) bad(what, 'seq');
  return {
    color: o.color as Color,
    reason: o.reason,
    since: o.since,
    until: o.until as number | null,
    name: o.name,
    notices: o.notices.map((n) => checkNotice(n, what)),
    seq: o.seq,
  };
}

export function encodeCodeRecord(r: CodeRecord): Buffer {
  return encodeVersioned(r);
}

export function decodeCodeRecord(bytes: Uint8Array): CodeRecord {
  return checkCodeRecord(decodeVersioned(bytes, 'code record'));
}

export function checkVenue(v: unknown, what = 'venue'): Venue {
  if (typeof v !== 'object' || v === null) bad(what, '');
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || o.id === '') bad(what, 'id');
  if (typeof o.name !== 'string') bad(what, 'name');
  if (typeof o.region !== 'string' || !/^\d{6}(\d{3}(\d{3})?)?$/.test(o.region)) bad(what, 'region');
  if (o.kind !== 'normal' && o.kind !== 'entry') bad(what, 'kind');
  if (o.entryTestHours !== null && !isFiniteInt(o.entryTestHours)) bad(what, 'entryTestHours');
  return { id: o.id, name: o.name, region: o.region, kind: o.kind, entryTestHours: o.entryTestHours as number | null };
}

export function encodeVenue(v: Venue): Buffer {
  return encodeVersioned(v);
}

export function decodeVenue(bytes: Uint8Array): Venue {
  return checkVenue(decodeVersioned(bytes, 'venue'));
}

export function checkRiskArea(a: unknown, what = 'risk area'): RiskArea {
  if (typeof a !== 'object' || a === null) bad(what, '');
  const o = a as Record<string, unknown>;
  if (typeof o.region !== 'string' || !/^\d{6}(\d{3}(\d{3})?)?$/.test(o.region)) bad(what, 'region');
  if (o.level !== 'high' && o.level !== 'medium' && o.level !== 'low') bad(what, 'level');
  if (!isFiniteInt(o.since)) bad(what, 'since');
  return { region: o.region, level: o.level, since: o.since };
}
