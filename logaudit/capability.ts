import { defineCapability } from '../admin-api/capability.js';
import { loadLogAuditConfig, type LogAuditConfig } from './config.js';
import { LOGAUDIT_MIGRATIONS } from './migrations.js';
import { registerLogAuditRoutes } from './routes.js';
import { LogAuditService } from './service.js';

/**
 * The log audit system plugged into the back office: its tables, the
 * /admin/v1/logaudit/* routes (accounts, roles and audit of the shell), and
 * — when LOGAUDIT_UDP / _TCP / _TLS / _SNMP / _FILES / _FORWARD_LISTEN are
 * set — the intake itself in the same process. logaudit/main.ts runs the
 * same service as its own process (or as a collector).
 */
export const logauditCapability = defineCapability<LogAuditConfig>({
  name: 'logaudit',
  migrations: LOGAUDIT_MIGRATIONS,
  config: (env, base) => loadLogAuditConfig(env, base),
  create(host, cfg) {
    const svc = new LogAuditService(cfg, { db: host.db, now: () => host.nowMs(), log: (l) => host.log(l), committed: () => host.committed() });
    return {
      routes: (app, ctx) => registerLogAuditRoutes(app, ctx, svc, host.db, () => host.nowMs()),
      start: () => svc.start(),
      stop: () => svc.stop(),
      service: svc,
    } as import('../admin-api/capability.js').CapabilityInstance & { service: LogAuditService };
  },
});
