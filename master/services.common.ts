import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import type { Delta } from '../core/delta.js';
import { AdminUsers } from './admin-users.js';
import { AuditLog } from './audit-log.js';
import { CodeService } from './code-service.js';
import { loadOrCreateSecrets, type Secrets } from './pii-crypto.js';
import { NodeKeysRegistry } from './node-keys-registry.js';
import { RuleVersions } from './rule-versions.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';
import { BASE, residentId, type ServicesContext, type ServicesSuiteOptions } from './services-fixture.common.js';
import { describeCodes } from './services-codes.common.js';
import { describeRules } from './services-rules.common.js';
import { describeAudit } from './services-audit.common.js';
import { describeUsers } from './services-users.common.js';
import { describeNodeKeys } from './services-node-keys.common.js';
import { describeRiskAreas } from './services-risk-areas.common.js';
import { describeMass } from './services-mass.common.js';
export type { ServicesSuiteOptions } from './services-fixture.common.js';
/**
 * The one test suite of the master's services (code-service, rule-versions,
 * audit-log, admin-users, node-keys-registry, risk-import), run on every
 * backend like store.common.ts: services.pglite.test.ts (`npm test`) and
 * test/cluster/services.postgres.test.ts (real PostgreSQL).
 *
 * The clock is pinned (`clock.t`, unix seconds) and moved by the tests; the
 * store, and through it every service, reads it.
 */

export function runServicesSuite(name: string, open: () => Promise<SqlClient>, opts: ServicesSuiteOptions = {}): void {
  describe(`master services on ${name}`, () => {
    let db: SqlClient;
    let store: MasterStore;
    let secrets: Secrets;
    let dir: string;
    const clock = { t: BASE };
    let codes: CodeService;
    let rules: RuleVersions;
    let audit: AuditLog;
    let users: AdminUsers;
    let keys: NodeKeysRegistry;
    let idCounter = 0;

    async function register(extra: Record<string, string> = {}): Promise<{ personId: number; uid: Buffer }> {
      const r = await codes.register({ idNo: residentId(++idCounter), name: '张三', ...extra });
      return { personId: r.personId, uid: r.uid };
    }

    async function deltasSince(seq: number): Promise<Delta[]> {
      return store.readOutbox(seq, 100_000);
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'hc-services-'));
      secrets = loadOrCreateSecrets(dir, {});
      db = await open();
      store = new MasterStore(db, secrets, { now: () => clock.t * 1000 });
      await store.migrate();
      codes = new CodeService(store, { chunkSize: 7 });
      rules = new RuleVersions(store, codes, { chunkSize: 11 });
      audit = new AuditLog(store, secrets);
      users = new AdminUsers(store);
      keys = new NodeKeysRegistry(store);
    });

    afterAll(async () => {
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const ctx: ServicesContext = {
      get: () => ({ db, store, secrets, dir, codes, rules, audit, users, keys }),
      clock,
      nextId: () => ++idCounter,
      lastId: () => idCounter,
      register,
      deltasSince,
      opts,
      name,
    };

    describeCodes(ctx);
    describeRules(ctx);
    describeAudit(ctx);
    describeUsers(ctx);
    describeNodeKeys(ctx);
    describeRiskAreas(ctx);
    describeMass(ctx);
  });
}
