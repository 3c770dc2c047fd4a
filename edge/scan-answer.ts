import { decodeCodeRecord, FORMAT_VERSION, type Color, type Notice, type Venue } from '../core/code-record.js';
import { activeNotices, entryNotice, riskNotice, staleNotice, type WireNotice } from './display-body.js';
import type { ReplicaReader } from './replica-reader.js';

/**
 * The answer to POST /v1/scan (DESIGN §5), made with as little per-request
 * work as the issue 14 profile asked for:
 *
 *   {"color", "name", "venue": {"id", "name", "kind"}, "riskArea": {"region", "level"} | null,
 *    "notices": [the person's notices in force, 入川即检, the risk-area notice, the stale notice]}
 *
 * - Everything that depends on the venue alone — its JSON, the risk area
 *   covering it (up to five LMDB lookups walking the region chain) and the
 *   two notices it may add — is made once and kept in `VenueAnswers`,
 *   validated by the replica's applied sequence like the display cache
 *   (edge/display-cache.ts): the scan path calls `validate` once per
 *   event-loop turn, and when the sequence moved every venue answer goes
 *   (venues and risk areas change rarely; the first scan of each venue
 *   after a delta reads LMDB again). So an answer is never older than what
 *   LMDB itself would have given in that turn.
 * - The person's part is read from the stored code record's msgpack bytes
 *   directly (`scanFields`): colour, masked name and whether any notice is
 *   stored, without decoding the whole record into objects. Anything
 *   unusual (notices present, an unexpected encoding) takes the full,
 *   checked decode.
 * - The answer is one string concatenation of pre-serialised parts. Its
 *   bytes are the same as JSON.stringify of the object above (tested).
 */

export interface VenueAnswer {
  readonly venue: Venue;
  /** `,"venue":{…},"riskArea":…,"notices":[` */
  readonly mid: string;
  /** the venue's own notices (入川即检, risk area), JSON, comma-separated; '' when none */
  readonly notices: string;
  /** the venue id's UTF-8 bytes (the spool record copies them) */
  readonly idBytes: Buffer;
  /** UTF-8 of `"` + mid + notices + `]}`: the answer after the name when the person has no notices and the replica is fresh */
  readonly tail: Buffer;
}

/**
 * At most this many venue answers are kept; when full, all go (a flood of
 * distinct venue ids cannot grow memory). An answer is ≈ 0.5–0.8 KB (the
 * venue object, its JSON as a string, the tail's bytes): 50k ≈ 40 MB at
 * most per server process, and a day's scans at one node touch far fewer
 * venues between two deltas.
 */
export const MAX_VENUE_ANSWERS = 50_000;

/**
 * What a scan or verify answer says because of the venue alone: the risk area
 * covering it and the notices it adds (入川即检 at an entry point, the risk
 * area's), in answer order after the person's own notices. One place for
 * POST /v1/scan (kept per venue below) and POST /v1/verify (route-scan.ts).
 */
export function venueParts(venue: Venue, reader: ReplicaReader): { riskArea: { region: string; level: string } | null; notices: WireNotice[] } {
  const area = reader.riskAreaCovering(venue.region);
  const notices: WireNotice[] = [];
  if (venue.kind === 'entry') notices.push(entryNotice(venue));
  if (area !== undefined) {
    const n = riskNotice(area);
    if (n !== null) notices.push(n);
  }
  return { riskArea: area === undefined ? null : { region: area.region, level: area.level }, notices };
}

/** The venue's JSON: the `venue` member of scan and verify answers. */
export function venueJson(v: Venue): { id: string; name: string; kind: string } {
  return { id: v.id, name: v.name, kind: v.kind };
}

export function makeVenueAnswer(venue: Venue, reader: ReplicaReader): VenueAnswer {
  const { riskArea, notices: own } = venueParts(venue, reader);
  const mid = `,"venue":${JSON.stringify(venueJson(venue))},"riskArea":${JSON.stringify(riskArea)},"notices":[`;
  const notices = own.map((n) => JSON.stringify(n)).join(',');
  return { venue, mid, notices, idBytes: Buffer.from(venue.id, 'utf8'), tail: Buffer.from(`"${mid}${notices}]}`, 'utf8') };
}

export class VenueAnswers {
  private readonly byId = new Map<string, VenueAnswer>();
  /** the applied sequence the kept answers were read at (−1: none yet) */
  seq = -1;
  hits = 0;
  fills = 0;
  flushes = 0;

  constructor(readonly max = MAX_VENUE_ANSWERS) {}

  /** Brings the answers to the replica's applied sequence: any change drops them all. */
  validate(appliedSeq: number): void {
    if (appliedSeq === this.seq) return;
    if (this.byId.size > 0) {
      this.byId.clear();
      this.flushes++;
    }
    this.seq = appliedSeq;
  }

  /** The answer for a venue id, from memory or read now (call `validate` in the same turn first); undefined if unknown. */
  get(id: string, reader: ReplicaReader): VenueAnswer | undefined {
    const kept = this.byId.get(id);
    if (kept !== undefined) {
      this.hits++;
      return kept;
    }
    const venue = reader.venue(id);
    if (venue === undefined) return undefined;
    const a = makeVenueAnswer(venue, reader);
    if (this.byId.size >= this.max) {
      this.byId.clear();
      this.flushes++;
    }
    this.byId.set(id, a);
    this.fills++;
    return a;
  }
}

// ─── the person's part ───────────────────────────────────────────────────────

/** What a scan needs of a code record. One object reused by `scanFields` (the caller reads it at once). */
export interface ScanFields {
  color: Color;
  /** the masked name (read lazily by scanAnswer when `raw` is null) */
  name: string;
  /**
   * Fast path: the record's bytes and the name's UTF-8 byte range in them,
   * when the name needs no JSON escaping (no quote, backslash or control
   * byte) — valid only until the next read on the replica reader. null
   * otherwise (then `name` holds it).
   */
  raw: Buffer | null;
  nameStart: number;
  nameEnd: number;
  /** the stored notices when there are any (then filtered by time), else null */
  notices: readonly Notice[] | null;
}

const fields: ScanFields = { color: 'green', name: '', raw: null, nameStart: 0, nameEnd: 0, notices: null };

/**
 * The colour, name and notices of a stored code record (format byte +
 * msgpack map, core/code-record.ts). Fast path: a map with short string
 * keys, scalar values and an empty notices array, read in place. Anything
 * else goes through decodeCodeRecord (which also rejects a corrupt record
 * with its coded error).
 */
export function scanFields(bytes: Buffer): ScanFields {
  if (fastFields(bytes)) return fields;
  const r = decodeCodeRecord(bytes);
  fields.color = r.color;
  fields.name = r.name;
  fields.raw = null;
  fields.notices = r.notices.length === 0 ? null : r.notices;
  return fields;
}

function fastFields(b: Buffer): boolean {
  const n = b.length;
  if (n < 2 || b[0] !== FORMAT_VERSION) return false;
  const m = b[1]!;
  let keys: number;
  let p: number;
  if ((m & 0xf0) === 0x80) {
    keys = m & 0x0f; // fixmap
    p = 2;
  } else if (m === 0xde && n > 4) {
    keys = (b[2]! << 8) | b[3]!; // map16: what packr writes for a plain object
    p = 4;
  } else return false;
  let color: Color | null = null;
  let ns = -1;
  let ne = -1;
  let sawNotices = false;
  while (keys-- > 0) {
    if (p >= n) return false;
    const k = b[p]!;
    if ((k & 0xe0) !== 0xa0) return false; // fixstr key
    const klen = k & 0x1f;
    const ks = p + 1;
    p = ks + klen;
    if (p >= n) return false;
    // value
    const t = b[p]!;
    let vs: number;
    let vlen: number;
    if ((t & 0xe0) === 0xa0) {
      vs = p + 1;
      vlen = t & 0x1f;
    } else if (t === 0xd9) {
      vs = p + 2;
      vlen = b[p + 1]!;
    } else if (t === 0xda) {
      vs = p + 3;
      vlen = (b[p + 1]! << 8) | b[p + 2]!;
    } else {
      // a non-string value: scalars are skipped, an empty array is the only container allowed
      const skip = scalarBytes(t);
      if (skip === 0) {
        if (t === 0x90 && klen === 7 && b[ks] === 0x6e /* n */ && isKey(b, ks, 'notices')) {
          sawNotices = true;
          p += 1;
          continue;
        }
        return false;
      }
      p += skip;
      continue;
    }
    const ve = vs + vlen;
    if (ve > n) return false;
    if (klen === 5 && b[ks] === 0x63 /* c */ && isKey(b, ks, 'color')) {
      color = vlen === 5 && isKey(b, vs, 'green') ? 'green' : vlen === 6 && isKey(b, vs, 'yellow') ? 'yellow' : vlen === 3 && isKey(b, vs, 'red') ? 'red' : null;
      if (color === null) return false;
    } else if (klen === 4 && b[ks] === 0x6e /* n */ && isKey(b, ks, 'name')) {
      ns = vs;
      ne = ve;
    } else if (klen === 7 && b[ks] === 0x6e && isKey(b, ks, 'notices')) {
      return false; // notices stored as something other than an array
    }
    p = ve;
  }
  if (color === null || ns < 0 || !sawNotices || p !== n) return false;
  fields.color = color;
  fields.notices = null;
  let plain = true;
  for (let i = ns; i < ne; i++) {
    const c = b[i]!;
    if (c < 0x20 || c === 0x22 || c === 0x5c) {
      plain = false;
      break;
    }
  }
  if (plain) {
    fields.raw = b;
    fields.nameStart = ns;
    fields.nameEnd = ne;
    fields.name = '';
  } else {
    fields.raw = null;
    fields.name = b.toString('utf8', ns, ne);
  }
  return true;
}

function isKey(b: Buffer, at: number, key: string): boolean {
  for (let i = 0; i < key.length; i++) if (b[at + i] !== key.charCodeAt(i)) return false;
  return true;
}

/** Bytes taken by a msgpack scalar starting with `t` (nil, bool, ints, floats); 0 for anything else. */
function scalarBytes(t: number): number {
  if (t <= 0x7f || t >= 0xe0) return 1; // positive / negative fixint
  switch (t) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return 1;
    case 0xcc:
    case 0xd0:
      return 2;
    case 0xcd:
    case 0xd1:
      return 3;
    case 0xca:
    case 0xce:
    case 0xd2:
      return 5;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return 9;
    default:
      return 0;
  }
}

/** `{"color":"<colour>","name":"` as UTF-8, by colour */
const HEAD: Readonly<Record<Color, Buffer>> = {
  green: Buffer.from('{"color":"green","name":"'),
  yellow: Buffer.from('{"color":"yellow","name":"'),
  red: Buffer.from('{"color":"red","name":"'),
};

/**
 * The answer's UTF-8 bytes. Common case (no notices of the person's, a
 * fresh replica, a plain name): three byte copies — colour head, the name's
 * bytes straight from the record, the venue's tail — into one buffer, so
 * uWS sends bytes instead of flattening and re-encoding a concatenated
 * two-byte string (perf, issue 14 session 2026-12-07 late:
 * String::WriteToFlat + WriteUtf8 + Utf8Length ≈ 6.5 % of the scan's CPU).
 * Otherwise the text form below, encoded once. `nowSec` filters the
 * person's notices; `lagSec` is the stale notice's figure.
 */
export function scanAnswerBytes(f: ScanFields, va: VenueAnswer, nowSec: number, stale: boolean, lagSec: number | null): Buffer {
  const raw = f.raw;
  if (raw === null || f.notices !== null || stale) return Buffer.from(scanAnswer(f, va, nowSec, stale, lagSec), 'utf8');
  const head = HEAD[f.color];
  const tail = va.tail;
  const ns = f.nameStart;
  const nl = f.nameEnd - ns;
  const out = Buffer.allocUnsafe(head.length + nl + tail.length);
  out.set(head, 0);
  let p = head.length;
  for (let i = 0; i < nl; i++) out[p + i] = raw[ns + i]!;
  p += nl;
  out.set(tail, p);
  return out;
}

/** The answer as text (the general case of scanAnswerBytes). */
export function scanAnswer(f: ScanFields, va: VenueAnswer, nowSec: number, stale: boolean, lagSec: number | null): string {
  const name = f.raw === null ? f.name : f.raw.toString('utf8', f.nameStart, f.nameEnd);
  let out = `{"color":"${f.color}","name":${JSON.stringify(name)}${va.mid}`;
  let sep = '';
  if (f.notices !== null) {
    for (const n of activeNotices(f.notices, nowSec)) {
      out += sep + JSON.stringify(n);
      sep = ',';
    }
  }
  if (va.notices !== '') {
    out += sep + va.notices;
    sep = ',';
  }
  if (stale) out += sep + JSON.stringify(staleNotice(lagSec));
  return `${out}]}`;
}
