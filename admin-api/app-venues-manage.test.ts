import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMasterState } from '../sync/snapshot-master.js';
import { startAdmin, type Fixture } from './admin-fixture.common.js';

/** Venue list with totals and paging, edit, disable and restore, the A4 poster (issue 15). */
let f: Fixture;
beforeAll(async () => {
  f = await startAdmin();
  const venues = Array.from({ length: 120 }, (_, i) => ({ id: `VPAGE${String(i).padStart(4, '0')}`, name: `分页测试场所${String(i).padStart(3, '0')}`, region: i < 100 ? '510104' : '510502' }));
  expect((await f.call('POST', '/admin/v1/venues/import', { token: f.tokens.admin, body: { venues } })).status).toBe(200);
});
afterAll(async () => {
  await f?.close();
});

describe('venues', () => {
  it('pages through every match with the total, past the old 50-row stop', async () => {
    const seen = new Set<string>();
    let total = -1;
    for (let offset = 0; offset < 200; offset += 50) {
      const r = await f.call('GET', `/admin/v1/venues?q=${encodeURIComponent('分页测试')}&limit=50&offset=${offset}`, { token: f.tokens.operator });
      expect(r.status).toBe(200);
      total = r.body.total;
      for (const v of r.body.venues) seen.add(v.id);
    }
    expect(total).toBe(120);
    expect(seen.size).toBe(120);
    const region = await f.call('GET', '/admin/v1/venues?region=510502&limit=10', { token: f.tokens.operator });
    expect(region.body.total).toBeGreaterThanOrEqual(20);
    // a city officer of Luzhou (5105) sees only Luzhou's, whatever prefix is asked
    const city = await f.call('GET', `/admin/v1/venues?q=${encodeURIComponent('分页测试')}`, { token: f.tokens.city_officer });
    expect(city.body.venues.every((v: { region: string }) => v.region.startsWith('5105') || v.region.startsWith('5101'))).toBe(true);
    const bad = await f.call('GET', '/admin/v1/venues?offset=x', { token: f.tokens.operator });
    expect(bad.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'offset', zh: '偏移：应为数字' });
  });

  it('edits a venue keeping its place code, audited with before and after', async () => {
    const r = await f.call('POST', '/admin/v1/venues/VPAGE0001', { token: f.tokens.operator, body: { name: '改名后的场所', region: '510104', kind: 'entry', entryTestHours: 48 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'VPAGE0001', name: '改名后的场所', kind: 'entry', entryTestHours: 48, placeCode: 'HCV1:VPAGE0001' });
    const e = (await f.audit.list({ action: 'venues.update', order: 'desc', limit: 1 }))[0]!;
    expect(e.details).toMatchObject({ from: { name: '分页测试场所001' }, to: { name: '改名后的场所' } });
    const mismatch = await f.call('POST', '/admin/v1/venues/VPAGE0001', { token: f.tokens.operator, body: { name: 'x', region: '510104', kind: 'entry' } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.zh).toBe('入川后检测时限（小时）：取值无效');
  });

  it('disables a venue: kept and flagged, off the edges, place code not printed; enables it again with the same id', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const r = await f.call('POST', '/admin/v1/venues/VPAGE0002/disable', { token: f.tokens.operator });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'VPAGE0002', placeCode: 'HCV1:VPAGE0002' });
    expect(typeof r.body.disabledAt).toBe('number');
    // the edges get a delete: a scan of it is refused there (EDGE_ERR_VENUE_UNKNOWN, 场所码无效…)
    const deltas = await f.store.readOutbox(seq0, 10);
    expect(deltas).toEqual([expect.objectContaining({ type: 'venue', id: 'VPAGE0002', venue: null })]);
    // and a snapshot built now leaves it out, so a new edge never serves it
    const head = await readMasterState(f.db, () => undefined);
    expect(head.venues.some((v) => v.id === 'VPAGE0002')).toBe(false);
    expect(head.venues.some((v) => v.id === 'VPAGE0004')).toBe(true);
    // kept on the master: found, flagged in the list
    const one = await f.call('GET', '/admin/v1/venues/VPAGE0002', { token: f.tokens.operator });
    expect(one.status).toBe(200);
    expect(one.body.disabledAt).toBe(r.body.disabledAt);
    const list = await f.call('GET', `/admin/v1/venues?q=${encodeURIComponent('分页测试场所00')}&limit=10`, { token: f.tokens.operator });
    const flags = Object.fromEntries(list.body.venues.map((v: { id: string; disabledAt: number | null }) => [v.id, v.disabledAt]));
    expect(flags.VPAGE0002).toBe(r.body.disabledAt);
    expect(flags.VPAGE0003).toBeNull();
    // no place code for it: QR images and the poster refused in Chinese
    for (const kind of ['qr.png', 'qr.svg', 'poster.pdf']) {
      const x = await f.call('GET', `/admin/v1/venues/VPAGE0002/${kind}`, { token: f.tokens.operator });
      expect(x.status).toBe(409);
      expect(x.body).toMatchObject({ error: 'ADM_ERR_VENUE_DISABLED', zh: '该场所码已停用，不能生成或打印；如需继续使用，请先恢复启用' });
    }
    // disabling twice changes nothing; an edit while disabled is kept but not published
    expect((await f.call('POST', '/admin/v1/venues/VPAGE0002/disable', { token: f.tokens.operator })).status).toBe(200);
    const edit = await f.call('POST', '/admin/v1/venues/VPAGE0002', { token: f.tokens.operator, body: { name: '停用期间改名', region: '510104' } });
    expect(edit.status).toBe(200);
    expect(await f.store.maxOutboxSeq()).toBe(seq0 + 1);
    // creating the id anew is refused: it exists (enable it instead)
    const again = await f.call('POST', '/admin/v1/venues', { token: f.tokens.operator, body: { id: 'VPAGE0002', name: 'x', region: '510104' } });
    expect(again.body).toMatchObject({ error: 'ADM_ERR_CONFLICT', field: 'id' });
    // out of region: as if absent
    expect((await f.call('POST', '/admin/v1/venues/VPAGE0002/enable', { token: f.tokens.city_officer_b })).status).toBe(404);

    const on = await f.call('POST', '/admin/v1/venues/VPAGE0002/enable', { token: f.tokens.operator });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ id: 'VPAGE0002', name: '停用期间改名', disabledAt: null, placeCode: 'HCV1:VPAGE0002' });
    const back = await f.store.readOutbox(seq0 + 1, 10);
    expect(back).toEqual([expect.objectContaining({ type: 'venue', id: 'VPAGE0002', venue: expect.objectContaining({ id: 'VPAGE0002', name: '停用期间改名', region: '510104' }) })]);
    expect((await f.call('GET', '/admin/v1/venues/VPAGE0002/poster.pdf', { token: f.tokens.operator })).status).toBe(200);
    expect((await readMasterState(f.db, () => undefined)).venues.some((v) => v.id === 'VPAGE0002')).toBe(true);
    // enabling twice publishes nothing more
    expect((await f.call('POST', '/admin/v1/venues/VPAGE0002/enable', { token: f.tokens.operator })).status).toBe(200);
    expect(await f.store.maxOutboxSeq()).toBe(seq0 + 2);
    const actions = (await f.audit.list({ order: 'desc', limit: 20 })).map((e) => e.action);
    expect(actions).toContain('venues.disable');
    expect(actions).toContain('venues.enable');
  });

  it('serves the A4 poster as a PDF', async () => {
    const r = await fetch(`${f.base}/admin/v1/venues/VPAGE0003/poster.pdf`, { headers: { authorization: `Bearer ${f.tokens.operator}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await r.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
  });
});

describe('venue spreadsheet import', () => {
  it('reads an .xlsx with Chinese headers and region names, and says per row what is wrong', async () => {
    const ExcelJS = (await import('exceljs')).default;
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('场所');
    ws.addRow(['场所名称', '地区', '类型', '检测时限（小时）']);
    ws.addRow(['双流机场T2', '四川省成都市双流区', '入川卡口', 48]);
    ws.addRow(['春熙路', '锦江区', '普通场所', null]);
    ws.addRow(['无名地', '火星区', '普通场所', null]);
    ws.addRow(['', '锦江区', '', null]);
    const data = Buffer.from(await wb.xlsx.writeBuffer()).toString('base64');
    const r = await f.call('POST', '/admin/v1/venues/parse', { token: f.tokens.operator, body: { filename: '场所.xlsx', data } });
    expect(r.status).toBe(200);
    expect(r.body.rows[0]).toEqual({ row: 2, venue: { name: '双流机场T2', region: '510116', kind: 'entry', entryTestHours: 48 }, problem: null });
    expect(r.body.rows[1].venue).toMatchObject({ name: '春熙路', region: '510104', kind: 'normal' });
    expect(r.body.rows[2]).toMatchObject({ row: 4, venue: null, problem: '找不到地区“火星区”' });
    expect(r.body.rows[3]).toMatchObject({ row: 5, problem: '场所名称为空' });
    const ok = r.body.rows.filter((x: { venue: unknown }) => x.venue !== null).map((x: { venue: unknown }) => x.venue);
    expect((await f.call('POST', '/admin/v1/venues/import', { token: f.tokens.operator, body: { venues: ok } })).body.count).toBe(2);
  });

  it('reads a GB18030 CSV (Excel on Chinese Windows) and refuses other files in Chinese', async () => {
    const iconv = (await import('iconv-lite')).default;
    const csv = iconv.encode('场所名称,区划代码,类型\r\n高新区政务中心,510107,普通\r\n', 'gb18030');
    const r = await f.call('POST', '/admin/v1/venues/parse', { token: f.tokens.operator, body: { filename: 'v.csv', data: csv.toString('base64') } });
    expect(r.body.rows).toEqual([{ row: 2, venue: { name: '高新区政务中心', region: '510107', kind: 'normal' }, problem: null }]);
    const noHeader = await f.call('POST', '/admin/v1/venues/parse', { token: f.tokens.operator, body: { filename: 'v.csv', data: Buffer.from('a,b\n1,2\n').toString('base64') } });
    expect(noHeader.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'file' });
    expect(noHeader.body.zh).toContain('表头须包含“场所名称”和“区划代码”');
    const pdf = await f.call('POST', '/admin/v1/venues/parse', { token: f.tokens.operator, body: { filename: 'v.pdf', data: 'AAAA' } });
    expect(pdf.body.zh).toContain('只支持 Excel（.xlsx）和 CSV 文件');
    const broken = await f.call('POST', '/admin/v1/venues/parse', { token: f.tokens.operator, body: { filename: 'v.xlsx', data: 'AAAA' } });
    expect(broken.body.zh).toContain('不是可读取的 Excel（.xlsx）文件');
  });
});
