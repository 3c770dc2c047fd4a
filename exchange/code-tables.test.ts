import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { validateCodeTable, valuesOf } from './code-tables.js';
import { BUILTIN_DATASETS } from './datasets.js';
import { chinaTime, csv, residentId, upload } from './test-helpers.common.js';

/**
 * The data standards editor (数据标准管理) end to end: code tables (码表,
 * code → Chinese name, versioned), a brand-new dataset whose enumeration
 * field references one, an import checked against it (and against the next
 * version once published), conformance listing it, the audit trail, and
 * every bad input with its code and Chinese text.
 */
let f: Fixture;
let inst: ExchangeInstance;
const ago = (h: number): string => chinaTime(f.clock.ms - h * 3600_000);

beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability], startCapabilities: true });
  inst = f.instances.exchange as unknown as ExchangeInstance;
}, 60_000);
afterAll(async () => {
  await f?.close();
});

async function done(id: string): Promise<any> {
  await inst.jobs.idle();
  return (await f.call('GET', `/admin/v1/imports/${id}`, { token: f.tokens.operator })).body;
}

const post = (path: string, body: unknown, token = f.tokens.operator): ReturnType<Fixture['call']> => f.call('POST', path, { token, body });

/** 抗原检测结果: nat-result's person fields, its own column names, the result from the code table. */
function antigen(over: Record<string, unknown> = {}, result: Record<string, unknown> = { codeTable: 'antigen-result' }): Record<string, unknown> {
  const nat = JSON.parse(JSON.stringify(BUILTIN_DATASETS.find((d) => d.id === 'nat-result')!));
  return {
    id: 'antigen-result', name: '抗原检测结果', description: '社区报送的抗原自测结果；阳性按规则转红码。', target: 'nat-result',
    fields: [
      nat.fields[0], nat.fields[1], nat.fields[2], nat.fields[3],
      { name: 'sampledAt', zh: '检测时间', type: 'datetime', required: true },
      { name: 'result', zh: '抗原结果', type: 'enum', required: true, ...result },
      { name: 'community', zh: '报送社区', type: 'text', max: 64, required: false },
    ],
    key: ['idType', 'idNo', 'sampledAt'], notFuture: ['sampledAt'], ...over,
  };
}

describe('code tables', () => {
  it('validates entries: empty, duplicate codes or texts, bad ids', () => {
    const t = validateCodeTable({ name: '结果', entries: [{ code: 'negative', name: '阴性', aliases: ['阴'] }, { code: 'positive', name: '阳性' }] }, 'rr', 1);
    expect(valuesOf(t)).toEqual({ negative: 'negative', 阴性: 'negative', 阴: 'negative', positive: 'positive', 阳性: 'positive' });
    const cases: [unknown, string, string][] = [
      [{ name: '空', entries: [] }, 'EXC_ERR_CODE_TABLE_EMPTY', 'entries'],
      [{ name: '空' }, 'EXC_ERR_CODE_TABLE_EMPTY', 'entries'],
      [{ name: '重', entries: [{ code: 'a', name: '甲' }, { code: 'a', name: '乙' }] }, 'EXC_ERR_CODE_TABLE_INVALID', 'entries[1].code'],
      [{ name: '重', entries: [{ code: 'a', name: '甲' }, { code: 'b', name: '甲' }] }, 'EXC_ERR_CODE_TABLE_INVALID', 'entries[1].name'],
      [{ name: '空格', entries: [{ code: ' a', name: '甲' }] }, 'EXC_ERR_CODE_TABLE_INVALID', 'entries[0].code'],
      [{ name: '', entries: [{ code: 'a', name: '甲' }] }, 'EXC_ERR_CODE_TABLE_INVALID', 'name'],
    ];
    for (const [x, code, field] of cases) expect(() => validateCodeTable(x, 'tbl', 1), JSON.stringify(x)).toThrow(expect.objectContaining({ code, field }));
    expect(() => validateCodeTable({ name: '表', entries: [{ code: 'a', name: '甲' }] }, 'Bad_Id', 1)).toThrow(expect.objectContaining({ code: 'EXC_ERR_CODE_TABLE_INVALID', field: 'id' }));
  });

  it('lists the built-in tables, creates one, refuses its id twice, and versions it; audited', async () => {
    const list = await f.call('GET', '/admin/v1/exchange/code-tables', { token: f.tokens.analyst });
    expect(list.status).toBe(200);
    expect(list.body.codeTables.map((t: any) => t.id)).toEqual(expect.arrayContaining(['test-result', 'risk-category', 'transport-mode']));
    const body = { id: 'antigen-result', name: '抗原检测结果', entries: [{ code: 'negative', name: '阴性', aliases: ['阴'] }, { code: 'positive', name: '阳性', aliases: ['阳'] }] };
    const ok = await post('/admin/v1/exchange/code-tables', body);
    expect([ok.status, ok.body.version]).toEqual([201, 1]);
    const again = await post('/admin/v1/exchange/code-tables', body);
    expect([again.status, again.body.error, again.body.field]).toEqual([409, 'EXC_ERR_CODE_TABLE_EXISTS', 'id']);
    expect(again.body.zh).toMatch(/码表标识已存在/);
    const empty = await post('/admin/v1/exchange/code-tables', { id: 'empty-table', name: '空表', entries: [] });
    expect([empty.status, empty.body.error]).toEqual([400, 'EXC_ERR_CODE_TABLE_EMPTY']);
    expect(empty.body.zh).toMatch(/码表没有任何代码项/);
    const unknown = await post('/admin/v1/exchange/code-tables/no-such-table/versions', body);
    expect([unknown.status, unknown.body.error]).toEqual([400, 'EXC_ERR_CODE_TABLE_UNKNOWN']);
    expect((await post('/admin/v1/exchange/code-tables', { ...body, id: 'x-y' }, f.tokens.analyst)).status).toBe(403);
    const one = await f.call('GET', '/admin/v1/exchange/code-tables/antigen-result/versions/1', { token: f.tokens.analyst });
    expect(one.body.codeTable.entries).toHaveLength(2);
    const audit = await f.audit.list({ action: 'exchange.code_table.add' });
    expect(audit.map((e) => e.target)).toEqual(['code-table:antigen-result']);
  });
});

describe('new datasets', () => {
  it('refuses bad definitions with their codes and Chinese texts', async () => {
    const cases: [Record<string, unknown>, number, string, string][] = [
      [antigen({ id: 'nat-result' }), 409, 'EXC_ERR_DATASET_EXISTS', 'id'],
      [antigen({ id: 'Antigen_Result' }), 400, 'EXC_ERR_DATASET_ID', 'id'],
      [antigen({ id: '抗原' }), 400, 'EXC_ERR_DATASET_ID', 'id'],
      [antigen({}, { codeTable: 'no-such-table' }), 400, 'EXC_ERR_CODE_TABLE_UNKNOWN', 'fields[5].codeTable'],
      [antigen({}, { codeTable: 'antigen-result', codeTableVersion: 9 }), 400, 'EXC_ERR_CODE_TABLE_UNKNOWN', 'fields[5].codeTable'],
      [antigen({}, {}), 400, 'EXC_ERR_CODE_TABLE_EMPTY', 'fields[5].codeTable'],
      [antigen({}, { values: {} }), 400, 'EXC_ERR_CODE_TABLE_EMPTY', 'fields[5].codeTable'],
      [antigen({}, { codeTable: 'risk-category' }), 400, 'EXC_ERR_DATASET_TARGET_FIELDS', 'fields[5].codeTable'],
      [{ ...antigen(), fields: (antigen().fields as any[]).map((x) => (x.name === 'community' ? { ...x, type: 'blob' } : x)) }, 400, 'EXC_ERR_FIELD_TYPE', 'fields[6].type'],
      [{ ...antigen(), fields: (antigen().fields as any[]).filter((x) => x.name !== 'sampledAt'), key: ['idType', 'idNo'], notFuture: [] }, 400, 'EXC_ERR_DATASET_TARGET_FIELDS', 'sampledAt'],
    ];
    for (const [body, status, code, field] of cases) {
      const r = await post('/admin/v1/exchange/datasets/new', body);
      expect([JSON.stringify(body).slice(0, 60), r.status, r.body.error, r.body.field]).toEqual([JSON.stringify(body).slice(0, 60), status, code, field]);
      expect(r.body.zh).toMatch(/[\u4e00-\u9fff]/);
    }
    // version 1 of an existing id through the versions endpoint too
    const v1 = await post('/admin/v1/exchange/datasets', { ...antigen({ id: 'vaccination' }), version: 1 });
    expect([v1.status, v1.body.error]).toEqual([409, 'EXC_ERR_DATASET_EXISTS']);
    expect((await post('/admin/v1/exchange/datasets/new', antigen(), f.tokens.analyst)).status).toBe(403);
  });

  it('creates a dataset from a code table, imports against it, then against its next version', async () => {
    const r = await post('/admin/v1/exchange/datasets/new', antigen());
    expect(r.status).toBe(201);
    const result = r.body.definition.fields.find((x: any) => x.name === 'result');
    expect(result).toMatchObject({ codeTable: 'antigen-result', codeTableVersion: 1, values: { 阳: 'positive', 阴性: 'negative' } });
    expect(r.body.definition.version).toBe(1);
    const dup = await post('/admin/v1/exchange/datasets/new', antigen());
    expect([dup.status, dup.body.error]).toEqual([409, 'EXC_ERR_DATASET_EXISTS']);
    expect(dup.body.zh).toMatch(/数据集标识已存在/);

    const pos = residentId(31);
    const up = await upload(f, f.tokens.operator, {
      name: 'antigen.csv', data: csv(['证件类型,证件号码,姓名,手机号,检测时间,抗原结果,报送社区', `居民身份证,${pos},抗原甲,,${ago(2)},阳,玉林社区`, `居民身份证,${residentId(32)},抗原乙,,${ago(2)},弱阳,玉林社区`]),
    }, { dataset: 'antigen-result', department: '武侯区' });
    expect(up.status).toBe(202);
    const b = await done(up.body.id);
    expect(b).toMatchObject({ status: 'done', datasetVersion: 1, rows: { total: 2, accepted: 1, rejected: 1 } });
    expect(b.errors[0]).toMatchObject({ row: 3, field: 'result', code: 'EXC_ERR_ENUM' });
    const p = (await f.store.findPersonByCertificate('resident', pos))!;
    expect((await f.store.getCode(p.id))!.color).toBe('red');

    // the table's next version takes 弱阳 as positive; the dataset's version 2 pins it; new uploads use it
    const t2 = await post('/admin/v1/exchange/code-tables/antigen-result/versions', {
      name: '抗原检测结果', entries: [{ code: 'negative', name: '阴性', aliases: ['阴'] }, { code: 'positive', name: '阳性', aliases: ['阳', '弱阳'] }],
    });
    expect([t2.status, t2.body.version]).toEqual([201, 2]);
    const v2 = await post('/admin/v1/exchange/datasets', { ...r.body.definition, version: 2, fields: r.body.definition.fields.map((x: any) => (x.name === 'result' ? { ...x, codeTableVersion: 2 } : x)) });
    expect(v2.status).toBe(201);
    const up2 = await upload(f, f.tokens.operator, {
      name: 'antigen2.csv', data: csv(['证件类型,证件号码,姓名,手机号,检测时间,抗原结果,报送社区', `居民身份证,${residentId(33)},抗原丙,,${ago(1)},弱阳,玉林社区`]),
    }, { dataset: 'antigen-result', department: '武侯区' });
    expect(await done(up2.body.id)).toMatchObject({ status: 'done', datasetVersion: 2, rows: { accepted: 1, rejected: 0 } });

    const conf = await f.call('GET', '/admin/v1/exchange/conformance?dataset=antigen-result', { token: f.tokens.analyst });
    expect(conf.status).toBe(200);
    expect(JSON.stringify(conf.body)).toMatch(/antigen-result/);
    const list = await f.call('GET', '/admin/v1/exchange/datasets', { token: f.tokens.analyst });
    expect(list.body.datasets.filter((d: any) => d.id === 'antigen-result').map((d: any) => d.version)).toEqual([2, 1]);
    const audit = await f.audit.list({ action: 'exchange.dataset.create' });
    expect(audit.map((e) => e.target)).toEqual(['dataset:antigen-result']);
  });
});
