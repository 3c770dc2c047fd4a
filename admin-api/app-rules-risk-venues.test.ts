import jsQRImport from 'jsqr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import { CHENGDU_ID, CHENGDU_NAME, startAdmin, type Fixture } from './admin-fixture.common.js';
import { decodePng } from './png-decode.common.js';

// jsqr is CommonJS: under Node's ESM loader the function is the default's `default` (see edge/app-qr.test.ts).
const jsQR = jsQRImport.default;

/** Rule versions, risk-area imports and venues with their place codes, over real HTTP. */
let f: Fixture;
let admin: string;
beforeAll(async () => {
  f = await startAdmin();
  admin = f.tokens.admin;
  expect((await f.call('POST', '/v1/session', { body: { idNo: CHENGDU_ID, name: CHENGDU_NAME } })).status).toBe(200);
});
afterAll(async () => {
  await f?.close();
});

const now = (): number => Math.floor(f.clock.ms / 1000);

/** The default rules with every code red: a visible difference for dry runs. */
function allRed(version: string): unknown {
  return { version, params: {}, rules: [{ id: 'everyone', when: true, color: 'red', reason: 'drill' }] };
}

describe('rules', () => {
  it('lists the version in force (the built-in set on a fresh master)', async () => {
    const r = await f.call('GET', '/admin/v1/rules', { token: f.tokens.analyst });
    expect(r.status).toBe(200);
    expect(r.body.active.version).toBe(DEFAULT_RULE_SET.version);
    expect(r.body.versions[0]).toMatchObject({ version: DEFAULT_RULE_SET.version, status: 'published', active: true });
    const one = await f.call('GET', `/admin/v1/rules/${DEFAULT_RULE_SET.version}`, { token: f.tokens.operator });
    expect(one.body.ruleSet.version).toBe(DEFAULT_RULE_SET.version);
    expect((await f.call('GET', '/admin/v1/rules/nope', { token: admin })).body.error).toBe('MASTER_ERR_RULE_VERSION_NOT_FOUND');
  });

  it('upload validates (400 with the path inside the rule set) and versions are immutable (409)', async () => {
    const bad = await f.call('POST', '/admin/v1/rules', { token: admin, body: { ruleSet: { version: 'bad1', params: {}, rules: [{ id: 'x', when: { '+': [1] }, color: 'purple', reason: 'x' }] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('CORE_ERR_RULE_INVALID');
    expect(bad.body.field).toMatch(/^rules\[0\]/);
    const ok = await f.call('POST', '/admin/v1/rules', { token: admin, body: { ruleSet: allRed('drill-1') } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ version: 'drill-1', status: 'draft' });
    const again = await f.call('POST', '/admin/v1/rules', { token: admin, body: { ruleSet: allRed('drill-1') } });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('MASTER_ERR_RULE_VERSION_EXISTS');
  });

  it('dry run counts what would change and writes nothing', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const r = await f.call('POST', '/admin/v1/rules/drill-1/dry-run', { token: admin });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 'drill-1', evaluated: 1, changed: 1, transitions: [{ from: 'green', to: 'red', reason: 'drill', count: 1 }] });
    expect(await f.store.maxOutboxSeq()).toBe(seq0);
  });

  it('publish with a future activeFrom stages it (a rules delta, no code changes yet)', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const at = now() + 3600;
    const r = await f.call('POST', '/admin/v1/rules/drill-1/publish', { token: admin, body: { activeFrom: at } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 'drill-1', activeFrom: at, staged: true, changed: 0 });
    const deltas = await f.store.readOutbox(seq0, 10);
    expect(deltas.map((d) => d.type)).toEqual(['rules']);
    expect(deltas[0]).toMatchObject({ type: 'rules', version: 'drill-1', activeFrom: at });
    const list = await f.call('GET', '/admin/v1/rules', { token: admin });
    expect(list.body.active.version).toBe(DEFAULT_RULE_SET.version);
    expect(list.body.versions.find((v: { version: string }) => v.version === 'drill-1')).toMatchObject({ staged: true, active: false });
    const again = await f.call('POST', '/admin/v1/rules/drill-1/publish', { token: admin, body: {} });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('MASTER_ERR_RULE_STATE');
    expect((await f.call('POST', '/admin/v1/rules', { token: admin, body: { ruleSet: allRed('drill-past') } })).status).toBe(201);
    const past = await f.call('POST', '/admin/v1/rules/drill-past/publish', { token: admin, body: { activeFrom: now() - 10 } });
    expect(past.status).toBe(400);
    expect(past.body).toMatchObject({ error: 'MASTER_ERR_INVALID', field: 'activeFrom' });
  });

  it('publish now re-evaluates every code and sends the deltas; rollback restores the previous version', async () => {
    expect((await f.call('POST', '/admin/v1/rules', { token: admin, body: { ruleSet: allRed('drill-2') } })).status).toBe(201);
    const seq0 = await f.store.maxOutboxSeq();
    const commits = f.commits.n;
    const r = await f.call('POST', '/admin/v1/rules/drill-2/publish', { token: admin, body: {} });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 'drill-2', staged: false, changed: 1 });
    expect((await f.store.readOutbox(seq0, 10)).map((d) => d.type)).toEqual(['rules', 'code']);
    expect(f.commits.n).toBeGreaterThan(commits);
    const person = (await f.store.findPersonByCertificate('resident', CHENGDU_ID))!;
    expect((await f.store.getCode(person.id))!.color).toBe('red');

    const back = await f.call('POST', '/admin/v1/rules/rollback', { token: admin });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ version: DEFAULT_RULE_SET.version, changed: 1 });
    expect((await f.store.getCode(person.id))!.color).toBe('green');
    const audit = await f.audit.list({ actor: 'admin', order: 'desc', limit: 3 });
    expect(audit.map((e) => e.action)).toEqual(['rules.rollback', 'rules.publish', 'rules.upload']);
  });
});

describe('risk areas', () => {
  const since = 1_700_000_000;

  it('import shows the diff, publish applies exactly it (one delta per area)', async () => {
    const i = await f.call('POST', '/admin/v1/risk-areas/import', {
      token: admin, body: [{ region: '510104', level: 'high', since }, { region: '510105001', level: 'medium', since }],
    });
    expect(i.status).toBe(201);
    expect(i.body.diff).toMatchObject({ added: [{ region: '510104' }, { region: '510105001' }], changed: [], removed: [], unchanged: 0 });
    expect(await f.store.listRiskAreas()).toEqual([]); // staged only
    const seq0 = await f.store.maxOutboxSeq();
    const p = await f.call('POST', `/admin/v1/risk-areas/import/${i.body.id}/publish`, { token: admin });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ added: 2, changed: 0, removed: 0, firstSeq: seq0 + 1, lastSeq: seq0 + 2 });
    expect((await f.store.readOutbox(seq0, 10)).map((d) => d.type)).toEqual(['risk_area', 'risk_area']);
    const list = await f.call('GET', '/admin/v1/risk-areas', { token: f.tokens.city_officer });
    expect(list.body.areas.map((a: { region: string }) => a.region)).toEqual(['510104', '510105001']);
    // published once: the id is spent
    expect((await f.call('POST', `/admin/v1/risk-areas/import/${i.body.id}/publish`, { token: admin })).status).toBe(404);
  });

  it('the next list: changed and removed areas', async () => {
    const i = await f.call('POST', '/admin/v1/risk-areas/import', { token: admin, body: [{ region: '510104', level: 'medium', since: since + 86_400 }] });
    expect(i.body.diff.changed).toEqual([{ region: '510104', from: { region: '510104', level: 'high', since }, to: { region: '510104', level: 'medium', since: since + 86_400 } }]);
    expect(i.body.diff.removed).toEqual([{ region: '510105001', level: 'medium', since }]);
    const p = await f.call('POST', `/admin/v1/risk-areas/import/${i.body.id}/publish`, { token: admin });
    expect(p.body).toMatchObject({ added: 0, changed: 1, removed: 1 });
  });

  it('refuses to publish a diff that no longer matches the areas in force (409)', async () => {
    const a = await f.call('POST', '/admin/v1/risk-areas/import', { token: admin, body: [{ region: '510106', level: 'high', since }] });
    const b = await f.call('POST', '/admin/v1/risk-areas/import', { token: admin, body: [{ region: '510107', level: 'high', since }] });
    expect((await f.call('POST', `/admin/v1/risk-areas/import/${b.body.id}/publish`, { token: admin })).status).toBe(200);
    const stale = await f.call('POST', `/admin/v1/risk-areas/import/${a.body.id}/publish`, { token: admin });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe('ADM_ERR_REQUEST_STATE');
    expect((await f.store.listRiskAreas()).map((x) => x.region)).toEqual(['510107']);
  });

  it('validates the list: bad region, level, duplicate region', async () => {
    const region = await f.call('POST', '/admin/v1/risk-areas/import', { token: admin, body: [{ region: '5101', level: 'high', since }] });
    expect(region.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: '[0].region' });
    const level = await f.call('POST', '/admin/v1/risk-areas/import', { token: admin, body: [{ region: '510104', level: 'extreme', since }] });
    expect(level.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: '[0].level' });
    const dup = await f.call('POST', '/admin/v1/risk-areas/import', { token: admin, body: [{ region: '510104', level: 'high', since }, { region: '510104', level: 'low', since }] });
    expect(dup.status).toBe(400);
    expect(dup.body).toMatchObject({ error: 'MASTER_ERR_INVALID', field: 'incoming[1].region' });
    const notArray = await f.call('POST', '/admin/v1/risk-areas/import', { token: admin, body: { areas: [] } });
    expect(notArray.body.error).toBe('ADM_ERR_VALIDATION');
  });
});

describe('venues and place codes', () => {
  it('creates a venue with a generated id and its place code; an entry venue needs its test hours', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const r = await f.call('POST', '/admin/v1/venues', { token: f.tokens.operator, body: { name: '双流机场T2', region: '510116', kind: 'entry', entryTestHours: 24 } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: '双流机场T2', region: '510116', kind: 'entry', entryTestHours: 24 });
    expect(r.body.id).toMatch(/^V[0-9A-Z]{16}$/);
    expect(r.body.placeCode).toBe(`HCV1:${r.body.id}`);
    const [d] = await f.store.readOutbox(seq0, 10);
    expect(d).toMatchObject({ type: 'venue', id: r.body.id, venue: { kind: 'entry', entryTestHours: 24 } });
    const noHours = await f.call('POST', '/admin/v1/venues', { token: admin, body: { name: '火车东站', region: '510108', kind: 'entry' } });
    expect(noHours.status).toBe(400);
    expect(noHours.body).toMatchObject({ error: 'MASTER_ERR_INVALID', field: 'entryTestHours' });
    const normalWithHours = await f.call('POST', '/admin/v1/venues', { token: admin, body: { name: '茶馆', region: '510108', entryTestHours: 5 } });
    expect(normalWithHours.body).toMatchObject({ error: 'MASTER_ERR_INVALID', field: 'entryTestHours' });
    const dup = await f.call('POST', '/admin/v1/venues', { token: admin, body: { id: r.body.id, name: 'x', region: '510116' } });
    expect(dup.status).toBe(409);
  });

  it('imports many venues in one transaction: all or nothing', async () => {
    const r = await f.call('POST', '/admin/v1/venues/import', {
      token: admin,
      body: { venues: [{ id: 'CD-0001', name: '宽窄巷子', region: '510105' }, { id: 'CD-0002', name: '锦里古街', region: '510107' }, { name: '太古里', region: '510104' }] },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ count: 3, changed: 3, unchanged: 0 });
    expect(r.body.ids.slice(0, 2)).toEqual(['CD-0001', 'CD-0002']);
    const again = await f.call('POST', '/admin/v1/venues/import', { token: admin, body: { venues: [{ id: 'CD-0001', name: '宽窄巷子', region: '510105' }] } });
    expect(again.body).toMatchObject({ changed: 0, unchanged: 1 });
    const bad = await f.call('POST', '/admin/v1/venues/import', {
      token: admin, body: { venues: [{ id: 'CD-0003', name: '人民公园', region: '510105' }, { id: 'CD-0004', name: '入境口', region: '510105', kind: 'entry' }] },
    });
    expect(bad.status).toBe(400);
    expect(await f.store.getVenue('CD-0003')).toBeNull(); // rolled back with the bad one
    const twice = await f.call('POST', '/admin/v1/venues/import', { token: admin, body: { venues: [{ id: 'X1', name: 'a', region: '510105' }, { id: 'X1', name: 'b', region: '510105' }] } });
    expect(twice.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'venues[1].id' });
  });

  it('fuzzy search by name: substring, case-insensitive, wildcards are literal', async () => {
    await f.call('POST', '/admin/v1/venues/import', { token: admin, body: { venues: [{ id: 'MALL-1', name: 'IFS Mall 国金中心', region: '510104' }, { id: 'PCT-1', name: '100% Coffee', region: '510104' }] } });
    const q = async (text: string): Promise<string[]> =>
      (await f.call('GET', `/admin/v1/venues?q=${encodeURIComponent(text)}`, { token: f.tokens.analyst })).body.venues.map((v: { id: string }) => v.id);
    expect(await q('mall')).toEqual(['MALL-1']);
    expect(await q('国金')).toEqual(['MALL-1']);
    expect(await q('巷子')).toEqual(['CD-0001']);
    expect(await q('%')).toEqual(['PCT-1']);
    expect(await q('nothing here')).toEqual([]);
    const limited = await f.call('GET', '/admin/v1/venues?q=%E5%8F%A4&limit=1', { token: admin });
    expect(limited.body.venues).toHaveLength(1);
  });

  it('serves the place code as a PNG a QR reader decodes to HCV1:<id>, and as SVG', async () => {
    const png = await f.call('GET', '/admin/v1/venues/CD-0001/qr.png', { token: f.tokens.analyst });
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    const img = decodePng(png.body as Buffer);
    expect(jsQR(img.data, img.width, img.height)?.data).toBe('HCV1:CD-0001');
    const svg = await f.call('GET', '/admin/v1/venues/CD-0001/qr.svg', { token: f.tokens.analyst });
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(svg.text).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    expect((await f.call('GET', '/admin/v1/venues/NOPE/qr.png', { token: admin })).status).toBe(404);
    const one = await f.call('GET', '/admin/v1/venues/CD-0001', { token: admin });
    expect(one.body).toEqual({ id: 'CD-0001', name: '宽窄巷子', region: '510105', kind: 'normal', entryTestHours: null, placeCode: 'HCV1:CD-0001', disabledAt: null });
  });
});
