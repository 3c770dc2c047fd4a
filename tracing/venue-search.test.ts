import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { tracingCapability } from './capability.js';
import { VenueIndex } from './venue-index.js';
import { initialsOf, normaliseName } from './venue-text.js';

/**
 * 精准找人 step 1: venue names as a case report gives them — partial,
 * misspelt, traditional, pinyin initials — found over the master's venues,
 * region-scoped, with bad input refused by code.
 */
let f: Fixture;
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
  for (const v of V) await f.store.upsertVenue({ ...v, kind: 'normal', entryTestHours: null });
});
afterAll(async () => {
  await f?.close();
});

const search = (token: string, body: unknown) => f.call('POST', '/admin/v1/tracing/venues/search', { token, body });
const ids = (r: { body: { venues: { id: string }[] } }) => r.body.venues.map((v) => v.id);

describe('venue text', () => {
  it('normalises width, case, traditional characters and punctuation', () => {
    expect(normaliseName('萬達廣場（錦江店）')).toBe('万达广场锦江店');
    expect(normaliseName('ＫＦＣ 肯德基😀')).toBe('kfc肯德基');
    expect(initialsOf('春熙路kfc')).toBe('cxlkfc');
  });
});

describe('fuzzy venue search', () => {
  it('finds a partial name', async () => {
    const r = await search(f.tokens.operator, { q: '太古里' });
    expect(r.status).toBe(200);
    expect(ids(r)[0]).toBe('v-chunxi');
    expect(r.body.venues[0].regionName).toContain('锦江');
  });

  it('finds a misspelt name (one wrong character, a homophone)', async () => {
    expect(ids(await search(f.tokens.operator, { q: '春熙路太古理购物' }))[0]).toBe('v-chunxi');
    expect(ids(await search(f.tokens.operator, { q: '春西路太古里' }))[0]).toBe('v-chunxi');
  });

  it('finds a name written in traditional characters', async () => {
    const r = await search(f.tokens.operator, { q: '萬達廣場' });
    expect(ids(r)).toEqual(expect.arrayContaining(['v-wanda', 'v-market']));
  });

  it('finds pinyin initials and Latin names', async () => {
    expect(ids(await search(f.tokens.operator, { q: 'rmgy' }))[0]).toBe('v-tea');
    expect(ids(await search(f.tokens.operator, { q: 'CXL' }))).toEqual(expect.arrayContaining(['v-chunxi', 'v-kfc']));
    expect(ids(await search(f.tokens.operator, { q: 'kfc' }))[0]).toBe('v-kfc');
  });

  it('finds a single character', async () => {
    expect(ids(await search(f.tokens.operator, { q: '鹤' }))).toEqual(['v-tea']);
  });

  it('sees venues added, renamed and removed since the index was built', async () => {
    await f.store.upsertVenue({ id: 'v-new', name: '天府广场地铁站', region: '510105', kind: 'normal', entryTestHours: null });
    expect(ids(await search(f.tokens.operator, { q: '天府广场' }))).toEqual(['v-new']);
    await f.store.upsertVenue({ id: 'v-new', name: '天府国际机场', region: '510105', kind: 'normal', entryTestHours: null });
    expect(ids(await search(f.tokens.operator, { q: '天府广场' }))).not.toContain('v-new');
    expect(ids(await search(f.tokens.operator, { q: '国际机场' }))).toEqual(['v-new']);
    await f.store.removeVenue('v-new');
    expect(ids(await search(f.tokens.operator, { q: '国际机场' }))).toEqual([]);
  });

  it('a city officer sees only venues of their city, and a filter outside it is refused', async () => {
    const mine = await search(f.tokens.city_officer, { q: '万达广场' });
    expect(ids(mine)).toEqual(['v-wanda']);
    const theirs = await search(f.tokens.city_officer_b, { q: '万达广场' });
    expect(ids(theirs)).toEqual(['v-market']);
    const out = await search(f.tokens.city_officer, { q: '万达', region: '5105' });
    expect(out.status).toBe(400);
    expect(out.body).toMatchObject({ error: 'TRC_ERR_REGION', field: 'region' });
    // a province-wide official narrows by city
    expect(ids(await search(f.tokens.operator, { q: '万达广场', region: '5105' }))).toEqual(['v-market']);
  });

  it('refuses emoji-only, punctuation-only and 1 MB texts with coded errors', async () => {
    const emoji = await search(f.tokens.operator, { q: '😀🎉🏥' });
    expect(emoji.status).toBe(400);
    expect(emoji.body).toMatchObject({ error: 'TRC_ERR_QUERY_EMPTY', field: 'q' });
    expect(emoji.body.zh).toMatch(/场所名称/);
    expect((await search(f.tokens.operator, { q: '  ，。！' })).body.error).toBe('TRC_ERR_QUERY_EMPTY');
    const big = await search(f.tokens.operator, { q: '春'.repeat(1024 * 1024) });
    expect(big.status).toBe(400);
    expect(big.body.error).toBe('TRC_ERR_QUERY_TOO_LONG');
    expect((await search(f.tokens.operator, { q: 1 })).body.error).toBe('ADM_ERR_VALIDATION');
  });

  it('is closed to roles without tracing.read', async () => {
    expect((await search(f.tokens.auditor, { q: '万达' })).status).toBe(403);
    expect((await search(f.tokens.hotline, { q: '万达' })).status).toBe(403);
  });
});

describe('index without HTTP', () => {
  it('ranks the closest name first among many similar ones', async () => {
    const idx = new VenueIndex(f.db, { refreshMs: 60_000 });
    await idx.build();
    for (let i = 0; i < 2000; i++) idx.put(`x${i}`, `测试商场${i}号店`, '510104');
    const r = idx.rank(normaliseName('测试商场1234号店'), '', 3);
    expect(r[0]!.id).toBe('x1234');
  });
});
