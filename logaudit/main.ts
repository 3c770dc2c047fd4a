import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodedError } from '../core/coded-error.js';
import { runMigrations } from '../master/migrations.js';
import { openPglite, openPostgres, type SqlClient } from '../master/sql-client.js';
import { migrateCapability } from '../admin-api/capability.js';
import { logauditCapability } from './capability.js';
import { loadLogAuditConfig } from './config.js';
import { LogAuditService } from './service.js';

/**
 * The log audit system as its own process: `node dist/logaudit/main.js`.
 *
 *   central (LOGAUDIT_MODE=central, default)  syslog/SNMP/file intake, store,
 *     correlation; alerts go to the master's alert_events through
 *     DATABASE_URL (PostgreSQL, the master the back office uses). Without
 *     DATABASE_URL it keeps its own PGlite under <HC_DATA_DIR>/logaudit/db —
 *     search and verify work, but alerts then reach only that database.
 *   collector (LOGAUDIT_MODE=collector)  intake → disk spool → TLS to
 *     LOGAUDIT_FORWARD_TO; no database at all.
 *
 * Every setting is an environment variable (config.ts); a bad value exits
 * with code 2 naming it. SIGINT/SIGTERM finish what is queued and seal the day.
 */
export async function main(env: NodeJS.ProcessEnv): Promise<() => Promise<void>> {
  const dataDir = resolve((env.HC_DATA_DIR ?? '').trim() || './data');
  const cfg = loadLogAuditConfig(env, { dataDir });
  let db: SqlClient | null = null;
  if (cfg.mode === 'central') {
    const url = (env.DATABASE_URL ?? '').trim();
    db = url ? await openPostgres(url, { max: 4 }) : await openPglite(resolve(dataDir, 'logaudit', 'db'));
    // the master's schema (alert_events) on a private PGlite; on PostgreSQL the master has migrated it already
    if (!url) await runMigrations(db);
    await migrateCapability(db, logauditCapability);
  }
  const log = (l: string): void => { process.stderr.write(l + '\n'); };
  const svc = new LogAuditService(cfg, { db, now: Date.now, log });
  await svc.start();
  log(`logaudit ${cfg.mode}: udp ${svc.ports.udp.join(',') || '-'} tcp ${svc.ports.tcp.join(',') || '-'} tls ${svc.ports.tls.join(',') || '-'} snmp ${svc.ports.snmp.join(',') || '-'} files ${cfg.files.length} forward ${svc.ports.forward.join(',') || (cfg.forwardTo ? `→ ${cfg.forwardTo.host}:${cfg.forwardTo.port}` : '-')}; data in ${dataDir}`);
  return async () => {
    await svc.stop();
    await db?.close();
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.env).then((stop) => {
    let stopping = false;
    const onSignal = (): void => {
      if (stopping) process.exit(1);
      stopping = true;
      void stop().then(() => process.exit(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }, (e: unknown) => {
    process.stderr.write(`logaudit: ${(e as Error).message}\n`);
    process.exit(e instanceof CodedError && e.code === 'LOG_ERR_CONFIG' ? 2 : 1);
  });
}
