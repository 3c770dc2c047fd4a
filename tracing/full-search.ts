import type { SqlClient } from '../master/sql-client.js';
import { REGION_CODES, regionName } from '../core/regions.js';
import { TracingError } from './errors.js';

/**
 * Full search (全文检索) over what came in and went out: import batches of
 * the exchange capability (id, file name, dataset, department — only when
 * its tables exist in this deployment), facts lineage (source and the batch
 * part of source_ref), rule versions, risk areas (by code or Chinese
 * name) and venues. Substring matches (ILIKE, wildcards escaped), region
 * scoped, a page per kind. Counts only — never a person: results that
 * concern people are counts of facts/people per source and batch.
 *
 * The ILIKEs are sequential scans; fine for batches, rules and risk areas
 * (small tables), seconds over a 100M-row facts table — README "Left".
 */
export const SEARCH_KINDS = ['batches', 'lineage', 'rules', 'riskAreas', 'venues'] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];

export interface SearchHit {
  readonly kind: SearchKind;
  readonly id: string;
  readonly title: string;
  readonly detail: Record<string, unknown>;
}

export interface SearchPage {
  readonly kind: SearchKind;
  readonly hits: SearchHit[];
  readonly more: boolean;
}

const inScope = (col: string, p: string): string => `(${p} = '' OR ${col} LIKE ${p} || '%')`;

/** Text for ILIKE: trimmed, 1–100 characters, %, _ and \ escaped. */
export function searchPattern(q: string): { text: string; like: string } {
  const text = q.trim();
  if (text.length === 0 || [...text].length > 100) throw new TracingError('TRC_ERR_SEARCH_TEXT', 'need 1 to 100 characters', 'q');
  return { text, like: `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
}

export class FullSearch {
  constructor(private readonly db: SqlClient) {}

  async search(q: string, prefix: string, kinds: readonly SearchKind[], offset: number, limit: number): Promise<SearchPage[]> {
    const { text, like } = searchPattern(q);
    const pages: SearchPage[] = [];
    for (const kind of kinds) {
      const rows = await this.kind(kind, text, like, prefix, offset, limit + 1);
      pages.push({ kind, hits: rows.slice(0, limit), more: rows.length > limit });
    }
    return pages;
  }

  private async kind(kind: SearchKind, text: string, like: string, prefix: string, offset: number, n: number): Promise<SearchHit[]> {
    const sec = (d: Date | string | null): number | null => (d === null ? null : Math.floor(new Date(d).getTime() / 1000));
    switch (kind) {
      case 'batches': {
        // the exchange capability's table; absent where it is not deployed
        const exists = await this.db.query<{ t: string | null }>("SELECT to_regclass('exchange_batches')::text AS t");
        if (exists.rows[0]?.t == null) return [];
        const r = await this.db.query<{ id: string; file_name: string; dataset: string; department: string; region: string; status: string; accepted: number; rejected: number; created_by: string; created_at: Date }>(
          `SELECT id, file_name, dataset, department, region, status, accepted, rejected, created_by, created_at FROM exchange_batches
            WHERE (id ILIKE $1 OR file_name ILIKE $1 OR dataset ILIKE $1 OR department ILIKE $1) AND ${inScope('region', '$2')}
            ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`, [like, prefix, n, offset]);
        return r.rows.map((b) => ({
          kind, id: b.id, title: b.file_name,
          detail: { dataset: b.dataset, department: b.department, regionName: b.region === '' ? '全省' : regionName(b.region), status: b.status, accepted: b.accepted, rejected: b.rejected, createdBy: b.created_by, createdAt: sec(b.created_at) },
        }));
      }
      case 'lineage': {
        const r = await this.db.query<{ source: string; batch: string; facts: number; people: number; first: Date; last: Date }>(
          `SELECT f.source, COALESCE(NULLIF(split_part(f.source_ref, ':', 1), ''), '—') AS batch,
                  count(*)::int AS facts, count(DISTINCT f.person_id)::int AS people, min(f.created_at) AS first, max(f.created_at) AS last
             FROM facts f JOIN persons p ON p.id = f.person_id
            WHERE (f.source ILIKE $1 OR f.source_ref ILIKE $1) AND ${inScope('p.region', '$2')}
            GROUP BY 1, 2 ORDER BY max(f.created_at) DESC, 1, 2 LIMIT $3 OFFSET $4`, [like, prefix, n, offset]);
        return r.rows.map((x) => ({ kind, id: `${x.source}|${x.batch}`, title: x.batch, detail: { source: x.source, facts: x.facts, people: x.people, first: sec(x.first), last: sec(x.last) } }));
      }
      case 'rules': {
        const r = await this.db.query<{ version: string; status: string; created_by: string; created_at: Date; published_at: Date | null; active_from: Date }>(
          `SELECT version, status, created_by, created_at, published_at, active_from FROM rule_versions
            WHERE version ILIKE $1 OR rule_set::text ILIKE $1 ORDER BY created_at DESC, version LIMIT $2 OFFSET $3`, [like, n, offset]);
        return r.rows.map((x) => ({ kind, id: x.version, title: x.version, detail: { status: x.status, createdBy: x.created_by, createdAt: sec(x.created_at), publishedAt: sec(x.published_at), activeFrom: sec(x.active_from) } }));
      }
      case 'riskAreas': {
        // by code or by Chinese name: names live in core/regions, not in the table
        const named = REGION_CODES.filter((c) => regionName(c).includes(text) && (prefix === '' || c.startsWith(prefix))).slice(0, 500);
        const r = await this.db.query<{ region: string; level: string; since: Date }>(
          `SELECT region, level, since FROM risk_areas
            WHERE ((region LIKE $1 AND $1 <> '') OR region = ANY($2::text[])) AND ${inScope('region', '$3')}
            ORDER BY region LIMIT $4 OFFSET $5`, [/^[0-9]{1,12}$/.test(text) ? `${text}%` : '', named, prefix, n, offset]);
        return r.rows.map((x) => ({ kind, id: x.region, title: regionName(x.region), detail: { level: x.level, since: sec(x.since) } }));
      }
      case 'venues': {
        const r = await this.db.query<{ id: string; name: string; region: string; kind: string }>(
          `SELECT id, name, region, kind FROM venues WHERE (name ILIKE $1 OR id ILIKE $1) AND ${inScope('region', '$2')}
            ORDER BY name, id LIMIT $3 OFFSET $4`, [like, prefix, n, offset]);
        return r.rows.map((x) => ({ kind, id: x.id, title: x.name, detail: { regionName: regionName(x.region), venueKind: x.kind } }));
      }
    }
  }
}
