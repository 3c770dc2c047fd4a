import type { SqlClient } from '../master/sql-client.js';
import { ExchangeError } from './errors.js';

/**
 * Code tables (码表) of the data standards: code → Chinese name, versioned,
 * stored in exchange_code_tables (migration 8). An enumeration field of a
 * dataset references one (`codeTable`, `codeTableVersion`); when a dataset
 * version is published the reference is pinned to the table's version and
 * the accepted texts are written into the definition as `values` (the code,
 * its Chinese name and its aliases → the code), so a published dataset
 * version never changes meaning when its table gets a new version, and the
 * import checks rows exactly as before (field-types.ts).
 */
export interface CodeEntry {
  /** the canonical value stored and compared (e.g. 'positive') */
  readonly code: string;
  /** Chinese name (e.g. 阳性) — accepted in files too */
  readonly name: string;
  /** other spellings accepted in files */
  readonly aliases?: readonly string[];
}

export interface CodeTable {
  readonly id: string;
  readonly version: number;
  /** Chinese name of the table */
  readonly name: string;
  readonly description: string;
  readonly entries: readonly CodeEntry[];
}

export const CODE_TABLE_ID = /^[a-z][a-z0-9-]{1,39}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_ENTRIES = 2000;

/** The built-in tables: version 1 of each, the code tables of the built-in standards. */
export const BUILTIN_CODE_TABLES: readonly CodeTable[] = Object.freeze([
  {
    id: 'test-result', version: 1, name: '核酸检测结果', description: '核酸检测结论。',
    entries: [{ code: 'negative', name: '阴性' }, { code: 'positive', name: '阳性' }],
  },
  {
    id: 'risk-category', version: 1, name: '风险人员类别', description: '疾控判定的风险人员类别。',
    entries: [
      { code: 'confirmed', name: '确诊' }, { code: 'suspected', name: '疑似' }, { code: 'close_contact', name: '密接', aliases: ['密切接触者'] },
      { code: 'secondary_contact', name: '次密接' },
    ],
  },
  {
    id: 'vaccine-dose', version: 1, name: '疫苗剂次', description: '新冠疫苗接种剂次。',
    entries: [{ code: '1', name: '第一剂' }, { code: '2', name: '第二剂' }, { code: '3', name: '第三剂', aliases: ['加强针'] }, { code: '4', name: '第四剂' }],
  },
  {
    id: 'transport-mode', version: 1, name: '交通方式', description: '入川人员的交通方式。',
    entries: [
      { code: 'train', name: '火车' }, { code: 'flight', name: '飞机' }, { code: 'bus', name: '汽车', aliases: ['客车'] }, { code: 'ship', name: '轮船' },
      { code: 'car', name: '自驾' }, { code: 'other', name: '其他' },
    ],
  },
  {
    id: 'carrier', version: 1, name: '通信运营商', description: '基础电信运营商。',
    entries: [
      { code: '中国移动', name: '中国移动', aliases: ['移动'] }, { code: '中国联通', name: '中国联通', aliases: ['联通'] },
      { code: '中国电信', name: '中国电信', aliases: ['电信'] }, { code: '中国广电', name: '中国广电', aliases: ['广电'] },
    ],
  },
] satisfies CodeTable[]);

function invalid(field: string, detail: string): never {
  throw new ExchangeError('EXC_ERR_CODE_TABLE_INVALID', detail, field);
}

function text(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max && v.trim() === v && !CONTROL.test(v);
}

/**
 * Checks a code table (id and version given by the caller: the path or the
 * next number). Empty → EXC_ERR_CODE_TABLE_EMPTY; anything else malformed →
 * EXC_ERR_CODE_TABLE_INVALID with the part in `field` (entries[2].name …).
 */
export function validateCodeTable(x: unknown, id: string, version: number): CodeTable {
  if (!CODE_TABLE_ID.test(id)) invalid('id', 'must be 2–40 lower-case letters, digits and -, starting with a letter');
  if (typeof x !== 'object' || x === null || Array.isArray(x)) invalid('codeTable', 'must be an object');
  const o = x as Record<string, unknown>;
  if (!text(o.name, 32)) invalid('name', 'must be 1–32 characters');
  const description = o.description ?? '';
  if (typeof description !== 'string' || description.length > 500) invalid('description', 'at most 500 characters');
  if (!Array.isArray(o.entries) || o.entries.length === 0) throw new ExchangeError('EXC_ERR_CODE_TABLE_EMPTY', undefined, 'entries');
  if (o.entries.length > MAX_ENTRIES) invalid('entries', `at most ${MAX_ENTRIES} entries`);
  const texts = new Map<string, string>();
  const codes = new Set<string>();
  const entries = (o.entries as unknown[]).map((e, i): CodeEntry => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) invalid(`entries[${i}]`, 'must be an object');
    const r = e as Record<string, unknown>;
    if (!text(r.code, 32)) invalid(`entries[${i}].code`, 'must be 1–32 characters without spaces around');
    if (!text(r.name, 32)) invalid(`entries[${i}].name`, 'must be 1–32 characters without spaces around');
    const aliases = r.aliases ?? [];
    if (!Array.isArray(aliases) || aliases.length > 20 || aliases.some((a) => !text(a, 32))) invalid(`entries[${i}].aliases`, 'must be a list of 1–32 character texts');
    const code = r.code as string;
    if (codes.has(code)) invalid(`entries[${i}].code`, `code ${code} is given twice`);
    codes.add(code);
    for (const [k, t] of [['code', code], ['name', r.name as string], ...(aliases as string[]).map((a) => ['aliases', a] as const)] as const) {
      const prev = texts.get(t);
      if (prev !== undefined && prev !== code) invalid(`entries[${i}].${k}`, `${t} is used twice`);
      texts.set(t, code);
    }
    return { code, name: r.name as string, ...((aliases as string[]).length > 0 ? { aliases: aliases as string[] } : {}) };
  });
  return { id, version, name: o.name as string, description, entries };
}

/** The accepted texts of a table → the code (a field's `values`). */
export function valuesOf(t: CodeTable): Record<string, string> {
  const v: Record<string, string> = {};
  for (const e of t.entries) {
    v[e.code] = e.code;
    v[e.name] = e.code;
    for (const a of e.aliases ?? []) v[a] = e.code;
  }
  return v;
}

export class CodeTableStore {
  constructor(private readonly db: SqlClient) {}

  async seed(): Promise<void> {
    for (const t of BUILTIN_CODE_TABLES) {
      await this.db.query(
        `INSERT INTO exchange_code_tables (id, version, definition, created_by) VALUES ($1, $2, $3::jsonb, 'builtin') ON CONFLICT (id, version) DO NOTHING`,
        [t.id, t.version, JSON.stringify(t)],
      );
    }
  }

  /** The latest version, or the given one; EXC_ERR_CODE_TABLE_UNKNOWN when absent. */
  async get(id: string, version?: number, db: SqlClient = this.db): Promise<CodeTable> {
    const r = version === undefined
      ? await db.query<{ definition: CodeTable }>('SELECT definition FROM exchange_code_tables WHERE id = $1 ORDER BY version DESC LIMIT 1', [id])
      : await db.query<{ definition: CodeTable }>('SELECT definition FROM exchange_code_tables WHERE id = $1 AND version = $2', [id, version]);
    if (r.rows.length === 0) throw new ExchangeError('EXC_ERR_CODE_TABLE_UNKNOWN', `${id}${version === undefined ? '' : ` version ${version}`}`, 'codeTable');
    return r.rows[0]!.definition;
  }

  /** Every version of every table, newest version first per table. */
  async list(): Promise<{ table: CodeTable; createdBy: string; createdAt: number }[]> {
    const r = await this.db.query<{ definition: CodeTable; created_by: string; created_at: Date }>(
      'SELECT definition, created_by, created_at FROM exchange_code_tables ORDER BY id, version DESC',
    );
    return r.rows.map((x) => ({ table: x.definition, createdBy: x.created_by, createdAt: Math.floor(new Date(x.created_at).getTime() / 1000) }));
  }

  /** A new table (version 1); an existing id → EXC_ERR_CODE_TABLE_EXISTS. */
  async create(x: unknown, by: string): Promise<CodeTable> {
    const id = typeof x === 'object' && x !== null ? (x as { id?: unknown }).id : undefined;
    if (typeof id !== 'string') invalid('id', 'required');
    const t = validateCodeTable(x, id, 1);
    return this.db.transaction(async (tx) => {
      const r = await tx.query('INSERT INTO exchange_code_tables (id, version, definition, created_by) VALUES ($1, 1, $2::jsonb, $3) ON CONFLICT DO NOTHING RETURNING id', [t.id, JSON.stringify(t), by]);
      if (r.rows.length === 0) throw new ExchangeError('EXC_ERR_CODE_TABLE_EXISTS', t.id, 'id');
      return t;
    });
  }

  /** The next version of an existing table; unknown → EXC_ERR_CODE_TABLE_UNKNOWN. */
  async addVersion(id: string, x: unknown, by: string): Promise<CodeTable> {
    return this.db.transaction(async (tx) => {
      const r = await tx.query<{ v: number | null }>('SELECT max(version) AS v FROM exchange_code_tables WHERE id = $1', [id]);
      const cur = r.rows[0]?.v ?? null;
      if (cur === null) throw new ExchangeError('EXC_ERR_CODE_TABLE_UNKNOWN', id, 'codeTable');
      const t = validateCodeTable(x, id, cur + 1);
      await tx.query('INSERT INTO exchange_code_tables (id, version, definition, created_by) VALUES ($1, $2, $3::jsonb, $4)', [t.id, t.version, JSON.stringify(t), by]);
      return t;
    });
  }
}
