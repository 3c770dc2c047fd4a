import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { exchangeCapability } from '../exchange/capability.js';
import { tracingCapability } from './capability.js';
import { HOUR, seedTracing, type Seeded } from './seed.common.js';

/**
 * 全文检索: import batches (the exchange capability's table, plugged in
 * here only for its migration), facts lineage, rule versions, risk areas
 * by code or Chinese name, venues — paged, region-scoped, masked, audited.
 */
let f: Fixture;
let s: Seeded;

beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability, tracingCapability] });
  s = await seedTracing(f);
  const now = Math.floor(f.clock.ms / 1000);
  await f.codes.addFacts(s.persons.cd1!.id, [{ kind: 'confirmed', at: now - HOUR }], { source: 'import:hospital', sourceRef: 'bat-2026-hosp-7:3' });
  await f.codes.addFacts(s.persons.lz1!.id, [{ kind: 'close_contact', at: now - HOUR }], { source: 'import:hospital', sourceRef: 'bat-2026-hosp-8:1' });
  for (const [id, file, region] of [['bat-2026-hosp-7', '成都核酸结果_1207.xlsx', '5101'], ['bat-2026-hosp-8', '泸州核酸结果_1207.csv', '5105']] as const) {
    await f.db.query(
      `INSERT INTO exchange_batches (id, dataset, dataset_version, department, region, file_name, format, size_bytes, sha256, status, created_by)
       VALUES ($1, 'nucleic', 1, '卫健委', $2, $3, 'csv', 10, 'x', 'done', 'operator')`, [id, region, file]);
  }
  await f.db.query(`INSERT INTO risk_areas (region, level, since) VALUES ('510104', 'high', now()), ('510502', 'medium', now())`);
});
afterAll(async () => {
  await f?.close();
});

const search = (token: string, body: object) => f.call('POST', '/admin/v1/tracing/search', { token, body });
const page = (body: { results: { kind: string; hits: { id: string; title: string; detail: Record<string, unknown> }[]; more: boolean }[] }, kind: string) =>
  body.results.find((r) => r.kind === kind)!;

describe('full search', () => {
  it('finds batches by file name and lineage by batch id', async () => {
    const r = await search(f.tokens.operator, { q: '核酸结果' });
    expect(r.status, r.text).toBe(200);
    expect(page(r.body, 'batches').hits.map((h) => h.title).sort()).toEqual(['成都核酸结果_1207.xlsx', '泸州核酸结果_1207.csv']);
    const l = await search(f.tokens.operator, { q: 'hosp-7', kinds: ['batches', 'lineage'] });
    expect(page(l.body, 'batches').hits.map((h) => h.id)).toEqual(['bat-2026-hosp-7']);
    expect(page(l.body, 'lineage').hits).toMatchObject([{ title: 'bat-2026-hosp-7', detail: { source: 'import:hospital', facts: 1, people: 1 } }]);
    expect(l.body.results.map((x: { kind: string }) => x.kind)).toEqual(['batches', 'lineage']);
  });

  it('finds risk areas by Chinese name and venues by name', async () => {
    const r = await search(f.tokens.operator, { q: '锦江', kinds: ['riskAreas'] });
    expect(page(r.body, 'riskAreas').hits).toMatchObject([{ id: '510104', detail: { level: 'high' } }]);
    expect(page(r.body, 'riskAreas').hits[0]!.title).toContain('锦江区');
    const v = await search(f.tokens.operator, { q: '太古里', kinds: ['venues'] });
    expect(page(v.body, 'venues').hits).toMatchObject([{ id: 'ven-a', title: '春熙路太古里' }]);
  });

  it('pages, and takes % and _ literally', async () => {
    const p1 = await search(f.tokens.operator, { q: '核酸', kinds: ['batches'], limit: 1 });
    const p2 = await search(f.tokens.operator, { q: '核酸', kinds: ['batches'], limit: 1, offset: 1 });
    expect(page(p1.body, 'batches')).toMatchObject({ more: true });
    expect(page(p2.body, 'batches')).toMatchObject({ more: false });
    expect(page(p1.body, 'batches').hits[0]!.id).not.toBe(page(p2.body, 'batches').hits[0]!.id);
    const pct = await search(f.tokens.operator, { q: '%' });
    expect(pct.body.results.every((x: { hits: unknown[] }) => x.hits.length === 0)).toBe(true);
  });

  it('scopes a city officer to their city and masks accounts for masked roles', async () => {
    const c = await search(f.tokens.city_officer, { q: '核酸结果', kinds: ['batches', 'lineage'] });
    expect(page(c.body, 'batches').hits.map((h) => h.id)).toEqual(['bat-2026-hosp-7']);
    const l = await search(f.tokens.city_officer, { q: 'hosp-8', kinds: ['lineage'] });
    expect(page(l.body, 'lineage').hits).toEqual([]);
    expect((await search(f.tokens.city_officer, { q: 'x', region: '5105' })).body.error).toBe('TRC_ERR_REGION');
    const a = await search(f.tokens.analyst, { q: '核酸结果', kinds: ['batches'] });
    expect(page(a.body, 'batches').hits.every((h) => h.detail.createdBy === '***')).toBe(true);
    expect(page((await search(f.tokens.operator, { q: '核酸结果', kinds: ['batches'] })).body, 'batches').hits[0]!.detail.createdBy).toBe('operator');
  });

  it('audits each search without the text', async () => {
    const idNo = s.persons.cd1!.idNo;
    await search(f.tokens.operator, { q: idNo });
    const e = (await f.audit.list({ action: 'tracing.search', order: 'desc', limit: 1 }))[0]!;
    expect(e).toMatchObject({ actor: 'operator', outcome: 'ok', details: { length: 18 } });
    expect(JSON.stringify(e)).not.toContain(idNo);
  });

  it.each([
    ['empty text', { q: '   ' }, 'TRC_ERR_SEARCH_TEXT'],
    ['a 1 MB text', { q: 'x'.repeat(1 << 20) }, 'TRC_ERR_SEARCH_TEXT'],
    ['an unknown kind', { q: 'x', kinds: ['people'] }, 'ADM_ERR_VALIDATION'],
  ])('refuses %s', async (_n, body, code) => {
    const r = await search(f.tokens.operator, body);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe(code);
  });

  it('needs stats.read', async () => {
    expect((await search(f.tokens.auditor, { q: 'x' })).status).toBe(403);
  });
});

// (in this file because it needs the exchange's batches table too)
describe('abnormal data of the day, drilled down', () => {
  it('rejected rows per dataset and department, unknown place codes, code changes by an unusual rule version', async () => {
    await f.db.query("UPDATE exchange_batches SET rows_total = 10, rejected = 3 WHERE id = 'bat-2026-hosp-8'");
    await f.store.insertScans([{ id: 'unk-1', uid: s.persons.cd1!.uid, venueId: 'ven-forged', kind: 'scan', at: Math.floor(f.clock.ms / 1000) - 60, node: 'edge-9', color: 'green' }]);
    // a published version in force, and a draft that nevertheless changed a code
    await f.db.query(`INSERT INTO rule_versions (version, rule_set, active_from, created_by, status, published_at)
                      VALUES ('v-live', '{}', now() - interval '1 day', 'admin', 'published', now() - interval '1 day'),
                             ('drill-x', '{}', now(), 'admin', 'draft', NULL)`);
    await f.db.query(`INSERT INTO code_history (person_id, at, prev_color, color, reason, since, rule_version, actor, seq)
                      VALUES ($1, $2, 'green', 'yellow', 'manual_review', $2, 'drill-x', 'rules', 0)`, [s.persons.lz2!.id, new Date(f.clock.ms - 60_000)]);
    const r = await f.call('GET', '/admin/v1/tracing/stats/anomalies', { token: f.tokens.operator });
    expect(r.status, r.text).toBe(200);
    expect(r.body.rejected).toEqual([{ dataset: 'nucleic', department: '卫健委', batches: 2, rows: 10, rejected: 3 }]);
    expect(r.body.unknownVenues).toEqual([{ venueId: 'ven-forged', node: 'edge-9', scans: 1 }]);
    expect(r.body.ruleVersions.find((v: { version: string }) => v.version === 'drill-x')).toMatchObject({ status: 'draft', current: false, unusual: true, changed: 1, people: 1 });
    // a city officer: their city's batches only, no unknown place codes (they have no region)
    const c = await f.call('GET', '/admin/v1/tracing/stats/anomalies', { token: f.tokens.city_officer });
    expect(c.body).toMatchObject({ rejected: [], unknownVenues: [] });
    expect(c.body.ruleVersions.find((v: { version: string }) => v.version === 'drill-x')).toBeUndefined();
    expect((await f.call('GET', '/admin/v1/tracing/stats/anomalies?from=2026-13-01', { token: f.tokens.operator })).body.error).toBe('TRC_ERR_RANGE');
  });
});
