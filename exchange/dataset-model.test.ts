import { describe, expect, it } from 'vitest';
import { codeTables, dataElements, diffDatasets, fieldPathZh, tableOf, type DatasetDef } from './console/dataset-model.js';
import { BUILTIN_DATASETS } from './datasets.js';

/** The standards editor's model: the diff shown before saving, and where a server refusal points, in Chinese. */
const nat = structuredClone(BUILTIN_DATASETS.find((d) => d.id === 'nat-result')!) as unknown as DatasetDef;

describe('dataset editor model', () => {
  it('diffs a draft against the version it starts from, field by field', () => {
    expect(diffDatasets(nat, { ...nat, version: 2 })).toEqual([]);
    const next: DatasetDef = structuredClone(nat);
    next.version = 2;
    next.fields[6]!.zh = '检测机构名称';
    next.fields[3]!.required = true;
    next.fields.push({ name: 'site', zh: '采样点', type: 'text', required: false, max: 100 });
    next.fields = next.fields.filter((x) => x.name !== 'name');
    next.key = ['idType', 'idNo'];
    const d = diffDatasets(nat, next);
    expect(d.map((c) => c.what)).toEqual([
      '字段「手机号」的必填', '字段「检测机构名称」的中文表头', '新增字段「采样点」（site）', '删除字段「姓名」（name）', '判重字段',
    ]);
    expect(d[0]).toMatchObject({ from: '否', to: '是' });
    expect(d[2]!.to).toContain('最长 100 字');
    expect(d[4]).toMatchObject({ from: '证件类型、证件号码、采样时间', to: '证件类型、证件号码' });
    // a code table change is shown as codes
    const t = structuredClone(nat);
    t.fields[5]!.values = { 阴性: 'negative', 阳性: 'positive', 可疑: 'suspect' };
    expect(diffDatasets(nat, t)).toEqual([expect.objectContaining({ what: '字段「检测结果」的代码表', code: true })]);
    expect(diffDatasets(undefined, nat)[0]!.what).toBe('新建数据标准');
  });

  it('names the field of a server refusal in Chinese', () => {
    expect(fieldPathZh('fields[6].name', nat)).toBe('第 7 个字段「检测机构」的字段名（英文字母开头，只含字母、数字、下划线，最长 40 位）');
    expect(fieldPathZh('fields[5].values', nat)).toContain('第 6 个字段「检测结果」的代码表');
    expect(fieldPathZh('fields[1]', nat)).toBe('第 2 个字段「证件号码」（表头与其他字段重复）');
    expect(fieldPathZh('fields[70].zh', nat)).toBe('第 71 个字段的中文表头（1–32 字）');
    expect(fieldPathZh('key', nat)).toBe('判重字段（至少选一个字段）');
    expect(fieldPathZh('version', nat)).toContain('请刷新');
    expect(fieldPathZh(undefined, nat)).toBe('数据标准');
    expect(fieldPathZh('something', nat)).toBe('数据标准');
    expect(fieldPathZh('sampledAt', nat, 'EXC_ERR_DATASET_TARGET_FIELDS')).toBe('入库去向所需的字段 sampledAt');
    expect(fieldPathZh('fields[5].codeTable', nat, 'EXC_ERR_CODE_TABLE_UNKNOWN')).toBe('第 6 个字段「检测结果」的代码表（须选择已登记的码表）');
  });

  it('lists the code tables and data elements of every standard once', () => {
    const defs = BUILTIN_DATASETS as unknown as DatasetDef[];
    const tables = codeTables(defs);
    expect(tables.map((x) => x.label)).toEqual(['检测结果（核酸检测结果）', '剂次（疫苗接种记录）', '人员类别（风险人员名单）', '交通方式（入川人员行程）', '运营商（运营商行程数据）']);
    expect(tableOf(nat.fields[5]!, tables)?.label).toBe('检测结果（核酸检测结果）');
    const els = dataElements(defs);
    expect(els.find((e) => e.name === 'idNo')!.usedIn).toHaveLength(4);
    expect(new Set(els.map((e) => `${e.name}|${e.type}`)).size).toBe(els.length);
  });
});
