/**
 * Syslog header parsing: RFC 5424, RFC 3164 and the deviations devices
 * actually send. The message body is left to the decoders (decoders/*.yaml).
 *
 *   RFC 5424  <34>1 2024-01-05T10:00:00.123+08:00 host app 123 ID47 [sd@1 a="b"] msg
 *   RFC 3164  <34>Jan  5 10:00:00 host sshd[123]: msg
 *   deviations handled (seen from real gear):
 *     - a year after the day            Cisco IOS / Huawei: "Jan  5 2024 10:00:00"
 *     - ISO time in a 3164 header        rsyslog high-precision template
 *     - "2024-01-05 10:00:00"            Huawei, H3C, Hillstone, Sangfor, Topsec
 *     - ASA's "Jan 05 2024 10:00:00:" (colon after the time, often no host)
 *     - Cisco IOS "123: *Jan  5 10:00:00.123:" (sequence number, '*' unsynchronised clock)
 *     - no host (tag straight after the time), no tag, no PRI (file lines)
 *     - no header at all after PRI       Fortinet "date=… time=… devname=…"
 * A 3164 time has no zone: it is read in `tzOffsetMin` (China time by
 * default, where these devices are) and without a year it takes the year that
 * puts it closest to the receive time.
 */
export interface SyslogRecord {
  format: '5424' | '3164' | 'raw';
  facility: number | null;
  severity: number | null;
  /** claimed event time, unix ms, or null when the line has none */
  timeMs: number | null;
  host: string | null;
  app: string | null;
  procid: string | null;
  msgid: string | null;
  /** RFC 5424 structured data: "id.param" → value */
  sd: Record<string, string> | null;
  msg: string;
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

const RE_3164_TIME = /^\*?([A-Z][a-z]{2}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: ?(?:[A-Z]{3,4}|[+-]\d{2}:?\d{2}))?:? /;
const RE_ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})? /;
const RE_SEQ = /^\d{1,10}: (?=\*?[A-Z][a-z]{2} )/;
const RE_TAG = /^([A-Za-z0-9_.\/%@()\-]{1,64}?)(?:\[([^\]\s]{1,32})\])?: ?/;

function zoneMin(z: string | undefined, dflt: number): number {
  if (z === undefined) return dflt;
  if (z === 'Z') return 0;
  const sign = z[0] === '-' ? -1 : 1;
  const d = z.slice(1).replace(':', '');
  return sign * (Number(d.slice(0, 2)) * 60 + Number(d.slice(2, 4)));
}

function isoMs(m: RegExpExecArray, dfltTz: number): number {
  const frac = m[7] !== undefined ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const utc = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, frac);
  return utc - zoneMin(m[8], dfltTz) * 60_000;
}

// the local year of the receive time, remembered with the span it holds for (a Date per line was ~2 % of intake)
let yearFrom = 0, yearTo = -1, yearVal = 0;
function yearAt(localMs: number): number {
  if (localMs >= yearFrom && localMs < yearTo) return yearVal;
  yearVal = new Date(localMs).getUTCFullYear();
  yearFrom = Date.UTC(yearVal, 0, 1);
  yearTo = Date.UTC(yearVal + 1, 0, 1);
  return yearVal;
}

/** Reads one message. Never throws: what is not syslog is `format: 'raw'` with the whole text as `msg`. */
export function parseSyslog(line: string, nowMs: number, tzOffsetMin = 480): SyslogRecord {
  let s = line;
  // strip trailing newline/NUL (some senders terminate datagrams)
  while (s.length > 0 && (s.endsWith('\n') || s.endsWith('\r') || s.endsWith('\0'))) s = s.slice(0, -1);
  let facility: number | null = null;
  let severity: number | null = null;
  if (s.charCodeAt(0) === 60 /* < */) {
    const close = s.indexOf('>', 1);
    if (close > 1 && close <= 4) {
      const pri = Number(s.slice(1, close));
      if (Number.isInteger(pri) && pri >= 0 && pri <= 191) {
        facility = pri >> 3;
        severity = pri & 7;
        s = s.slice(close + 1);
      }
    }
  }
  // RFC 5424: VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
  if (facility !== null && s.startsWith('1 ')) {
    const r = parse5424(s.slice(2), facility, severity!, tzOffsetMin);
    if (r) return r;
  }
  const rec: SyslogRecord = { format: facility === null ? 'raw' : '3164', facility, severity, timeMs: null, host: null, app: null, procid: null, msgid: null, sd: null, msg: s };
  // Cisco IOS sequence number "000123: " before the time
  // (only tried when the text starts with a digit: the regex on every line was 2.5 % of the main thread in the bench's profile)
  const c0 = s.charCodeAt(0);
  if (c0 >= 48 && c0 <= 57) {
    const seq = RE_SEQ.exec(s);
    if (seq) s = s.slice(seq[0].length);
  }
  let m: RegExpExecArray | null;
  let timed = false;
  if ((m = RE_3164_TIME.exec(s)) !== null) {
    const mon = MONTHS[m[1]!];
    if (mon !== undefined) {
      const frac = m[7] !== undefined ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
      const at = (y: number): number => Date.UTC(y, mon, +m![2]!, +m![4]!, +m![5]!, +m![6]!, frac) - tzOffsetMin * 60_000;
      if (m[3] !== undefined) rec.timeMs = at(+m[3]);
      else {
        // no year: the one that lands closest to now (a Dec 31 line read on Jan 1 is last year's)
        const y = yearAt(nowMs + tzOffsetMin * 60_000);
        // (within 150 days of now, this year's is the closest: the others are > 215 days away)
        const t = at(y);
        rec.timeMs = Math.abs(t - nowMs) < 150 * 86_400_000 ? t : [y - 1, y, y + 1].map(at).reduce((a, b) => (Math.abs(b - nowMs) < Math.abs(a - nowMs) ? b : a));
      }
      s = s.slice(m[0].length);
      timed = true;
    }
  } else if ((m = RE_ISO_TIME.exec(s)) !== null) {
    rec.timeMs = isoMs(m, tzOffsetMin);
    s = s.slice(m[0].length);
    timed = true;
  }
  if (timed || facility !== null) {
    if (rec.format === 'raw' && timed) rec.format = '3164';
    // HOST: a token without ':' followed by a space, unless the token already is the tag ("sshd[1]:", "%ASA-6-1:")
    const sp = s.indexOf(' ');
    if (sp > 0) {
      const tok = s.slice(0, sp);
      if (!tok.endsWith(':') && !tok.includes('=') && !tok.startsWith('%') && !tok.includes('[') && timed) {
        rec.host = tok;
        s = s.slice(sp + 1);
        if (s.startsWith(': ')) s = s.slice(2); // ASA with device-id: "host : %ASA-4-106023: …"

      }
    }
    const t = RE_TAG.exec(s);
    if (t && !t[1]!.includes('=')) {
      rec.app = t[1]!;
      rec.procid = t[2] ?? null;
      s = s.slice(t[0].length);
    }
    rec.msg = s;
  }
  return rec;
}

function parse5424(s: string, facility: number, severity: number, tz: number): SyslogRecord | null {
  const parts: string[] = [];
  let i = 0;
  for (let k = 0; k < 5; k++) {
    const sp = s.indexOf(' ', i);
    if (sp < 0) return null;
    parts.push(s.slice(i, sp));
    i = sp + 1;
  }
  const [ts, host, app, procid, msgid] = parts as [string, string, string, string, string];
  let timeMs: number | null = null;
  if (ts !== '-') {
    const m = RE_ISO_TIME.exec(ts + ' ');
    if (!m) return null;
    timeMs = isoMs(m, tz);
  }
  let sd: Record<string, string> | null = null;
  if (s[i] === '-') i += 1;
  else if (s[i] === '[') {
    sd = {};
    while (s[i] === '[') {
      const idEnd = s.slice(i + 1).search(/[ \]]/);
      if (idEnd < 0) return null;
      const id = s.slice(i + 1, i + 1 + idEnd);
      i = i + 1 + idEnd;
      while (s[i] === ' ') {
        const eq = s.indexOf('="', i);
        if (eq < 0) return null;
        const name = s.slice(i + 1, eq);
        let j = eq + 2;
        let v = '';
        while (j < s.length && s[j] !== '"') {
          if (s[j] === '\\' && j + 1 < s.length) j++;
          v += s[j];
          j++;
        }
        if (j >= s.length) return null;
        sd[`${id}.${name}`] = v;
        i = j + 1;
      }
      if (s[i] !== ']') return null;
      i++;
    }
  } else return null;
  let msg = s.slice(i);
  if (msg.startsWith(' ')) msg = msg.slice(1);
  if (msg.startsWith('\uFEFF')) msg = msg.slice(1); // BOM marks UTF-8 MSG (RFC 5424 6.4)
  const nil = (x: string): string | null => (x === '-' ? null : x);
  return { format: '5424', facility, severity, timeMs, host: nil(host), app: nil(app), procid: nil(procid), msgid: nil(msgid), sd, msg };
}
