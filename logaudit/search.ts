import { LogAuditError } from './errors.js';
import { loadSchema, type LogEvent } from './schema.js';
import { cstDay, type EventStore } from './store.js';

/**
 * Search over the retained store: a small query language an operator can
 * type and save —
 *
 *   source.ip:198.51.100.9 event.action:ssh-login-failed     fields (AND)
 *   user.name:adm*  destination.port:>1024  -event.outcome:success
 *   "password error"  登录失败                                    full text (message / original line)
 *
 * A term is `field:value` (value with `*` wildcards, or `>N`, `>=N`, `<N`,
 * `<=N` for numbers), a quoted phrase or a bare word (full text), and `-`
 * negates it. Days outside [from, to] are never opened; inside a day, batches
 * outside the range are skipped by the index.
 */
export interface Term { neg: boolean; field: string | null; test: (v: unknown) => boolean }
export interface SearchQuery { text: string; fromMs: number; toMs: number; limit: number }
export interface SearchResult { events: LogEvent[]; scanned: number; truncated: boolean; days: number }

function wildcard(v: string): RegExp {
  return new RegExp(`^${v.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
}

export function parseQuery(q: string): Term[] {
  const fields = loadSchema();
  const terms: Term[] = [];
  let i = 0;
  const s = q.trim();
  if (s.length > 1000) throw new LogAuditError('LOG_ERR_QUERY', 'at most 1000 characters', 'q');
  while (i < s.length) {
    while (s[i] === ' ') i++;
    if (i >= s.length) break;
    let neg = false;
    if (s[i] === '-') { neg = true; i++; }
    let tok: string;
    let quoted = false;
    if (s[i] === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) throw new LogAuditError('LOG_ERR_QUERY', 'unbalanced quote', 'q');
      tok = s.slice(i + 1, end);
      i = end + 1;
      quoted = true;
    } else {
      let end = i;
      // a field value may be quoted: user.name:"a b"
      while (end < s.length && s[end] !== ' ') {
        if (s[end] === '"') { const e2 = s.indexOf('"', end + 1); if (e2 < 0) throw new LogAuditError('LOG_ERR_QUERY', 'unbalanced quote', 'q'); end = e2 + 1; } else end++;
      }
      tok = s.slice(i, end);
      i = end;
    }
    const colon = quoted ? -1 : tok.indexOf(':');
    if (colon > 0 && /^[@a-z_][a-z0-9_.@]*$/.test(tok.slice(0, colon))) {
      const field = tok.slice(0, colon);
      if (!fields.has(field)) throw new LogAuditError('LOG_ERR_QUERY', `unknown field ${field}`, 'q');
      let v = tok.slice(colon + 1);
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
      if (v.length === 0) throw new LogAuditError('LOG_ERR_QUERY', `empty value for ${field}`, 'q');
      const cmp = /^(>=|<=|>|<)(-?\d+(?:\.\d+)?)$/.exec(v);
      let test: (x: unknown) => boolean;
      if (cmp) {
        const n = Number(cmp[2]);
        const op = cmp[1];
        test = (x) => { const k = Number(x); return Number.isFinite(k) && (op === '>' ? k > n : op === '>=' ? k >= n : op === '<' ? k < n : k <= n); };
      } else if (/[*?]/.test(v)) {
        const re = wildcard(v);
        test = (x) => re.test(String(x));
      } else {
        const lo = v.toLowerCase();
        test = (x) => String(x).toLowerCase() === lo;
      }
      terms.push({ neg, field, test });
    } else {
      if (tok.length === 0) continue;
      const lo = tok.toLowerCase();
      terms.push({ neg, field: null, test: (x) => String(x).toLowerCase().includes(lo) });
    }
  }
  return terms;
}

export function matches(e: LogEvent, terms: readonly Term[]): boolean {
  for (const t of terms) {
    let hit: boolean;
    if (t.field === null) hit = t.test(e['event.original'] ?? e.message ?? '') || (e.message !== undefined && t.test(e.message));
    else {
      const v = e[t.field];
      hit = v === undefined ? false : Array.isArray(v) ? v.some((x) => t.test(x)) : t.test(v);
    }
    if (hit === t.neg) return false;
  }
  return true;
}

export function search(store: EventStore, q: SearchQuery, maxSkewMs: number, retentionDays: number): SearchResult {
  if (!(q.fromMs <= q.toMs)) throw new LogAuditError('LOG_ERR_RANGE', 'from must not be after to', 'from');
  if (q.toMs - q.fromMs > (retentionDays + 1) * 86_400_000) throw new LogAuditError('LOG_ERR_RANGE', `at most ${retentionDays} days`, 'from');
  const terms = parseQuery(q.text);
  // partitions are by intake day: widen by the allowed clock skew
  const firstDay = cstDay(q.fromMs - maxSkewMs);
  const lastDay = cstDay(q.toMs + maxSkewMs);
  const days = store.days().filter((d) => d >= firstDay && d <= lastDay).reverse(); // newest first
  const out: LogEvent[] = [];
  let scanned = 0;
  let truncated = false;
  outer: for (const d of days) {
    const dayEvents: LogEvent[] = [];
    for (const e of store.read(d, q.fromMs, q.toMs)) {
      scanned++;
      const t = Date.parse(e['@timestamp'] as string);
      if (t < q.fromMs || t > q.toMs) continue;
      if (matches(e, terms)) dayEvents.push(e);
    }
    for (let k = dayEvents.length - 1; k >= 0; k--) {
      if (out.length >= q.limit) { truncated = true; break outer; }
      out.push(dayEvents[k]!);
    }
  }
  return { events: out, scanned, truncated, days: days.length };
}
