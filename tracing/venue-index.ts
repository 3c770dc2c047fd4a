import type { SqlClient } from '../master/sql-client.js';
import { TracingError } from './errors.js';
import { nameGrams, normaliseName, queryGrams } from './venue-text.js';
import { VenueTextTable } from './venue-text-table.js';

/**
 * In-memory fuzzy index over the master's `venues` names (精准找人).
 *
 * Why in memory and not pg_trgm: the master's PostgreSQL may not have the
 * extension (migrations.ts says so), PGlite has none, and a bigram posting
 * list of 1M short names is ~60 MB in this process while answering in a few
 * milliseconds; pinyin initials and traditional→simplified need JavaScript
 * (pinyin-pro, opencc-js) anyway. Above `maxVenues`
 * (TRACING_INDEX_MAX_VENUES, ~0.6 KB of heap a venue) the same grams are
 * kept in a table under a GIN index instead (venue-text-table.ts), and the
 * search runs there.
 *
 * Kept current without a full reload: `refresh()` reads venues whose
 * updated_at moved since the last read (an index on updated_at from this
 * capability's migration), re-indexing renamed ones; a search verifies its
 * hits against the table, so a deleted venue drops out at once (and is
 * tombstoned). Every entry is a slot: a rename tombstones the old slot and
 * appends a new one, so posting lists only ever grow by appending in slot
 * order (sorted, no rewrite).
 */
export interface VenueHit {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly kind: 'normal' | 'entry';
  /** 0 … 1: the share of the search text's grams the name holds */
  readonly score: number;
}

export interface SearchOptions {
  readonly regionPrefix?: string;
  readonly limit?: number;
}

interface Hit {
  readonly slot: number;
  readonly score: number;
  readonly len: number;
}

const MAX_QUERY = 100;
const COMMON = 20_000;
const PAGE = 20_000;
/** re-read this much before the cursor: a transaction that started earlier may commit later with an older updated_at */
const CURSOR_SLACK_MS = 60_000;

export class VenueIndex {
  private ids: string[] = [];
  private norms: string[] = [];
  private regions: string[] = [];
  private alive: boolean[] = [];
  private readonly slotOf = new Map<string, number>();
  private readonly postings = new Map<string, number[]>();
  private scores = new Float64Array(1024);
  private cursor: Date | null = null;
  private building: Promise<void> | null = null;
  private lastRefresh = 0;
  private refreshing: Promise<void> | null = null;

  /** too many venues for this process: the same fuzzy search over grams kept in the database (venue-text-table.ts) */
  private fallback = false;
  private readonly table: VenueTextTable;

  constructor(
    private readonly db: SqlClient,
    private readonly opts: { readonly refreshMs: number; readonly maxVenues?: number; /** the primary, when `db` is a read replica: the fallback's table is written there */ readonly writeDb?: SqlClient } = { refreshMs: 2000 },
  ) {
    this.table = new VenueTextTable(db, opts.writeDb ?? db);
  }

  /** 'memory' = the in-process index; 'sql' = over TRACING_INDEX_MAX_VENUES, the gram table in the database */
  get mode(): 'memory' | 'sql' {
    return this.fallback ? 'sql' : 'memory';
  }

  /** live entries */
  get size(): number {
    return this.slotOf.size;
  }

  /** Loads every venue once (keyset pages, no long transaction); later calls wait for the same load. */
  build(): Promise<void> {
    this.building ??= this.load().catch((err: unknown) => {
      this.building = null; // the next call tries again
      throw err;
    });
    return this.building;
  }

  private async load(): Promise<void> {
    const t = await this.db.query<{ t: Date; n: number }>('SELECT now() AS t, (SELECT count(*)::int FROM venues) AS n');
    const startedAt = t.rows[0]!.t;
    // ~0.6 KB of heap per venue: past the limit the process would not hold it
    if (t.rows[0]!.n > (this.opts.maxVenues ?? Infinity)) {
      this.fallback = true;
      // the first sync of 5M venues takes a while; the table persists, so
      // later starts only catch up from its cursor
      await this.table.sync();
      this.lastRefresh = Date.now();
      return;
    }
    let last = '';
    for (;;) {
      const r = await this.db.query<{ id: string; name: string; region: string }>(
        'SELECT id, name, region FROM venues WHERE id > $1 ORDER BY id LIMIT $2', [last, PAGE],
      );
      for (const v of r.rows) this.put(v.id, v.name, v.region);
      if (r.rows.length < PAGE) break;
      last = r.rows[r.rows.length - 1]!.id;
    }
    this.cursor = new Date(startedAt.getTime() - CURSOR_SLACK_MS);
    this.lastRefresh = Date.now();
  }

  /** Re-reads venues changed since the last read. */
  async refresh(): Promise<number> {
    await this.build();
    if (this.refreshing !== null) {
      await this.refreshing;
      return 0;
    }
    let n = 0;
    const run = async (): Promise<void> => {
      if (this.fallback) {
        n = await this.table.sync();
        this.lastRefresh = Date.now();
        return;
      }
      const t = await this.db.query<{ t: Date }>('SELECT now() AS t');
      const next = new Date(t.rows[0]!.t.getTime() - CURSOR_SLACK_MS);
      const r = await this.db.query<{ id: string; name: string; region: string }>(
        'SELECT id, name, region FROM venues WHERE updated_at >= $1', [this.cursor],
      );
      for (const v of r.rows) if (this.put(v.id, v.name, v.region)) n++;
      this.cursor = next;
      this.lastRefresh = Date.now();
    };
    this.refreshing = run().finally(() => {
      this.refreshing = null;
    });
    await this.refreshing;
    return n;
  }

  /** Adds or re-indexes one venue; returns whether anything changed. */
  put(id: string, name: string, region: string): boolean {
    const norm = normaliseName(name);
    const old = this.slotOf.get(id);
    if (old !== undefined) {
      if (this.norms[old] === norm) {
        this.regions[old] = region;
        return false;
      }
      this.alive[old] = false;
    }
    const slot = this.ids.length;
    this.ids.push(id);
    this.norms.push(norm);
    this.regions.push(region);
    this.alive.push(true);
    this.slotOf.set(id, slot);
    for (const g of nameGrams(norm)) {
      let list = this.postings.get(g);
      if (list === undefined) this.postings.set(g, (list = []));
      list.push(slot);
    }
    return true;
  }

  remove(id: string): void {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return;
    this.alive[slot] = false;
    this.slotOf.delete(id);
  }

  /**
   * Venues whose names best match the text, best first, verified against the
   * table (current name, region and kind; deleted ones dropped). Throws
   * TRC_ERR_QUERY_TOO_LONG / TRC_ERR_QUERY_EMPTY before any work.
   */
  async search(text: string, o: SearchOptions = {}): Promise<VenueHit[]> {
    if (text.length > MAX_QUERY) throw new TracingError('TRC_ERR_QUERY_TOO_LONG', `${text.length} characters, at most ${MAX_QUERY}`, 'q');
    const norm = normaliseName(text);
    if (norm === '') throw new TracingError('TRC_ERR_QUERY_EMPTY', undefined, 'q');
    await this.build();
    const limit = o.limit ?? 20;
    if (Date.now() - this.lastRefresh >= this.opts.refreshMs) await this.refresh();
    if (this.fallback) return this.searchTable(text, norm, o.regionPrefix ?? '', limit);
    const ranked = this.rank(norm, o.regionPrefix ?? '', limit + 5);
    if (ranked.length === 0) return [];
    const r = await this.db.query<{ id: string; name: string; region: string; kind: 'normal' | 'entry' }>(
      'SELECT id, name, region, kind FROM venues WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))',
      [JSON.stringify(ranked.map((x) => x.id))],
    );
    const byId = new Map(r.rows.map((v) => [v.id, v]));
    const out: VenueHit[] = [];
    for (const x of ranked) {
      const v = byId.get(x.id);
      if (v === undefined) {
        this.remove(x.id); // deleted since it was indexed
        continue;
      }
      if (!v.region.startsWith(o.regionPrefix ?? '')) continue;
      out.push({ id: v.id, name: v.name, region: v.region, kind: v.kind, score: Math.round(x.score * 1000) / 1000 });
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * The fallback: grams in the database (venue-text-table.ts); a one-character
   * text has no bigram, so it is a substring of the name (ILIKE, a scan).
   */
  private async searchTable(text: string, norm: string, prefix: string, limit: number): Promise<VenueHit[]> {
    if ([...norm].length === 1) return this.searchSubstring(text, norm, prefix, limit);
    const hits = await this.table.search(norm, prefix, limit);
    return hits;
  }

  private async searchSubstring(text: string, norm: string, prefix: string, limit: number): Promise<VenueHit[]> {
    const esc = (x: string): string => '%' + x.replace(/[\\%_]/g, (ch) => '\\' + ch) + '%';
    const r = await this.db.query<{ id: string; name: string; region: string; kind: 'normal' | 'entry' }>(
      `SELECT id, name, region, kind FROM venues
        WHERE (name ILIKE $1 ESCAPE '\\' OR name ILIKE $2 ESCAPE '\\') AND region LIKE $3 || '%'
        ORDER BY length(name), id LIMIT $4`,
      [esc(text.trim()), esc(norm), prefix, limit],
    );
    return r.rows.map((v) => ({ id: v.id, name: v.name, region: v.region, kind: v.kind, score: 1 }));
  }

  /** Candidate slots scored by the weighted share of the query's grams they hold. */
  rank(norm: string, regionPrefix: string, limit: number): { id: string; score: number }[] {
    const n = this.ids.length;
    if (this.scores.length < n) this.scores = new Float64Array(Math.max(n, this.scores.length * 2));
    let hits: Hit[];
    if ([...norm].length === 1) {
      // one character: no bigram to look up; a substring scan of the names (a few ms per million)
      const touched: number[] = [];
      for (let i = 0; i < n; i++) {
        if (this.alive[i] && this.norms[i]!.includes(norm)) {
          this.scores[i] = 1;
          touched.push(i);
        }
      }
      hits = this.collect(touched, 1, regionPrefix, 1);
    } else {
      const q = queryGrams(norm);
      const lists = [...q.grams].map(([g, w]) => ({ w, list: this.postings.get(g) ?? [] })).sort((a, b) => a.list.length - b.list.length);
      // Tiers, cheapest first: names missing at most 1.5 of the query's
      // weight (one wrong character: such a name holds one of the two or
      // three shortest lists), then 3.5 (two), then half. The first tier
      // that yields ENOUGH names (10, or `limit` if smaller) answers: an
      // officer picks from the close matches; weaker ones are searched for
      // only when there are not that many close ones.
      const enough = Math.min(limit, 10);
      hits = [];
      for (const min of [q.total - 1.5, q.total - 3.5, q.total * 0.5]) {
        const m = Math.max(min, q.total * 0.5);
        hits = this.collect(this.gather(lists, q.total, m), q.total, regionPrefix, m);
        if (hits.length >= enough || m === q.total * 0.5) break;
      }
    }
    return hits.slice(0, limit).map((h) => ({ id: this.ids[h.slot]!, score: h.score }));
  }

  /**
   * Scores (in this.scores) every name that can reach `min` of the weight.
   * Shortest posting lists first; once the lists left weigh less than
   * `min`, a name not seen yet cannot reach it, so the long lists (a common
   * word like '广场') only add to names already found: by binary search when
   * those are few, else by one pass over the list.
   */
  private gather(lists: readonly { w: number; list: readonly number[] }[], total: number, min: number): number[] {
    const scores = this.scores;
    const touched: number[] = [];
    let left = total;
    const need = min - 1e-9;
    for (const { w, list } of lists) {
      // a list longer than COMMON (a word in 2% of all names) brings no new
      // names once some were found: '营业厅' alone is no evidence of which
      // 营业厅 was meant (the one approximation: a name sharing only common
      // words with the query is not offered)
      if (left >= need && (list.length <= COMMON || touched.length === 0)) {
        for (const slot of list) {
          if (scores[slot] === 0) touched.push(slot);
          scores[slot] += w;
        }
      } else if (touched.length * Math.log2(list.length + 2) < list.length) {
        for (const slot of touched) if (has(list, slot)) scores[slot] += w;
      } else {
        for (const slot of list) if (scores[slot] !== 0) scores[slot] += w;
      }
      left -= w;
    }
    return touched;
  }

  /**
   * The gathered names at or above `min`, and within 1.5 of the best one (a
   * common word must not make us sort 100k candidates), best first; among
   * equals the shorter name (closer to what was asked). Resets the scores.
   */
  private collect(touched: readonly number[], total: number, regionPrefix: string, min: number): Hit[] {
    const scores = this.scores;
    let best = 0;
    for (const slot of touched) {
      const s = scores[slot]!;
      if (s > best && this.alive[slot] && this.regions[slot]!.startsWith(regionPrefix)) best = s;
    }
    const floor = Math.max(min, best - 1.5) - 1e-9;
    const hits: Hit[] = [];
    for (const slot of touched) {
      const s = scores[slot]!;
      scores[slot] = 0;
      if (s < floor || !this.alive[slot] || !this.regions[slot]!.startsWith(regionPrefix)) continue;
      hits.push({ slot, score: Math.min(1, s / total), len: this.norms[slot]!.length });
    }
    hits.sort((a, b) => b.score - a.score || a.len - b.len || a.slot - b.slot);
    return hits;
  }

}

/** Binary search in a posting list (slots ascending: appended in slot order). */
function has(list: readonly number[], slot: number): boolean {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = list[mid]!;
    if (v === slot) return true;
    if (v < slot) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
