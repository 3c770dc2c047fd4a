import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { alertEventsAfter } from '../master/alert-events.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { loadExchangeConfig } from './config.js';
import { chinaTime, csv, gb18030, NAT_HEADER, NAT_HEADER_ZH, residentId, upload } from './test-helpers.common.js';

/**
 * The import end to end over HTTP (issue 10 items 1–3): upload → background
 * job → master (persons, facts, codes through the outbox) → batch status,
 * errors, rejects download, alert; and every bad-input path with its code.
 */
let f: Fixture;
let jobs: ExchangeInstance['jobs'];

beforeAll(async () => {
  f = await startAdmin({
    capabilities: [exchangeCapability],
    capabilityEnv: { exchange: { EXCHANGE_CHUNK_ROWS: '7', EXCHANGE_REJECT_ALERT_MIN_ROWS: '5', EXCHANGE_REJECT_ALERT_SHARE: '0.3' } },
    startCapabilities: true,
  });
  jobs = (f.instances.exchange as unknown as ExchangeInstance).jobs;
}, 60_000);
afterAll(async () => {
  await f?.close();
});

const hourAgo = (): string => chinaTime(f.clock.ms - 3600_000);

async function done(id: string, query = ''): Promise<any> {
  await jobs.idle();
  const r = await f.call('GET', `/admin/v1/imports/${id}${query}`, { token: f.tokens.operator });
  expect(r.status).toBe(200);
  return r.body;
}

async function codeOf(idNo: string): Promise<string | null> {
  const p = await f.store.findPersonByCertificate('resident', idNo);
  if (p === null) return null;
  return (await f.store.getCode(p.id))?.color ?? null;
}

describe('nat-result import', () => {
  it('EXCHANGE_IMPORT_FIRST_CODE is lazy (default) or eager; anything else is EXC_ERR_CONFIG naming it', () => {
    expect(loadExchangeConfig({}, { dataDir: '/x' }).importFirstCode).toBe('lazy');
    expect(loadExchangeConfig({ EXCHANGE_IMPORT_FIRST_CODE: 'eager' }, { dataDir: '/x' }).importFirstCode).toBe('eager');
    expect(() => loadExchangeConfig({ EXCHANGE_IMPORT_FIRST_CODE: 'sometimes' }, { dataDir: '/x' }))
      .toThrow(expect.objectContaining({ code: 'EXC_ERR_CONFIG', field: 'EXCHANGE_IMPORT_FIRST_CODE' }));
  });

  it('accepts good rows, turns a positive red through the outbox, with lineage per row', async () => {
    const ids = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => residentId(100 + n));
    const lines = [NAT_HEADER, ...ids.map((id, i) => `resident,${id},张${"一二三四五六七八九十"[i]}三,1390000000${i},${hourAgo()},${i === 3 ? '阳性' : '阴性'},成都检测所`)];
    const seqBefore = await f.store.maxOutboxSeq();
    const r = await upload(f, f.tokens.operator, { name: 'nat.csv', data: csv(lines) }, { dataset: 'nat-result', department: '成都市卫健委' });
    expect(r.status).toBe(202);
    expect(r.body.id).toMatch(/^[A-Za-z0-9_-]{12}$/);
    const b = await done(r.body.id);
    expect(b).toMatchObject({ status: 'done', rows: { total: 10, accepted: 10, rejected: 0 }, errors: [], encoding: 'utf8' });
    expect(await codeOf(ids[3]!)).toBe('red');
    expect(await f.store.maxOutboxSeq()).toBeGreaterThan(seqBefore);
    // EXCHANGE_IMPORT_FIRST_CODE=lazy (default): a negative person gets the code at first login (领码), the same green
    expect(await codeOf(ids[0]!)).toBeNull();
    expect(await f.codes.register({ idType: 'resident', idNo: ids[0]!, name: '张一三' })).toMatchObject({ created: true, code: { color: 'green', reason: 'normal' } });
    expect(await codeOf(ids[0]!)).toBe('green');
    const p = (await f.store.findPersonByCertificate('resident', ids[3]!))!;
    const facts = await f.db.query<{ source: string; source_ref: string; result: string }>('SELECT source, source_ref, result FROM facts WHERE person_id = $1', [p.id]);
    expect(facts.rows).toEqual([{ source: 'import:nat-result', source_ref: `${r.body.id}:5`, result: 'positive' }]);
    expect(p.nameMasked).toBe('张*三');
    const audit = await f.audit.list({ limit: 20, order: 'desc' });
    expect(audit.some((e) => e.action === 'exchange.import' && e.target === `import:${r.body.id}`)).toBe(true);
  });

  it('reads Chinese headers in GB18030 and UTF-8 with a BOM', async () => {
    const text = csv([NAT_HEADER_ZH, `居民身份证,${residentId(200)},李四,13900000200,${hourAgo()},阴性,华西医院`, `身份证,${residentId(201)},王五,,${hourAgo().replace(' ', 'T')}+08:00,negative,华西医院`]);
    const g = await upload(f, f.tokens.operator, { name: 'gb.csv', data: gb18030(text) }, { dataset: 'nat-result', department: '华西' });
    expect(await done(g.body.id)).toMatchObject({ status: 'done', encoding: 'gb18030', rows: { total: 2, accepted: 2, rejected: 0 } });
    const bomText = text.replace(residentId(200), residentId(202)).replace(residentId(201), residentId(203));
    const u = await upload(f, f.tokens.operator, { name: 'bom.csv', data: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(bomText)]) }, { dataset: 'nat-result', department: '华西' });
    expect(await done(u.body.id)).toMatchObject({ status: 'done', encoding: 'utf8', rows: { total: 2, accepted: 2, rejected: 0 } });
  });

  it('rejects each bad row with its row number, field and code; duplicates within the file and against earlier batches', async () => {
    const good = residentId(300);
    const future = chinaTime(f.clock.ms + 86_400_000);
    const bad17 = residentId(301).slice(0, 17);
    const wrongCheck = bad17 + (residentId(301).endsWith('0') ? '1' : '0');
    const lines = [
      NAT_HEADER,
      `resident,${good},甲,13900000300,${hourAgo()},阴性,所`, // 2 ok
      `resident,${wrongCheck},乙,13900000301,${hourAgo()},阴性,所`, // 3 check digit
      `resident,${residentId(302)},丙,12345,${hourAgo()},阴性,所`, // 4 phone
      `resident,${residentId(303)},丁,,${hourAgo()},弱阳性,所`, // 5 enum
      `resident,${residentId(304)},戊,,${future},阴性,所`, // 6 future
      `resident,${residentId(305)},,,${hourAgo()},阴性,所`, // 7 name missing
      `resident,${residentId(306)},己,,${hourAgo()},阴性`, // 8 ragged
      `resident,${good},甲,13900000300,${hourAgo()},阴性,所`, // 9 dup of 2
      `resident,${residentId(307)},庚,,2026-02-30 10:00:00,阴性,所`, // 10 impossible date
      `火星证,${residentId(308)},辛,,${hourAgo()},阴性,所`, // 11 id type
    ];
    const r = await upload(f, f.tokens.operator, { name: 'bad.csv', data: csv(lines) }, { dataset: 'nat-result', department: '测试所' });
    const b = await done(r.body.id);
    expect(b.status).toBe('done');
    expect(b.rows).toEqual({ total: 10, accepted: 1, rejected: 9 });
    const codes = b.errors.map((e: any) => [e.row, e.field, e.code]);
    expect(codes).toEqual([
      [3, 'idNo', 'EXC_ERR_ID_CHECK_DIGIT'],
      [4, 'phone', 'EXC_ERR_PHONE'],
      [5, 'result', 'EXC_ERR_ENUM'],
      [6, 'sampledAt', 'EXC_ERR_FUTURE'],
      [7, 'name', 'EXC_ERR_REQUIRED'],
      [8, '', 'EXC_ERR_RAGGED_ROW'],
      [9, 'idType', 'EXC_ERR_DUP_IN_FILE'],
      [10, 'sampledAt', 'EXC_ERR_DATETIME'],
      [11, 'idType', 'EXC_ERR_ENUM'],
    ]);
    expect(b.errors[0].message).toMatch(/校验位/);
    for (const e of b.errors) expect(JSON.stringify(e)).not.toContain(wrongCheck);
    // paging
    const page = await done(r.body.id, '?errorsOffset=2&errorsLimit=2');
    expect(page.errors.map((e: any) => e.row)).toEqual([5, 6]);
    expect(page.errorsTotal).toBe(9);
    // the same good row again, in a later batch
    const again = await upload(f, f.tokens.operator, { name: 'again.csv', data: csv([NAT_HEADER, lines[1]!]) }, { dataset: 'nat-result', department: '测试所' });
    const a = await done(again.body.id);
    expect(a.rows).toEqual({ total: 1, accepted: 0, rejected: 1 });
    expect(a.errors[0]).toMatchObject({ row: 2, code: 'EXC_ERR_DUP_EARLIER' });

    // the rejects as XLSX, as sent
    const x = await fetch(`${f.base}/admin/v1/imports/${r.body.id}/rejects.xlsx`, { headers: { authorization: `Bearer ${f.tokens.operator}` } });
    expect(x.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(await x.arrayBuffer());
    const ws = wb.worksheets[0]!;
    expect(ws.getRow(1).values).toEqual([undefined, '行号', '错误原因', ...NAT_HEADER.split(',')]);
    expect(ws.rowCount).toBe(10);
    expect(ws.getRow(2).getCell(1).value).toBe(3);
    expect(String(ws.getRow(2).getCell(2).value)).toMatch(/校验位/);
    expect(ws.getRow(2).getCell(4).value).toBe(wrongCheck);
    // the analyst may not download rejected identities
    const denied = await fetch(`${f.base}/admin/v1/imports/${r.body.id}/rejects.xlsx`, { headers: { authorization: `Bearer ${f.tokens.analyst}` } });
    expect(denied.status).toBe(403);
    // the batch crossed the 30 % reject threshold: an alert event in its transaction
    const events = await alertEventsAfter(f.db, 0);
    const ev = events.find((e) => e.kind === 'exchange.reject_threshold' && (e.details as any).batch === r.body.id);
    expect(ev).toMatchObject({ source: 'exchange', key: 'department:测试所' });
    expect(ev!.summary).toContain('拒收率');
    expect(JSON.stringify(ev)).not.toContain(good);
    // conformance over time, by rule
    const c = await f.call('GET', '/admin/v1/exchange/conformance?dataset=nat-result', { token: f.tokens.analyst });
    expect(c.status).toBe(200);
    const day = c.body.days.at(-1);
    expect(day.byRule.EXC_ERR_ID_CHECK_DIGIT).toBeGreaterThanOrEqual(1);
    expect(day.rejected).toBeGreaterThanOrEqual(10);
  });
});

describe('bad files', () => {
  it('wrong headers fail the batch with EXC_ERR_HEADER naming the columns', async () => {
    const r = await upload(f, f.tokens.operator, { name: 'h.csv', data: csv(['idNo,name,foo', `${residentId(400)},甲,1`]) }, { dataset: 'nat-result', department: 'x' });
    const b = await done(r.body.id);
    expect(b).toMatchObject({ status: 'failed', error: { code: 'EXC_ERR_HEADER' }, rows: { total: 0 } });
    expect(b.error.message).toContain('缺少列');
    expect(b.error.message).toContain('foo');
    expect(b.errors[0]).toMatchObject({ row: 0, code: 'EXC_ERR_HEADER' });
  });

  it('an empty file fails with EXC_ERR_EMPTY_FILE', async () => {
    const r = await upload(f, f.tokens.operator, { name: 'e.csv', data: '' }, { dataset: 'nat-result', department: 'x' });
    expect(await done(r.body.id)).toMatchObject({ status: 'failed', error: { code: 'EXC_ERR_EMPTY_FILE' } });
  });

  it('a 10 MB field fails the batch at that record; the chunks committed before it stay, exactly once', async () => {
    const lines = [NAT_HEADER];
    for (let i = 0; i < 8; i++) lines.push(`resident,${residentId(500 + i)},甲,,${hourAgo()},阴性,所`);
    lines.push(`resident,${residentId(520)},${'长'.repeat(10 * 1024 * 1024 / 3)},,${hourAgo()},阴性,所`);
    const r = await upload(f, f.tokens.operator, { name: 'big.csv', data: csv(lines) }, { dataset: 'nat-result', department: 'x' });
    const b = await done(r.body.id);
    expect(b).toMatchObject({ status: 'failed', error: { code: 'EXC_ERR_RECORD_TOO_LARGE' } });
    // chunk of 7 rows committed before the fault; the 8th row was in the chunk the fault stopped
    expect(b.rows).toEqual({ total: 7, accepted: 7, rejected: 0 });
    const n = await f.db.query<{ n: number }>("SELECT count(*)::int AS n FROM facts WHERE source_ref LIKE $1", [`${r.body.id}:%`]);
    expect(n.rows[0]!.n).toBe(7);
  });

  it('bytes of another encoding in a UTF-8 file reject exactly those rows (EXC_ERR_ENCODING)', async () => {
    const lines = [NAT_HEADER];
    // > 64 KiB of UTF-8 first, so the sniff sees UTF-8
    const lab = '成都市第一人民医院检验科核酸检测实验室'.repeat(5); // 95 characters: fewer, fatter rows fill the 64 KiB sniff window
    for (let i = 0; i < 260; i++) lines.push(`resident,${residentId(1000 + i)},欧阳娜娜,,${hourAgo()},阴性,${lab}`);
    const head = Buffer.from(csv(lines));
    const odd = Buffer.concat([Buffer.from(`resident,${residentId(2000)},`), gb18030('张三'), Buffer.from(`,,${hourAgo()},阴性,所\r\n`)]);
    const r = await upload(f, f.tokens.operator, { name: 'mixed.csv', data: Buffer.concat([head, odd]) }, { dataset: 'nat-result', department: 'x' });
    const b = await done(r.body.id);
    expect(head.length).toBeGreaterThan(64 * 1024);
    expect(b).toMatchObject({ status: 'done', encoding: 'utf8', rows: { total: 261, accepted: 260, rejected: 1 } });
    expect(b.errors).toEqual([expect.objectContaining({ row: 262, field: 'name', code: 'EXC_ERR_ENCODING' })]);
  }, 30_000);

  it('XLSX: values and dates accepted, formula cells rejected, a corrupt file fails', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('结果');
    ws.addRow(NAT_HEADER_ZH.split(','));
    const sampled = new Date(f.clock.ms - 7200_000 + 8 * 3600_000); // Excel holds the China wall clock
    ws.addRow(['居民身份证', residentId(600), '赵六', '13900000600', sampled, '阴性', '所']);
    ws.addRow(['居民身份证', residentId(601), '钱七', { formula: '"1390000"&"0601"', result: '13900000601' }, hourAgo(), '阴性', '所']);
    ws.addRow(['居民身份证', residentId(602), '孙八', null, hourAgo(), 'positive', '所']);
    const data = Buffer.from(await wb.xlsx.writeBuffer());
    const r = await upload(f, f.tokens.operator, { name: '结果.xlsx', data }, { dataset: 'nat-result', department: 'x' });
    const b = await done(r.body.id);
    expect(b).toMatchObject({ status: 'done', format: 'xlsx', rows: { total: 3, accepted: 2, rejected: 1 } });
    expect(b.errors).toEqual([expect.objectContaining({ row: 3, field: 'phone', code: 'EXC_ERR_XLSX_FORMULA' })]);
    expect(await codeOf(residentId(602))).toBe('red');

    const bad = await upload(f, f.tokens.operator, { name: 'broken.xlsx', data: data.subarray(0, 200) }, { dataset: 'nat-result', department: 'x' });
    expect(await done(bad.body.id)).toMatchObject({ status: 'failed', error: { code: 'EXC_ERR_FILE_UNREADABLE' } });
  });
});

describe('upload requests', () => {
  it('refuses bad forms with coded errors', async () => {
    const notMp = await f.call('POST', '/admin/v1/imports', { token: f.tokens.operator, body: { dataset: 'nat-result' } });
    expect(notMp.status).toBe(415);
    expect(notMp.body.error).toBe('EXC_ERR_NOT_MULTIPART');
    const noFile = await upload(f, f.tokens.operator, null, { dataset: 'nat-result', department: 'x' });
    expect([noFile.status, noFile.body.error]).toEqual([400, 'EXC_ERR_FILE_MISSING']);
    const unknown = await upload(f, f.tokens.operator, { name: 'a.csv', data: 'x' }, { dataset: 'nope', department: 'x' });
    expect([unknown.status, unknown.body.error]).toEqual([400, 'EXC_ERR_DATASET_UNKNOWN']);
    const type = await upload(f, f.tokens.operator, { name: 'a.pdf', data: 'x' }, { dataset: 'nat-result', department: 'x' });
    expect([type.status, type.body.error]).toEqual([415, 'EXC_ERR_FILE_TYPE']);
    const dept = await upload(f, f.tokens.operator, { name: 'a.csv', data: 'x' }, { dataset: 'nat-result' });
    expect([dept.status, dept.body.error]).toEqual([400, 'EXC_ERR_DEPARTMENT']);
    const denied = await upload(f, f.tokens.analyst, { name: 'a.csv', data: 'x' }, { dataset: 'nat-result', department: 'x' });
    expect(denied.status).toBe(403);
    const missing = await f.call('GET', '/admin/v1/imports/AAAAAAAAAAAA', { token: f.tokens.operator });
    expect([missing.status, missing.body.error]).toEqual([404, 'EXC_ERR_BATCH_NOT_FOUND']);
  });

  it('city officers see only their own city\'s batches', async () => {
    const mine = await upload(f, f.tokens.city_officer, { name: 'c.csv', data: csv([NAT_HEADER, `resident,${residentId(700)},甲,,${hourAgo()},阴性,所`]) }, { dataset: 'nat-result', department: '成都' });
    await done(mine.body.id);
    const list = await f.call('GET', '/admin/v1/imports', { token: f.tokens.city_officer });
    expect(list.body.batches.map((b: any) => b.id)).toEqual([mine.body.id]);
    const other = await f.call('GET', `/admin/v1/imports/${mine.body.id}`, { token: f.tokens.city_officer_b });
    expect(other.status).toBe(404);
    const all = await f.call('GET', '/admin/v1/imports?limit=200', { token: f.tokens.operator });
    expect(all.body.batches.length).toBeGreaterThan(5);
  });
});
