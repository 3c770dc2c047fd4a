import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { shippedDir } from './data-path.js';
import { LogAuditError } from './errors.js';
import { coerce, loadSchema, type FieldDef, type LogEvent } from './schema.js';
import type { SyslogRecord } from './syslog-parse.js';

/**
 * Decoders as data: one YAML file per device family in decoders/ (the format
 * is described in decoders/README.md). Each file says which messages it
 * claims (by syslog program name, program prefix or a literal in the
 * message — a cheap test, so 200 device types do not mean 200 regexes per
 * line), its rules (a regex with named groups and/or key=value extraction,
 * mapped onto schema fields, plus constant fields), and the device types it
 * covers, each with sample lines and the fields they must decode to —
 * decoders.test.ts runs every sample.
 */
export interface DecoderSample { readonly line: string; readonly expect: Readonly<Record<string, string | number>> }
export interface DeviceType { readonly id: string; readonly name: string; readonly samples: readonly DecoderSample[] }
interface RuleSpec {
  name: string;
  on?: 'msg' | 'app' | 'line';
  when?: string;
  regex?: string;
  map?: Record<string, string>;
  kv?: { map: Record<string, string>; assign?: string };
  set?: Record<string, string | number>;
}
interface FamilySpec {
  family: string;
  vendor: string;
  product: string;
  observer_type: string;
  dataset: string;
  select: { app?: string[]; appPrefix?: string[]; contains?: string[] };
  set?: Record<string, string | number>;
  rules: RuleSpec[];
  types: DeviceType[];
}

interface CompiledRule {
  name: string;
  on: 'msg' | 'app' | 'line';
  when: string | null;
  /**
   * the rule's regex with its group names taken out (same groups, same
   * numbers): a regex with named groups makes V8 build a dictionary-mode
   * `groups` object on every match, read back by name per field
   * (CLOSING.md, session 2026-12-07 late, h3); null without a regex
   */
  re: RegExp | null;
  /** per named group: its capture number in `re`, its field and its slot in the values (1 + index in `keys`) */
  groups: { index: number; def: FieldDef; slot: number }[];
  /** kv key → field and slot */
  kv: Map<string, { def: FieldDef; slot: number }> | null;
  assign: string;
  /** the family's constant fields (kept when the message set them) and the rule's own (always set), by slot */
  base: [number, string | number][];
  set: [number, string | number][];
  /** every field the rule can set, in a fixed order: the store writes its fields as values in this order (row-format.ts) */
  keys: readonly string[];
  /** index of `keys` in DecoderSet.shapes (set when the set is built) */
  shape: number;
  /** a packed array of 1 + keys.length `undefined`s, copied per match (`slice` of a packed array stays packed) */
  blank: readonly unknown[];
}
export interface Family {
  readonly family: string;
  readonly vendor: string;
  readonly product: string;
  readonly observerType: string;
  readonly dataset: string;
  readonly types: readonly DeviceType[];
  readonly file: string;
  readonly rules: readonly CompiledRule[];
  readonly base: readonly [string, string | number][];
  /** the values of an undecoded message of this family (slot 0 free, then `base`'s values) */
  readonly baseVals: readonly unknown[];
  readonly contains: readonly string[];
  /** the shape of an undecoded message of this family (its constant fields only) */
  baseShape: number;
}

export interface Decoded {
  family: Family;
  rule: string | null;
  /**
   * the extracted fields as values in the shape's order: `vals[1 + i]` is
   * field `shapes[shape][i]` (undefined: absent); `vals[0]` is left free
   * for the caller (the row batch writes its batch-local shape number
   * there). No object keyed by field name per message: building one
   * (keyed stores in ~200 different key orders) and reading it back for
   * the store was ~10 % of the engine's thread (CLOSING.md, h3 section).
   */
  vals: unknown[];
  /** DecoderSet.shapes index: every key the values can hold, in a fixed order */
  shape: number;
}

/** decoded values (`Decoded.vals`) as an object: `keys` = the shape's field names (DecoderSet.shapes[shape]); absent values left out */
export function decodedFields(vals: readonly unknown[], keys: readonly string[]): LogEvent {
  const out: LogEvent = {};
  for (let i = 0; i < keys.length; i++) {
    const v = vals[i + 1];
    if (v !== undefined) out[keys[i]!] = v as string | number | string[];
  }
  return out;
}

/**
 * A regex source without its group names, and the capture number of each
 * named group (counted as the engine does: every unescaped `(` outside a
 * character class that is not `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!`).
 * Null when the source refers to a group by name (`\k<name>`), which only the
 * named form can express.
 */
export function unnameGroups(src: string): { source: string; index: Map<string, number> } | null {
  if (src.includes('\\k<')) return null;
  const index = new Map<string, number>();
  let out = '';
  let n = 0;
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') { out += c + (src[i + 1] ?? ''); i++; continue; }
    if (inClass) { if (c === ']') inClass = false; out += c; continue; }
    if (c === '[') { inClass = true; out += c; continue; }
    if (c === '(') {
      if (src[i + 1] !== '?') { n++; out += c; continue; }
      const named = /^\(\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(src.slice(i));
      if (named) { n++; index.set(named[1]!, n); out += '('; i += named[0].length - 1; continue; }
    }
    out += c;
  }
  return { source: out, index };
}

function bad(file: string, why: string): LogAuditError {
  return new LogAuditError('LOG_ERR_DECODER', `${file}: ${why}`);
}

function fieldOf(schema: ReadonlyMap<string, FieldDef>, file: string, name: string): FieldDef {
  const d = schema.get(name);
  if (!d) throw bad(file, `field ${name} is not in schema/fields.yaml`);
  return d;
}

function compileFamily(file: string, spec: FamilySpec, schema: ReadonlyMap<string, FieldDef>): Family {
  for (const k of ['family', 'vendor', 'product', 'observer_type', 'dataset'] as const) {
    if (typeof spec[k] !== 'string' || spec[k].length === 0) throw bad(file, `${k} missing`);
  }
  if (!spec.select || (!spec.select.app && !spec.select.appPrefix && !spec.select.contains)) throw bad(file, 'select needs app, appPrefix or contains');
  if (!Array.isArray(spec.rules) || spec.rules.length === 0) throw bad(file, 'no rules');
  if (!Array.isArray(spec.types) || spec.types.length === 0) throw bad(file, 'no types');
  const base = Object.entries(spec.set ?? {});
  for (const [f] of base) fieldOf(schema, file, f);
  const rules = spec.rules.map((r): CompiledRule => {
    let re: RegExp | null = null;
    const named: [string, FieldDef][] = [];
    let index: Map<string, number> | null = null;
    if (r.regex !== undefined) {
      const plain = unnameGroups(r.regex);
      if (!plain) throw bad(file, `rule ${r.name}: a back-reference by group name (\\k<…>) is not supported`);
      try { new RegExp(r.regex); re = new RegExp(plain.source); } catch (e) { throw bad(file, `rule ${r.name}: ${(e as Error).message}`); }
      index = plain.index;
      const names = [...r.regex.matchAll(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g)].map((m) => m[1]!);
      for (const g of names) {
        const target = r.map?.[g] ?? g.replace(/__/g, '.');
        named.push([g, fieldOf(schema, file, target)]);
      }
    }
    let kvDefs: [string, FieldDef][] = [];
    if (r.kv) kvDefs = Object.entries(r.kv.map).map(([k, f]) => [k, fieldOf(schema, file, f)]);
    if (!re && !r.kv) throw bad(file, `rule ${r.name}: needs regex or kv`);
    const set = Object.entries(r.set ?? {});
    for (const [f] of set) fieldOf(schema, file, f);
    const keys = [...new Set([...named.map(([, d]) => d.name), ...kvDefs.map(([, d]) => d.name), ...base.map(([k]) => k), ...set.map(([k]) => k)])];
    const slot = (name: string): number => keys.indexOf(name) + 1;
    const groups = named.map(([g, def]) => ({ index: index!.get(g)!, def, slot: slot(def.name) }));
    const kv = r.kv ? new Map(kvDefs.map(([k, def]) => [k, { def, slot: slot(def.name) }])) : null;
    const blank: unknown[] = [];
    for (let i = 0; i <= keys.length; i++) blank.push(undefined);
    return {
      name: r.name, on: r.on ?? 'msg', when: r.when ?? null, re, groups, kv, assign: r.kv?.assign ?? '=',
      base: base.map(([k, v]) => [slot(k), v]), set: set.map(([k, v]) => [slot(k), v]), keys, shape: -1, blank,
    };
  });
  for (const t of spec.types) {
    if (!/^[a-z0-9][a-z0-9-]{1,63}$/.test(t.id) || !t.name) throw bad(file, `type ${JSON.stringify(t.id)}`);
    if (!Array.isArray(t.samples) || t.samples.length === 0) throw bad(file, `type ${t.id} has no sample line`);
  }
  return {
    family: spec.family, vendor: spec.vendor, product: spec.product, observerType: spec.observer_type, dataset: spec.dataset,
    types: spec.types, file, rules, base, baseVals: [undefined, ...base.map(([, v]) => v)], contains: spec.select.contains ?? [], baseShape: -1,
  };
}

/** the separators before a key: `[\s,;(|]` as a char-code test (a regex per character was ~5 % of intake CPU) */
function isKeySep(c: number): boolean {
  return c === 32 || c === 44 || c === 59 || c === 40 || c === 124 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680
    || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** key=value pairs, values optionally "quoted" (Fortinet, Hillstone, Sangfor, Topsec, Palo Alto's kv mode, auditd) */
/** key=value pairs into `vals` by slot (the first value of a field wins); returns how many were set */
function kvPairs(s: string, assign: string, want: Map<string, { def: FieldDef; slot: number }>, vals: unknown[]): number {
  let got = 0;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const eq = s.indexOf(assign, i);
    if (eq < 0) break;
    // key: back from '=' to a separator
    let k0 = eq;
    while (k0 > i && !isKeySep(s.charCodeAt(k0 - 1))) k0--;
    const key = s.slice(k0, eq);
    let j = eq + assign.length;
    let val: string;
    if (s[j] === '"') {
      const close = s.indexOf('"', j + 1);
      val = close < 0 ? s.slice(j + 1) : s.slice(j + 1, close);
      j = close < 0 ? n : close + 1;
    } else {
      let e = j;
      for (let c = s.charCodeAt(e); e < n && c !== 32 && c !== 44 && c !== 59 && c !== 41; c = s.charCodeAt(++e));
      // the last value of a sentence-style message ("…, rule-name=deny-rdp.") loses the full stop
      val = e === n && s[e - 1] === '.' ? s.slice(j, e - 1) : s.slice(j, e);
      j = e;
    }
    const w = want.get(key);
    if (w !== undefined && vals[w.slot] === undefined) {
      const v = coerce(w.def, val);
      if (v !== undefined && v !== '') { vals[w.slot] = v; got++; }
    }
    i = j + 1;
  }
  return got;
}

export class DecoderSet {
  readonly families: readonly Family[];
  private readonly byApp = new Map<string, Family[]>();
  private readonly byPrefix: [string, Family][] = [];
  private readonly byContains: [string, Family][] = [];

  /**
   * field-name lists, one per decoder rule (and one per family for its
   * undecoded messages): a stored row's fields are written as a shape number
   * and the values in that order, not as an object with its keys (keys were half
   * the bytes of a batch before compression, and JSON of a values array is about
   * half the CPU of JSON of the object)
   */
  readonly shapes: (readonly string[])[] = [];

  constructor(families: Family[]) {
    this.families = families;
    for (const f of families) {
      for (const r of f.rules) { r.shape = this.shapes.length; this.shapes.push(r.keys); }
      f.baseShape = this.shapes.length;
      this.shapes.push(f.base.map(([k]) => k));
    }
  }

  static load(dir = shippedDir('decoders')): DecoderSet {
    const schema = loadSchema();
    const families: Family[] = [];
    const selects: FamilySpec['select'][] = [];
    const seenTypes = new Set<string>();
    for (const name of readdirSync(dir).filter((x) => x.endsWith('.yaml')).sort()) {
      let spec: FamilySpec;
      try { spec = yaml.load(readFileSync(join(dir, name), 'utf8')) as FamilySpec; } catch (e) { throw bad(name, (e as Error).message); }
      const fam = compileFamily(name, spec, schema);
      for (const t of fam.types) {
        if (seenTypes.has(t.id)) throw bad(name, `device type ${t.id} also in another file`);
        seenTypes.add(t.id);
      }
      families.push(fam);
      selects.push(spec.select);
    }
    const set = new DecoderSet(families);
    families.forEach((f, i) => {
      const s = selects[i]!;
      for (const a of s.app ?? []) {
        const l = set.byApp.get(a) ?? [];
        l.push(f);
        set.byApp.set(a, l);
      }
      for (const p of s.appPrefix ?? []) set.byPrefix.push([p, f]);
      for (const c of s.contains ?? []) set.byContains.push([c, f]);
    });
    return set;
  }

  private byDataset: Map<string, Family> | null = null;

  /** the family of a stored event's dataset (vendor, product, type are rebuilt from it on read) */
  family(dataset: string): Family | undefined {
    if (!this.byDataset) {
      this.byDataset = new Map();
      for (const f of this.families) if (!this.byDataset.has(f.dataset)) this.byDataset.set(f.dataset, f);
    }
    return this.byDataset.get(dataset);
  }

  get deviceTypeCount(): number {
    return this.families.reduce((n, f) => n + f.types.length, 0);
  }

  /** program name → the families it selects, found once per distinct name (capped: names are sender-chosen) */
  private readonly appCache = new Map<string, readonly Family[]>();

  private byProgram(app: string): readonly Family[] {
    let out = this.appCache.get(app);
    if (out !== undefined) return out;
    const l: Family[] = [...(this.byApp.get(app) ?? [])];
    for (const [p, f] of this.byPrefix) if (app.startsWith(p)) l.push(f);
    if (this.appCache.size >= 10_000) this.appCache.clear();
    this.appCache.set(app, l);
    out = l;
    return out;
  }

  /** The families that claim this record, most specific first. */
  private candidates(rec: SyslogRecord): readonly Family[] {
    if (rec.app !== null) {
      const l = this.byProgram(rec.app);
      if (l.length > 0) return l;
    }
    const out: Family[] = [];
    {
      const line = rec.msg;
      for (const [c, f] of this.byContains) if (line.includes(c) && !out.includes(f)) out.push(f);
    }
    return out;
  }

  decode(rec: SyslogRecord, original: string): Decoded | null {
    const cands = this.candidates(rec);
    for (const fam of cands) {
      for (const r of fam.rules) {
        const subject = r.on === 'msg' ? rec.msg : r.on === 'app' ? (rec.app ?? '') : original;
        if (r.when !== null && !subject.includes(r.when)) continue;
        let m: RegExpExecArray | null = null;
        if (r.re) {
          m = r.re.exec(subject);
          if (!m) continue;
        }
        const vals = r.blank.slice();
        let got = 0;
        if (m) {
          const gs = r.groups;
          for (let k = 0; k < gs.length; k++) {
            const g = gs[k]!;
            const v = m[g.index];
            if (v === undefined || v === '') continue;
            const c = coerce(g.def, v);
            if (c !== undefined) { vals[g.slot] = c; got++; }
          }
        }
        if (r.kv) got += kvPairs(subject, r.assign, r.kv, vals);
        if (!r.re && got === 0) continue;
        for (let k = 0; k < r.base.length; k++) { const b = r.base[k]!; if (vals[b[0]] === undefined) vals[b[0]] = b[1]; }
        for (let k = 0; k < r.set.length; k++) { const b = r.set[k]!; vals[b[0]] = b[1]; }
        return { family: fam, rule: r.name, vals, shape: r.shape };
      }
    }
    if (cands.length > 0) return { family: cands[0]!, rule: null, vals: cands[0]!.baseVals.slice(), shape: cands[0]!.baseShape };
    return null;
  }
}
