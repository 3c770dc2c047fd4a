import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { Redis } from 'ioredis';
import { openPostgres, type SqlClient } from '../../master/sql-client.js';
import { FleetNet, type NsProcess } from './netns.js';

/**
 * The machines of the fleet suite (issue 17 §3), each in its own network
 * namespace (netns.ts), each running the real thing:
 *
 *   node  address       runs
 *   cl    127.77.0.9    probe-agent.ts (citizens, scanners, the operator)
 *   pg1   127.77.0.21   PostgreSQL 15 primary  (synchronous_standby_names = '*')
 *   pg2   127.77.0.22   PostgreSQL 15 streaming replica (pg_basebackup -R)
 *   rd1   127.77.0.31   redis-server (primary) + redis-sentinel
 *   rd2   127.77.0.32   redis-server (replica) + redis-sentinel
 *   rd3   127.77.0.33   redis-sentinel (the third vote: quorum 2 of 3)
 *   m1    127.77.0.41   node dist/main.js  HC_ROLE=master  (admin-api, publisher, snapshots, importer)
 *   e1…3  127.77.0.5x   node dist/main.js  HC_ROLE=edge    (uWS server, sync daemon, scan shipper)
 *
 * The master and the edges run the COMPILED stack with the environment
 * deploy/README.md documents (DATABASE_URL with both PostgreSQL hosts and
 * target_session_attrs=read-write, REDIS_SENTINELS + REDIS_SENTINEL_NAME):
 * what is tested is what ships. The test process reaches PostgreSQL and
 * Redis through their Unix sockets (file system: across namespaces) to
 * observe, never to serve.
 */
const PG_BIN = '/usr/lib/postgresql/15/bin';
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const IPS = {
  cl: '127.77.0.9', pg1: '127.77.0.21', pg2: '127.77.0.22', rd1: '127.77.0.31', rd2: '127.77.0.32', rd3: '127.77.0.33', m1: '127.77.0.41',
  e1: '127.77.0.51', e2: '127.77.0.52', e3: '127.77.0.53',
} as const;
export type PgNode = 'pg1' | 'pg2';
export type RedisNode = 'rd1' | 'rd2';
export const EDGES = ['e1', 'e2', 'e3'] as const;
export type EdgeNode = (typeof EDGES)[number];
export const REDIS_IPS = [IPS.rd1, IPS.rd2, IPS.rd3];
const SENTINEL_NAME = 'hc';

export interface FetchResult {
  readonly status: number;
  readonly text: string;
  readonly body: Record<string, unknown>;
  readonly error?: string;
}

function sh(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === '' ? '' : `: ${last}`}`);
    await sleep(everyMs);
  }
}

export class Fleet {
  readonly net = new FleetNet();
  readonly dir = mkdtempSync(join(tmpdir(), 'hc-fleet-'));
  readonly sessionKey = randomBytes(32).toString('hex');
  readonly syncToken = randomBytes(32).toString('hex');
  readonly pgUid: number;
  readonly pgGid: number;
  pgPrimary: PgNode = 'pg1';
  readonly procs = new Map<string, NsProcess>();
  private agentSock = '';

  constructor(readonly demoPeople: number) {
    chmodSync(this.dir, 0o755); // the postgres user walks through it to its data dirs
    this.pgUid = Number(sh('id', ['-u', 'postgres']).trim());
    this.pgGid = Number(sh('id', ['-g', 'postgres']).trim());
    for (const [node, ip] of Object.entries(IPS)) this.net.addNode(node, Number(ip.split('.')[3]));
  }

  log(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  tail(name: string, lines = 30): string {
    const f = this.log(name);
    if (!existsSync(f)) return '(no log)';
    return readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n');
  }

  // ── the client machine ────────────────────────────────────────────────────

  async startAgent(): Promise<void> {
    const src = readFileSync(join(ROOT, 'test/fleet/probe-agent.ts'), 'utf8');
    const js = transformSync(src, { loader: 'ts', format: 'esm', target: 'node20' }).code;
    const file = join(this.dir, 'probe-agent.mjs');
    writeFileSync(file, js);
    this.agentSock = join(this.dir, 'agent.sock');
    this.procs.set('agent', this.net.spawn('cl', 'agent', process.execPath, [file, this.agentSock], this.env({}), this.log('agent')));
    await waitFor('probe agent', async () => (existsSync(this.agentSock) ? true : undefined), 10_000);
  }

  /** A request to the agent over its Unix socket. */
  agent(method: string, path: string, body?: unknown, timeoutMs = 40_000): Promise<unknown> {
    return import('node:http').then(
      ({ request }) =>
        new Promise((resolve, reject) => {
          const payload = body === undefined ? '' : JSON.stringify(body);
          const req = request(
            { socketPath: this.agentSock, path, method, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }, timeout: timeoutMs },
            (res) => {
              const parts: Buffer[] = [];
              res.on('data', (c: Buffer) => parts.push(c));
              res.on('end', () => {
                try {
                  resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
                } catch (err) {
                  reject(err as Error);
                }
              });
            },
          );
          req.on('timeout', () => req.destroy(new Error(`agent ${path} timed out`)));
          req.on('error', reject);
          req.end(payload);
        }),
    );
  }

  /** An HTTP request made from the client machine, across the fleet's network. */
  async http(method: string, url: string, body?: unknown, token?: string, timeoutMs = 30_000): Promise<FetchResult> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const r = (await this.agent('POST', '/fetch', { method, url, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), timeoutMs }, timeoutMs + 5000)) as {
      status: number; text?: string; error?: string;
    };
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(r.text ?? '') as Record<string, unknown>;
    } catch {
      // not JSON
    }
    return { status: r.status, text: r.text ?? r.error ?? '', body: parsed, ...(r.error === undefined ? {} : { error: r.error }) };
  }

  // ── PostgreSQL ────────────────────────────────────────────────────────────

  private pgDir(node: PgNode): string {
    return join(this.dir, node);
  }

  pgSocket(node: PgNode): string {
    return join(this.pgDir(node), 'sock');
  }

  private asPostgres(args: readonly string[]): string[] {
    return [`--reuid=${this.pgUid}`, `--regid=${this.pgGid}`, '--init-groups', '--', ...args];
  }

  private mkPgDirs(node: PgNode): void {
    rmSync(this.pgDir(node), { recursive: true, force: true });
    for (const d of [this.pgDir(node), this.pgSocket(node)]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chownSync(d, this.pgUid, this.pgGid);
    }
  }

  private startPgProcess(node: PgNode, extra: readonly string[] = []): void {
    const args = [
      `${PG_BIN}/postgres`, '-D', join(this.pgDir(node), 'data'),
      '-c', `listen_addresses=${IPS[node]}`, '-c', 'port=5432', '-c', `unix_socket_directories=${this.pgSocket(node)}`,
      '-c', 'wal_level=replica', '-c', 'max_wal_senders=8', '-c', 'hot_standby=on', '-c', 'wal_keep_size=256MB',
      // process kills, not power cuts, are the faults here: the OS keeps what fsync would force
      '-c', 'fsync=off', '-c', 'shared_buffers=32MB', '-c', 'max_connections=60',
      '-c', 'wal_sender_timeout=5s', '-c', 'wal_receiver_timeout=5s', '-c', 'wal_retrieve_retry_interval=500ms',
      ...extra,
    ];
    this.procs.set(node, this.net.spawn(node, node, 'setpriv', this.asPostgres(args), this.env({}), this.log(node)));
  }

  private async pgReady(node: PgNode): Promise<void> {
    await waitFor(`${node} accepting connections`, async () => {
      const r = spawnSync(`${PG_BIN}/pg_isready`, ['-h', this.pgSocket(node), '-p', '5432', '-t', '1'], { encoding: 'utf8' });
      return r.status === 0 ? true : undefined;
    }, 30_000, 200);
  }

  psql(node: PgNode, sql: string, db = 'postgres'): string {
    return sh('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', this.pgSocket(node), '-p', '5432', '-U', 'postgres', '-d', db, '-c', sql]).trim();
  }

  /** pg1 primary with an empty `hc` database; pg2 its streaming replica; then commits wait for pg2 (synchronous replication). */
  async startPostgres(): Promise<void> {
    this.mkPgDirs('pg1');
    sh('setpriv', this.asPostgres([`${PG_BIN}/initdb`, '-D', join(this.pgDir('pg1'), 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']));
    writeFileSync(
      join(this.pgDir('pg1'), 'data', 'pg_hba.conf'),
      ['local all all trust', 'local replication all trust', 'host all all 127.77.0.0/24 trust', 'host replication all 127.77.0.0/24 trust', ''].join('\n'),
    );
    this.startPgProcess('pg1');
    await this.pgReady('pg1');
    this.psql('pg1', 'CREATE DATABASE hc');
    await this.addStandby('pg2', 'pg1');
  }

  /** A fresh streaming replica of `primary` on `node` (pg_basebackup -R over the fleet network), then synchronous. */
  async addStandby(node: PgNode, primary: PgNode): Promise<void> {
    this.mkPgDirs(node);
    const r = spawnSync('ip', ['netns', 'exec', this.net.ns(node), 'setpriv', ...this.asPostgres([
      `${PG_BIN}/pg_basebackup`, '-h', IPS[primary], '-p', '5432', '-U', 'postgres', '-D', join(this.pgDir(node), 'data'),
      '-R', '-X', 'stream', '-c', 'fast', '--no-sync', `--label=fleet-${node}`,
    ])], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`pg_basebackup ${node} from ${primary}: ${r.stderr}`);
    // the copy carries the primary's postgresql.auto.conf: a standby waits for nobody
    writeFileSync(join(this.pgDir(node), 'data', 'postgresql.auto.conf'),
      `primary_conninfo = 'host=${IPS[primary]} port=5432 user=postgres application_name=${node}'\n`);
    this.startPgProcess(node);
    await this.pgReady(node);
    await waitFor(`${node} streaming from ${primary}`, async () =>
      this.psql(primary, `SELECT count(*) FROM pg_stat_replication WHERE application_name = '${node}' AND state = 'streaming'`) === '1' ? true : undefined, 30_000, 200);
    this.psql(primary, "ALTER SYSTEM SET synchronous_standby_names = '*'");
    this.psql(primary, 'SELECT pg_reload_conf()');
    await waitFor(`${node} synchronous`, async () =>
      this.psql(primary, `SELECT sync_state FROM pg_stat_replication WHERE application_name = '${node}'`) === 'sync' ? true : undefined, 30_000, 200);
  }

  /** The primary's machine loses power (every process SIGKILLed). */
  killPgPrimary(): PgNode {
    const node = this.pgPrimary;
    this.net.killAll(node);
    return node;
  }

  /** `pg_ctl promote` on the replica; resolves once it accepts writes. */
  async promote(node: PgNode): Promise<void> {
    sh('setpriv', this.asPostgres([`${PG_BIN}/pg_ctl`, 'promote', '-w', '-t', '30', '-D', join(this.pgDir(node), 'data')]));
    await waitFor(`${node} out of recovery`, async () => (this.psql(node, 'SELECT pg_is_in_recovery()') === 'f' ? true : undefined), 30_000, 100);
    this.pgPrimary = node;
  }

  /** The test's own view of the master database (the current primary's Unix socket). */
  async openDb(): Promise<SqlClient> {
    return openPostgres(`postgres://postgres@localhost:5432/hc?host=${encodeURIComponent(this.pgSocket(this.pgPrimary))}`, { max: 2 });
  }

  // ── Redis + Sentinel ──────────────────────────────────────────────────────

  redisSocket(node: RedisNode): string {
    return join(this.dir, `${node}.sock`);
  }

  startRedis(node: RedisNode, replicaOf: string | null): void {
    const dir = join(this.dir, node);
    mkdirSync(dir, { recursive: true });
    const args = [
      '--bind', IPS[node], '--port', '6379', '--protected-mode', 'no', '--save', '', '--appendonly', 'no',
      '--unixsocket', this.redisSocket(node), '--unixsocketperm', '700', '--dir', dir,
      '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--maxmemory-policy', 'noeviction',
      ...(replicaOf === null ? [] : ['--replicaof', replicaOf, '6379']),
    ];
    this.procs.set(node, this.net.spawn(node, node, 'redis-server', args, this.env({}), this.log(node)));
  }

  startSentinel(node: 'rd1' | 'rd2' | 'rd3'): void {
    const dir = join(this.dir, `sentinel-${node}`);
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, [
      `bind ${IPS[node]}`, 'port 26379', 'protected-mode no', `dir ${dir}`,
      `sentinel monitor ${SENTINEL_NAME} ${IPS.rd1} 6379 2`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
      `sentinel failover-timeout ${SENTINEL_NAME} 4000`,
      `sentinel parallel-syncs ${SENTINEL_NAME} 1`, '',
    ].join('\n'));
    this.procs.set(`sentinel-${node}`, this.net.spawn(node, `sentinel-${node}`, 'redis-server', [conf, '--sentinel'], this.env({}), this.log(`sentinel-${node}`)));
  }

  async redisAdmin(node: RedisNode): Promise<Redis> {
    const r = new Redis({ path: this.redisSocket(node), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 1000 });
    r.on('error', () => undefined);
    await r.connect();
    return r;
  }

  /** Which Redis says it is the primary (ROLE over its Unix socket), or null. */
  async redisPrimary(): Promise<RedisNode | null> {
    for (const node of ['rd1', 'rd2'] as const) {
      if (!existsSync(this.redisSocket(node))) continue;
      try {
        const r = await this.redisAdmin(node);
        try {
          const role = (await r.call('ROLE')) as unknown[];
          if (role[0] === 'master') return node;
        } finally {
          r.disconnect();
        }
      } catch {
        // down
      }
    }
    return null;
  }

  async startRedisHa(): Promise<void> {
    this.startRedis('rd1', null);
    await waitFor('rd1', async () => (existsSync(this.redisSocket('rd1')) ? true : undefined), 10_000);
    this.startRedis('rd2', IPS.rd1);
    for (const n of ['rd1', 'rd2', 'rd3'] as const) this.startSentinel(n);
    await waitFor('rd2 in sync', async () => {
      const r = await this.redisAdmin('rd2');
      try {
        return /master_link_status:up/.test(await r.info('replication')) ? true : undefined;
      } finally {
        r.disconnect();
      }
    }, 20_000, 100);
  }

  // ── the service (compiled) ────────────────────────────────────────────────

  env(extra: Record<string, string>): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: this.dir, ...extra };
  }

  private common(): Record<string, string> {
    return {
      REDIS_SENTINELS: REDIS_IPS.map((ip) => `${ip}:26379`).join(','),
      REDIS_SENTINEL_NAME: SENTINEL_NAME,
      HC_REDIS_PREFIX: 'hc:',
      HC_SYNC_TOKEN: this.syncToken,
      HC_SESSION_KEY: this.sessionKey,
    };
  }

  masterDir(): string {
    return join(this.dir, 'm1');
  }

  startMaster(): void {
    this.procs.set('m1', this.net.spawn('m1', 'm1', process.execPath, [join(ROOT, 'dist/main.js')], this.env({
      ...this.common(),
      HC_ROLE: 'master', HC_DATA_DIR: this.masterDir(), HC_NODE_ID: 'master-1',
      DATABASE_URL: `postgres://postgres@${IPS.pg1}:5432,${IPS.pg2}:5432/hc?target_session_attrs=read-write`,
      DATABASE_READ_URL: `postgres://postgres@${IPS.pg2}:5432,${IPS.pg1}:5432/hc?target_session_attrs=prefer-standby`,
      HC_DB_POOL: '6',
      ADMIN_HOST: IPS.m1, ADMIN_PORT: '8081', SYNC_HOST: IPS.m1, SYNC_PORT: '8082',
      HC_DEMO_PEOPLE: String(this.demoPeople), HC_DEMO_VENUES: '40', HC_PUBLISH_POLL_MS: '20', HC_SNAPSHOT_EVERY_SEC: '30',
      ADMIN_LOG_LEVEL: 'warn', SESSION_RATE_PER_MIN: '100000', LOGIN_RATE_PER_MIN: '1000', ADMIN_RATE_PER_MIN: '100000',
    }), this.log('m1')));
  }

  adminUrl(): string {
    return `http://${IPS.m1}:8081`;
  }

  edgeUrl(e: EdgeNode): string {
    return `http://${IPS[e]}:8080`;
  }

  edgeDir(e: EdgeNode): string {
    return join(this.dir, e);
  }

  /** An edge node; `fakeTime` runs it under libfaketime (e.g. '+300s': its clock 5 minutes ahead). */
  startEdge(e: EdgeNode, fakeTime?: string): void {
    const extra: Record<string, string> = fakeTime === undefined ? {} : { LD_PRELOAD: LIBFAKETIME, FAKETIME: fakeTime, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
    this.procs.set(e, this.net.spawn(e, e, process.execPath, [join(ROOT, 'dist/main.js')], this.env({
      ...this.common(), ...extra,
      HC_ROLE: 'edge', HC_DATA_DIR: this.edgeDir(e), HC_NODE_ID: `edge-${e.slice(1)}`,
      // two forked uWS servers per node, as production runs them (EDGE_WORKERS > 1: edge/main.ts supervisor)
      HC_SYNC_URL: `http://${IPS.m1}:8082`, EDGE_HOST: IPS[e], EDGE_PORT: '8080', EDGE_WORKERS: '2',
    }), this.log(e)));
  }

  async edgeReady(e: EdgeNode, timeoutMs = 90_000): Promise<Record<string, unknown>> {
    return waitFor(`${e} /readyz`, async () => {
      if (this.procs.get(e)?.child.exitCode !== null && this.procs.get(e)?.child.exitCode !== undefined) throw new Error(`${e} exited:\n${this.tail(e)}`);
      const r = await this.http('GET', `${this.edgeUrl(e)}/readyz`, undefined, undefined, 2000);
      return r.status === 200 ? r.body : undefined;
    }, timeoutMs, 200);
  }

  async masterReady(timeoutMs = 180_000): Promise<void> {
    await waitFor('master admin-api', async () => {
      const p = this.procs.get('m1');
      if (p?.child.exitCode !== null && p?.child.exitCode !== undefined) throw new Error(`master exited:\n${this.tail('m1')}`);
      const r = await this.http('GET', `${this.adminUrl()}/admin/openapi.json`, undefined, undefined, 2000);
      return r.status === 200 ? true : undefined;
    }, timeoutMs, 250);
  }

  /** SIGKILL to one process the fleet started; resolves when it is gone. */
  async kill9(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (p === undefined) throw new Error(`no process ${name}`);
    p.child.kill('SIGKILL');
    await p.exited;
  }

  /** The node's machine loses power: SIGKILL to every process in its namespace (supervisor, servers, daemon). */
  async killNode(node: EdgeNode | 'm1'): Promise<void> {
    const p = this.procs.get(node);
    this.net.killAll(node);
    await p?.exited;
  }

  async destroy(): Promise<void> {
    await this.net.destroy();
    if (process.env.HC_FLEET_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}
