import { DecoderSet } from './decoders.js';
import { loadSchema } from './schema.js';
import { loadRules } from './sigma.js';

/**
 * What the system ships, counted from the data files themselves (decoders/,
 * rules/, schema/fields.yaml) — the numbers of GET /admin/v1/logaudit/catalog.
 */
export interface Catalog {
  deviceTypes: number;
  rules: number;
  fields: number;
  families: { family: string; vendor: string; product: string; dataset: string; types: { id: string; name: string }[] }[];
  ruleList: { id: string; zh: string; title: string; level: string; tags: readonly string[]; windowSeconds: number; aggregated: boolean }[];
  fieldList: { name: string; type: string; zh: string }[];
}

let cached: Catalog | null = null;

export function catalog(): Catalog {
  if (cached) return cached;
  const d = DecoderSet.load();
  const rules = loadRules();
  const schema = loadSchema();
  cached = {
    deviceTypes: d.deviceTypeCount,
    rules: rules.length,
    fields: schema.size,
    families: d.families.map((f) => ({ family: f.family, vendor: f.vendor, product: f.product, dataset: f.dataset, types: f.types.map((t) => ({ id: t.id, name: t.name })) })),
    ruleList: rules.map((r) => ({ id: r.id, zh: r.zh, title: r.title, level: r.level, tags: r.tags, windowSeconds: r.windowMs / 1000, aggregated: r.agg !== null })),
    fieldList: [...schema.values()].map((f) => ({ name: f.name, type: f.type, zh: f.zh })),
  };
  return cached;
}
