import type { SqlClient } from '../master/sql-client.js';
import { BUILTIN_DATASETS, validateDataset, type DatasetDef } from './datasets.js';
import { ExchangeError } from './errors.js';

/**
 * The versioned data standards in exchange_datasets: built-ins seeded at
 * start (version 1 of each, never overwritten), new versions added from the
 * console. The latest version of a dataset is the one new uploads use.
 */
export class DatasetStore {
  constructor(private readonly db: SqlClient) {}

  async seed(): Promise<void> {
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

  /** Adds a new version: it must be the next number of an existing or new dataset id. */
  async add(def: unknown, by: string): Promise<DatasetDef> {
    const d = validateDataset(def);
    return this.db.transaction(async (tx) => {
      const r = await tx.query<{ v: number | null }>('SELECT max(version) AS v FROM exchange_datasets WHERE id = $1', [d.id]);
      const next = (r.rows[0]?.v ?? 0) + 1;
      if (d.version !== next) throw new ExchangeError('EXC_ERR_DATASET_INVALID', `the next version of ${d.id} is ${next}`, 'version');
      await tx.query('INSERT INTO exchange_datasets (id, version, definition, created_by) VALUES ($1, $2, $3::jsonb, $4)', [d.id, d.version, JSON.stringify(d), by]);
      return d;
    });
  }
}
