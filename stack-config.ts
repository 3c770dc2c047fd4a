import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { loadAdminConfig, type AdminConfig } from './admin-api/config.js';
import { CAPABILITIES } from './capabilities.js';
import { loadEdgeConfig, loadOrCreateSessionKey, type EdgeConfig } from './edge/config.js';
import { databaseUrlProblem } from './master/pg-failover.js';
import { SyncError } from './sync/errors.js';
import { loadRedisHa, sentinelPlaceholderUrl, type RedisSentinelConfig } from './sync/redis-connection.js';
import { NODE_ID } from './sync/scan-wire.js';

/**
 * Configuration of a whole process of the service (main.ts → stack.ts),
 * read from the environment ONCE and validated as a whole: a bad value stops
 * the start with a message naming the variable. The edge and admin parts
 * validate their own variables (edge/config.ts, admin-api/config.ts); this
 * file adds what wires them together. deploy/README.md is the reference
 * table of every variable.
 *
 *   embedded (default): no DATABASE_URL, no REDIS_URL — PGlite master in
 *     <HC_DATA_DIR>/master, an in-process delta bus, one edge node, demo data
 *     on first start. One process (PGlite is single-process, FACTS).
 *   cluster: DATABASE_URL → PostgreSQL; REDIS_URL → Redis Streams. HC_ROLE
 *     picks the parts a process runs: `master` (admin-api, publisher,
 *     snapshots, scan importer, scheduler), `edge` (edge servers, sync
 *     daemon, scan shipper), `all` (both: a single-machine cluster).
 */
export type StackRole = 'all' | 'master' | 'edge';

export interface StackConfig {
  readonly role: StackRole;
  readonly mode: 'embedded' | 'cluster';
  readonly dataDir: string;
  /** PostgreSQL URL, or null for the embedded PGlite master */
  readonly databaseUrl: string | null;
  /** schema first on the search_path (tests use a throw-away one); null = the server's default */
  readonly databaseSchema: string | null;
  readonly databasePool: number;
  /** DATABASE_READ_URL: a read replica for the back office's heavy reads (reports); null = the primary (master/pg-failover.ts) */
  readonly databaseReadUrl: string | null;
  /** Redis URL, or null for the in-process bus (role all only) */
  readonly redisUrl: string | null;
  readonly redisPrefix: string;
  /** REDIS_SENTINELS + REDIS_SENTINEL_NAME: the primary is found through Sentinel (sync/redis-connection.ts) */
  readonly redisSentinel: RedisSentinelConfig | null;
  /** HC_REDIS_WAIT_REPLICAS: replicas that must hold appended scans (WAIT) */
  readonly redisWaitReplicas: number;
  /** the master's sync endpoint (snapshots, key registration) */
  readonly sync: {
    readonly host: string;
    readonly port: number;
    /** where edge daemons reach it; null = this process's own (role all) */
    readonly url: string | null;
    readonly token: string | undefined;
  };
  readonly nodeId: string;
  readonly demo: { readonly people: number; readonly venues: number };
  readonly snapshotEverySec: number;
  readonly publishPollMs: number;
  /** delta stream entries kept (MAXLEN ~) */
  readonly streamRetain: number;
  /** HC_DELTA_FORM: wire form of published deltas (sync/delta-packed.ts); 'packed' once every edge reads it */
  readonly deltaForm: 'objects' | 'packed';
  readonly edge: EdgeConfig | null;
  readonly admin: AdminConfig | null;
  /** the citizen session HMAC key, shared by admin-api (issues) and edges (verify) */
  readonly sessionKey: Buffer;
  /** each capability's validated configuration (capabilities.ts), by name; empty on an edge-only process */
  readonly capabilities: Readonly<Record<string, unknown>>;
}

type Env = Readonly<Record<string, string | undefined>>;

function bad(name: string, detail: string): never {
  throw new SyncError('SYNC_ERR_CONFIG', `${name} ${detail}`, name);
}

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw)) bad(name, `must be a whole number ${min}–${max}, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) bad(name, `must be ${min}–${max}, got ${raw}`);
  return n;
}

function url(env: Env, name: string, protocols: readonly string[]): string | null {
  const raw = str(env, name);
  if (raw === undefined) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return bad(name, 'is not a URL');
  }
  if (!protocols.includes(u.protocol)) bad(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  return raw;
}

function pgUrl(env: Env, name: string): string | null {
  const raw = str(env, name);
  if (raw === undefined) return null;
  const problem = databaseUrlProblem(raw);
  return problem === null ? raw : bad(name, problem);
}

/** A node id from the host name: what scans and keys are labelled with when HC_NODE_ID is unset. */
export function defaultNodeId(): string {
  const h = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (h === '' ? 'node' : h).slice(0, 31);
}

export function loadStackConfig(env: Env = process.env): StackConfig {
  const roleRaw = str(env, 'HC_ROLE') ?? 'all';
  if (roleRaw !== 'all' && roleRaw !== 'master' && roleRaw !== 'edge') bad('HC_ROLE', `must be all, master or edge, got ${JSON.stringify(roleRaw)}`);
  const role: StackRole = roleRaw;
  const dataDir = resolve(str(env, 'HC_DATA_DIR') ?? './data');
  // libpq multi-host URLs (host1:5432,host2:5432, target_session_attrs) as well as plain ones: master/pg-failover.ts
  const databaseUrl = pgUrl(env, 'DATABASE_URL');
  const databaseReadUrl = pgUrl(env, 'DATABASE_READ_URL');
  if (databaseReadUrl !== null && databaseUrl === null) bad('DATABASE_READ_URL', 'needs DATABASE_URL (a read replica of which primary?)');
  const redisHa = loadRedisHa(env, bad);
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']) ?? (redisHa.sentinel === null ? null : sentinelPlaceholderUrl(redisHa.sentinel));
  const databaseSchema = str(env, 'HC_DB_SCHEMA') ?? null;
  if (databaseSchema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) bad('HC_DB_SCHEMA', 'must be a lower-case identifier');
  if (role !== 'all' && redisUrl === null) {
    bad('REDIS_URL', `is required with HC_ROLE=${role}: the ${role === 'edge' ? 'edge' : 'master'} and the other side run in different processes and meet on Redis`);
  }
  const redisPrefix = str(env, 'HC_REDIS_PREFIX') ?? 'hc:';
  if (!/^[A-Za-z0-9:._-]{1,64}$/.test(redisPrefix)) bad('HC_REDIS_PREFIX', 'must be 1–64 of A–Z a–z 0–9 : . _ -');
  const syncHost = str(env, 'SYNC_HOST') ?? '127.0.0.1';
  if (/\s/.test(syncHost)) bad('SYNC_HOST', 'must be a host name or address');
  const syncPort = int(env, 'SYNC_PORT', 8082, 0, 65535);
  const syncUrl = url(env, 'HC_SYNC_URL', ['http:', 'https:']);
  if (role === 'edge' && syncUrl === null) bad('HC_SYNC_URL', 'is required with HC_ROLE=edge (the master\'s sync endpoint, e.g. http://10.0.0.5:8082)');
  const syncToken = str(env, 'HC_SYNC_TOKEN');
  if (syncToken !== undefined && syncToken.length < 32) bad('HC_SYNC_TOKEN', 'must be at least 32 characters (e.g. `openssl rand -hex 32`)');
  const nodeId = str(env, 'HC_NODE_ID') ?? defaultNodeId();
  if (!NODE_ID.test(nodeId)) bad('HC_NODE_ID', 'must be 1–31 of A–Z a–z 0–9 . _ - (starting with a letter or digit)');
  const embedded = databaseUrl === null && redisUrl === null;
  // Demo data by default only for the embedded master: a PostgreSQL master is someone's real database.
  const people = int(env, 'HC_DEMO_PEOPLE', embedded ? 100_000 : 0, 0, 200_000_000);
  const venues = int(env, 'HC_DEMO_VENUES', people > 0 ? 10_000 : 0, 0, 10_000_000);
  const snapshotEverySec = int(env, 'HC_SNAPSHOT_EVERY_SEC', 60, 1, 86_400);
  const publishPollMs = int(env, 'HC_PUBLISH_POLL_MS', 50, 0, 60_000);
  // In-process bus: entries live in this process's memory; the daemon and the snapshot
  // follower read them within milliseconds, so a short window is plenty.
  const streamRetain = int(env, 'HC_STREAM_RETAIN', redisUrl === null ? 2_000 : 100_000, 10, 100_000_000);
  const databasePool = int(env, 'HC_DB_POOL', 10, 1, 1000);
  const deltaForm = str(env, 'HC_DELTA_FORM') ?? 'objects';
  if (deltaForm !== 'objects' && deltaForm !== 'packed') bad('HC_DELTA_FORM', `must be objects or packed, got ${JSON.stringify(deltaForm)}`);

  const withData = { ...env, HC_DATA_DIR: dataDir };
  // edge/config.ts and admin-api/config.ts validate their own variables (errors name them)
  const admin = role === 'edge' ? null : loadAdminConfig(withData as NodeJS.ProcessEnv);
  // The citizen page's login form posts to this process's admin-api: same host as the page, ADMIN_PORT
  // (edge/config.ts EDGE_APP_SESSION_URL; a fixed port only — port 0 is known after listen).
  const edgeEnv = role === 'all' && admin !== null && admin.port !== 0 && str(env, 'EDGE_APP_SESSION_URL') === undefined
    ? { ...withData, EDGE_APP_SESSION_URL: `:${admin.port}/v1/session` }
    : withData;
  const edge = role === 'master' ? null : loadEdgeConfig(edgeEnv);
  const sessionKey = edge?.sessionKey ?? sessionKeyOf(env, dataDir);
  const mode = embedded ? 'embedded' : 'cluster';
  const capabilities: Record<string, unknown> = {};
  if (role !== 'edge') for (const cap of CAPABILITIES) capabilities[cap.name] = cap.config(withData, { dataDir, mode });
  return {
    role,
    mode,
    dataDir,
    databaseUrl,
    databaseSchema,
    databasePool,
    databaseReadUrl,
    redisUrl,
    redisPrefix,
    redisSentinel: redisHa.sentinel,
    redisWaitReplicas: redisHa.waitReplicas,
    sync: { host: syncHost, port: syncPort, url: syncUrl, token: syncToken },
    nodeId,
    demo: { people, venues },
    snapshotEverySec,
    publishPollMs,
    streamRetain,
    deltaForm,
    edge,
    admin,
    sessionKey,
    capabilities,
  };
}

/** HC_SESSION_KEY (hex, ≥ 32 bytes) or `<dataDir>/session.key` — the same rules as edge/config.ts. */
function sessionKeyOf(env: Env, dataDir: string): Buffer {
  const raw = str(env, 'HC_SESSION_KEY');
  if (raw === undefined) return loadOrCreateSessionKey(dataDir);
  if (!/^([0-9a-fA-F]{2}){32,}$/.test(raw)) bad('HC_SESSION_KEY', 'must be hex of at least 32 bytes (64 hex characters)');
  return Buffer.from(raw, 'hex');
}
