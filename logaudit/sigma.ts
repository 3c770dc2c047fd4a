import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { shippedDir } from './data-path.js';
import { LogAuditError } from './errors.js';
import { loadSchema, type LogEvent } from './schema.js';

/**
 * Correlation rules in Sigma's format (https://sigmahq.io, specification
 * v1): `detection` with named selections, the value modifiers contains /
 * startswith / endswith / re / all / cidr / gt / gte / lt / lte, `*` and `?`
 * wildcards, case-insensitive strings, and a `condition` with and / or /
 * not / parentheses / `1 of x*` / `all of them`, plus Sigma's aggregation
 * `| count() by field > N` and `| count(field) by field > N` (distinct
 * values) over `timeframe`. Field names are the normalised schema's (ECS).
 *
 * Each rule file may carry our own `tests:` section (positive and negative
 * events) — rules.test.ts runs every one — and `zh:` (the Chinese title
 * the alert shows). A rule is looked at only for events that can match it:
 * rules whose condition requires an `event.action` / `event.dataset` value
 * are indexed by it, so 100 rules do not mean 100 checks per event.
 */
export interface SigmaTests {
  positive?: { repeat?: number; events: LogEvent[] };
  negative?: { repeat?: number; events: LogEvent[] };
}
interface SigmaDoc {
  title: string;
  id: string;
  status?: string;
  description?: string;
  zh: string;
  logsource?: Record<string, string>;
  detection: Record<string, unknown> & { condition: string };
  timeframe?: string;
  level: 'informational' | 'low' | 'medium' | 'high' | 'critical';
  tags?: string[];
  tests?: SigmaTests;
}

type Matcher = (e: LogEvent) => boolean;
interface Agg { distinct: string | null; by: string[]; op: '>' | '>=' | '<' | '<=' | '=='; n: number }
export interface CompiledRule {
  readonly id: string;
  readonly title: string;
  readonly zh: string;
  readonly level: SigmaDoc['level'];
  readonly tags: readonly string[];
  readonly file: string;
  readonly windowMs: number;
  readonly agg: Agg | null;
  readonly match: Matcher;
  readonly index: ReadonlySet<string> | null;
  readonly tests: SigmaTests;
  /** every event field the rule looks at (selections, keywords → `message`, aggregation fields) */
  readonly fields: readonly string[];
}

export interface RuleHit {
  rule: CompiledRule;
  /** the group (the `by` fields' values joined) */
  group: string;
  count: number;
  firstMs: number;
  lastMs: number;
  /** receive time of the event that completed the hit (alert latency is measured from it) */
  triggerReceivedMs: number;
  sample: LogEvent;
}

function bad(file: string, why: string): LogAuditError {
  return new LogAuditError('LOG_ERR_RULE', `${file}: ${why}`);
}

export function parseTimeframe(s: string | undefined, file: string): number {
  if (s === undefined) return 0;
  const m = /^(\d+)([smhd])$/.exec(s);
  if (!m) throw bad(file, `timeframe ${s}`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function wildcard(v: string): RegExp {
  const src = v.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${src}$`, 'i');
}

function ipv4ToInt(ip: string): number | null {
  const p = ip.split('.');
  if (p.length !== 4) return null;
  let n = 0;
  for (const x of p) {
    const v = Number(x);
    if (!Number.isInteger(v) || v < 0 || v > 255 || x === '') return null;
    n = n * 256 + v;
  }
  return n;
}

function cidrMatcher(c: string, file: string): (v: string) => boolean {
  const [net, bitsS] = c.split('/');
  const bits = Number(bitsS);
  const base = ipv4ToInt(net ?? '');
  if (base === null || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    // IPv6 prefix: compare the textual prefix of the expanded form is overkill here; a literal prefix up to '::' is enough for rules
    if (net && net.includes(':')) return (v) => v.toLowerCase().startsWith(net.toLowerCase().replace(/::$/, ':'));
    throw bad(file, `cidr ${c}`);
  }
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (v) => {
    const n = ipv4ToInt(v);
    return n !== null && ((n & mask) >>> 0) === ((base & mask) >>> 0);
  };
}

/**
 * Lower-cased value, remembered for the last string: a selection's values
 * are tested one after another against the same field value, and
 * lower-casing it again per value was a string allocation per test.
 */
let lowIn = '';
let lowOut = '';
function lower(v: string | number): string {
  if (typeof v !== 'string') return String(v).toLowerCase();
  if (v === lowIn) return lowOut;
  lowIn = v;
  lowOut = v.toLowerCase();
  return lowOut;
}

function valueMatcher(mods: string[], raw: unknown, file: string): (v: string | number) => boolean {
  const s = String(raw);
  const mod = mods.find((m) => m !== 'all' && m !== 'i') ?? '';
  switch (mod) {
    case '': {
      if (typeof raw === 'number') return (v) => Number(v) === raw;
      if (raw === null) return () => false;
      if (/[*?]/.test(s)) { const re = wildcard(s); return (v) => re.test(String(v)); }
      const lo = s.toLowerCase();
      // exact first (the usual case), then case-insensitively. Lower-casing can change a string's length
      // only by turning 'İ' into 'i' + a combining dot (not ASCII), so when the rule's value is ASCII a value
      // of another length cannot match and is not lower-cased at all: this test was the correlator's
      // biggest item (267 of ~1 600 ms in feed, bench profile, CLOSING.md h3), lower-casing a value per rule value
      if (/^[\x00-\x7f]*$/.test(lo)) {
        const n = lo.length;
        return (v) => v === s || (typeof v === 'string' ? v.length === n && lower(v) === lo : lower(v) === lo);
      }
      return (v) => v === s || lower(v) === lo;
    }
    case 'contains': { const lo = s.toLowerCase(); return (v) => lower(v).includes(lo); }
    case 'startswith': { const lo = s.toLowerCase(); return (v) => lower(v).startsWith(lo); }
    case 'endswith': { const lo = s.toLowerCase(); return (v) => lower(v).endsWith(lo); }
    case 're': {
      let re: RegExp;
      // Sigma rules carry PCRE's inline "(?i)"; JavaScript wants it as a flag (so does the re|i modifier)
      const ci = s.startsWith('(?i)') || mods.includes('i');
      try { re = new RegExp(ci && s.startsWith('(?i)') ? s.slice(4) : s, ci ? 'i' : ''); } catch (e) { throw bad(file, `re ${s}: ${(e as Error).message}`); }
      return (v) => re.test(String(v));
    }
    case 'cidr': { const m = cidrMatcher(s, file); return (v) => m(String(v)); }
    case 'gt': { const n = Number(raw); return (v) => Number(v) > n; }
    case 'gte': { const n = Number(raw); return (v) => Number(v) >= n; }
    case 'lt': { const n = Number(raw); return (v) => Number(v) < n; }
    case 'lte': { const n = Number(raw); return (v) => Number(v) <= n; }
    default: throw bad(file, `unknown modifier ${mod}`);
  }
}

/** a selection: a map (AND of fields) or a list of maps (OR), or a list of keywords (full text in message) */
function compileSelection(sel: unknown, file: string, fields: ReadonlySet<string>, keys: Map<string, Set<string>>, used: Set<string>): Matcher {
  if (Array.isArray(sel)) {
    if (sel.every((x) => typeof x === 'string' || typeof x === 'number')) {
      used.add('message');
      const los = sel.map((x) => String(x).toLowerCase());
      return (e) => { const m = String(e.message ?? '').toLowerCase(); return los.some((x) => m.includes(x)); };
    }
    const alts = sel.map((x) => compileSelection(x, file, fields, new Map(), used));
    return (e) => alts.some((a) => a(e));
  }
  if (sel === null || typeof sel !== 'object') throw bad(file, 'a selection must be a map or a list');
  const parts: Matcher[] = [];
  for (const [k, v] of Object.entries(sel as Record<string, unknown>)) {
    const [field, ...mods] = k.split('|');
    if (!fields.has(field!)) throw bad(file, `field ${field} is not in the schema`);
    used.add(field!);
    const values = Array.isArray(v) ? v : [v];
    const ms = values.map((x) => valueMatcher(mods, x, file));
    const all = mods.includes('all');
    const f = field!;
    if (mods.length === 0 && (f === 'event.action' || f === 'event.dataset') && values.every((x) => typeof x === 'string' && !/[*?]/.test(x))) {
      keys.set(f, new Set(values.map((x) => String(x).toLowerCase())));
    }
    const nullOk = values.includes(null);
    parts.push((e) => {
      const got = e[f];
      if (got === undefined) return nullOk;
      if (!Array.isArray(got)) {
        // one value (nearly always): plain loops, no array or closures per test
        if (all) { for (let i = 0; i < ms.length; i++) if (!ms[i]!(got)) return false; return true; }
        for (let i = 0; i < ms.length; i++) if (ms[i]!(got)) return true;
        return false;
      }
      return all ? ms.every((m) => got.some((g) => m(g))) : ms.some((m) => got.some((g) => m(g)));
    });
  }
  if (parts.length === 1) return parts[0]!;
  return (e) => { for (let i = 0; i < parts.length; i++) if (!parts[i]!(e)) return false; return true; };
}

interface Node { m: Matcher; keys: Set<string> | null }

/** condition grammar: or-expr := and-expr ('or' and-expr)*; and-expr := not-expr ('and' not-expr)*; not := 'not' not | atom */
function compileCondition(cond: string, sels: Map<string, Node>, file: string): Node {
  const toks = cond.match(/\(|\)|[A-Za-z0-9_*]+/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => toks[i];
  const pick = (pat: string): Node[] => {
    const re = pat === 'them' ? /.*/ : wildcard(pat);
    const l = [...sels.entries()].filter(([n]) => re.test(n)).map(([, n]) => n);
    if (l.length === 0) throw bad(file, `no selection matches ${pat}`);
    return l;
  };
  const union = (ns: Node[]): Set<string> | null => (ns.every((n) => n.keys) ? new Set(ns.flatMap((n) => [...n.keys!])) : null);
  const atom = (): Node => {
    const t = toks[i++];
    if (t === undefined) throw bad(file, `condition ends early: ${cond}`);
    if (t === '(') { const n = orExpr(); if (toks[i++] !== ')') throw bad(file, `unbalanced parentheses: ${cond}`); return n; }
    if (t === '1' || t === 'all') {
      if (toks[i++] !== 'of') throw bad(file, `expected "of": ${cond}`);
      const ns = pick(toks[i++] ?? '');
      if (t === '1') return { m: (e) => ns.some((n) => n.m(e)), keys: union(ns) };
      const ks = ns.find((n) => n.keys)?.keys ?? null;
      return { m: (e) => ns.every((n) => n.m(e)), keys: ks };
    }
    const n = sels.get(t);
    if (!n) throw bad(file, `unknown selection ${t}`);
    return n;
  };
  const notExpr = (): Node => {
    if (peek() === 'not') { i++; const n = notExpr(); return { m: (e) => !n.m(e), keys: null }; }
    return atom();
  };
  const andExpr = (): Node => {
    const ns = [notExpr()];
    while (peek() === 'and') { i++; ns.push(notExpr()); }
    if (ns.length === 1) return ns[0]!;
    return { m: (e) => ns.every((n) => n.m(e)), keys: ns.find((n) => n.keys)?.keys ?? null };
  };
  const orExpr = (): Node => {
    const ns = [andExpr()];
    while (peek() === 'or') { i++; ns.push(andExpr()); }
    if (ns.length === 1) return ns[0]!;
    return { m: (e) => ns.some((n) => n.m(e)), keys: union(ns) };
  };
  const n = orExpr();
  if (i !== toks.length) throw bad(file, `unexpected ${toks[i]} in condition: ${cond}`);
  return n;
}

export function compileRule(doc: SigmaDoc, file: string, fields: ReadonlySet<string>): CompiledRule {
  if (!doc || typeof doc.title !== 'string' || typeof doc.id !== 'string' || !doc.detection || typeof doc.detection.condition !== 'string') {
    throw bad(file, 'needs title, id, detection.condition');
  }
  if (typeof doc.zh !== 'string' || !/[\u4e00-\u9fff]/.test(doc.zh)) throw bad(file, `rule ${doc.id}: zh (Chinese title) missing`);
  if (!['informational', 'low', 'medium', 'high', 'critical'].includes(doc.level)) throw bad(file, `rule ${doc.id}: level ${doc.level}`);
  const sels = new Map<string, Node>();
  const used = new Set<string>();
  for (const [name, sel] of Object.entries(doc.detection)) {
    if (name === 'condition' || name === 'timeframe') continue;
    const keys = new Map<string, Set<string>>();
    const m = compileSelection(sel, file, fields, keys, used);
    const k = keys.get('event.action') ? [...keys.get('event.action')!].map((x) => `a:${x}`) : keys.get('event.dataset') ? [...keys.get('event.dataset')!].map((x) => `d:${x}`) : null;
    sels.set(name, { m, keys: k ? new Set(k) : null });
  }
  const [expr, aggText] = doc.detection.condition.split('|').map((x) => x.trim());
  const node = compileCondition(expr!, sels, file);
  let agg: Agg | null = null;
  if (aggText !== undefined) {
    const m = /^count\(\s*([A-Za-z0-9_.@]*)\s*\)(?:\s+by\s+([A-Za-z0-9_.@,\s]+?))?\s*(>=|<=|==|>|<)\s*(\d+)$/.exec(aggText);
    if (!m) throw bad(file, `rule ${doc.id}: aggregation ${aggText}`);
    const by = m[2] ? m[2].split(',').map((x) => x.trim()) : [];
    for (const f of [m[1], ...by]) if (f && !fields.has(f)) throw bad(file, `rule ${doc.id}: field ${f} is not in the schema`);
    agg = { distinct: m[1] || null, by, op: m[3] as Agg['op'], n: Number(m[4]) };
    for (const f of [m[1], ...by]) if (f) used.add(f);
  }
  const windowMs = parseTimeframe(doc.timeframe ?? (doc.detection.timeframe as string | undefined), file);
  if (agg && windowMs === 0) throw bad(file, `rule ${doc.id}: an aggregation needs a timeframe`);
  return {
    id: doc.id, title: doc.title, zh: doc.zh, level: doc.level, tags: doc.tags ?? [], file, windowMs, agg,
    match: node.m, index: node.keys, tests: doc.tests ?? {}, fields: [...used],
  };
}

export function loadRules(dir = shippedDir('rules')): CompiledRule[] {
  const fields = new Set(loadSchema().keys());
  const out: CompiledRule[] = [];
  const ids = new Set<string>();
  for (const name of readdirSync(dir).filter((x) => x.endsWith('.yml') || x.endsWith('.yaml')).sort()) {
    let docs: unknown[];
    try { docs = yaml.loadAll(readFileSync(join(dir, name), 'utf8')); } catch (e) { throw bad(name, (e as Error).message); }
    for (const d of docs) {
      if (d == null) continue;
      const r = compileRule(d as SigmaDoc, name, fields);
      if (ids.has(r.id)) throw bad(name, `rule id ${r.id} twice`);
      ids.add(r.id);
      out.push(r);
    }
  }
  return out;
}

function getOrAdd<K, V>(m: Map<K, Map<string, V>>, k: K): Map<string, V> {
  let x = m.get(k);
  if (x === undefined) { x = new Map(); m.set(k, x); }
  return x;
}

function opHolds(op: Agg['op'], a: number, b: number): boolean {
  return op === '>' ? a > b : op === '>=' ? a >= b : op === '<' ? a < b : op === '<=' ? a <= b : a === b;
}

/** the answer for the ~all events that hit nothing: no array per event (frozen: callers only read it) */
const NO_HITS = Object.freeze([]) as unknown as RuleHit[];
const CANDIDATE_CACHE_MAX = 10_000;

interface GroupState { times: number[]; head: number; distinct: Distinct | null; lastHitMs: number }

/**
 * count(field) state of one group: each value's last sighting, oldest first.
 * Was a Map kept in that order by delete + set per event, walked with an
 * iterator to drop expired values — the delete and the iterator were
 * aggregate's biggest lines (CLOSING.md h3). Here a sighting is appended to
 * a queue and the value's Map entry names its latest sighting; sightings a
 * later one of the same value replaced are skipped when they reach the front.
 * Same counts and first times as the ordered Map.
 */
export class Distinct {
  /** value → sequence number of its latest sighting */
  private readonly latest = new Map<string, number>();
  private vs: string[] = [];
  private ts: number[] = [];
  private ns: number[] = [];
  private head = 0;
  private seq = 0;

  get size(): number {
    return this.latest.size;
  }

  /** records `v` seen at `t`, forgets values last seen before `from` (oldest first, up to the first one still inside); returns the oldest remaining sighting's time */
  see(v: string, t: number, from: number): number {
    const n = ++this.seq;
    this.latest.set(v, n);
    this.vs.push(v);
    this.ts.push(t);
    this.ns.push(n);
    for (;;) {
      const h = this.head;
      const fv = this.vs[h]!;
      if (this.latest.get(fv) !== this.ns[h]) { this.head = h + 1; continue; } // replaced by a later sighting
      if (this.ts[h]! >= from) break;
      this.latest.delete(fv);
      this.head = h + 1;
    }
    // replaced sightings behind a live front are kept until it expires: rebuild when they outnumber the live ones
    if (this.vs.length - this.head > 2 * this.latest.size + 1024) this.compact();
    return this.ts[this.head]!;
  }

  /** time of the latest sighting (-Infinity when empty) */
  lastTime(): number {
    return this.latest.size > 0 ? this.ts[this.ts.length - 1]! : -Infinity;
  }

  clear(): void {
    this.latest.clear();
    this.vs = [];
    this.ts = [];
    this.ns = [];
    this.head = 0;
  }

  private compact(): void {
    const vs: string[] = [];
    const ts: number[] = [];
    const ns: number[] = [];
    for (let i = this.head; i < this.vs.length; i++) {
      if (this.latest.get(this.vs[i]!) !== this.ns[i]) continue;
      vs.push(this.vs[i]!);
      ts.push(this.ts[i]!);
      ns.push(this.ns[i]!);
    }
    this.vs = vs;
    this.ts = ts;
    this.ns = ns;
    this.head = 0;
  }
}

/**
 * Streaming evaluation. Window state per (rule, group) holds the matching
 * events' times (and, for count(field), the last time each distinct value was
 * seen); a group that hits is reset and stays quiet for one window, so a
 * continuing attack raises one alert per window, not one per event.
 */
export class Correlator {
  private readonly byKey = new Map<string, CompiledRule[]>();
  private readonly always: CompiledRule[] = [];
  /**
   * window state per rule, then per group; maps keyed by the field values
   * themselves (strings cut from the message hash once), not by one joined
   * `rule\0group` string per matching event, which had to be built and hashed
   * each time (aggregate was ~10 % of the main thread in the bench's profile)
   */
  private readonly state = new Map<CompiledRule, Map<string, GroupState>>();
  matched = 0;
  hits = 0;
  /** single-event rules: rule → device → source → account → last intake time */
  private readonly lastSingle = new Map<CompiledRule, Map<string, Map<string, Map<string, number>>>>();
  /** quiet time of a single-event rule for the same device/source/account */
  singleQuietMs = 60_000;

  constructor(readonly rules: readonly CompiledRule[]) {
    for (const r of rules) {
      if (!r.index) { this.always.push(r); continue; }
      for (const k of r.index) {
        const l = this.byKey.get(k) ?? [];
        l.push(r);
        this.byKey.set(k, l);
      }
    }
  }

  /**
   * The rules an (event.action, event.dataset) pair can meet, merged and
   * de-duplicated once per distinct pair instead of two lower-cased key
   * lookups, a `includes` de-dup and three list walks per event (a stream has
   * a few hundred distinct pairs; the cache is cleared if hostile input grows
   * it past `CANDIDATE_CACHE_MAX`).
   */
  private readonly candidateCache = new Map<string, Map<string, readonly CompiledRule[]>>();
  private candidateCount = 0;

  candidatesFor(a: unknown, d: unknown): readonly CompiledRule[] {
    const as = typeof a === 'string' ? a : '';
    const ds = typeof d === 'string' ? d : '';
    // dataset first: it is one of the decoders' constant strings (hash already computed), then the action
    let byAction = this.candidateCache.get(ds);
    if (byAction === undefined) { byAction = new Map(); this.candidateCache.set(ds, byAction); }
    let l = byAction.get(as);
    if (l !== undefined) return l;
    const la = typeof a === 'string' ? this.byKey.get(`a:${a.toLowerCase()}`) : undefined;
    const ld = typeof d === 'string' ? this.byKey.get(`d:${d.toLowerCase()}`) : undefined;
    const out: CompiledRule[] = [];
    // same order as before: action-indexed, then dataset-indexed, then the unindexed ones
    for (const list of [la, ld, this.always]) if (list) for (const r of list) if (!out.includes(r)) out.push(r);
    if (++this.candidateCount > CANDIDATE_CACHE_MAX) { this.candidateCache.clear(); this.candidateCount = 0; }
    l = out;
    byAction.set(as, l);
    return l;
  }

  /** every field some rule looks at (the engine builds correlation events with these only) */
  get fieldsUsed(): ReadonlySet<string> {
    // the quiet key of single-event rules (aggregate) reads these of every matching event
    const s = new Set<string>(['observer.ip', 'source.ip', 'user.name']);
    for (const r of this.rules) for (const f of r.fields) s.add(f);
    return s;
  }

  /** `atMs`: the event's time when the caller has it as a number already (else @timestamp is parsed) */
  feed(e: LogEvent, receivedMs: number, atMs?: number): RuleHit[] {
    const list = this.candidatesFor(e['event.action'], e['event.dataset']);
    if (list.length === 0) return NO_HITS;
    let out: RuleHit[] | null = null;
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!;
      if (!r.match(e)) continue;
      this.matched++;
      const h = this.aggregate(r, e, receivedMs, atMs ?? Date.parse(e['@timestamp'] as string));
      if (h) (out ??= []).push(h);
    }
    return out ?? NO_HITS;
  }

  private aggregate(r: CompiledRule, e: LogEvent, receivedMs: number, t: number): RuleHit | null {
    if (!r.agg) {
      // a single-event rule alerts once per device, source and account a minute of intake, not once per
      // matching line; intake time, not the line's claimed time: lines of one device arrive with clocks
      // hours apart (or none) and out of order, and a replayed old file is one burst, not a day of alerts
      const byDevice = getOrAdd(this.lastSingle, r);
      const bySource = getOrAdd(byDevice, String(e['observer.ip'] ?? ''));
      const byUser = getOrAdd(bySource, String(e['source.ip'] ?? ''));
      const u = String(e['user.name'] ?? '');
      const last = byUser.get(u);
      if (last !== undefined && Math.abs(receivedMs - last) < this.singleQuietMs) return null;
      byUser.set(u, receivedMs);
      this.hits++;
      return { rule: r, group: '', count: 1, firstMs: t, lastMs: t, triggerReceivedMs: receivedMs, sample: e };
    }
    const by = r.agg.by;
    let group = by.length > 0 ? String(e[by[0]!] ?? '') : '';
    for (let i = 1; i < by.length; i++) group += '|' + String(e[by[i]!] ?? '');
    const groups = getOrAdd(this.state, r);
    let st = groups.get(group);
    if (!st) { st = { times: [], head: 0, distinct: r.agg.distinct ? new Distinct() : null, lastHitMs: -Infinity }; groups.set(group, st); }
    const from = t - r.windowMs;
    let count: number;
    let first: number;
    if (st.distinct) {
      const v = e[r.agg.distinct!];
      if (v === undefined) return null;
      // values expire oldest sighting first (Distinct)
      const sv = String(v);
      first = st.distinct.see(sv, t, from);
      count = st.distinct.size;
    } else {
      st.times.push(t);
      while (st.head < st.times.length && st.times[st.head]! < from) st.head++;
      if (st.head > 1024 && st.head * 2 > st.times.length) { st.times = st.times.slice(st.head); st.head = 0; }
      count = st.times.length - st.head;
      first = st.times[st.head]!;
    }
    if (!opHolds(r.agg.op, count, r.agg.n) || t - st.lastHitMs < r.windowMs) return null;
    st.lastHitMs = t;
    st.times = [];
    st.head = 0;
    st.distinct?.clear();
    this.hits++;
    return { rule: r, group, count, firstMs: first, lastMs: t, triggerReceivedMs: receivedMs, sample: e };
  }

  /** drops window state older than the longest window (called from the engine's tick) */
  sweep(nowMs: number): void {
    for (const [r, byDevice] of this.lastSingle) {
      for (const [d, bySource] of byDevice) {
        for (const [s, byUser] of bySource) {
          for (const [u, t] of byUser) if (nowMs - t > this.singleQuietMs) byUser.delete(u);
          if (byUser.size === 0) bySource.delete(s);
        }
        if (bySource.size === 0) byDevice.delete(d);
      }
      if (byDevice.size === 0) this.lastSingle.delete(r);
    }
    for (const [r, groups] of this.state) {
      for (const [k, st] of groups) {
        const last = st.times.length > st.head ? st.times[st.times.length - 1]! : st.distinct ? st.distinct.lastTime() : -Infinity;
        if (nowMs - Math.max(last, st.lastHitMs) > 86_400_000) groups.delete(k);
      }
      if (groups.size === 0) this.state.delete(r);
    }
  }
}

export function severityOf(level: CompiledRule['level']): 'info' | 'warning' | 'critical' {
  return level === 'critical' || level === 'high' ? 'critical' : level === 'medium' ? 'warning' : 'info';
}
