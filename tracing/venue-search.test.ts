import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { tracingCapability } from './capability.js';
import { VenueIndex } from './venue-index.js';
import { VenueTextTable } from './venue-text-table.js';
import { initialsOf, normaliseName } from './venue-text.js';

/**
 * 精准找人 step 1: venue names as a case report gives them — partial,
 * misspelt, traditional, pinyin initials — found over the master's venues,
 * region-scoped, with bad input refused by code.
 */
let f: Fixture;
/** the same venues with TRACING_INDEX_MAX_VENUES below their count: the search runs on the gram table (venue-text-table.ts) */
let g: Fixture;
const V = [
  { id: 'v-chunxi', name: '春熙路太古里购物中心', region: '510104' },
  { id: 'v-wanda', name: '万达广场（锦江店）', region: '510104' },
  { id: 'v-kfc', name: 'KFC肯德基春熙路店', region: '510104' },
  { id: 'v-hotel', name: '泸州春秋酒店', region: '510502' },
  { id: 'v-market', name: '泸州万达广场', region: '510502' },
  { id: 'v-tea', name: '人民公园鹤鸣茶社', region: '510105' },
];

beforeAll(async () => {
  f = await startAdmin({ capabilities: [tracingCapability], capabilityEnv: { tracing: { TRACING_INDEX_REFRESH_MS: '0' } } });
  g = await startAdmin({ capabilities: [tracingCapability], capabilityEnv: { tracing: { TRACING_INDEX_REFRESH_MS: '0', TRACING_INDEX_MAX_VENUES: '2' } } });
  for (const x of [f, g]) for (const v of V) await x.store.upsertVenue({ ...v, kind: 'normal', entryTestHours: null });
});
afterAll(async () => {
  await f?.close();
  await g?.close();
});

const search = (x: Fixture, token: string, body: unknown) => x.call('POST', '/admin/v1/tracing/venues/search', { token, body });
const ids = (r: { body: { venues: { id: string }[] } }) => r.body.venues.map((v) => v.id);

describe('venue text', () => {
  it('normalises width, case, traditional characters and punctuation', () => {
    expect(normaliseName('萬達廣場（錦江店）')).toBe('万达广场锦江店');
    expect(normaliseName('ＫＦＣ 肯德基😀')).toBe('kfc肯德基');
    expect(initialsOf('春熙路kfc')).toBe('cxlkfc');
  });
});

describe.each([
  ['in memory', () => f],
  ['in the database (more venues than TRACING_INDEX_MAX_VENUES)', () => g],
] as const)('fuzzy venue search %s', (_mode, fx) => {
  it('finds a partial name', async () => {
    const r = await search(fx(), fx().tokens.operator, { q: '太古里' });
    expect(r.status).toBe(200);
    expect(ids(r)[0]).toBe('v-chunxi');
    expect(r.body.venues[0].regionName).toContain('锦江');
  });

  it('finds a misspelt name (one wrong character, a homophone)', async () => {
    expect(ids(await search(fx(), fx().tokens.operator, { q: '春熙路太古理购物' }))[0]).toBe('v-chunxi');
    expect(ids(await search(fx(), fx().tokens.operator, { q: '春西路太古里' }))[0]).toBe('v-chunxi');
  });

  it('finds a name written in traditional characters', async () => {
    const r = await search(fx(), fx().tokens.operator, { q: '萬達廣場' });
    expect(ids(r)).toEqual(expect.arrayContaining(['v-wanda', 'v-market']));
  });

  it('finds pinyin initials and Latin names', async () => {
    expect(ids(await search(fx(), fx().tokens.operator, { q: 'rmgy' }))[0]).toBe('v-tea');
    expect(ids(await search(fx(), fx().tokens.operator, { q: 'CXL' }))).toEqual(expect.arrayContaining(['v-chunxi', 'v-kfc']));
    expect(ids(await search(fx(), fx().tokens.operator, { q: 'kfc' }))[0]).toBe('v-kfc');
  });

  it('finds a single character', async () => {
    expect(ids(await search(fx(), fx().tokens.operator, { q: '鹤' }))).toEqual(['v-tea']);
  });

  it('sees venues added, renamed and removed since the index was built', async () => {
    await fx().store.upsertVenue({ id: 'v-new', name: '天府广场地铁站', region: '510105', kind: 'normal', entryTestHours: null });
    expect(ids(await search(fx(), fx().tokens.operator, { q: '天府广场' }))).toEqual(['v-new']);
    await fx().store.upsertVenue({ id: 'v-new', name: '天府国际机场', region: '510105', kind: 'normal', entryTestHours: null });
    expect(ids(await search(fx(), fx().tokens.operator, { q: '天府广场' }))).not.toContain('v-new');
    expect(ids(await search(fx(), fx().tokens.operator, { q: '国际机场' }))).toEqual(['v-new']);
    await fx().store.removeVenue('v-new');
    expect(ids(await search(fx(), fx().tokens.operator, { q: '国际机场' }))).toEqual([]);
  });

  it('a city officer sees only venues of their city, and a filter outside it is refused', async () => {
    const mine = await search(fx(), fx().tokens.city_officer, { q: '万达广场' });
    expect(ids(mine)).toEqual(['v-wanda']);
    const theirs = await search(fx(), fx().tokens.city_officer_b, { q: '万达广场' });
    expect(ids(theirs)).toEqual(['v-market']);
    const out = await search(fx(), fx().tokens.city_officer, { q: '万达', region: '5105' });
    expect(out.status).toBe(400);
    expect(out.body).toMatchObject({ error: 'TRC_ERR_REGION', field: 'region' });
    // a province-wide official narrows by city
    expect(ids(await search(fx(), fx().tokens.operator, { q: '万达广场', region: '5105' }))).toEqual(['v-market']);
  });

  it('refuses emoji-only, punctuation-only and 1 MB texts with coded errors', async () => {
    const emoji = await search(fx(), fx().tokens.operator, { q: '😀🎉🏥' });
    expect(emoji.status).toBe(400);
    expect(emoji.body).toMatchObject({ error: 'TRC_ERR_QUERY_EMPTY', field: 'q' });
    expect(emoji.body.zh).toMatch(/场所名称/);
    expect((await search(fx(), fx().tokens.operator, { q: '  ，。！' })).body.error).toBe('TRC_ERR_QUERY_EMPTY');
    const big = await search(fx(), fx().tokens.operator, { q: '春'.repeat(1024 * 1024) });
    expect(big.status).toBe(400);
    expect(big.body.error).toBe('TRC_ERR_QUERY_TOO_LONG');
    expect((await search(fx(), fx().tokens.operator, { q: 1 })).body.error).toBe('ADM_ERR_VALIDATION');
  });

  it('is closed to roles without tracing.read', async () => {
    expect((await search(fx(), fx().tokens.auditor, { q: '万达' })).status).toBe(403);
    expect((await search(fx(), fx().tokens.hotline, { q: '万达' })).status).toBe(403);
  });
});

describe('index without HTTP', () => {
  it('with more venues than it may hold, searches the gram table in the database, kept current', async () => {
    const idx = new VenueIndex(g.db, { refreshMs: 0, maxVenues: 2 });
    expect((await idx.search('春熙路太古理')).map((v) => v.id)[0]).toBe('v-chunxi'); // misspelt
    expect(idx.mode).toBe('sql');
    expect((await idx.search('ＫＦＣ')).map((v) => v.id)).toEqual(['v-kfc']);
    expect((await idx.search('萬達廣場', { regionPrefix: '5105' })).map((v) => v.id)).toEqual(['v-market']);
    expect((await idx.search('鹤')).map((v) => v.id)).toEqual(['v-tea']); // one character: a substring
    await expect(idx.search('😀')).rejects.toMatchObject({ code: 'TRC_ERR_QUERY_EMPTY' });
    // every venue has its grams, and each gram's count is the number of rows holding it
    const table = new VenueTextTable(g.db, g.db);
    expect(await table.sync()).toBe(0); // nothing changed since
    const counts = async () => (await g.db.query<{ bad: number; rows: number; venues: number }>(
      `SELECT (SELECT count(*)::int FROM tracing_venue_gram_df d
                WHERE d.n <> (SELECT count(*) FROM tracing_venue_text t WHERE d.gram = ANY(t.grams))) AS bad,
              (SELECT count(*)::int FROM tracing_venue_text) AS rows, (SELECT count(*)::int FROM venues) AS venues`)).rows[0]!;
    expect(await counts()).toMatchObject({ bad: 0 });
    // a rename moves the counts; two syncs at once count it once
    await g.store.upsertVenue({ id: 'v-tea', name: '人民公园鹤鸣茶馆', region: '510105', kind: 'normal', entryTestHours: null });
    await Promise.all([table.sync(), new VenueTextTable(g.db, g.db).sync()]);
    expect(await counts()).toMatchObject({ bad: 0 });
    const df = await g.db.query<{ gram: string; n: number }>("SELECT gram, n::int AS n FROM tracing_venue_gram_df WHERE gram IN ('茶社', '茶馆')");
    expect(Object.fromEntries(df.rows.map((x) => [x.gram, x.n]))).toEqual({ 茶社: 0, 茶馆: 1 });
    expect((await idx.search('鹤鸣茶馆')).map((v) => v.id)).toEqual(['v-tea']);
  });

  it('syncs a bulk load of venues sharing one updated_at across pages', async () => {
    // thousands of venues written in one statement share updated_at: the keyset must still move on
    await g.db.query(
      `INSERT INTO venues (id, name, region, kind) SELECT 'bulk' || i, '批量测试超市' || i || '号店', '510104', 'normal' FROM generate_series(1, 12000) i`,
    );
    const table = new VenueTextTable(g.db, g.db);
    expect(await table.sync()).toBe(12_000);
    expect((await table.search(normaliseName('批量测试超市7345号店'), '', 3))[0]!.id).toBe('bulk7345');
    await g.db.query("DELETE FROM venues WHERE id LIKE 'bulk%'");
    expect(await table.search(normaliseName('批量测试超市7345号店'), '', 3)).toEqual([]); // the join drops deleted venues
  });

  it('ranks the closest name first among many similar ones', async () => {
    const idx = new VenueIndex(f.db, { refreshMs: 60_000 });
    await idx.build();
    for (let i = 0; i < 2000; i++) idx.put(`x${i}`, `测试商场${i}号店`, '510104');
    const r = idx.rank(normaliseName('测试商场1234号店'), '', 3);
    expect(r[0]!.id).toBe('x1234');
  });

  it('builds without holding the event loop: a timer runs while thousands of venues are indexed', async () => {
    // PGlite answers on this thread and its promises settle as microtasks, so
    // a build that only awaited its queries held a running admin-api for the
    // whole build (16 s at 200k venues, measured); it now yields every slice
    await f.db.query(
      `INSERT INTO venues (id, name, region, kind) SELECT 'yield' || i, '让步测试药店' || i || '号', '510104', 'normal' FROM generate_series(1, 3000) i`,
    );
    try {
      const idx = new VenueIndex(f.db, { refreshMs: 60_000 });
      let built = false;
      const sizeWhenTimerRan = new Promise<{ built: boolean; size: number }>((resolve) => setTimeout(() => resolve({ built, size: idx.size }), 0));
      await idx.build();
      built = true;
      const seen = await sizeWhenTimerRan;
      expect(seen.built).toBe(false);
      expect(seen.size).toBeLessThan(idx.size);
      expect(idx.rank(normaliseName('让步测试药店2718号'), '', 1)[0]!.id).toBe('yield2718');
    } finally {
      await f.db.query("DELETE FROM venues WHERE id LIKE 'yield%'");
    }
  });
});
