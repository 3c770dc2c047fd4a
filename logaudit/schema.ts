import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { shippedDir } from './data-path.js';
import { LogAuditError } from './errors.js';

/**
 * The normalised schema (schema/fields.yaml): ECS field names and their
 * types. A normalised event is a flat object keyed by the dotted ECS name
 * ("source.ip": "10.0.0.1") — flat is what the store, the search and the
 * Sigma rules address, and it serialises without nesting cost.
 */
export type FieldType = 'keyword' | 'text' | 'long' | 'float' | 'ip' | 'date';
export interface FieldDef { readonly name: string; readonly type: FieldType; readonly zh: string }
export type LogEvent = Record<string, string | number | string[]>;

let cached: ReadonlyMap<string, FieldDef> | null = null;

export function loadSchema(dir = shippedDir('schema')): ReadonlyMap<string, FieldDef> {
  if (cached && dir === shippedDir('schema')) return cached;
  const doc = yaml.load(readFileSync(join(dir, 'fields.yaml'), 'utf8')) as { fields?: FieldDef[] };
  const m = new Map<string, FieldDef>();
  for (const f of doc.fields ?? []) {
    if (!/^[@a-z_][a-z0-9_.@]*$/.test(f.name) || !['keyword', 'text', 'long', 'float', 'ip', 'date'].includes(f.type)) {
      throw new LogAuditError('LOG_ERR_DECODER', `schema field ${JSON.stringify(f.name)}`);
    }
    if (m.has(f.name)) throw new LogAuditError('LOG_ERR_DECODER', `schema field ${f.name} twice`);
    m.set(f.name, f);
  }
  cached = m;
  return m;
}

/** Converts a decoded string to the field's type; a non-number for a numeric field is dropped (returns undefined). */
export function coerce(def: FieldDef, v: string): string | number | undefined {
  if (def.type === 'long' || def.type === 'float') {
    if (v === '' || v === '-') return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  if (def.type === 'ip') {
    // "[::1]" and "10.0.0.1%eth0" as devices write them → the bare address
    let s = v;
    if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
    const pct = s.indexOf('%');
    if (pct > 0) s = s.slice(0, pct);
    return s.startsWith('::ffff:') && s.includes('.') ? s.slice(7) : s;
  }
  return v;
}
