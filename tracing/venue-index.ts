import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { SqlClient } from '../master/sql-client.js';
import { TracingError } from './errors.js';
import { normaliseName } from './venue-text.js';
import { VenuePostings } from './venue-postings.js';
import { VenueTextTable } from './venue-text-table.js';

/**
 * In-memory fuzzy index over the master's `venues` names (精准找人).
 *
 * Why in memory and not pg_trgm: the master's PostgreSQL may not have the
 * extension (migrations.ts says so), PGlite has none, and a bigram posting
 * list of 1M short names is ~60 MB in this process while answering in a few
 * milliseconds; pinyin initials and traditional→simplified need JavaScript
 * (pinyin-pro, opencc-js) anyway. Above `maxVenues`
 * (TRACING_INDEX_MAX_VENUES, ~0.25 KB a venue, venue-postings.ts) the same grams are
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

const MAX_QUERY = 100;
/**
 * keyset page: PGlite runs a query on this thread (~15 µs a row measured at
 * 200k venues), so a 20k-row page held the event loop ~0.5 s; 1k rows ≈ 15 ms
 */
const PAGE = 1_000;
/** names put between two yields to the event loop while building (~5 ms of work) */
const SLICE_MASK = 255;
/** re-read this much before the cursor: a transaction that started earlier may commit later with an older updated_at */
const CURSOR_SLACK_MS = 60_000;

export class VenueIndex {
  private readonly postings = new VenuePostings();
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
    return this.postings.size;
  }

  /** bytes of the index's typed arrays (off the JS heap) */
  get typedBytes(): number {
    return this.postings.typedBytes;
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
    // ~0.25 KB per venue (240 MB at 1M bench venues): past the limit the process would not hold it
    if (t.rows[0]!.n > (this.opts.maxVenues ?? Infinity)) {
      this.fallback = true;
      // the first sync of 5M venues takes a while; the table persists, so
      // later starts only catch up from its cursor
      await this.table.sync();
      this.lastRefresh = Date.now();
      return;
    }
    let last = '';
    // posting lists are built once at the end (count, allocate, fill), not name by name
    this.postings.beginBulk();
    try {
      for (;;) {
        const r = await this.db.query<{ id: string; name: string; region: string }>(
          'SELECT id, name, region FROM venues WHERE id > $1 ORDER BY id LIMIT $2', [last, PAGE],
        );
        // ~22 µs a name (normalising: pinyin, traditional→simplified): a page
        // of 20k in one go held the admin-api's event loop ~450 ms, so yield
        // every slice (the bench prints the longest stall of the build)
        for (let i = 0; i < r.rows.length; i++) {
          const v = r.rows[i]!;
          this.put(v.id, v.name, v.region);
          if ((i & SLICE_MASK) === SLICE_MASK) await yieldTurn();
        }
        if (r.rows.length < PAGE) break;
        last = r.rows[r.rows.length - 1]!.id;
      }
    } catch (err) {
      this.postings.endBulk();
      throw err;
    }
    for (const _ of this.postings.endBulkSteps()) await yieldTurn();
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
    return this.postings.put(id, normaliseName(name), region);
  }

  remove(id: string): void {
    this.postings.remove(id);
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
      // an array parameter: the primary-key look-up of ~25 ids (a jsonb_array_elements_text join cost PGlite ~10–20 ms a search)
      'SELECT id, name, region, kind FROM venues WHERE id = ANY($1::text[])',
      [ranked.map((x) => x.id)],
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

  /** The in-memory ranking (venue-postings.ts), without verification against the table. */
  rank(norm: string, regionPrefix: string, limit: number): { id: string; score: number }[] {
    return this.postings.rank(norm, regionPrefix, limit);
  }
}
