import type { FastifyInstance } from 'fastify';
import type { AdminUsers } from '../master/admin-users.js';
import type { AuditLog } from '../master/audit-log.js';
import type { CodeService } from '../master/code-service.js';
import { runMigrations, type MigrateResult, type Migration } from '../master/migrations.js';
import type { Secrets } from '../master/pii-crypto.js';
import type { RuleVersions } from '../master/rule-versions.js';
import type { SqlClient } from '../master/sql-client.js';
import type { MasterStore } from '../master/store.js';
import type { Ctx } from './context.js';

/**
 * A capability of the back office (data exchange, tracing, alerting, log
 * audit, citizen services, …): one folder named after it holding its
 * migrations, services, routes, console pages, tests and bench script.
 * admin-api stays the shell — accounts, roles, regions, audit — and only
 * plugs capabilities in; the list of them is `capabilities.ts` at the root.
 *
 *   entry point (main.ts / a test)
 *     cap.config(env)            read + validate its variables once (bad value → error naming it)
 *   startMaster (stack.ts) / startAdmin (admin fixture)
 *     migrateCapability(db, cap) its own migrations, own bookkeeping table <name>_migrations
 *     cap.create(host, config)   → instance (services wired to the master)
 *     buildAdminApp({capabilities: [instance]}) → instance.routes(app, ctx)
 *     instance.start()           background work, after admin-api listens
 *     instance.stop()            on shutdown, before the database closes
 *
 * Routes use the shell's Ctx (audit, principal, region scoping via roles.ts)
 * and declare `config.access` like every route (deny by default). Permissions
 * live in admin-api/roles.ts.
 */
export interface CapabilityHost {
  readonly db: SqlClient;
  /**
   * A read replica for heavy read-only queries (reports, exports, statistics):
   * DATABASE_READ_URL, a PostgreSQL streaming replica — it lags the primary by
   * the replication delay (normally milliseconds). Absent (embedded, tests, no
   * replica configured): use `host.readDb ?? host.db`. Never write through it.
   */
  readonly readDb?: SqlClient;
  readonly store: MasterStore;
  readonly codes: CodeService;
  readonly rules: RuleVersions;
  readonly audit: AuditLog;
  readonly users: AdminUsers;
  readonly secrets: Secrets;
  /** HC_DATA_DIR: files a capability keeps (intake folders, spools, generated keys) go under <dataDir>/<name>/ */
  readonly dataDir: string;
  readonly mode: 'embedded' | 'cluster';
  /** unix ms, the store's clock (tests pin it) */
  nowMs(): number;
  /** one status line to the operator's log (never personal data) */
  log(line: string): void;
  /** call after a commit that wrote outbox rows: the publisher sends them at once instead of at its next poll */
  committed(): void;
}

export interface CapabilityInstance {
  /** Registers the capability's routes on the back office. */
  routes?(app: FastifyInstance, ctx: Ctx): void | Promise<void>;
  /** Background work (pollers, listeners, schedulers), started once admin-api listens. */
  start?(): Promise<void>;
  /** Finishes what is in flight and stops; called before the database closes. */
  stop?(): Promise<void>;
}

export interface Capability<C = unknown> {
  /** the folder's name: 'exchange', 'tracing', … (lower case, '-' allowed) */
  readonly name: string;
  /** its own schema history, versions 1, 2, 3, … (append only, like master/migrations.ts) */
  readonly migrations: readonly Migration[];
  /** Reads and validates its environment variables, once, at the entry point. */
  config(env: Readonly<Record<string, string | undefined>>, base: { readonly dataDir: string; readonly mode: 'embedded' | 'cluster' }): C;
  create(host: CapabilityHost, config: C): CapabilityInstance | Promise<CapabilityInstance>;
}

/** Type helper so a capability's config type is checked where it is declared. */
export function defineCapability<C>(c: Capability<C>): Capability<C> {
  return c;
}

/** The bookkeeping table of a capability's migrations: `exchange` → `exchange_migrations`. */
export function migrationsTableOf(name: string): string {
  if (!/^[a-z][a-z0-9-]{0,40}$/.test(name)) throw new TypeError(`bad capability name ${JSON.stringify(name)}`);
  return `${name.replace(/-/g, '_')}_migrations`;
}

/** Brings a capability's own tables up to date (after the master's migrations, which it may reference). */
export function migrateCapability(db: SqlClient, cap: Capability<unknown>): Promise<MigrateResult> {
  return runMigrations(db, cap.migrations, migrationsTableOf(cap.name));
}
