/**
 * The data standards editor's model (pure, no React): the definition as the
 * server stores it (exchange/datasets.ts, repeated here because the console
 * bundle must not pull in server modules), the diff of a draft against the
 * version it starts from, and the Chinese reading of the server's
 * `field` path on EXC_ERR_DATASET_INVALID (`fields[2].type` → 第 3 个字段「采样时间」的类型).
 */
export type FieldType = 'idType' | 'idNo' | 'mobile' | 'name' | 'region' | 'datetime' | 'date' | 'enum' | 'text';
export const FIELD_TYPES: readonly FieldType[] = ['idType', 'idNo', 'mobile', 'name', 'region', 'datetime', 'date', 'enum', 'text'];

export interface FieldDef {
  name: string;
  zh: string;
  aliases?: string[];
  type: FieldType;
  required: boolean;
  values?: Record<string, string>;
  max?: number;
  regionLengths?: number[];
  /** enum: the registered code table (码表) its values come from, and its version */
  codeTable?: string;
  codeTableVersion?: number;
}

export interface DatasetDef {
  id: string;
  version: number;
  name: string;
  description: string;
  target: string;
  fields: FieldDef[];
  key: string[];
  notFuture: string[];
  order?: [string, string][];
}

/** A named code table the editor offers for enum fields (collected from every standard's enum fields). */
export interface CodeTable { id: string; label: string; values: Record<string, string> }

export function codeTables(defs: readonly { name: string; fields: readonly FieldDef[] }[]): CodeTable[] {
  const out: CodeTable[] = [];
  const seen = new Set<string>();
  for (const d of defs) {
    for (const f of d.fields) {
      if (f.type !== 'enum' || f.values === undefined) continue;
      const sig = JSON.stringify(Object.entries(f.values).sort());
      if (seen.has(sig)) continue;
      seen.add(sig);
      out.push({ id: `t${out.length + 1}`, label: `${f.zh}（${d.name}）`, values: f.values });
    }
  }
  return out;
}

/** The code table of an enum field, named by the table it equals (or 自定义). */
export function tableOf(f: FieldDef, tables: readonly CodeTable[]): CodeTable | undefined {
  if (f.values === undefined) return undefined;
  const sig = JSON.stringify(Object.entries(f.values).sort());
  return tables.find((t) => JSON.stringify(Object.entries(t.values).sort()) === sig);
}

/** Data elements (数据元): each distinct field of every standard, to reuse in a new version. */
export function dataElements(defs: readonly { name: string; fields: readonly FieldDef[] }[]): (FieldDef & { usedIn: string[] })[] {
  const m = new Map<string, FieldDef & { usedIn: string[] }>();
  for (const d of defs) {
    for (const f of d.fields) {
      const k = `${f.name}|${f.type}`;
      const e = m.get(k);
      if (e === undefined) m.set(k, { ...f, usedIn: [d.name] });
      else if (!e.usedIn.includes(d.name)) e.usedIn.push(d.name);
    }
  }
  return [...m.values()];
}

const TYPE_ZH: Record<string, string> = {
  idType: '证件类型', idNo: '证件号码', mobile: '手机号码', name: '姓名', region: '行政区划代码', datetime: '日期时间', date: '日期', enum: '代码表', text: '文本',
};

/** The format a field's cells must have, in words (what 格式 means per type). */
export function formatText(f: FieldDef): string {
  switch (f.type) {
    case 'idType': return '居民身份证、护照、港澳通行证等';
    case 'idNo': return '居民身份证 18 位，GB 11643 校验位；其他证件按证件类型';
    case 'mobile': return '11 位手机号码';
    case 'name': return `最长 ${f.max ?? 64} 字`;
    case 'region': return `GB/T 2260 代码 ${(f.regionLengths ?? [6]).join(' 或 ')} 位`;
    case 'datetime': return 'YYYY-MM-DD HH:mm:ss（北京时间）或 ISO 8601';
    case 'date': return 'YYYY-MM-DD';
    // the accepted texts themselves are codes (shown in the code-table list), some of them Latin
    case 'enum': return `取值见代码表（${Object.keys(f.values ?? {}).length} 项）`;
    case 'text': return `最长 ${f.max ?? 64} 字`;
  }
}

/** `code`: the values are codes (code-table entries), shown in monospace as data, not as words. */
export interface Change { what: string; from: string; to: string; code?: boolean }

function fieldSummary(f: FieldDef): Record<string, string> {
  return {
    中文表头: f.zh,
    其他表头: (f.aliases ?? []).join('、') || '—',
    类型: TYPE_ZH[f.type] ?? f.type,
    必填: f.required ? '是' : '否',
    代码表: f.type === 'enum' ? Object.entries(f.values ?? {}).map(([k, v]) => `${k}=${v}`).join('、') : '—',
    // an enum's format is its code table (compared above): not a second line in the diff
    格式: f.type === 'enum' ? '按代码表' : formatText(f),
  };
}

/** What a draft changes against the version it starts from, line by line, in Chinese. */
export function diffDatasets(prev: DatasetDef | undefined, next: DatasetDef): Change[] {
  const out: Change[] = [];
  const zhOf = (d: DatasetDef | undefined, n: string): string => d?.fields.find((f) => f.name === n)?.zh ?? n;
  const list = (d: DatasetDef | undefined, ns: readonly string[] | undefined): string => (ns ?? []).map((n) => zhOf(d, n)).join('、') || '—';
  if (prev === undefined) {
    out.push({ what: '新建数据标准', from: '—', to: `${next.name}（${next.fields.length} 个字段）` });
    return out;
  }
  if (prev.name !== next.name) out.push({ what: '名称', from: prev.name, to: next.name });
  if (prev.description !== next.description) out.push({ what: '说明', from: prev.description, to: next.description });
  for (const f of next.fields) {
    const p = prev.fields.find((x) => x.name === f.name);
    if (p === undefined) {
      out.push({ what: `新增字段「${f.zh}」（${f.name}）`, from: '—', to: Object.entries(fieldSummary(f)).filter(([k]) => k !== '中文表头').map(([k, v]) => `${k}：${v}`).join('；') });
      continue;
    }
    const a = fieldSummary(p);
    const b = fieldSummary(f);
    for (const k of Object.keys(b)) if (a[k] !== b[k]) out.push({ what: `字段「${f.zh}」的${k}`, from: a[k]!, to: b[k]!, ...(k === '代码表' ? { code: true } : {}) });
  }
  for (const p of prev.fields) if (!next.fields.some((f) => f.name === p.name)) out.push({ what: `删除字段「${p.zh}」（${p.name}）`, from: TYPE_ZH[p.type] ?? p.type, to: '—' });
  const po = prev.fields.map((f) => f.name).filter((n) => next.fields.some((f) => f.name === n));
  const no = next.fields.map((f) => f.name).filter((n) => prev.fields.some((f) => f.name === n));
  if (po.join() !== no.join()) out.push({ what: '字段顺序', from: list(prev, po), to: list(next, no) });
  if ([...prev.key].sort().join() !== [...next.key].sort().join()) out.push({ what: '判重字段', from: list(prev, prev.key), to: list(next, next.key) });
  if ([...prev.notFuture].sort().join() !== [...next.notFuture].sort().join()) out.push({ what: '不得晚于当前时间', from: list(prev, prev.notFuture), to: list(next, next.notFuture) });
  return out;
}

const ATTR_ZH: Record<string, string> = {
  name: '字段名（英文字母开头，只含字母、数字、下划线，最长 40 位）', zh: '中文表头（1–32 字）', type: '类型', required: '必填',
  values: '代码表（代码表类型须选择代码表）', aliases: '其他表头', codeTable: '代码表（须选择已登记的码表）',
};
const TOP_ZH: Record<string, string> = {
  dataset: '数据标准', id: '标识', version: '版本号（已有人发布了更新的版本，请刷新后重试）', name: '名称（1–64 字）', description: '说明（最多 500 字）',
  target: '入库去向', fields: '字段（1–64 个）', key: '判重字段（至少选一个字段）', notFuture: '不得晚于当前时间的字段', order: '时间先后',
};

/** The server's error field path → the place in the editor, in Chinese. */
export function fieldPathZh(path: string | undefined, draft: DatasetDef, code?: string): string {
  if (path === undefined || path === '') return '数据标准';
  const m = /^fields\[(\d+)\](?:\.(\w+))?$/.exec(path);
  if (m !== null) {
    const i = Number(m[1]);
    const f = draft.fields[i];
    const who = `第 ${i + 1} 个字段${f && f.zh !== '' ? `「${f.zh}」` : ''}`;
    if (m[2] === undefined) return `${who}（表头与其他字段重复）`;
    return `${who}的${ATTR_ZH[m[2]] ?? m[2]}`;
  }
  if (TOP_ZH[path] !== undefined) return TOP_ZH[path]!;
  // a field the dataset's purpose needs (EXC_ERR_DATASET_TARGET_FIELDS names it)
  if (code === 'EXC_ERR_DATASET_TARGET_FIELDS' && /^[A-Za-z]\w*$/.test(path)) return `入库去向所需的字段 ${path}`;
  return '数据标准';
}

/** A registered code table (码表) as GET /admin/v1/exchange/code-tables lists it. */
export interface RegisteredTable { id: string; version: number; name: string; description: string; entries: { code: string; name: string; aliases?: string[] }[] }

/** The accepted texts of a registered table → its codes (what the server writes into the field). */
export function registeredValues(t: RegisteredTable): Record<string, string> {
  const v: Record<string, string> = {};
  for (const e of t.entries) {
    v[e.code] = e.code;
    v[e.name] = e.code;
    for (const a of e.aliases ?? []) v[a] = e.code;
  }
  return v;
}

/** Entries as editable lines: 代码,中文名称[,别名|别名] (one entry per line). */
export function entriesText(t: Pick<RegisteredTable, 'entries'>): string {
  return t.entries.map((e) => [e.code, e.name, ...((e.aliases ?? []).length > 0 ? [(e.aliases ?? []).join('|')] : [])].join(',')).join('\n');
}

/** The lines back to entries (empty lines skipped; the server checks the rest). */
export function parseEntries(text: string): RegisteredTable['entries'] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '').map((l) => {
    const [code = '', name = '', aliases = ''] = l.split(/[,，]/).map((x) => x.trim());
    const list = aliases.split('|').map((a) => a.trim()).filter((a) => a !== '');
    return { code, name, ...(list.length > 0 ? { aliases: list } : {}) };
  });
}
