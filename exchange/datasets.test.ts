import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { rid, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { chinaTime, csv, hostOf, NAT_HEADER, residentId, upload } from './test-helpers.common.js';

/**
 * The other built-in standards (risk persons, arrivals, carrier stays,
 * vaccinations) land where tracing and the citizen card read them, and a
 * restart in the middle of a batch resumes it without applying anything twice.
 */
let f: Fixture;
let inst: ExchangeInstance;
const ENV = { EXCHANGE_CHUNK_ROWS: '10' };

beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability], capabilityEnv: { exchange: ENV }, startCapabilities: true });
  inst = f.instances.exchange as unknown as ExchangeInstance;
}, 60_000);
afterAll(async () => {
  await f?.close();
});

async function done(id: string): Promise<any> {
  await inst.jobs.idle();
  return (await f.call('GET', `/admin/v1/imports/${id}`, { token: f.tokens.operator })).body;
}
const ago = (h: number): string => chinaTime(f.clock.ms - h * 3600_000);
const day = (d: number): string => chinaTime(f.clock.ms - d * 86_400_000).slice(0, 10);

describe('datasets', () => {
  it('risk-person: a close contact gets the code the rules give', async () => {
    const id = residentId(11);
    const r = await upload(f, f.tokens.operator, { name: 'r.csv', data: csv(['证件类型,证件号码,姓名,手机号,人员类别,判定时间,所在地区', `居民身份证,${id},周九,,密接,${ago(2)},510104`]) }, { dataset: 'risk-person', department: '疾控' });
    expect(await done(r.body.id)).toMatchObject({ status: 'done', rows: { accepted: 1 } });
    const p = (await f.store.findPersonByCertificate('resident', id))!;
    expect((await f.store.getCode(p.id))!.color).not.toBe('green');
    const facts = await f.codes.facts(p.id);
    expect(facts[0]).toMatchObject({ kind: 'close_contact', region: '510104' });
  });

  it('arrival: a travel segment and an entry fact per row, with lineage', async () => {
    const id = residentId(12);
    const header = 'idType,idNo,name,phone,mode,number,travelDate,seat,fromRegion,toRegion,departAt,arriveAt';
    const r = await upload(f, f.tokens.operator, { name: 'a.csv', data: csv([header, `resident,${id},吴十,13900000012,火车,G8601,${day(1)},05车12F,110101,510104,${day(1)} 08:00:00,${day(1)} 15:30:00`]) }, { dataset: 'arrival', department: '铁路' });
    expect(await done(r.body.id)).toMatchObject({ status: 'done', rows: { accepted: 1, rejected: 0 } });
    const p = (await f.store.findPersonByCertificate('resident', id))!;
    const seg = await f.db.query<any>('SELECT mode, number, travel_date, seat, from_region, to_region, source, source_ref FROM travel_segments WHERE person_id = $1', [p.id]);
    expect(seg.rows).toEqual([{ mode: 'train', number: 'G8601', travel_date: day(1), seat: '05车12F', from_region: '110101', to_region: '510104', source: 'import:arrival', source_ref: `${r.body.id}:2` }]);
    const facts = await f.db.query<any>("SELECT kind, region, source_ref FROM facts WHERE person_id = $1", [p.id]);
    expect(facts.rows).toEqual([{ kind: 'entry', region: '510104', source_ref: `${r.body.id}:2` }]);
  });

  it('carrier-stay: stays keyed by the phone hash the master uses, duplicates refused', async () => {
    const phone = '13900000013';
    const lines = ['手机号,运营商,逗留城市,日期', `${phone},移动,5101,${day(2)}`, `${phone},中国移动,110101,${day(1)}`, `${phone},移动,5101,${day(2)}`];
    const r = await upload(f, f.tokens.operator, { name: 'c.csv', data: csv(lines) }, { dataset: 'carrier-stay', department: '中国移动四川公司' });
    const b = await done(r.body.id);
    expect(b.rows).toEqual({ total: 3, accepted: 2, rejected: 1 });
    expect(b.errors[0]).toMatchObject({ row: 4, code: 'EXC_ERR_DUP_IN_FILE' });
    const hash = new PiiCrypto(f.secrets).lookupHash(`P:${phone}`);
    const stays = await f.db.query<any>('SELECT carrier, region, day FROM carrier_stays WHERE phone_hash = $1 ORDER BY day', [hash]);
    expect(stays.rows).toEqual([{ carrier: '中国移动', region: '5101', day: day(2) }, { carrier: '中国移动', region: '110101', day: day(1) }]);
    // the person registered with that phone has the same hash: the travel card finds the stays
    const reg = await f.codes.register({ phone });
    const person = await f.db.query<{ phone_hash: Buffer }>('SELECT phone_hash FROM persons WHERE id = $1', [reg.personId]);
    expect(Buffer.from(person.rows[0]!.phone_hash).equals(hash)).toBe(true);
  });

  it('vaccination: records by person', async () => {
    const id = residentId(14);
    const r = await upload(f, f.tokens.operator, { name: 'v.csv', data: csv(['证件类型,证件号码,姓名,手机号,接种时间,剂次,疫苗名称,接种单位', `居民身份证,${id},郑一,,${ago(30)},第一剂,新冠病毒灭活疫苗,锦江区社区卫生服务中心`]) }, { dataset: 'vaccination', department: '接种' });
    expect(await done(r.body.id)).toMatchObject({ status: 'done', rows: { accepted: 1 } });
    const p = (await f.store.findPersonByCertificate('resident', id))!;
    const v = await f.db.query<any>('SELECT dose, vaccine, source_ref FROM exchange_vaccinations WHERE person_id = $1', [p.id]);
    expect(v.rows).toEqual([{ dose: 1, vaccine: '新冠病毒灭活疫苗', source_ref: `${r.body.id}:2` }]);
  });

  it('lists the standards with their versions; a new version is added and used by new uploads', async () => {
    const list = await f.call('GET', '/admin/v1/exchange/datasets', { token: f.tokens.analyst });
    expect(list.body.datasets.map((d: any) => d.id).sort()).toEqual(['arrival', 'carrier-stay', 'nat-result', 'risk-person', 'vaccination']);
    const nat = list.body.datasets.find((d: any) => d.id === 'nat-result');
    const def = (await inst.datasets.get('nat-result'));
    const v2 = { ...def, version: 2, fields: def.fields.map((x) => (x.name === 'lab' ? { ...x, required: false } : x)) };
    const bad = await f.call('POST', '/admin/v1/exchange/datasets', { token: f.tokens.operator, body: { ...v2, version: 5 } });
    expect([bad.status, bad.body.error, bad.body.field]).toEqual([400, 'EXC_ERR_DATASET_INVALID', 'version']);
    const ok = await f.call('POST', '/admin/v1/exchange/datasets', { token: f.tokens.operator, body: v2 });
    expect(ok.status).toBe(201);
    expect(nat.fields.find((x: any) => x.name === 'result').values).toContainEqual(['阴性', 'negative']);
    const r = await upload(f, f.tokens.operator, { name: 'n.csv', data: csv(['idType,idNo,name,phone,sampledAt,result', `resident,${residentId(15)},王二,,${ago(1)},阴性`]) }, { dataset: 'nat-result', department: 'x' });
    expect(await done(r.body.id)).toMatchObject({ status: 'done', datasetVersion: 2, rows: { accepted: 1 } });
  });
});

describe('masked data return', () => {
  it('each city gets the batch rows of its own residents, masked, and every return is recorded', async () => {
    const luzhou = rid('51050219900101124');
    const cd1 = residentId(21);
    const cd2 = residentId(22);
    const lines = [NAT_HEADER, `resident,${cd1},欧阳娜娜,13900000021,${ago(1)},阳性,所`, `resident,${luzhou},李四,,${ago(1)},阴性,所`, `resident,${cd2},王五,,${ago(1)},阴性,所`];
    const r = await upload(f, f.tokens.operator, { name: 'ret.csv', data: csv(lines) }, { dataset: 'nat-result', department: '省中心' });
    await done(r.body.id);
    const get = async (token: string, q = ''): Promise<ExcelJS.Worksheet> => {
      const res = await fetch(`${f.base}/admin/v1/imports/${r.body.id}/return.xlsx${q}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(await res.arrayBuffer());
      return wb.worksheets[0]!;
    };
    const cd = await get(f.tokens.city_officer, '?region=');
    expect(cd.rowCount).toBe(3);
    expect(cd.getRow(2).values).toEqual([undefined, 2, '居民身份证', `${cd1.slice(0, 4)}**********${cd1.slice(14)}`, '欧**娜', '139****0021', expect.stringContaining('锦江区'), '核酸检测', expect.any(String), '阳性']);
    expect(JSON.stringify(cd.getSheetValues())).not.toContain(cd1);
    // a city officer cannot widen the region
    const wide = await get(f.tokens.city_officer, '?region=51');
    expect(wide.rowCount).toBe(3);
    const lz = await get(f.tokens.city_officer_b);
    expect(lz.rowCount).toBe(2);
    expect(lz.getRow(2).getCell(1).value).toBe(3);
    const mon = await f.call('GET', '/admin/v1/exchange/returns', { token: f.tokens.operator });
    expect(mon.body.returns.filter((x: any) => x.batch === r.body.id).map((x: any) => [x.region, x.rows]).sort()).toEqual([['5101', 2], ['5101', 2], ['5105', 1]]);
    const mine = await f.call('GET', '/admin/v1/exchange/returns', { token: f.tokens.city_officer });
    expect(mine.body.returns.every((x: any) => x.region.startsWith('5101'))).toBe(true);
  });
});

describe('restart', () => {
  it('a batch stopped after a committed chunk resumes in a new instance without applying a row twice', async () => {
    const lines = [NAT_HEADER];
    for (let i = 0; i < 45; i++) lines.push(`resident,${residentId(3000 + i)},冯二,,${ago(1)},${i % 9 === 0 ? '阳性' : '阴性'},所`);
    lines.push(`resident,${residentId(3000)},冯二,,${ago(1)},阳性,所`); // a duplicate of row 2, found across the restart
    let chunks = 0;
    inst.jobs.onChunk = () => {
      if (++chunks === 2) void inst.jobs.stop();
    };
    const r = await upload(f, f.tokens.operator, { name: 'restart.csv', data: csv(lines) }, { dataset: 'nat-result', department: 'x' });
    await inst.jobs.idle();
    inst.jobs.onChunk = null;
    const mid = await inst.jobs.get(r.body.id);
    expect(mid).toMatchObject({ status: 'running', nextRow: 22, rows: { total: 20, accepted: 20 } });

    const again = await exchangeCapability.create(hostOf(f), exchangeCapability.config(ENV, { dataDir: f.dataDir, mode: 'embedded' }));
    const second = again as unknown as ExchangeInstance & { start(): Promise<void>; stop(): Promise<void> };
    await second.start();
    await second.jobs.idle();
    await second.stop();
    const b = (await second.jobs.get(r.body.id))!;
    expect(b).toMatchObject({ status: 'done', rows: { total: 46, accepted: 45, rejected: 1 } });
    const facts = await f.db.query<{ n: number; d: number }>(
      "SELECT count(*)::int AS n, count(DISTINCT source_ref)::int AS d FROM facts WHERE source_ref LIKE $1", [`${r.body.id}:%`],
    );
    expect(facts.rows[0]).toEqual({ n: 45, d: 45 });
    const e = await f.db.query<any>('SELECT row, code FROM exchange_errors WHERE batch_id = $1', [r.body.id]);
    expect(e.rows).toEqual([{ row: 47, code: 'EXC_ERR_DUP_IN_FILE' }]);
    expect(existsSync(second.jobs.spoolPath(r.body.id))).toBe(false);
  });

  it('a batch whose spooled file is gone after a restart fails cleanly with EXC_ERR_INTERRUPTED', async () => {
    const lines = [NAT_HEADER];
    for (let i = 0; i < 25; i++) lines.push(`resident,${residentId(4000 + i)},陈三,,${ago(1)},阴性,所`);
    await inst.jobs.start(); // the previous test stopped it
    inst.jobs.onChunk = () => void inst.jobs.stop();
    const r = await upload(f, f.tokens.operator, { name: 'gone.csv', data: csv(lines) }, { dataset: 'nat-result', department: 'x' });
    await inst.jobs.idle();
    inst.jobs.onChunk = null;
    rmSync(inst.jobs.spoolPath(r.body.id));
    const again = (await exchangeCapability.create(hostOf(f), exchangeCapability.config(ENV, { dataDir: f.dataDir, mode: 'embedded' }))) as unknown as ExchangeInstance & { start(): Promise<void>; stop(): Promise<void> };
    await again.start();
    await again.jobs.idle();
    await again.stop();
    expect(await again.jobs.get(r.body.id)).toMatchObject({ status: 'failed', error: { code: 'EXC_ERR_INTERRUPTED' }, rows: { total: 10, accepted: 10 } });
  });
});
