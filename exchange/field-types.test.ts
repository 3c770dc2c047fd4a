import { describe, expect, it } from 'vitest';
import { rid } from '../admin-api/admin-fixture.common.js';
import { BUILTIN_DATASETS, validateDataset } from './datasets.js';
import { checkField, parseDate, parseDateTime } from './field-types.js';
import { checkRow, layoutOf } from './row-check.js';

/** The field types and the row check of the data standards, without a database. */
const now = new Date('2026-12-07T02:00:00Z');

describe('field types', () => {
  it('date-times: ISO 8601 with offset, or YYYY-MM-DD HH:mm:ss China time; impossible dates refused', () => {
    expect(parseDateTime('2026-12-07 10:00:00')).toBe(Date.parse('2026-12-07T02:00:00Z') / 1000);
    expect(parseDateTime('2026-12-07T10:00:00+08:00')).toBe(Date.parse('2026-12-07T02:00:00Z') / 1000);
    expect(parseDateTime('2026-12-07T02:00:00Z')).toBe(Date.parse('2026-12-07T02:00:00Z') / 1000);
    expect(parseDateTime('2026-12-07T10:00')).toBe(Date.parse('2026-12-07T02:00:00Z') / 1000);
    for (const bad of ['2026-02-30 10:00:00', '2026-12-07 24:00:00', '07/12/2026 10:00', '2026-12-07', '', '2026-12-07T10:00:00+25:00']) {
      expect(parseDateTime(bad)).toBeNull();
    }
    expect(parseDate('2026/12/07')).toBe('2026-12-07');
    expect(parseDate('20261207')).toBe('2026-12-07');
    expect(parseDate('2026-12-07 00:00:00')).toBe('2026-12-07');
    expect(parseDate('2026-13-01')).toBeNull();
  });

  it('GB 11643 resident IDs with check digit, other certificates by type', () => {
    const id = rid('51010419850612106');
    expect(checkField({ type: 'idNo' }, id.toLowerCase(), 'resident', now)).toEqual({ ok: true, value: id });
    const wrong = id.slice(0, 17) + (id.endsWith('1') ? '2' : '1');
    expect(checkField({ type: 'idNo' }, wrong, 'resident', now)).toMatchObject({ ok: false, code: 'EXC_ERR_ID_CHECK_DIGIT' });
    expect(checkField({ type: 'idNo' }, '5101041985061', 'resident', now)).toMatchObject({ ok: false, code: 'EXC_ERR_ID_INVALID' });
    expect(checkField({ type: 'idNo' }, 'E12345678', 'passport', now)).toEqual({ ok: true, value: 'E12345678' });
    expect(checkField({ type: 'idType' }, '居民身份证', undefined, now)).toEqual({ ok: true, value: 'resident' });
    expect(checkField({ type: 'idType' }, '驾驶证', undefined, now)).toMatchObject({ ok: false, code: 'EXC_ERR_ENUM' });
  });

  it('mobiles, names, regions (GB/T 2260 via core/regions), code tables, lengths', () => {
    expect(checkField({ type: 'mobile' }, '+86 138-1234-5678', undefined, now)).toEqual({ ok: true, value: '13812345678' });
    expect(checkField({ type: 'mobile' }, '12812345678', undefined, now)).toMatchObject({ ok: false, code: 'EXC_ERR_PHONE' });
    expect(checkField({ type: 'name' }, '张3', undefined, now)).toMatchObject({ ok: false, code: 'EXC_ERR_NAME' });
    expect(checkField({ type: 'region' }, '510104', undefined, now)).toEqual({ ok: true, value: '510104' });
    expect(checkField({ type: 'region' }, '519999', undefined, now)).toMatchObject({ ok: false, code: 'EXC_ERR_REGION' });
    expect(checkField({ type: 'region', regionLengths: [4, 6] }, '5101', undefined, now)).toEqual({ ok: true, value: '5101' });
    expect(checkField({ type: 'region' }, '5101', undefined, now)).toMatchObject({ ok: false, code: 'EXC_ERR_REGION' });
    expect(checkField({ type: 'enum', values: { 阴性: 'negative' } }, '阴性', undefined, now)).toEqual({ ok: true, value: 'negative' });
    expect(checkField({ type: 'text', max: 3 }, '四个字符', undefined, now)).toMatchObject({ ok: false, code: 'EXC_ERR_FIELD_TOO_LONG' });
  });
});

describe('data standards', () => {
  it('every built-in dataset is a valid definition; nat-result has the exact header and Chinese aliases', () => {
    for (const d of BUILTIN_DATASETS) expect(validateDataset(JSON.parse(JSON.stringify(d)))).toEqual(d);
    const nat = BUILTIN_DATASETS.find((d) => d.id === 'nat-result')!;
    expect(nat.fields.map((f) => f.name).join(',')).toBe('idType,idNo,name,phone,sampledAt,result,lab');
    expect(nat.fields.map((f) => f.zh).join(',')).toBe('证件类型,证件号码,姓名,手机号,采样时间,检测结果,检测机构');
  });

  it('refuses malformed definitions naming the part', () => {
    const nat = JSON.parse(JSON.stringify(BUILTIN_DATASETS[0]));
    expect(() => validateDataset({ ...nat, target: 'x' })).toThrow(expect.objectContaining({ code: 'EXC_ERR_DATASET_INVALID', field: 'target' }));
    expect(() => validateDataset({ ...nat, key: ['nope'] })).toThrow(expect.objectContaining({ field: 'key' }));
    expect(() => validateDataset({ ...nat, fields: [{ ...nat.fields[0], type: 'blob' }] })).toThrow(expect.objectContaining({ field: 'fields[0].type' }));
  });

  it('row check: header by Chinese name, all errors of a row, time order', () => {
    const arrival = BUILTIN_DATASETS.find((d) => d.id === 'arrival')!;
    const header = ['证件类型', '证件号码', '姓名', '手机号', '交通方式', '车次', '乘车日期', '座位号', '出发地', '目的地', '出发时间', '到达时间'];
    const layout = layoutOf(arrival, header);
    const id = rid('51010419850612106');
    const ok = checkRow(arrival, layout, 2, ['居民身份证', id, '张三', '', '火车', 'G1234', '2026-12-06', '05车12F', '110101', '510104', '2026-12-06 08:00:00', '2026-12-06 16:00:00'], now.getTime());
    expect(ok).toMatchObject({ row: 2, values: { mode: 'train', number: 'G1234', toRegion: '510104', travelDate: '2026-12-06' } });
    const bad = checkRow(arrival, layout, 3, ['居民身份证', id, '张三', '', '火车', 'G1234', '2026-12-06', '', '110101', '510104', '2026-12-06 18:00:00', '2026-12-06 16:00:00'], now.getTime());
    expect(bad).toEqual([expect.objectContaining({ row: 3, field: 'arriveAt', code: 'EXC_ERR_TIME_ORDER' })]);
    const many = checkRow(arrival, layout, 4, ['', id, '', '', '步行', '', '2026-12-06', '', '', '999999', '', ''], now.getTime());
    expect((many as { code: string }[]).map((e) => e.code).sort()).toEqual(
      ['EXC_ERR_ENUM', 'EXC_ERR_REGION', 'EXC_ERR_REQUIRED', 'EXC_ERR_REQUIRED', 'EXC_ERR_REQUIRED', 'EXC_ERR_REQUIRED'].sort(),
    );
    expect(() => layoutOf(arrival, ['证件号码'])).toThrow(expect.objectContaining({ code: 'EXC_ERR_HEADER' }));
  });
});
