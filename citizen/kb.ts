import { createHash } from 'node:crypto';
import type { CapabilityHost } from '../admin-api/capability.js';
import type { SqlClient } from '../master/sql-client.js';
import { CitizenError } from './errors.js';
import { initials, normaliseText, terms } from './kb-text.js';
import { KB_CATEGORIES, KB_CATEGORY_ZH, KB_STATUS_ZH, type KbCategory, type KbVersionStatus } from './labels.js';
import { cleanText } from './text-input.js';

/**
 * 咨询知识库: articles kept in the back office, served published-only to the
 * citizen page (help section) and to hotline seats (search).
 *
 *   create / edit ─▶ draft ──submit──▶ review ──publish (another user)──▶ published
 *                      ▲                 │                                    │
 *                      └─────reject──────┘          new version published ───▶ superseded
 *                                                   withdraw ──▶ withdrawn (article offline)
 *
 * The search index (cit_kb_terms) holds the published versions only and is
 * rebuilt for an article in the transaction that publishes or withdraws it.
 */
export interface KbVersion {
  readonly version: number;
  readonly title: string;
  readonly body: string;
  readonly status: KbVersionStatus;
  readonly statusZh: string;
  readonly author: string;
  readonly reviewedBy: string | null;
  readonly createdAt: number;
  readonly publishedAt: number | null;
}

export interface KbArticle {
  readonly id: number;
  readonly category: KbCategory;
  readonly categoryZh: string;
  readonly publishedVersion: number | null;
  readonly updatedAt: number;
  /** the newest version (what editors work on) */
  readonly latest: KbVersion;
}

export interface PublishedArticle {
  readonly id: number;
  readonly category: KbCategory;
  readonly categoryZh: string;
  readonly version: number;
  readonly title: string;
  readonly body: string;
  readonly publishedAt: number;
}

export interface SearchHit extends PublishedArticle {
  readonly score: number;
  /** a line of the body around the first match, for the result list */
  readonly snippet: string;
}

interface VersionRow {
  article_id: string | number; version: number; title: string; body: string; status: KbVersionStatus; author: string;
  reviewed_by: string | null; created_ms: string | number; published_ms: string | number | null;
}

const V_COLS = `article_id, version, title, body, status, author, reviewed_by, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms,
  (extract(epoch FROM published_at) * 1000)::bigint AS published_ms`;

function toVersion(r: VersionRow): KbVersion {
  return {
    version: r.version, title: r.title, body: r.body, status: r.status, statusZh: KB_STATUS_ZH[r.status], author: r.author,
    reviewedBy: r.reviewed_by, createdAt: Number(r.created_ms), publishedAt: r.published_ms === null ? null : Number(r.published_ms),
  };
}

function category(v: unknown): KbCategory {
  if (typeof v !== 'string' || !(KB_CATEGORIES as readonly string[]).includes(v)) {
    throw new CitizenError('CIT_ERR_INVALID', `must be one of ${KB_CATEGORIES.join(', ')}`, 'category');
  }
  return v as KbCategory;
}

export class KnowledgeBase {
  constructor(private readonly host: CapabilityHost) {}

  private now(): Date {
    return new Date(this.host.nowMs());
  }

  async create(input: { category: unknown; title: unknown; body: unknown }, author: string): Promise<KbArticle> {
    const cat = category(input.category);
    const title = cleanText('title', input.title, 200);
    const body = cleanText('body', input.body, 20000);
    const now = this.now();
    const id = await this.host.db.transaction(async (tx) => {
      const r = await tx.query<{ id: string | number }>(
        'INSERT INTO cit_kb_articles (category, created_by, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id',
        [cat, author, now],
      );
      const aid = Number(r.rows[0]!.id);
      await tx.query(
        "INSERT INTO cit_kb_versions (article_id, version, title, body, status, author, created_at) VALUES ($1, 1, $2, $3, 'draft', $4, $5)",
        [aid, title, body, author, now],
      );
      return aid;
    });
    return this.get(id);
  }

  /** A new draft version (the published one stays online until this one is published). */
  async edit(id: number, input: { category?: unknown; title: unknown; body: unknown }, author: string): Promise<KbArticle> {
    const title = cleanText('title', input.title, 200);
    const body = cleanText('body', input.body, 20000);
    const cat = input.category === undefined ? null : category(input.category);
    const now = this.now();
    await this.host.db.transaction(async (tx) => {
      const latest = await this.latestLocked(tx, id);
      if (latest.status === 'draft' || latest.status === 'review') {
        // one open draft at a time: editing it again replaces its text
        await tx.query("UPDATE cit_kb_versions SET title = $3, body = $4, status = 'draft', author = $5, created_at = $6 WHERE article_id = $1 AND version = $2",
          [id, latest.version, title, body, author, now]);
      } else {
        await tx.query(
          "INSERT INTO cit_kb_versions (article_id, version, title, body, status, author, created_at) VALUES ($1, $2, $3, $4, 'draft', $5, $6)",
          [id, latest.version + 1, title, body, author, now],
        );
      }
      await tx.query('UPDATE cit_kb_articles SET updated_at = $2, category = COALESCE($3, category) WHERE id = $1', [id, now, cat]);
    });
    return this.get(id);
  }

  private async latestLocked(tx: SqlClient, id: number): Promise<KbVersion> {
    const a = await tx.query('SELECT id FROM cit_kb_articles WHERE id = $1 FOR UPDATE', [id]);
    if (a.rows.length === 0) throw new CitizenError('CIT_ERR_KB_NOT_FOUND');
    const r = await tx.query<VersionRow>(`SELECT ${V_COLS} FROM cit_kb_versions WHERE article_id = $1 ORDER BY version DESC LIMIT 1`, [id]);
    return toVersion(r.rows[0]!);
  }

  /** submit (draft → review), reject (review → draft), publish (review → published, by another user), withdraw (offline). */
  async transition(id: number, action: 'submit' | 'reject' | 'publish' | 'withdraw', actor: string, sameTx: (tx: SqlClient, v: KbVersion) => Promise<void>): Promise<KbArticle> {
    const now = this.now();
    await this.host.db.transaction(async (tx) => {
      const v = await this.latestLocked(tx, id);
      const set = async (status: KbVersionStatus, extra = ''): Promise<void> => {
        await tx.query(`UPDATE cit_kb_versions SET status = $3${extra} WHERE article_id = $1 AND version = $2`, extra === '' ? [id, v.version, status] : [id, v.version, status, actor, now]);
      };
      if (action === 'submit') {
        if (v.status !== 'draft') throw new CitizenError('CIT_ERR_KB_STATE', `latest version is ${v.status}`);
        await set('review');
      } else if (action === 'reject') {
        if (v.status !== 'review') throw new CitizenError('CIT_ERR_KB_STATE', `latest version is ${v.status}`);
        await set('draft');
      } else if (action === 'publish') {
        if (v.status !== 'review') throw new CitizenError('CIT_ERR_KB_STATE', `latest version is ${v.status}`);
        if (v.author === actor) throw new CitizenError('CIT_ERR_KB_SAME_REVIEWER');
        await tx.query("UPDATE cit_kb_versions SET status = 'superseded' WHERE article_id = $1 AND status = 'published'", [id]);
        await set('published', ', reviewed_by = $4, published_at = $5');
        await tx.query('UPDATE cit_kb_articles SET published_version = $2, updated_at = $3, title_initials = $4 WHERE id = $1',
          [id, v.version, now, initials(v.title)]);
        await this.index(tx, id, v.title, v.body);
      } else {
        const pub = await tx.query('SELECT 1 FROM cit_kb_articles WHERE id = $1 AND published_version IS NOT NULL', [id]);
        if (pub.rows.length === 0) throw new CitizenError('CIT_ERR_KB_STATE', 'not published');
        await tx.query("UPDATE cit_kb_versions SET status = 'withdrawn' WHERE article_id = $1 AND status = 'published'", [id]);
        await tx.query("UPDATE cit_kb_articles SET published_version = NULL, updated_at = $2, title_initials = '' WHERE id = $1", [id, now]);
        await tx.query('DELETE FROM cit_kb_terms WHERE article_id = $1', [id]);
      }
      await sameTx(tx, v);
    });
    return this.get(id);
  }

  private async index(tx: SqlClient, id: number, title: string, body: string): Promise<void> {
    await tx.query('DELETE FROM cit_kb_terms WHERE article_id = $1', [id]);
    const w = new Map<string, number>();
    for (const t of terms(body)) w.set(t, 1);
    for (const t of terms(title)) w.set(t, 3);
    if (w.size === 0) return;
    await tx.query(
      `INSERT INTO cit_kb_terms (article_id, term, weight)
       SELECT $1, t, w FROM unnest($2::text[], $3::int[]) AS x(t, w)`,
      [id, [...w.keys()], [...w.values()]],
    );
  }

  async get(id: number): Promise<KbArticle & { versions: KbVersion[] }> {
    if (!Number.isSafeInteger(id) || id < 1) throw new CitizenError('CIT_ERR_KB_NOT_FOUND');
    const a = await this.host.db.query<{ id: string | number; category: KbCategory; published_version: number | null; updated_ms: string | number }>(
      'SELECT id, category, published_version, (extract(epoch FROM updated_at) * 1000)::bigint AS updated_ms FROM cit_kb_articles WHERE id = $1',
      [id],
    );
    if (a.rows.length === 0) throw new CitizenError('CIT_ERR_KB_NOT_FOUND');
    const vs = await this.host.db.query<VersionRow>(`SELECT ${V_COLS} FROM cit_kb_versions WHERE article_id = $1 ORDER BY version DESC`, [id]);
    const x = a.rows[0]!;
    const versions = vs.rows.map(toVersion);
    return {
      id: Number(x.id), category: x.category, categoryZh: KB_CATEGORY_ZH[x.category], publishedVersion: x.published_version,
      updatedAt: Number(x.updated_ms), latest: versions[0]!, versions,
    };
  }

  /** Editors' list: every article with its newest version. */
  async list(): Promise<KbArticle[]> {
    const r = await this.host.db.query<VersionRow & { category: KbCategory; published_version: number | null; updated_ms: string | number }>(
      `SELECT a.category, a.published_version, (extract(epoch FROM a.updated_at) * 1000)::bigint AS updated_ms,
              v.article_id, v.version, v.title, v.body, v.status, v.author, v.reviewed_by,
              (extract(epoch FROM v.created_at) * 1000)::bigint AS created_ms, (extract(epoch FROM v.published_at) * 1000)::bigint AS published_ms
         FROM cit_kb_articles a
         JOIN LATERAL (SELECT * FROM cit_kb_versions WHERE article_id = a.id ORDER BY version DESC LIMIT 1) v ON true
        ORDER BY a.category, a.id`,
    );
    return r.rows.map((x) => ({
      id: Number(x.article_id), category: x.category, categoryZh: KB_CATEGORY_ZH[x.category], publishedVersion: x.published_version,
      updatedAt: Number(x.updated_ms), latest: toVersion(x),
    }));
  }

  /** What the citizen page and the seats read: published versions only, by category (optionally only these ids). */
  async published(ids?: readonly number[]): Promise<PublishedArticle[]> {
    const r = await (this.host.readDb ?? this.host.db).query<VersionRow & { category: KbCategory }>(
      `SELECT a.category, v.article_id, v.version, v.title, v.body, v.status, v.author, v.reviewed_by,
              (extract(epoch FROM v.created_at) * 1000)::bigint AS created_ms, (extract(epoch FROM v.published_at) * 1000)::bigint AS published_ms
         FROM cit_kb_articles a JOIN cit_kb_versions v ON v.article_id = a.id AND v.version = a.published_version
        WHERE $1::bigint[] IS NULL OR a.id = ANY($1::bigint[])
        ORDER BY a.category, a.id`,
      [ids === undefined ? null : ids],
    );
    return r.rows.map((x) => ({
      id: Number(x.article_id), category: x.category, categoryZh: KB_CATEGORY_ZH[x.category], version: x.version, title: x.title,
      body: x.body, publishedAt: Number(x.published_ms),
    }));
  }

  /**
   * Ranked full-text search over the published versions: score = sum of the
   * weights of the query's terms an article holds; an article must hold at
   * least half of them (so a long question still finds the article that
   * answers most of it, and one shared bigram is not a hit). A query of
   * Latin letters also matches the pinyin initials of titles.
   */
  async search(q: unknown, limit = 20): Promise<SearchHit[]> {
    if (typeof q !== 'string') throw new CitizenError('CIT_ERR_INVALID', 'must be text', 'q');
    const query = q.trim().slice(0, 100);
    const qs = terms(query);
    const py = /^[a-z]{2,20}$/i.test(query) ? query.toLowerCase() : null;
    if (qs.length === 0 && py === null) return [];
    const need = Math.max(1, Math.ceil(qs.length / 2));
    const db = this.host.readDb ?? this.host.db;
    const r = await db.query<{ article_id: string | number; score: string | number }>(
      `SELECT article_id, sum(score) AS score FROM (
         SELECT article_id, sum(weight) AS score FROM cit_kb_terms WHERE term = ANY($1::text[])
          GROUP BY article_id HAVING count(*) >= $2
         UNION ALL
         SELECT id AS article_id, 5 AS score FROM cit_kb_articles WHERE $3::text IS NOT NULL AND published_version IS NOT NULL
            AND title_initials LIKE '%' || $3::text || '%'
       ) s GROUP BY article_id ORDER BY 2 DESC, 1 LIMIT $4`,
      [qs, need, py, limit],
    );
    if (r.rows.length === 0) return [];
    const all = new Map((await this.published(r.rows.map((x) => Number(x.article_id)))).map((a) => [a.id, a]));
    const hits: SearchHit[] = [];
    for (const x of r.rows) {
      const a = all.get(Number(x.article_id));
      if (a !== undefined) hits.push({ ...a, score: Number(x.score), snippet: snippet(a.body, qs) });
    }
    return hits;
  }

  /** A strong validator of the published set (ETag): any publish or withdrawal changes it. */
  static etagOf(list: readonly PublishedArticle[]): string {
    const h = createHash('sha256');
    for (const a of list) h.update(`${a.id}:${a.version}:${a.publishedAt}\n`);
    return `"kb-${h.digest('base64url').slice(0, 22)}"`;
  }
}

function snippet(body: string, qs: readonly string[]): string {
  const n = normaliseText(body);
  let at = -1;
  for (const t of qs) {
    const i = n.indexOf(t);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  const from = Math.max(0, at - 20);
  const s = [...body].slice(from, from + 80).join('').replace(/\s+/g, ' ');
  return (from > 0 ? '…' : '') + s + (body.length > from + 80 ? '…' : '');
}
