import { defineCapability } from '../admin-api/capability.js';
import { loadExchangeConfig, type ExchangeConfig } from './config.js';
import { DatasetStore } from './dataset-store.js';
import { ImportJobs } from './import-jobs.js';
import { EXCHANGE_MIGRATIONS } from './migrations.js';
import { registerExchangeRoutes } from './routes.js';

/**
 * Data exchange (数据交换, issue 10) as a back-office capability: data
 * standards, streamed CSV/XLSX import with quality review, rejects, alerts.
 * `jobs` is exposed on the instance for the bench and tests (same code path as the API).
 */
export interface ExchangeInstance {
  readonly jobs: ImportJobs;
  readonly datasets: DatasetStore;
}

export const exchangeCapability = defineCapability<ExchangeConfig>({
  name: 'exchange',
  migrations: EXCHANGE_MIGRATIONS,
  config: (env, base) => loadExchangeConfig(env, base),
  async create(host, cfg) {
    const datasets = new DatasetStore(host.db);
    await datasets.seed();
    const jobs = new ImportJobs(host, cfg, datasets);
    const instance = {
      jobs,
      datasets,
      routes: (app: Parameters<typeof registerExchangeRoutes>[0], ctx: Parameters<typeof registerExchangeRoutes>[1]) =>
        registerExchangeRoutes(app, ctx, host, cfg, jobs, datasets),
      start: () => jobs.start(),
      stop: () => jobs.stop(),
    };
    return instance;
  },
});
