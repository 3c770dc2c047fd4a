import { defineCapability } from '../admin-api/capability.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import { ArchiveIntake } from './archive-intake.js';
import { ExchangeSecrets } from './recipients.js';
import { SftpForwarder } from './sftp-forward.js';
import { SftpPickup } from './sftp-pickup.js';
import { loadExchangeConfig, type ExchangeConfig } from './config.js';
import { DatasetStore } from './dataset-store.js';
import { ImportJobs } from './import-jobs.js';
import { EXCHANGE_MIGRATIONS } from './migrations.js';
import { registerExchangeRoutes } from './routes.js';
import { ReturnLedger } from './return-ledger.js';
import { ReturnPusher } from './return-push.js';
import { registerReturnRoutes } from './routes-return.js';
import { registerVerifyRoutes } from './routes-verify.js';
import { VerifyRules } from './verify-rules.js';
import { VerifyTasks } from './verify-tasks.js';
import { registerStandardsRoutes } from './routes-standards.js';
import { registerCodeTableRoutes } from './routes-standards.js';

/**
 * Data exchange (数据交换, issue 10) as a back-office capability: data
 * standards, streamed CSV/XLSX import with quality review, rejects, alerts.
 * `jobs` is exposed on the instance for the bench and tests (same code path as the API).
 */
export interface ExchangeInstance {
  readonly jobs: ImportJobs;
  readonly datasets: DatasetStore;
  readonly secrets: ExchangeSecrets;
  readonly intake: ArchiveIntake;
  readonly forwarder: SftpForwarder;
  readonly pickup: SftpPickup;
  readonly returns: ReturnLedger;
  readonly returnPusher: ReturnPusher;
  /** assignment verification (赋码数据核查): rules and the task runner */
  readonly verify: { readonly rules: VerifyRules; readonly tasks: VerifyTasks };
}

export const exchangeCapability = defineCapability<ExchangeConfig>({
  name: 'exchange',
  migrations: EXCHANGE_MIGRATIONS,
  config: (env, base) => loadExchangeConfig(env, base),
  async create(host, cfg) {
    const datasets = new DatasetStore(host.db);
    await datasets.seed();
    const jobs = new ImportJobs(host, cfg, datasets);
    const crypto = new PiiCrypto(host.secrets);
    const secrets = new ExchangeSecrets(host.db, crypto);
    const forwarder = new SftpForwarder(host, secrets, { pollMs: cfg.forwardPollMs, maxAttempts: cfg.forwardMaxAttempts, connectTimeoutMs: cfg.sftpTimeoutMs });
    const intake = new ArchiveIntake(host, jobs, datasets, secrets, forwarder, {
      pollMs: cfg.intakePollMs,
      limits: { maxEntries: cfg.zipMaxEntries, maxEntryBytes: cfg.zipMaxBytes, maxTotalBytes: cfg.zipMaxBytes, maxRatio: cfg.zipMaxRatio },
    });
    const pickup = new SftpPickup(host, host.db, crypto, intake, { pollMs: cfg.intakePollMs, connectTimeoutMs: cfg.sftpTimeoutMs });
    const parts = { jobs, datasets, secrets, intake, forwarder, pickup };
    const returns = new ReturnLedger(host, crypto);
    const returnPusher = new ReturnPusher(host, returns, secrets, { pollMs: cfg.returnPollMs, maxAttempts: cfg.forwardMaxAttempts, connectTimeoutMs: cfg.sftpTimeoutMs });
    const verifyRules = new VerifyRules(host.db, datasets, () => host.nowMs());
    const verify = { rules: verifyRules, tasks: new VerifyTasks(host, verifyRules, { replicas: cfg.verifyReplicas ?? [], schedulePollMs: cfg.verifySchedulePollMs ?? 0 }) };
    const instance = {
      ...parts,
      returns,
      returnPusher,
      verify,
      routes: async (app: Parameters<typeof registerExchangeRoutes>[0], ctx: Parameters<typeof registerExchangeRoutes>[1]) => {
        await registerExchangeRoutes(app, ctx, host, cfg, parts);
        registerReturnRoutes(app, ctx, host, { ledger: returns, pusher: returnPusher, jobs });
        registerVerifyRoutes(app, ctx, host, verify);
        registerStandardsRoutes(app, datasets);
        registerCodeTableRoutes(app, ctx, datasets);
      },
      start: async () => {
        await jobs.start();
        intake.start();
        pickup.start();
        forwarder.start();
        returnPusher.start();
        await verify.tasks.startRunner();
      },
      stop: async () => {
        await verify.tasks.stopRunner();
        await returnPusher.stop();
        await pickup.stop();
        await intake.stop();
        await forwarder.stop();
        await jobs.stop();
      },
    };
    return instance;
  },
});
