import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildAdminApp } from './admin-api/app.js';
import { migrateCapability, type CapabilityHost, type CapabilityInstance } from './admin-api/capability.js';
import { registerConsole } from './admin-api/console-static.js';
import { CAPABILITIES } from './capabilities.js';
import { generateDemoData, masterIsEmpty, type DemoProgress, type DemoResult } from './demo-data.js';
import { REPLICA_DIR } from './core/replica-layout.js';
import { superviseEdge, type EdgeSupervisor } from './edge/main.js';
import { ReplicaReader } from './edge/replica-reader.js';
import { ScanSpool } from './edge/scan-spool.js';
import { startEdgeServer, type EdgeServer } from './edge/server.js';
import { AdminUsers, type FirstAdminResult } from './master/admin-users.js';
import { AuditLog } from './master/audit-log.js';
import { CodeService, type SchedulerHandle } from './master/code-service.js';
import { NodeKeysRegistry } from './master/node-keys-registry.js';
import { loadOrCreateSecrets } from './master/pii-crypto.js';
import { RuleVersions } from './master/rule-versions.js';
import { openPglite, openPostgres, type SqlClient } from './master/sql-client.js';
import { MasterStore } from './master/store.js';
import type { StackConfig } from './stack-config.js';
import { MemoryDeltaBus } from './sync/bus-memory.js';
import { RedisDeltaBus, redactRedisUrl } from './sync/bus-redis.js';
import { describeSentinel } from './sync/redis-connection.js';
import type { DeltaBus } from './sync/delta-bus.js';
import { EdgeDaemon, type KeyRegistrar } from './sync/edge-daemon.js';
import { masterOutboxSource } from './sync/outbox-master.js';
import { Publisher } from './sync/publisher.js';
import { ScanImporter } from './sync/scan-importer.js';
import { ScanShipper } from './sync/scan-shipper.js';
import { SnapshotService, SNAPSHOT_PATH, type BuildProgress } from './sync/snapshot.js';
import { httpKeyRegistrar, startSyncHttp, type SyncHttpServer } from './sync/sync-http.js';

/**
 * Wires the parts into running processes (DESIGN §1 "Two ways to run").
 *
 *   role all (embedded default: one process)
 *   ┌──────────────────────────────────────────────────────────────────────┐
 *   │ master: PGlite (or PostgreSQL) ─ MasterStore ─ CodeService/scheduler │
 *   │   admin-api (Fastify, ADMIN_PORT) ── onCommit ──▶ publisher.kick()   │
 *   │   publisher: outbox ──▶ bus (in-process, or Redis)                   │
 *   │   snapshots: follower replica + checkpoints, served on SYNC_PORT     │
 *   │   scan importer: bus ──▶ scans table, entry facts                    │
 *   │ edge: sync daemon (bootstrap from SYNC_PORT, tail bus) ──▶ replica   │
 *   │   edge servers (uWS, EDGE_PORT): in-process when EDGE_WORKERS=1,     │
 *   │     else forked processes (edge/main.ts supervisor)                  │
 *   │   scan shipper: spool ──▶ bus                                        │
 *   └──────────────────────────────────────────────────────────────────────┘
 *   role master / role edge: the two halves in separate processes (on
 *   separate machines), meeting on Redis and the sync port.
 *
 * Start order: master first (migrations, first admin, demo data, publisher,
 * snapshot follower, sync endpoint), then the edge (daemon bootstraps from
 * the sync endpoint, servers, shipper), then admin-api listens. Stop is the
 * reverse; every part finishes what it has in flight.
 */
export interface StackOptions {
  /** status lines (default stderr) */
  readonly log?: (line: string) => void;
  /** demo data progress (main.ts draws a bar) */
  readonly onDemoProgress?: DemoProgress;
  readonly onSnapshotProgress?: BuildProgress;
  /** admin-api request log lines (default: stdout, as Fastify does) */
  readonly adminLogStream?: { write(line: string): unknown };
  /** pin clocks in tests */
  readonly now?: () => number;
}

export interface MasterParts {
  readonly db: SqlClient;
  readonly store: MasterStore;
  readonly codes: CodeService;
  readonly rules: RuleVersions;
  readonly audit: AuditLog;
  readonly users: AdminUsers;
  readonly registry: NodeKeysRegistry;
  readonly publisher: Publisher;
  readonly snapshots: SnapshotService;
  readonly importer: ScanImporter;
  readonly firstAdmin: FirstAdminResult;
  readonly demo: DemoResult | null;
  /** capabilities.ts's instances, in start order; started once admin-api listens */
  readonly capabilities: readonly CapabilityInstance[];
}

export interface EdgeParts {
  readonly daemon: EdgeDaemon;
  readonly shipper: ScanShipper;
  /** the in-process server (EDGE_WORKERS=1), else null */
  readonly server: EdgeServer | null;
  readonly supervisor: EdgeSupervisor | null;
}

export interface StackHandle {
  readonly config: StackConfig;
  readonly edgePort: number | null;
  readonly adminPort: number | null;
  readonly syncPort: number | null;
  readonly bus: DeltaBus;
  readonly master: MasterParts | null;
  readonly edge: EdgeParts | null;
  stop(): Promise<void>;
}

/**
 * What to stop, in three phases run one after the other, each phase's parts
 * at once: listeners (no new requests), loops (each finishes what it has in
 * flight — a blocking bus read ends within its 1 s wait), then the
 * resources they used (bus, database, spool). Stopping the loops one by one
 * would add up their waits.
 */
type StopPhase = 'listener' | 'loop' | 'resource';

class Stops {
  private readonly list: { phase: StopPhase; fn: () => Promise<void> }[] = [];
  constructor(private readonly log: (line: string) => void) {}

  add(phase: StopPhase, fn: () => Promise<void>): void {
    this.list.push({ phase, fn });
  }

  async run(): Promise<void> {
    for (const phase of ['listener', 'loop', 'resource'] as const) {
      const now = this.list.filter((x) => x.phase === phase).reverse();
      await Promise.all(
        now.map(async (x) => {
          try {
            await x.fn();
          } catch (err) {
            this.log(`stack: stopping: ${(err as Error).message}`);
          }
        }),
      );
    }
    this.list.length = 0;
  }
}

async function openMasterDb(config: StackConfig): Promise<SqlClient> {
  if (config.databaseUrl === null) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    return openPglite(join(config.dataDir, 'master'));
  }
  return openPostgres(config.databaseUrl, {
    max: config.databasePool,
    ...(config.databaseSchema === null ? {} : { searchPath: config.databaseSchema }),
  });
}

/** DATABASE_READ_URL (a streaming replica) for heavy back-office reads; without it, the primary. */
async function openReadDb(config: StackConfig, db: SqlClient): Promise<SqlClient> {
  if (config.databaseReadUrl === null) return db;
  return openPostgres(config.databaseReadUrl, {
    max: config.databasePool,
    ...(config.databaseSchema === null ? {} : { searchPath: config.databaseSchema }),
  });
}

async function openBus(config: StackConfig): Promise<DeltaBus> {
  if (config.redisUrl === null) return new MemoryDeltaBus();
  return RedisDeltaBus.connect({
    url: config.redisUrl, keyPrefix: config.redisPrefix, connectionName: `hc-${config.role}-${config.nodeId}`,
    sentinel: config.redisSentinel, waitReplicas: config.redisWaitReplicas, // issue 17: Sentinel, scans on two machines
  });
}

/**
 * Starts what `config.role` names and returns once everything listens.
 * On a failure midway, whatever was started is stopped again.
 */
export async function startStack(config: StackConfig, opts: StackOptions = {}): Promise<StackHandle> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const stops = new Stops(log);
  const stopAll = (): Promise<void> => stops.run();
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const bus = await openBus(config);
    stops.add('resource', () => bus.close());
    if (config.redisUrl !== null) log(`stack: delta bus on Redis ${config.redisSentinel === null ? redactRedisUrl(config.redisUrl) : describeSentinel(config.redisSentinel)} (prefix ${config.redisPrefix})`);

    let master: MasterParts | null = null;
    let syncHttp: SyncHttpServer | null = null;
    let admin: FastifyInstance | null = null;
    if (config.role !== 'edge') {
      const started = await startMaster(config, bus, opts, log, stops);
      master = started.master;
      syncHttp = started.syncHttp;
      admin = started.admin;
    }

    let edge: EdgeParts | null = null;
    let edgePort: number | null = null;
    if (config.role !== 'master') {
      const syncUrl = config.sync.url ?? syncHttp!.url;
      const register: KeyRegistrar =
        master !== null
          ? async (node, keys) => {
              const r = await master!.registry.register(node, keys);
              if (r.seq !== null) master!.publisher.kick();
            }
          : httpKeyRegistrar(syncUrl, config.sync.token);
      const started = await startEdgeNode(config, bus, syncUrl, register, log, stops);
      edge = started.edge;
      edgePort = started.port;
    }

    let adminPort: number | null = null;
    if (admin !== null) {
      await admin.listen({ host: config.admin!.host, port: config.admin!.port });
      const addr = admin.server.address();
      adminPort = typeof addr === 'object' && addr !== null ? addr.port : config.admin!.port;
      for (const c of master!.capabilities) await c.start?.();
    }

    let stopped: Promise<void> | null = null;
    return {
      config,
      edgePort,
      adminPort,
      syncPort: syncHttp?.port ?? null,
      bus,
      master,
      edge,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The embedded stack (`npm start`): role all, PGlite and the in-process bus unless configured otherwise. */
export function startEmbeddedStack(config: StackConfig, opts: StackOptions = {}): Promise<StackHandle> {
  return startStack(config, opts);
}

async function startMaster(
  config: StackConfig,
  bus: DeltaBus,
  opts: StackOptions,
  log: (line: string) => void,
  stops: Stops,
): Promise<{ master: MasterParts; syncHttp: SyncHttpServer; admin: FastifyInstance }> {
  const db = await openMasterDb(config);
  stops.add('resource', () => db.close());
  const readDb = await openReadDb(config, db); // issue 17: DATABASE_READ_URL, a replica for reports
  if (readDb !== db) stops.add('resource', () => readDb.close());
  const secrets = loadOrCreateSecrets(config.dataDir);
  const store = new MasterStore(db, secrets, opts.now === undefined ? {} : { now: opts.now });
  const mig = await store.migrate();
  if (mig.applied.length > 0) log(`master: schema migrated to version ${mig.version}`);
  const codes = new CodeService(store, { log: (m) => log(`master: ${m}`) });
  const rules = new RuleVersions(store, codes);
  const audit = new AuditLog(store, secrets);
  const users = new AdminUsers(store);
  const registry = new NodeKeysRegistry(store);
  await codes.activeRules(); // publishes the built-in rule set on a fresh master
  const firstAdmin = await users.ensureFirstAdmin(config.dataDir);

  let demo: DemoResult | null = null;
  if (config.demo.people > 0 && (await masterIsEmpty(store))) {
    log(`master: first start — generating demo data: ${config.demo.people} people, ${config.demo.venues} venues`);
    demo = await generateDemoData(store, codes, secrets, { people: config.demo.people, venues: config.demo.venues }, opts.onDemoProgress);
    log(`master: demo data ready in ${(demo.ms / 1000).toFixed(1)} s (${demo.nonGreen} people not green by the rules, ${demo.entryVenues} entry venues)`);
  }

  const publisher = new Publisher({
    bus,
    source: masterOutboxSource(store),
    pollMs: config.publishPollMs,
    retainEntries: config.streamRetain,
    deltaForm: config.deltaForm,
    onError: (err) => log(`publisher: ${err.message}`),
  });
  publisher.start();
  stops.add('loop', () => publisher.stop());

  const scheduler: SchedulerHandle = codes.startScheduler({});
  stops.add('loop', () => scheduler.stop());

  const importer = new ScanImporter({ bus, store, codes, onError: (err) => log(`scan importer: ${err.message}`), onImported: (r) => {
    if (r.entryFacts > 0) publisher.kick();
  } });
  importer.start();
  stops.add('loop', () => importer.stop());

  const snapshots = new SnapshotService({
    dir: join(config.dataDir, 'snapshots'),
    db,
    bus,
    checkpointEveryMs: config.snapshotEverySec * 1000,
    log: (l) => log(l),
    ...(opts.onSnapshotProgress === undefined ? {} : { onProgress: opts.onSnapshotProgress }),
  });
  await snapshots.start();
  stops.add('loop', () => snapshots.stop());

  const syncHttp = await startSyncHttp({
    host: config.sync.host,
    port: config.sync.port,
    snapshots,
    token: config.sync.token,
    registerKeys: async (node, keys) => {
      const r = await registry.register(node, keys);
      if (r.seq !== null) publisher.kick();
    },
    status: () => ({ publisher: publisher.metrics(), importer: importer.metrics() }),
  });
  stops.add('listener', () => syncHttp.close());
  log(`sync: snapshots and node-key registration on ${syncHttp.url}${SNAPSHOT_PATH}`);

  const host: CapabilityHost = {
    db, readDb, store, codes, rules, audit, users, secrets,
    dataDir: config.dataDir,
    mode: config.mode,
    nowMs: () => store.nowMs(),
    log,
    committed: () => publisher.kick(),
  };
  const capabilities: CapabilityInstance[] = [];
  for (const cap of CAPABILITIES) {
    const mig = await migrateCapability(db, cap);
    if (mig.applied.length > 0) log(`${cap.name}: schema migrated to version ${mig.version}`);
    const instance = await cap.create(host, config.capabilities[cap.name]);
    capabilities.push(instance);
    if (instance.stop !== undefined) stops.add('loop', () => instance.stop!());
  }

  const admin = await buildAdminApp({
    store,
    codes,
    rules,
    audit,
    users,
    capabilities,
    sessionKey: config.sessionKey,
    config: config.admin!,
    onCommit: () => publisher.kick(),
    demoPeople: config.demo.people,
    ...(opts.adminLogStream === undefined ? {} : { logStream: opts.adminLogStream }),
  });
  // the web console (issue 5) at /console/ on the admin port; without a
  // built console it answers 404 saying how to build it
  registerConsole(admin);
  stops.add('listener', () => admin.close());

  return {
    master: { db, store, codes, rules, audit, users, registry, publisher, snapshots, importer, firstAdmin, demo, capabilities },
    syncHttp,
    admin,
  };
}

async function startEdgeNode(
  config: StackConfig,
  bus: DeltaBus,
  syncUrl: string,
  registerKeys: KeyRegistrar,
  log: (line: string) => void,
  stops: Stops,
): Promise<{ edge: EdgeParts; port: number }> {
  const ec = config.edge!;
  const daemon = EdgeDaemon.open({
    dataDir: config.dataDir,
    bus,
    node: config.nodeId,
    snapshot: { url: new URL(SNAPSHOT_PATH, syncUrl).toString(), ...(config.sync.token === undefined ? {} : { token: config.sync.token }) },
    registerKeys,
    signing: { tokenTtlSec: ec.tokenTtlSec, signAlg: ec.signAlg, keyLifetimeDays: ec.keyLifetimeDays },
    log,
  });
  daemon.start();
  stops.add('loop', () => daemon.close());

  const spool = ScanSpool.open(config.dataDir);
  stops.add('resource', () => spool.close());
  const shipper = new ScanShipper({ spool, bus, node: config.nodeId, onError: (err) => log(`scan shipper: ${err.message} (scans stay in the spool)`) });
  shipper.start();
  stops.add('loop', () => shipper.stop());

  let server: EdgeServer | null = null;
  let supervisor: EdgeSupervisor | null = null;
  let port: number;
  if (ec.workers === 1) {
    // the daemon's writer already holds the replica open in this process: read through it, and
    // store displays without callback transactions (EdgeDeps.writerInProcess)
    const reader = ReplicaReader.attach(join(config.dataDir, REPLICA_DIR), daemon.writer.rootEnv());
    server = await startEdgeServer(ec, { spool, log, reader, writerInProcess: true });
    const s = server;
    stops.add('listener', () => s.close());
    port = server.port;
  } else {
    // Forked servers read the environment themselves (edge/worker.ts): make it say what we resolved.
    process.env.HC_DATA_DIR = config.dataDir;
    process.env.HC_SESSION_KEY = config.sessionKey.toString('hex');
    if (ec.appSessionUrl !== undefined) process.env.EDGE_APP_SESSION_URL = ec.appSessionUrl ?? 'none';
    supervisor = await superviseEdge(ec, log);
    const sup = supervisor;
    stops.add('listener', () => sup.stop());
    await supervisor.ready;
    port = ec.port;
  }
  return { edge: { daemon, shipper, server, supervisor }, port };
}
