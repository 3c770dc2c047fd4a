import iconv from 'iconv-lite';
import type { DecoderSet } from './decoders.js';
import type { LogEvent } from './schema.js';
import { parseSyslog } from './syslog-parse.js';

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
  // fast path: pure ASCII needs no decoder
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) { ascii = false; break; }
  if (ascii) return { text: bytes.toString('latin1'), valid: true };
  try {
    return { text: utf8.decode(bytes), valid: true };
  } catch {
    return { text: iconv.decode(bytes, 'gb18030'), valid: false };
  }
}

export function normalise(raw: RawMessage, decoders: DecoderSet, opts: NormaliseOptions, outcomes: (o: Outcome) => void): LogEvent {
  const { text, valid } = decodeText(raw.bytes);
  const tags: string[] = [];
  if (!valid) { tags.push('invalid_utf8'); outcomes('invalid_utf8'); }
  if (raw.truncated) { tags.push('truncated'); outcomes('oversized'); }
  const rec = parseSyslog(text, raw.receivedMs, opts.tzOffsetMin);
  const ev: LogEvent = {};
  let at = raw.receivedMs;
  if (rec.timeMs !== null) {
    if (Math.abs(rec.timeMs - raw.receivedMs) > opts.maxSkewMs) {
      tags.push('forged_timestamp');
      outcomes('forged_timestamp');
      ev['event.created'] = Number.isFinite(rec.timeMs) && Math.abs(rec.timeMs) < 8.64e15 ? iso(rec.timeMs) : 'invalid';
    } else at = rec.timeMs;
  }
  ev['@timestamp'] = iso(at);
  ev['event.ingested'] = iso(raw.receivedMs);
  ev['labels.hour_cst'] = Math.floor(((at / 3_600_000) + 8) % 24);
  ev['observer.ip'] = raw.from;
  ev['event.original'] = text;
  ev.message = rec.msg;
  ev['log.syslog.version'] = rec.format;
  if (rec.facility !== null) ev['log.syslog.facility.code'] = rec.facility;
  if (rec.severity !== null) {
    ev['log.syslog.severity.code'] = rec.severity;
    ev['log.syslog.severity.name'] = SEVERITY_NAMES[rec.severity]!;
  }
  if (rec.host !== null) { ev['host.name'] = rec.host; ev['log.syslog.hostname'] = rec.host; }
  if (rec.app !== null) ev['log.syslog.appname'] = rec.app;
  if (rec.procid !== null) ev['log.syslog.procid'] = rec.procid;
  if (rec.msgid !== null) ev['log.syslog.msgid'] = rec.msgid;
  if ((raw.transport === 'file' || raw.transport === 'db') && raw.via) ev['log.file.path'] = raw.via;
  if (raw.transport === 'forward' && raw.via) ev['labels.collector'] = raw.via;
  if (raw.spooled) ev['labels.spooled'] = 'true';
  if (rec.format === 'raw') { tags.push('unparsed'); outcomes('unparsed'); }
  const d = decoders.decode(rec, text);
  if (d) {
    ev['event.dataset'] = d.family.dataset;
    ev['observer.vendor'] = d.family.vendor;
    ev['observer.product'] = d.family.product;
    ev['observer.type'] = d.family.observerType;
    for (const k in d.fields) ev[k] = d.fields[k]!;
    if (d.rule === null) { tags.push('undecoded'); outcomes('undecoded'); }
  } else {
    ev['event.dataset'] = 'unknown';
    if (rec.format !== 'raw') { tags.push('undecoded'); outcomes('undecoded'); }
  }
  if (rec.sd) {
    // RFC 5424 structured data our own services send (meta.sequenceId etc.) — kept searchable as labels-free text
    const id = rec.sd['meta.sequenceId'];
    if (id !== undefined) ev['event.sequence'] = Number(id);
  }
  if (tags.length > 0) ev.tags = tags;
  return ev;
}
