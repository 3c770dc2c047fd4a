import { ExchangeError } from './errors.js';
import { FIELD_TYPES, ID_TYPE_TABLE, type FieldSpec } from './field-types.js';

/**
 * Data standards (数据标准管理) as data: each dataset a department hands over
 * is a versioned definition — fields with type, required flag, code table,
 * Chinese header and aliases, the duplicate key, the time checks — stored in
 * exchange_datasets (migrations.ts) and read by the import. The built-in
 * standards below are version 1 of each; a new version is a new row (the
 * console lists them), and every batch records the version it was checked
 * against, so conformance over time compares like with like.
 *
 * `target` names what accepted rows become (apply-chunk.ts): facts for code
 * assignment, travel segments, carrier stays, vaccination records.
 */
export type DatasetTarget = 'nat-result' | 'vaccination' | 'risk-person' | 'arrival' | 'carrier-stay';
export const TARGETS: readonly DatasetTarget[] = ['nat-result', 'vaccination', 'risk-person', 'arrival', 'carrier-stay'];

export interface FieldDef extends FieldSpec {
  /** column name in the standard (English header) */
  readonly name: string;
  /** Chinese header, accepted as the column name too */
  readonly zh: string;
  /** further accepted header spellings */
  readonly aliases?: readonly string[];
  readonly required: boolean;
  /** enum: the code table (码表, code-tables.ts) its values come from, pinned to a version when the dataset version is published */
  readonly codeTable?: string;
  readonly codeTableVersion?: number;
}

export interface DatasetDef {
  readonly id: string;
  readonly version: number;
  /** Chinese name */
  readonly name: string;
  readonly description: string;
  readonly target: DatasetTarget;
  readonly fields: readonly FieldDef[];
  /** fields whose values identify a record: a second row with the same values is a duplicate */
  readonly key: readonly string[];
  /** date-time / date fields that must not lie in the future */
  readonly notFuture: readonly string[];
  /** [earlier, later] pairs of date-time fields */
  readonly order?: readonly (readonly [string, string])[];
}

const ID_TYPE_FIELD: FieldDef = { name: 'idType', zh: '证件类型', type: 'idType', required: true };
const ID_NO_FIELD: FieldDef = { name: 'idNo', zh: '证件号码', aliases: ['身份证号', '身份证号码'], type: 'idNo', required: true };
const NAME_FIELD: FieldDef = { name: 'name', zh: '姓名', type: 'name', max: 64, required: true };
const PHONE_FIELD: FieldDef = { name: 'phone', zh: '手机号', aliases: ['手机号码', '联系电话'], type: 'mobile', required: false };

export const RESULT_TABLE: Readonly<Record<string, string>> = { 阴性: 'negative', 阳性: 'positive', negative: 'negative', positive: 'positive' };

export const BUILTIN_DATASETS: readonly DatasetDef[] = Object.freeze([
  {
    id: 'nat-result', version: 1, name: '核酸检测结果', target: 'nat-result',
    description: '检测机构报送的核酸检测结果；阳性结果按规则转为红码。',
    fields: [
      ID_TYPE_FIELD, ID_NO_FIELD, NAME_FIELD, PHONE_FIELD,
      { name: 'sampledAt', zh: '采样时间', type: 'datetime', required: true },
      { name: 'result', zh: '检测结果', type: 'enum', values: RESULT_TABLE, required: true },
      { name: 'lab', zh: '检测机构', type: 'text', max: 100, required: true },
    ],
    key: ['idType', 'idNo', 'sampledAt'],
    notFuture: ['sampledAt'],
  },
  {
    id: 'vaccination', version: 1, name: '疫苗接种记录', target: 'vaccination',
    description: '接种单位报送的新冠疫苗接种记录。',
    fields: [
      ID_TYPE_FIELD, ID_NO_FIELD, NAME_FIELD, PHONE_FIELD,
      { name: 'vaccinatedAt', zh: '接种时间', type: 'datetime', required: true },
      { name: 'dose', zh: '剂次', type: 'enum', values: { 1: '1', 2: '2', 3: '3', 4: '4', 第一剂: '1', 第二剂: '2', 第三剂: '3', 加强针: '3' }, required: true },
      { name: 'vaccine', zh: '疫苗名称', type: 'text', max: 64, required: true },
      { name: 'site', zh: '接种单位', type: 'text', max: 100, required: false },
    ],
    key: ['idType', 'idNo', 'dose'],
    notFuture: ['vaccinatedAt'],
  },
  {
    id: 'risk-person', version: 1, name: '风险人员名单', target: 'risk-person',
    description: '疾控报送的确诊、疑似、密接、次密接人员；按规则赋码。',
    fields: [
      ID_TYPE_FIELD, ID_NO_FIELD, NAME_FIELD, PHONE_FIELD,
      {
        name: 'category', zh: '人员类别', type: 'enum', required: true,
        values: {
          确诊: 'confirmed', 疑似: 'suspected', 密接: 'close_contact', 密切接触者: 'close_contact', 次密接: 'secondary_contact',
          confirmed: 'confirmed', suspected: 'suspected', close_contact: 'close_contact', secondary_contact: 'secondary_contact',
        },
      },
      { name: 'at', zh: '判定时间', type: 'datetime', required: true },
      { name: 'region', zh: '所在地区', type: 'region', required: false },
    ],
    key: ['idType', 'idNo', 'category', 'at'],
    notFuture: ['at'],
  },
  {
    id: 'arrival', version: 1, name: '入川人员行程', target: 'arrival',
    description: '交通部门报送的入川人员乘车（机、船）信息；写入行程并记为入川。',
    fields: [
      ID_TYPE_FIELD, ID_NO_FIELD, NAME_FIELD, PHONE_FIELD,
      {
        name: 'mode', zh: '交通方式', type: 'enum', required: true,
        values: { 火车: 'train', 飞机: 'flight', 汽车: 'bus', 客车: 'bus', 轮船: 'ship', 自驾: 'car', 其他: 'other', train: 'train', flight: 'flight', bus: 'bus', ship: 'ship', car: 'car', other: 'other' },
      },
      { name: 'number', zh: '车次航班', aliases: ['车次', '航班号'], type: 'text', max: 32, required: true },
      { name: 'travelDate', zh: '乘车日期', type: 'date', required: true },
      { name: 'seat', zh: '座位号', type: 'text', max: 32, required: false },
      { name: 'fromRegion', zh: '出发地', type: 'region', required: false },
      { name: 'toRegion', zh: '目的地', type: 'region', required: true },
      { name: 'departAt', zh: '出发时间', type: 'datetime', required: false },
      { name: 'arriveAt', zh: '到达时间', type: 'datetime', required: true },
    ],
    key: ['idType', 'idNo', 'mode', 'number', 'travelDate'],
    notFuture: ['travelDate', 'departAt', 'arriveAt'],
    order: [['departAt', 'arriveAt']],
  },
  {
    id: 'carrier-stay', version: 1, name: '运营商行程数据', target: 'carrier-stay',
    description: '运营商报送的手机号逗留城市（行程卡），按手机号哈希保存。',
    fields: [
      { name: 'phone', zh: '手机号', aliases: ['手机号码'], type: 'mobile', required: true },
      { name: 'carrier', zh: '运营商', type: 'enum', required: true, values: { 中国移动: '中国移动', 移动: '中国移动', 中国联通: '中国联通', 联通: '中国联通', 中国电信: '中国电信', 电信: '中国电信', 中国广电: '中国广电', 广电: '中国广电' } },
      { name: 'region', zh: '逗留城市', type: 'region', regionLengths: [4, 6], required: true },
      { name: 'day', zh: '日期', type: 'date', required: true },
    ],
    key: ['phone', 'region', 'day'],
    notFuture: ['day'],
  },
] satisfies DatasetDef[]);

const ID = /^[a-z][a-z0-9-]{1,39}$/;
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

function bad(field: string, detail: string): never {
  throw new ExchangeError('EXC_ERR_DATASET_INVALID', detail, field);
}

/** Checks a dataset definition (a new version posted from the console, or a stored one). */
export function validateDataset(x: unknown): DatasetDef {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) bad('dataset', 'must be an object');
  const d = x as Record<string, unknown>;
  if (typeof d.id !== 'string' || !ID.test(d.id)) throw new ExchangeError('EXC_ERR_DATASET_ID', undefined, 'id');
  if (!Number.isSafeInteger(d.version) || (d.version as number) < 1) bad('version', 'must be a positive integer');
  if (typeof d.name !== 'string' || d.name.length === 0 || d.name.length > 64) bad('name', 'must be 1–64 characters');
  if (typeof d.description !== 'string' || d.description.length > 500) bad('description', 'must be at most 500 characters');
  if (!TARGETS.includes(d.target as DatasetTarget)) bad('target', `must be one of ${TARGETS.join(', ')}`);
  if (!Array.isArray(d.fields) || d.fields.length === 0 || d.fields.length > 64) bad('fields', 'must be 1–64 fields');
  const names = new Set<string>();
  const headers = new Set<string>();
  (d.fields as unknown[]).forEach((f, i) => {
    const o = f as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) bad(`fields[${i}]`, 'must be an object');
    if (typeof o.name !== 'string' || !NAME.test(o.name)) bad(`fields[${i}].name`, 'must be a letter then letters, digits, _');
    if (typeof o.zh !== 'string' || o.zh.length === 0 || o.zh.length > 32) bad(`fields[${i}].zh`, 'must be 1–32 characters');
    if (!FIELD_TYPES.includes(o.type as never)) throw new ExchangeError('EXC_ERR_FIELD_TYPE', `must be one of ${FIELD_TYPES.join(', ')}`, `fields[${i}].type`);
    if (typeof o.required !== 'boolean') bad(`fields[${i}].required`, 'must be true or false');
    if (o.type === 'enum' && (typeof o.values !== 'object' || o.values === null || Array.isArray(o.values) || Object.keys(o.values).length === 0)) {
      throw new ExchangeError('EXC_ERR_CODE_TABLE_EMPTY', 'an enumeration field needs a code table', `fields[${i}].codeTable`);
    }
    if (o.type === 'enum' && Object.values(o.values as object).some((v) => typeof v !== 'string' || v.length === 0)) bad(`fields[${i}].values`, 'codes must be texts');
    if (o.codeTable !== undefined && (o.type !== 'enum' || typeof o.codeTable !== 'string' || !Number.isSafeInteger(o.codeTableVersion))) {
      bad(`fields[${i}].codeTable`, 'only an enumeration field references a code table (pinned to a version)');
    }
    if (o.aliases !== undefined && (!Array.isArray(o.aliases) || o.aliases.some((a) => typeof a !== 'string' || a.length === 0))) {
      bad(`fields[${i}].aliases`, 'must be a list of header names');
    }
    for (const h of [o.name, o.zh, ...((o.aliases as string[] | undefined) ?? [])] as string[]) {
      const k = h.toLowerCase();
      if (headers.has(k)) bad(`fields[${i}]`, `header ${h} is used twice`);
      headers.add(k);
    }
    names.add(o.name);
  });
  for (const k of ['key', 'notFuture'] as const) {
    if (!Array.isArray(d[k]) || (d[k] as unknown[]).some((n) => typeof n !== 'string' || !names.has(n))) bad(k, 'must list fields of the dataset');
  }
  if ((d.key as unknown[]).length === 0) bad('key', 'must name at least one field');
  checkTargetFields(d.target as DatasetTarget, d.fields as FieldDef[]);
  if (d.order !== undefined) {
    if (!Array.isArray(d.order) || (d.order as unknown[]).some((p) => !Array.isArray(p) || p.length !== 2 || !names.has(p[0]) || !names.has(p[1]))) {
      bad('order', 'must be [earlier, later] pairs of fields');
    }
  }
  return d as unknown as DatasetDef;
}

/**
 * What a target needs from a dataset's fields (apply-chunk.ts reads them by
 * name): each listed field present, of that type, required, and an
 * enumeration's codes among those the target understands. Persons are keyed
 * by certificate (idType + idNo) or mobile (DESIGN §2).
 */
const TARGET_FIELDS: Record<DatasetTarget, readonly { name: string; type: FieldDef['type']; codes?: readonly string[] }[]> = {
  'nat-result': [{ name: 'sampledAt', type: 'datetime' }, { name: 'result', type: 'enum', codes: ['negative', 'positive'] }],
  'risk-person': [
    { name: 'category', type: 'enum', codes: ['confirmed', 'suspected', 'close_contact', 'secondary_contact'] }, { name: 'at', type: 'datetime' },
  ],
  vaccination: [{ name: 'vaccinatedAt', type: 'datetime' }, { name: 'dose', type: 'enum', codes: ['1', '2', '3', '4', '5', '6'] }, { name: 'vaccine', type: 'text' }],
  arrival: [
    { name: 'mode', type: 'enum', codes: ['train', 'flight', 'bus', 'ship', 'car', 'other'] }, { name: 'number', type: 'text' },
    { name: 'travelDate', type: 'date' }, { name: 'toRegion', type: 'region' }, { name: 'arriveAt', type: 'datetime' },
  ],
  'carrier-stay': [{ name: 'phone', type: 'mobile' }, { name: 'carrier', type: 'enum' }, { name: 'region', type: 'region' }, { name: 'day', type: 'date' }],
};

function checkTargetFields(target: DatasetTarget, fields: readonly FieldDef[]): void {
  const need = (field: string, detail: string): ExchangeError => new ExchangeError('EXC_ERR_DATASET_TARGET_FIELDS', detail, field);
  for (const t of TARGET_FIELDS[target]) {
    const f = fields.find((x) => x.name === t.name);
    if (f === undefined) throw need(t.name, `${target} needs a field ${t.name} (${t.type})`);
    const i = fields.indexOf(f);
    if (f.type !== t.type || !f.required) throw need(`fields[${i}]`, `${t.name} must be a required ${t.type} field`);
    const outside = t.codes === undefined ? [] : Object.values(f.values ?? {}).filter((v) => !t.codes!.includes(v));
    if (outside.length > 0) throw need(`fields[${i}].codeTable`, `${t.name} codes must be among ${t.codes!.join(', ')}`);
  }
  if (target === 'carrier-stay') return;
  const byCert = fields.some((f) => f.name === 'idNo' && f.type === 'idNo') && fields.some((f) => f.name === 'idType' && f.type === 'idType');
  const byPhone = fields.some((f) => f.name === 'phone' && f.type === 'mobile');
  if (!byCert && !byPhone) throw need('fields', 'persons need idType + idNo, or phone');
}

/** The header cell → field name map of a dataset (case-insensitive, trimmed). */
export function headerIndex(def: DatasetDef): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of def.fields) for (const h of [f.name, f.zh, ...(f.aliases ?? [])]) m.set(h.trim().toLowerCase(), f.name);
  return m;
}

/** For the console: the code table of a field as [text, canonical] pairs. */
export function codeTable(f: FieldDef): [string, string][] {
  if (f.type === 'idType') return Object.entries(ID_TYPE_TABLE);
  return Object.entries(f.values ?? {});
}
