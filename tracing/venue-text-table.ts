import type { SqlClient } from '../master/sql-client.js';
import { nameGrams, normaliseName, queryGrams } from './venue-text.js';

/**
 * The fuzzy venue search in the database, for more venues than one process
 * may hold in memory (TRACING_INDEX_MAX_VENUES; the 5M venues).
 *
 * The same grams as the in-memory index (venue-text.ts: name bigrams and
 * '~' pinyin-initials bigrams, computed here in JavaScript because opencc and
 * pinyin-pro are JavaScript) are kept per venue in `tracing_venue_text.grams`
 * (text[]) under a GIN index, with each gram's document frequency in
 * `tracing_venue_gram_df` (migration 5). Plain GIN over an array is core
 * PostgreSQL: it works on PGlite and on a PostgreSQL without pg_trgm. pg_trgm
 * was the other candidate (PostgreSQL 15 here has it) but a trigram index
 * does not help the common case — a Chinese place name typed as two or three
 * characters (LIKE '%太古%' yields no trigram) — and it knows neither
 * traditional characters nor pinyin initials.
 *
 * A search is the in-memory index's tiers in SQL (a name missing at most 1.5,
 * then 3.5, then half of the query's weight): the query's grams by frequency,
 * rarest first; candidates are the names holding all of some k of the
 * rarest grams (any near match must — see `search`), intersected inside the GIN index, or,
 * for short queries where no such pair set exists, the names holding any of
 * the rarest grams a near match must hold one of (a common word like 广场 is
 * not looked up); they are scored by the weight of the query grams they hold,
 * best first, then the shorter name.
 * Names are verified against `venues` in the same statement (current name,
 * region, kind; a deleted venue never shows).
 *
 * Kept current from venues.updated_at (the index of migration 1), page by
 * page, each page in its own transaction under an advisory lock (two admin
 * processes never count a gram twice: the second re-reads and finds it done).
 * A deleted venue's row stays (the join to venues drops it from answers).
 */
const SYNC_LOCK = 0x7472_6376; // 'trcv'
const PAGE = 5_000;
/** a transaction that started earlier may commit later with an older updated_at */
const SLACK_MS = 60_000;
/** a gram in more names than this is never a seed when a rarer one exists (as COMMON in venue-index.ts) */
const COMMON = 50_000;
/** at most this many candidates are scored for one tier (a query made only of very common words) */
const MAX_CANDIDATES = 20_000;
/** gram subsets are looked for among this many of the rarest grams */
const MAX_PAIR_GRAMS = 6;
/** and at most this many subsets are ORed in one statement */
const MAX_SUBSETS = 20;

export interface TextHit {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly kind: 'normal' | 'entry';
  readonly score: number;
}

export class VenueTextTable {
  constructor(
    /** where the rows are read (the read replica when there is one) */
    private readonly read: SqlClient,
    /** where they are written: the primary */
    private readonly write: SqlClient,
  ) {}

  /** Brings the table up to date with venues; returns the venues (re-)indexed. */
  async sync(): Promise<number> {
    // start a little before the newest row indexed: a transaction that began
    // earlier may have committed since with an older updated_at (re-reading
    // those is cheap: unchanged grams write nothing but the row)
    const c = await this.write.query<{ at: string | null }>(`SELECT (max(venue_updated_at) - interval '${SLACK_MS / 1000} seconds')::text AS at FROM tracing_venue_text`);
    // keyset on (updated_at, id), the time as text: a Date would drop the
    // microseconds, and a bulk load gives thousands of venues one updated_at
    let key: [string, string] | null = c.rows[0]?.at == null ? null : [c.rows[0]!.at, ''];
    let n = 0;
    for (;;) {
      const from = key;
      const page = await this.write.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(${SYNC_LOCK})`);
        const r = await tx.query<{ id: string; name: string; at: string }>(
          from === null
            ? `SELECT id, name, updated_at::text AS at FROM venues ORDER BY updated_at, id LIMIT ${PAGE}`
            : `SELECT id, name, updated_at::text AS at FROM venues WHERE (updated_at, id) > ($1::timestamptz, $2)
                ORDER BY updated_at, id LIMIT ${PAGE}`,
          from === null ? [] : from,
        );
        if (r.rows.length === 0) return { read: 0, changed: 0, last: null };
        const old = await tx.query<{ venue_id: string; grams: string[]; at: string }>(
          'SELECT venue_id, grams, venue_updated_at::text AS at FROM tracing_venue_text WHERE venue_id IN (SELECT jsonb_array_elements_text($1::jsonb))',
          [JSON.stringify(r.rows.map((x) => x.id))],
        );
        const before = new Map(old.rows.map((x) => [x.venue_id, x]));
        // a venue whose updated_at is the one indexed is skipped before any
        // normalising (the slack re-reads a minute of venues every sync)
        const rows = r.rows.filter((v) => before.get(v.id)?.at !== v.at).map((v) => {
          const norm = normaliseName(v.name);
          return { id: v.id, grams: nameGrams(norm), len: [...norm].length, at: v.at };
        });
        const df = new Map<string, number>();
        const changed = rows.filter((x) => {
          const was = before.get(x.id)?.grams;
          if (was !== undefined && sameSet(was, x.grams)) return false;
          for (const g of was ?? []) df.set(g, (df.get(g) ?? 0) - 1);
          for (const g of x.grams) df.set(g, (df.get(g) ?? 0) + 1);
          return true;
        });
        if (rows.length > 0) {
          await tx.query(
            `INSERT INTO tracing_venue_text (venue_id, grams, norm_len, venue_updated_at)
             SELECT x.id, ARRAY(SELECT jsonb_array_elements_text(x.grams)), x.len, x.at::timestamptz
               FROM jsonb_to_recordset($1::jsonb) AS x(id text, grams jsonb, len int, at text)
             ON CONFLICT (venue_id) DO UPDATE SET grams = EXCLUDED.grams, norm_len = EXCLUDED.norm_len, venue_updated_at = EXCLUDED.venue_updated_at`,
            [JSON.stringify(rows)],
          );
        }
        await this.addDf(tx, df);
        const last = r.rows[r.rows.length - 1]!;
        return { read: r.rows.length, changed: changed.length, last: [last.at, last.id] as [string, string] };
      });
      n += page.changed;
      if (page.read < PAGE || page.last === null) return n;
      key = page.last;
    }
  }

  private async addDf(tx: SqlClient, df: Map<string, number>): Promise<void> {
    const delta = [...df].filter(([, d]) => d !== 0);
    if (delta.length === 0) return;
    await tx.query(
      `INSERT INTO tracing_venue_gram_df (gram, n) SELECT x.g, x.d FROM jsonb_to_recordset($1::jsonb) AS x(g text, d bigint)
       ON CONFLICT (gram) DO UPDATE SET n = tracing_venue_gram_df.n + EXCLUDED.n`,
      [JSON.stringify(delta.map(([g, d]) => ({ g, d })))],
    );
  }

  /**
   * Venues whose names best match a normalised text of two or more
   * characters, best first (the caller handles one character and bad input).
   */
  async search(norm: string, regionPrefix: string, limit: number): Promise<TextHit[]> {
    const q = queryGrams(norm);
    const grams = [...q.grams.keys()];
    const df = await this.read.query<{ gram: string; n: string }>('SELECT gram, n FROM tracing_venue_gram_df WHERE gram = ANY($1::text[])', [grams]);
    const nOf = new Map(df.rows.map((x) => [x.gram, Number(x.n)]));
    const lists = grams.map((g) => ({ g, w: q.grams.get(g)!, n: nOf.get(g) ?? 0 })).sort((a, b) => a.n - b.n);
    // As in memory, a tier answers when it yields enough close names — except
    // that the last tier (half the weight: many names share a common word) is
    // asked only when the first two found none: in memory it costs little, here
    // it reads thousands of rows (≈1 s of the 1M-venue bench's p99)
    const enough = Math.min(limit, 10);
    let out: TextHit[] = [];
    // the tiers of venue-index.ts: a name missing at most 1.5, then 3.5, then half of the weight
    for (const min of [q.total - 1.5, q.total - 3.5, q.total * 0.5]) {
      const m = Math.max(min, q.total * 0.5) - 1e-9;
      const held = lists.filter((l) => l.n > 0);
      // Sets of grams first: among the rarest grams S, any near match holds at
      // least k of them when total − w(S) + (the k − 1 largest weights of S) < m
      // (holding fewer, it cannot reach m); then every near match holds all
      // grams of some k-subset of S, and GIN intersects those posting lists
      // in the index (grams @> '{a,b,c}'), so only a handful of rows are read.
      // The largest such k (most selective) wins, at most MAX_SUBSETS subsets.
      // A union of single grams (below) reads every name holding any of them.
      let pairs: string[][] | null = null;
      let bestK = 1;
      for (let size = 2; size <= Math.min(MAX_PAIR_GRAMS, held.length); size++) {
        const set = held.slice(0, size);
        const w = set.reduce((x, l) => x + l.w, 0);
        const desc = set.map((l) => l.w).sort((x, y) => y - x);
        for (let k = size; k > bestK; k--) {
          const top = desc.slice(0, k - 1).reduce((x, y) => x + y, 0);
          if (q.total - w + top < m && choose(size, k) <= MAX_SUBSETS) {
            bestK = k;
            pairs = subsets(set.map((l) => l.g), k);
            break;
          }
        }
      }
      let anyOf: string[][] = pairs ?? [];
      if (pairs === null) {
        // seeds: rarest first, while the grams left could still make up `m` —
        // a name holding none of the seeds cannot reach it
        let left = q.total;
        for (const l of lists) {
          if (left < m) break;
          if (l.n > 0 && (l.n <= COMMON || anyOf.length === 0)) anyOf.push([l.g]);
          left -= l.w;
        }
      }
      if (anyOf.length > 0) out = await this.score(anyOf, q.grams, regionPrefix, m, limit);
      if (out.length >= enough || min <= q.total * 0.5) break;
      if (out.length > 0 && min === q.total - 3.5) break;
    }
    return out.map((h) => ({ ...h, score: Math.round(Math.min(1, h.score / q.total) * 1000) / 1000 }));
  }

  /** Names holding every gram of at least one of `anyOf`, scored, verified, best first. */
  private async score(anyOf: string[][], weights: ReadonlyMap<string, number>, prefix: string, min: number, limit: number): Promise<TextHit[]> {
    const params: unknown[] = [[...weights.keys()], [...weights.values()], min, prefix, limit];
    const holds = anyOf.map((gs) => {
      params.push(gs);
      return `grams @> $${params.length}::text[]`;
    });
    const r = await this.read.query<{ id: string; name: string; region: string; kind: 'normal' | 'entry'; score: number }>(
      `WITH c AS (SELECT venue_id, grams, norm_len FROM tracing_venue_text WHERE ${holds.join(' OR ')} LIMIT ${MAX_CANDIDATES}),
            s AS (SELECT c.venue_id, c.norm_len,
                         (SELECT sum(q.w) FROM unnest($1::text[], $2::float8[]) AS q(g, w) WHERE q.g = ANY(c.grams)) AS score
                    FROM c)
       SELECT v.id, v.name, v.region, v.kind, s.score::float8 AS score
         FROM s JOIN venues v ON v.id = s.venue_id
        WHERE s.score >= $3 AND v.region LIKE $4 || '%'
        ORDER BY s.score DESC, s.norm_len, v.id LIMIT $5`,
      params,
    );
    return r.rows.map((x) => ({ ...x, score: Number(x.score) }));
  }
}

function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
}

/** The k-element subsets of xs, in order. */
function subsets(xs: readonly string[], k: number): string[][] {
  if (k === 0) return [[]];
  const out: string[][] = [];
  for (let i = 0; i + k <= xs.length; i++) for (const rest of subsets(xs.slice(i + 1), k - 1)) out.push([xs[i]!, ...rest]);
  return out;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
