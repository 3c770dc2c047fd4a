import type { SqlClient } from '../master/sql-client.js';
import { CodeTableStore, valuesOf } from './code-tables.js';
import { BUILTIN_DATASETS, validateDataset, type DatasetDef } from './datasets.js';
import { ExchangeError } from './errors.js';

/**
 * The versioned data standards in exchange_datasets: built-ins seeded at
 * start (version 1 of each, never overwritten), new versions and new
 * datasets added from the console. The latest version of a dataset is the
 * one new uploads use. Enumeration fields that reference a code table (码表,
 * code-tables.ts) are resolved when a version is added: the table's version
 * is pinned and its accepted texts written into the definition.
 */
export class DatasetStore {
  readonly codeTables: CodeTableStore;

  constructor(private readonly db: SqlClient) {
    this.codeTables = new CodeTableStore(db);
  }

  async seed(): Promise<void> {
    await this.codeTables.seed();
    for (const d of BUILTIN_DATASETS) {
      await this.db.query(
        `INSERT INTO exchange_datasets (id, version, definition, created_by) VALUES ($1, $2, $3::jsonb, 'builtin')
         ON CONFLICT (id, version) DO NOTHING`,
        [d.id, d.version, JSON.stringify(d)],
      );
    }
  }

  /** Latest version, or the given one; EXC_ERR_DATASET_UNKNOWN when absent. */
  async get(id: string, version?: number): Promise<DatasetDef> {
    const r = version === undefined
      ? await this.db.query<{ definition: DatasetDef }>('SELECT definition FROM exchange_datasets WHERE id = $1 ORDER BY version DESC LIMIT 1', [id])
      : await this.db.query<{ definition: DatasetDef }>('SELECT definition FROM exchange_datasets WHERE id = $1 AND version = $2', [id, version]);
    if (r.rows.length === 0) throw new ExchangeError('EXC_ERR_DATASET_UNKNOWN', undefined, 'dataset');
    return r.rows[0]!.definition;
  }

  /** Every version of every dataset, newest version first per dataset. */
  async list(): Promise<{ definition: DatasetDef; createdBy: string; createdAt: number }[]> {
    const r = await this.db.query<{ definition: DatasetDef; created_by: string; created_at: Date }>(
      'SELECT definition, created_by, created_at FROM exchange_datasets ORDER BY id, version DESC',
    );
    return r.rows.map((x) => ({ definition: x.definition, createdBy: x.created_by, createdAt: Math.floor(new Date(x.created_at).getTime() / 1000) }));
  }

  /**
   * Fields referencing a code table get its (latest or given) version pinned
   * and its texts as `values`; an unknown table → EXC_ERR_CODE_TABLE_UNKNOWN.
   */
  private async resolve(def: unknown, tx: SqlClient): Promise<unknown> {
    if (typeof def !== 'object' || def === null || !Array.isArray((def as { fields?: unknown }).fields)) return def;
    const d = def as { fields: unknown[] };
    const fields = [];
    for (const [i, f] of d.fields.entries()) {
      const o = f as Record<string, unknown> | null;
      if (typeof o !== 'object' || o === null || o.codeTable === undefined || o.codeTable === null || o.codeTable === '') {
        fields.push(o !== null && typeof o === 'object' && (o.codeTable === null || o.codeTable === '') ? { ...o, codeTable: undefined, codeTableVersion: undefined } : f);
        continue;
      }
      if (typeof o.codeTable !== 'string') throw new ExchangeError('EXC_ERR_CODE_TABLE_UNKNOWN', 'not a code table id', `fields[${i}].codeTable`);
      const v = o.codeTableVersion;
      const table = await this.codeTables.get(o.codeTable, typeof v === 'number' ? v : undefined, tx).catch((err: unknown) => {
        throw err instanceof ExchangeError ? new ExchangeError('EXC_ERR_CODE_TABLE_UNKNOWN', err.message, `fields[${i}].codeTable`) : err;
      });
      fields.push({ ...o, codeTable: table.id, codeTableVersion: table.version, values: valuesOf(table) });
    }
    return JSON.parse(JSON.stringify({ ...d, fields }));
  }

  /** Adds a new version: the next number of an existing dataset, or version 1 of a new id (an existing one: EXC_ERR_DATASET_EXISTS). */
  async add(def: unknown, by: string): Promise<DatasetDef> {
    return this.db.transaction(async (tx) => {
      const d = validateDataset(await this.resolve(def, tx));
      const r = await tx.query<{ v: number | null }>('SELECT max(version) AS v FROM exchange_datasets WHERE id = $1', [d.id]);
      const cur = r.rows[0]?.v ?? null;
      if (cur !== null && d.version === 1) throw new ExchangeError('EXC_ERR_DATASET_EXISTS', d.id, 'id');
      const next = (cur ?? 0) + 1;
      if (d.version !== next) throw new ExchangeError('EXC_ERR_DATASET_INVALID', `the next version of ${d.id} is ${next}`, 'version');
      await tx.query('INSERT INTO exchange_datasets (id, version, definition, created_by) VALUES ($1, $2, $3::jsonb, $4)', [d.id, d.version, JSON.stringify(d), by]);
      return d;
    });
  }

  /** A new dataset (version 1 whatever the body says); an existing id → EXC_ERR_DATASET_EXISTS. */
  async create(def: unknown, by: string): Promise<DatasetDef> {
    if (typeof def !== 'object' || def === null || Array.isArray(def)) throw new ExchangeError('EXC_ERR_DATASET_INVALID', 'must be an object', 'dataset');
    return this.add({ ...def, version: 1 }, by);
  }
}
