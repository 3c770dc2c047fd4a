import { isAscii } from 'node:buffer';
import iconv from 'iconv-lite';
import { decodedFields, type DecoderSet } from './decoders.js';
import type { LogEvent } from './schema.js';
import { FLAG, type RowBatch, type StoredRow } from './row-format.js';
import { parseSyslog, type SyslogRecord } from './syslog-parse.js';

/**
 * One received message → one normalised event (schema/fields.yaml names).
 * Bad input becomes a tagged, counted event rather than a lost one: invalid
 * UTF-8 is read as GB18030 (what Chinese gear sends when it is not UTF-8),
 * a claimed time too far from the receive time is kept aside and replaced.
 */
export interface RawMessage {
  readonly bytes: Buffer;
  /** sender address (IPv4 or IPv6, no port) */
  readonly from: string;
  readonly transport: 'udp' | 'tcp' | 'tls' | 'file' | 'snmp' | 'forward' | 'db';
  readonly receivedMs: number;
  readonly truncated?: boolean;
  /** collector id when it came through a collector; log file path for file intake */
  readonly via?: string;
  readonly spooled?: boolean;
}

export type Outcome = 'invalid_utf8' | 'forged_timestamp' | 'unparsed' | 'undecoded' | 'oversized';

export interface NormaliseOptions {
  readonly tzOffsetMin: number;
  readonly maxSkewMs: number;
}

const SEVERITY_NAMES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

// a batch mostly shares one receive time and many lines one claimed time: remember the last two conversions
let isoA = NaN, isoAs = '', isoB = NaN, isoBs = '';
function iso(ms: number): string {
  if (ms === isoA) return isoAs;
  if (ms === isoB) return isoBs;
  const s = new Date(ms).toISOString();
  isoB = isoA; isoBs = isoAs; isoA = ms; isoAs = s;
  return s;
}

export function decodeText(bytes: Buffer): { text: string; valid: boolean } {
  // fast path: pure ASCII needs no decoder (node:buffer isAscii is native/SIMD; the byte loop it replaces
  // was ~0.9 µs per event, ~3 % of the main thread in the bench's profile)
  if (isAscii(bytes)) return { text: bytes.toString('latin1'), valid: true };
  try {
    return { text: utf8.decode(bytes), valid: true };
  } catch {
    return { text: iconv.decode(bytes, 'gb18030'), valid: false };
  }
}

export function normalise(raw: RawMessage, decoders: DecoderSet, opts: NormaliseOptions, outcomes: (o: Outcome) => void): LogEvent {
  return normaliseRow(raw, decoders, opts, outcomes).event;
}

/**
 * Which header fields a caller reads. The engine's events go only to
 * correlation and the asset list, which read a handful of the ~20 header
 * fields (the rules' fields, sigma.ts `fieldsUsed`); the rest (two ISO
 * times, the syslog header names) are rebuilt on read from the stored row
 * anyway (`rebuildEvent`). Building them per event was ~⅓ of normalising
 * (normalise 19.8 → 8.2 µs per event in a one-thread run over the samples, CLOSING.md).
 */
export interface HeaderPlan {
  readonly timestamp: boolean;
  readonly ingested: boolean;
  readonly created: boolean;
  readonly hourCst: boolean;
  readonly original: boolean;
  readonly message: boolean;
  readonly syslog: boolean;
  readonly hostName: boolean;
  readonly labels: boolean;
  readonly vendor: boolean;
  readonly sequence: boolean;
  readonly tags: boolean;
  /**
   * the decoder fields the consumer reads (absent: all). Copying only those
   * (~5 of ~10 per event on the shipped samples) instead of Object.assign of
   * the whole fields object was 0.3 vs 0.8 µs per event in isolation and
   * makes the event smaller; the stored row keeps every field.
   */
  readonly fields?: ReadonlySet<string>;
}

const FULL: HeaderPlan = { timestamp: true, ingested: true, created: true, hourCst: true, original: true, message: true, syslog: true, hostName: true, labels: true, vendor: true, sequence: true, tags: true };

/** the plan for a consumer that reads `fields` (plus observer.ip and event.dataset, always set) */
export function headerPlan(fields: ReadonlySet<string>): HeaderPlan {
  const any = (...ks: string[]): boolean => ks.some((k) => fields.has(k));
  return {
    timestamp: any('@timestamp'), ingested: any('event.ingested'), created: any('event.created'), hourCst: any('labels.hour_cst'),
    original: any('event.original'), message: any('message'), hostName: any('host.name'),
    syslog: [...fields].some((f) => f.startsWith('log.syslog.')),
    labels: any('log.file.path', 'labels.collector', 'labels.spooled'), vendor: any('observer.vendor', 'observer.product', 'observer.type'),
    sequence: any('event.sequence'), tags: any('tags'), fields,
  };
}

/** the event plus its stored row (row-format.ts): the same decisions, kept compactly; `plan`: which header fields the event needs */
export function normaliseRow(raw: RawMessage, decoders: DecoderSet, opts: NormaliseOptions, outcomes: (o: Outcome) => void, plan: HeaderPlan = FULL): { event: LogEvent; row: StoredRow } {
  const ev = normaliseCore(raw, decoders, opts, outcomes, plan);
  const row: StoredRow = {
    atMs: last.atMs, receivedMs: raw.receivedMs, transport: raw.transport, flags: last.flags, from: raw.from, via: raw.via ?? '',
    dataset: ev['event.dataset'] as string, fields: last.vals === null ? null : decodedFields(last.vals, decoders.shapes[last.shape]!), bytes: raw.bytes,
  };
  last.vals = null;
  return { event: ev, row };
}

/**
 * Like normaliseRow, but the row goes straight into the store batch being
 * filled (row-format.ts RowBatch: bytes and typed columns, no row object);
 * the event's resolved time is `lastAtMs()` until the next call.
 */
export function normaliseInto(raw: RawMessage, decoders: DecoderSet, opts: NormaliseOptions, outcomes: (o: Outcome) => void, plan: HeaderPlan, batch: RowBatch): LogEvent {
  const ev = normaliseCore(raw, decoders, opts, outcomes, plan);
  const shape = last.shape;
  batch.add(last.atMs, raw.receivedMs, raw.transport, last.flags, raw.from, raw.via ?? '', ev['event.dataset'] as string, last.vals, shape, shape >= 0 ? decoders.shapes[shape]! : NO_KEYS, raw.bytes);
  last.vals = null;
  return ev;
}

/** the resolved event time of the last normaliseInto call */
export function lastAtMs(): number {
  return last.atMs;
}

/** what normaliseCore decided besides the event (one module-level record instead of a result object per event) */
const last: { atMs: number; flags: number; vals: unknown[] | null; shape: number } = { atMs: 0, flags: 0, vals: null, shape: -1 };
const NO_KEYS: readonly string[] = [];

function normaliseCore(raw: RawMessage, decoders: DecoderSet, opts: NormaliseOptions, outcomes: (o: Outcome) => void, plan: HeaderPlan): LogEvent {
  const { text, valid } = decodeText(raw.bytes);
  let flags = 0;
  if (!valid) { flags |= FLAG.invalid_utf8; outcomes('invalid_utf8'); }
  if (raw.truncated) { flags |= FLAG.truncated; outcomes('oversized'); }
  const rec = parseSyslog(text, raw.receivedMs, opts.tzOffsetMin);
  let at = raw.receivedMs;
  if (rec.timeMs !== null) {
    if (Math.abs(rec.timeMs - raw.receivedMs) > opts.maxSkewMs) {
      flags |= FLAG.forged_timestamp;
      outcomes('forged_timestamp');
    } else at = rec.timeMs;
  }
  if (rec.format === 'raw') { flags |= FLAG.unparsed; outcomes('unparsed'); }
  const d = decoders.decode(rec, text);
  if (d ? d.rule === null : rec.format !== 'raw') { flags |= FLAG.undecoded; outcomes('undecoded'); }
  if (raw.spooled) flags |= FLAG.spooled;
  const ev = headerEvent(raw, text, rec, at, flags, plan);
  let vals: unknown[] | null = null;
  if (d) {
    ev['event.dataset'] = d.family.dataset;
    if (plan.vendor) {
      ev['observer.vendor'] = d.family.vendor;
      ev['observer.product'] = d.family.product;
      ev['observer.type'] = d.family.observerType;
    }
    if (plan.fields === undefined) Object.assign(ev, decodedFields(d.vals, decoders.shapes[d.shape]!));
    else {
      const { names, slots } = neededKeys(decoders, plan)[d.shape]!;
      const v = d.vals;
      for (let k = 0; k < names.length; k++) { const x = v[slots[k]!]; if (x !== undefined) ev[names[k]!] = x as string | number | string[]; }
    }
    vals = d.vals;
  } else ev['event.dataset'] = 'unknown';
  if (plan.tags) addTags(ev, flags);
  last.atMs = at;
  last.flags = flags;
  last.vals = vals;
  last.shape = d ? d.shape : -1;
  return ev;
}

/** per decoder shape, the field names a plan's consumer reads and their slots in the decoded values (computed once per decoder set and plan) */
interface Needed { names: readonly string[]; slots: readonly number[] }
const needed = new WeakMap<DecoderSet, WeakMap<HeaderPlan, Needed[]>>();
function neededKeys(decoders: DecoderSet, plan: HeaderPlan): Needed[] {
  let byPlan = needed.get(decoders);
  if (!byPlan) { byPlan = new WeakMap(); needed.set(decoders, byPlan); }
  let ks = byPlan.get(plan);
  if (!ks) {
    const want = plan.fields!;
    ks = decoders.shapes.map((keys) => {
      const names = keys.filter((k) => want.has(k));
      return { names, slots: names.map((k) => keys.indexOf(k) + 1) };
    });
    byPlan.set(plan, ks);
  }
  return ks;
}

/** A stored row back to the event normalise() made from it (search, export). */
export function rebuildEvent(row: StoredRow, decoders: DecoderSet, opts: NormaliseOptions): LogEvent {
  const text = (row.flags & FLAG.invalid_utf8) !== 0 ? iconv.decode(row.bytes, 'gb18030') : row.bytes.toString('utf8');
  const rec = parseSyslog(text, row.receivedMs, opts.tzOffsetMin);
  const raw: RawMessage = { bytes: row.bytes, from: row.from, transport: row.transport, receivedMs: row.receivedMs, ...(row.via ? { via: row.via } : {}), spooled: (row.flags & FLAG.spooled) !== 0 };
  const ev = headerEvent(raw, text, rec, row.atMs, row.flags, FULL);
  ev['event.dataset'] = row.dataset;
  const fam = decoders.family(row.dataset);
  if (fam) {
    ev['observer.vendor'] = fam.vendor;
    ev['observer.product'] = fam.product;
    ev['observer.type'] = fam.observerType;
  }
  if (row.fields) for (const k in row.fields) ev[k] = row.fields[k]!;
  addTags(ev, row.flags);
  return ev;
}

function addTags(ev: LogEvent, flags: number): void {
  if (flags === 0 || flags === FLAG.spooled) return;
  const tags: string[] = [];
  if (flags & FLAG.invalid_utf8) tags.push('invalid_utf8');
  if (flags & FLAG.truncated) tags.push('truncated');
  if (flags & FLAG.forged_timestamp) tags.push('forged_timestamp');
  if (flags & FLAG.unparsed) tags.push('unparsed');
  if (flags & FLAG.undecoded) tags.push('undecoded');
  ev.tags = tags;
}

/** the fields that come from the syslog header and the receipt, not from a decoder (those `plan` asks for) */
function headerEvent(raw: RawMessage, text: string, rec: SyslogRecord, at: number, flags: number, plan: HeaderPlan): LogEvent {
  const ev: LogEvent = {};
  if (plan.created && flags & FLAG.forged_timestamp) {
    ev['event.created'] = rec.timeMs !== null && Number.isFinite(rec.timeMs) && Math.abs(rec.timeMs) < 8.64e15 ? iso(rec.timeMs) : 'invalid';
  }
  if (plan.timestamp) ev['@timestamp'] = iso(at);
  if (plan.ingested) ev['event.ingested'] = iso(raw.receivedMs);
  if (plan.hourCst) ev['labels.hour_cst'] = Math.floor(((at / 3_600_000) + 8) % 24);
  ev['observer.ip'] = raw.from;
  if (plan.original) ev['event.original'] = text;
  if (plan.message) ev.message = rec.msg;
  if (plan.syslog) {
    ev['log.syslog.version'] = rec.format;
    if (rec.facility !== null) ev['log.syslog.facility.code'] = rec.facility;
    if (rec.severity !== null) {
      ev['log.syslog.severity.code'] = rec.severity;
      ev['log.syslog.severity.name'] = SEVERITY_NAMES[rec.severity]!;
    }
  }
  if (rec.host !== null) {
    if (plan.hostName) ev['host.name'] = rec.host;
    if (plan.syslog) ev['log.syslog.hostname'] = rec.host;
  }
  if (plan.syslog) {
    if (rec.app !== null) ev['log.syslog.appname'] = rec.app;
    if (rec.procid !== null) ev['log.syslog.procid'] = rec.procid;
    if (rec.msgid !== null) ev['log.syslog.msgid'] = rec.msgid;
  }
  if (plan.labels) {
    if ((raw.transport === 'file' || raw.transport === 'db') && raw.via) ev['log.file.path'] = raw.via;
    if (raw.transport === 'forward' && raw.via) ev['labels.collector'] = raw.via;
    if (raw.spooled) ev['labels.spooled'] = 'true';
  }
  if (plan.sequence && rec.sd) {
    // RFC 5424 structured data our own services send (meta.sequenceId etc.) — kept searchable as labels-free text
    const id = rec.sd['meta.sequenceId'];
    if (id !== undefined) ev['event.sequence'] = Number(id);
  }
  return ev;
}
