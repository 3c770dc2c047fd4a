import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { residentIdCheckChar } from '../core/identity.js';
import { AdminUsers, type AdminRole } from '../master/admin-users.js';
import { AuditLog } from '../master/audit-log.js';
import { CodeService } from '../master/code-service.js';
import { loadOrCreateSecrets, type Secrets } from '../master/pii-crypto.js';
import { RuleVersions } from '../master/rule-versions.js';
import { openPglite, type SqlClient } from '../master/sql-client.js';
import { MasterStore } from '../master/store.js';
import { buildAdminApp } from './app.js';
import { migrateCapability, type Capability, type CapabilityHost, type CapabilityInstance } from './capability.js';
import { loadAdminConfig, type AdminConfig } from './config.js';

/**
 * Test harness for admin-api (not built into dist: *.common.ts): a real
 * master (PGlite in memory unless a client is given — test/cluster passes
 * PostgreSQL), the real master services, the app listening on a loopback
 * port, and one logged-in account per role. Requests go over real HTTP.
 */

/** A resident ID with a correct GB 11643 check character. */
export function rid(first17: string): string {
  return first17 + residentIdCheckChar(first17);
}

/** Chengdu (5101) and Luzhou (5105) residents. */
export const CHENGDU_ID = '51010419850612106X';
export const LUZHOU_ID = rid('51050219900101123');
export const CHENGDU_NAME = '张三丰';
export const LUZHOU_NAME = '欧阳娜娜';
export const PHONE = '13812345678';

export const ACCOUNTS = {
  admin: { role: 'admin' as AdminRole, regionPrefix: '' },
  admin2: { role: 'admin' as AdminRole, regionPrefix: '' },
  operator: { role: 'operator' as AdminRole, regionPrefix: '' },
  operator2: { role: 'operator' as AdminRole, regionPrefix: '' },
  analyst: { role: 'analyst' as AdminRole, regionPrefix: '' },
  city_officer: { role: 'city_officer' as AdminRole, regionPrefix: '5101' },
  city_officer_b: { role: 'city_officer' as AdminRole, regionPrefix: '5105' },
  auditor: { role: 'auditor' as AdminRole, regionPrefix: '' },
  security: { role: 'security' as AdminRole, regionPrefix: '' },
  hotline: { role: 'hotline' as AdminRole, regionPrefix: '' },
} as const;
export type Account = keyof typeof ACCOUNTS;

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** raw body text (sent as is with content-type application/json unless headers say otherwise) */
  raw?: string;
  headers?: Record<string, string>;
}

export interface Fixture {
  app: FastifyInstance;
  base: string;
  db: SqlClient;
  store: MasterStore;
  codes: CodeService;
  rules: RuleVersions;
  audit: AuditLog;
  users: AdminUsers;
  config: AdminConfig;
  sessionKey: Buffer;
  dataDir: string;
  /** the pinned clock, unix ms: move it to expire things */
  clock: { ms: number };
  /** raw log lines written by the app */
  logLines: string[];
  passwords: Record<Account, string>;
  tokens: Record<Account, string>;
  commits: { n: number };
  /** the plugged-in capabilities' instances, by name */
  instances: Record<string, CapabilityInstance>;
  secrets: Secrets;
  call(method: string, path: string, opts?: CallOptions): Promise<Reply>;
  login(account: Account): Promise<string>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** database to use (default: a fresh in-memory PGlite); migrated here */
  db?: SqlClient;
  config?: Partial<AdminConfig>;
  /** create the accounts and log them in (default true) */
  accounts?: boolean;
  /**
   * Capabilities to plug in (capability.ts): migrated, created with the
   * fixture's master and clock, routes registered. Their background work is
   * NOT started unless `startCapabilities` is true.
   */
  capabilities?: readonly Capability<any>[];
  /** per capability name: environment its config() reads (default {}) */
  capabilityEnv?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  startCapabilities?: boolean;
}

export async function startAdmin(opts: FixtureOptions = {}): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hc-admin-'));
  const clock = { ms: Date.now() };
  const now = (): number => clock.ms;
  const db = opts.db ?? (await openPglite());
  const secrets = loadOrCreateSecrets(dataDir, {});
  const store = new MasterStore(db, secrets, { now });
  await store.migrate();
  const codes = new CodeService(store, { log: () => undefined });
  const rules = new RuleVersions(store, codes);
  const audit = new AuditLog(store, secrets);
  // a cheaper argon2id than production (OWASP's 19 MiB): the tests exercise the logic, not the cost
  const users = new AdminUsers(store, { hashOptions: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
  const config = loadAdminConfig({}, {
    port: 0, host: '127.0.0.1', dataDir, loginRatePerMin: 1000, sessionRatePerMin: 1000, adminRatePerMin: 100_000,
    logLevel: 'info', ...opts.config,
  });
  const sessionKey = randomBytes(32);
  const logLines: string[] = [];
  const commits = { n: 0 };
  const instances: Record<string, CapabilityInstance> = {};
  const host: CapabilityHost = {
    db, store, codes, rules, audit, users, secrets, dataDir, mode: db.kind === 'pglite' ? 'embedded' : 'cluster',
    nowMs: now,
    log: () => undefined,
    committed: () => {
      commits.n++;
    },
  };
  for (const cap of opts.capabilities ?? []) {
    await migrateCapability(db, cap);
    const cfg = cap.config(opts.capabilityEnv?.[cap.name] ?? {}, { dataDir, mode: host.mode });
    instances[cap.name] = await cap.create(host, cfg);
  }
  const app = await buildAdminApp({
    store, codes, rules, audit, users, sessionKey, config,
    capabilities: Object.values(instances),
    onCommit: () => {
      commits.n++;
    },
    logStream: { write: (line: string) => logLines.push(line) },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
  const base = `http://127.0.0.1:${addr.port}`;

  async function call(method: string, path: string, o: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body }) });
    const type = res.headers.get('content-type') ?? '';
    let text = '';
    let parsed: unknown = null;
    if (type.startsWith('image/png')) {
      parsed = Buffer.from(await res.arrayBuffer());
    } else {
      text = await res.text();
      if (type.includes('json') && text !== '') parsed = JSON.parse(text);
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }

  const passwords = {} as Record<Account, string>;
  const tokens = {} as Record<Account, string>;
  async function login(account: Account): Promise<string> {
    const r = await call('POST', '/admin/v1/login', { body: { username: account, password: passwords[account] } });
    if (r.status !== 200) throw new Error(`login ${account}: ${r.status} ${r.text}`);
    return r.body.token as string;
  }
  if (opts.accounts !== false) {
    for (const [name, a] of Object.entries(ACCOUNTS) as [Account, (typeof ACCOUNTS)[Account]][]) {
      passwords[name] = `Pw-${randomBytes(12).toString('base64url')}`;
      await users.create({ username: name, password: passwords[name], role: a.role, regionPrefix: a.regionPrefix });
    }
    for (const name of Object.keys(ACCOUNTS) as Account[]) tokens[name] = await login(name);
  }
  if (opts.startCapabilities === true) for (const i of Object.values(instances)) await i.start?.();

  return {
    app, base, db, store, codes, rules, audit, users, config, sessionKey, dataDir, clock, logLines, passwords, tokens, commits,
    instances, secrets, call, login,
    close: async () => {
      await app.close();
      for (const i of Object.values(instances).reverse()) await i.stop?.();
      if (opts.db === undefined) await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
