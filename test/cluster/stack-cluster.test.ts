import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoResidentId } from '../../demo-data.js';
import { loadPeople, writeDecisions } from '../../master/code-batch.js';
import { openPostgres, type SqlClient } from '../../master/sql-client.js';
import { loadStackConfig } from '../../stack-config.js';
import { startStack, type StackHandle } from '../../stack.js';
import { adminCredentials, http, logSink, masterCodes, until } from '../stack-helpers.js';
import { connectAdmin, deleteRunKeys, killConnections, REDIS_URL, RUN_PREFIX } from './redis-env.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { PG_URL, pgAdminClient } from './pg-env.js';

/**
 * The embedded flows again, as a cluster (issue 4 §6, §7): a master process
 * part (HC_ROLE=master: PostgreSQL, admin-api, publisher, snapshots, scan
 * importer) and two edge parts (HC_ROLE=edge: sync daemon, edge server,
 * scan shipper), meeting on a real Redis and the master's sync port, each
 * edge with its own data dir. All in this test process, each part with its
 * own connections, exactly as separate machines would have.
 *
 * The master reaches PostgreSQL, and edge 1 reaches Redis, through TCP
 * proxies (tcp-proxy.ts) so the tests can take them away and bring them back
 * without touching the shared servers. Fresh PostgreSQL schema and a unique
 * Redis key prefix per run; unreachable servers FAIL the run.
 */
const schema = `t_stack_${randomBytes(5).toString('hex')}`;
const PEOPLE = 300;

function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

describe('cluster: PostgreSQL master, Redis streams, two edge nodes', () => {
  let pgAdmin: SqlClient;
  let redisAdmin: Redis;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let master: StackHandle;
  let edge1: StackHandle;
  let edge2: StackHandle;
  const dirs: string[] = [];
  const logs = logSink();
  let adminUrl: string;
  let edges: string[];

  beforeAll(async () => {
    pgAdmin = await pgAdminClient();
    redisAdmin = await connectAdmin();
    await pgAdmin.query(`CREATE SCHEMA ${schema}`);
    const pg = new URL(PG_URL);
    pgProxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
    const rd = new URL(REDIS_URL);
    redisProxy = await startTcpProxy(rd.hostname, Number(rd.port || 6379));
    const dir = (name: string) => {
      const d = mkdtempSync(join(tmpdir(), `hc-cluster-${name}-`));
      dirs.push(d);
      return d;
    };
    master = await startStack(
      loadStackConfig({
        HC_ROLE: 'master', DATABASE_URL: withPort(PG_URL, pgProxy.port), HC_DB_SCHEMA: schema, REDIS_URL, HC_REDIS_PREFIX: RUN_PREFIX,
        HC_DATA_DIR: dir('master'), ADMIN_PORT: '0', SYNC_PORT: '0', HC_DEMO_PEOPLE: String(PEOPLE), HC_DEMO_VENUES: '40',
        HC_NODE_ID: 'master-1', ADMIN_LOG_LEVEL: 'silent', HC_PUBLISH_POLL_MS: '20', SESSION_RATE_PER_MIN: '10000', HC_DB_POOL: '5',
      }),
      { log: logs.log, adminLogStream: logs.stream },
    );
    adminUrl = `http://127.0.0.1:${master.adminPort}`;
    const edgeEnv = (name: string, redis: string) => ({
      HC_ROLE: 'edge', REDIS_URL: redis, HC_REDIS_PREFIX: RUN_PREFIX, HC_SYNC_URL: `http://127.0.0.1:${master.syncPort}`,
      HC_DATA_DIR: dir(name), EDGE_PORT: '0', EDGE_WORKERS: '1', HC_NODE_ID: name, HC_SESSION_KEY: master.config.sessionKey.toString('hex'),
    });
    edge1 = await startStack(loadStackConfig(edgeEnv('edge-1', withPort(REDIS_URL, redisProxy.port))), { log: logs.log });
    edge2 = await startStack(loadStackConfig(edgeEnv('edge-2', REDIS_URL)), { log: logs.log });
    edges = [edge1, edge2].map((e) => `http://127.0.0.1:${e.edgePort}`);
  }, 180_000);

  afterAll(async () => {
    await edge1?.stop();
    await edge2?.stop();
    await master?.stop();
    await pgProxy?.close();
    await redisProxy?.close();
    if (pgAdmin !== undefined) {
      await pgAdmin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pgAdmin.close();
    }
    if (redisAdmin !== undefined) {
      await deleteRunKeys(redisAdmin);
      redisAdmin.disconnect();
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 60_000);

  async function session(identity: Record<string, string>): Promise<string> {
    const r = await http('POST', `${adminUrl}/v1/session`, identity);
    expect(r.status, r.text).toBe(200);
    return r.body.token as string;
  }

  function displayed(edge: string, token: string, pred: (b: Record<string, unknown>) => boolean, what: string, timeoutMs = 20_000) {
    return until(`${what} on ${edge}`, async () => {
      const r = await http('GET', `${edge}/v1/code`, undefined, token);
      return r.status === 200 && pred(r.body) ? r.body : undefined;
    }, timeoutMs);
  }

  async function bothLevel(timeoutMs = 30_000): Promise<void> {
    const max = await master.master!.store.maxOutboxSeq();
    for (const e of [edge1, edge2]) expect(await e.edge!.daemon.waitFor(max, timeoutMs)).toBe(true);
  }

  async function replicasEqualMaster(): Promise<void> {
    await bothLevel();
    const expected = await masterCodes(master.master!.db, master.master!.store);
    for (const e of [edge1, edge2]) {
      const w = e.edge!.daemon.writer;
      expect(w.counts().codes).toBe(expected.size);
      for (const [k, r] of expected) expect(w.code(Buffer.from(k, 'hex'))).toEqual(r);
    }
  }

  it('both edges bootstrapped from the master, are ready, and publish each other\'s keys', async () => {
    for (const url of edges) {
      await until(`${url}/readyz`, async () => ((await http('GET', `${url}/readyz`)).status === 200 ? true : undefined));
    }
    for (const e of [edge1, edge2]) expect(e.edge!.daemon.metrics().bootstraps).toBe(1);
    for (const url of edges) {
      const keys = await until(`both node keys on ${url}`, async () => {
        const r = await http('GET', `${url}/v1/keys`);
        return (r.body.keys as unknown[] | undefined)?.length === 2 ? r.body : undefined;
      });
      expect((keys.keys as unknown[]).length).toBe(2);
      expect((await http('GET', `${url}/readyz`)).status).toBe(200);
    }
    await replicasEqualMaster();
  });

  it('POST /v1/session then GET /v1/code on either edge: green; admin transcode turns it red on both', async () => {
    const idNo = demoResidentId(800_001);
    const token = await session({ idType: 'resident', idNo, name: '王五' });
    for (const url of edges) expect((await displayed(url, token, () => true, 'new person')).color).toBe('green');
    const login = await http('POST', `${adminUrl}/admin/v1/login`, adminCredentials(master.config.dataDir));
    const r = await http('POST', `${adminUrl}/admin/v1/codes/transcode`, { idType: 'resident', idNo, color: 'red', reason: 'cluster_test' }, login.body.token as string);
    expect(r.status, r.text).toBe(200);
    for (const url of edges) expect((await displayed(url, token, (b) => b.color === 'red', 'red')).reason).toBe('cluster_test');
  });

  it('an entry scan at edge 2 reaches PostgreSQL, becomes an entry fact, and both edges show the notice', async () => {
    const phone = '13600000002';
    const token = await session({ phone });
    await displayed(edges[1]!, token, () => true, 'phone person');
    const venue = master.master!.demo!.sampleEntryVenue!;
    expect((await http('POST', `${edges[1]}/v1/scan`, { venue }, token)).status).toBe(200);
    const store = master.master!.store;
    const [p] = await store.findPersonsByPhone(phone);
    const rows = await until('scan row', async () => {
      const q = await store.db.query<{ node: string }>('SELECT node FROM scans WHERE uid = $1', [p!.uid]);
      return q.rows.length > 0 ? q.rows : undefined;
    });
    expect(rows).toEqual([{ node: 'edge-2' }]);
    for (const url of edges) {
      await displayed(url, token, (b) => (b.notices as { kind: string }[]).some((n) => n.kind === 'entry_test'), 'entry notice');
    }
  });

  it('Redis connections killed mid-stream (CLIENT KILL, again and again): both edges catch up to exactly the master', async () => {
    const store = master.master!.store;
    const ids = (await store.db.query<{ id: number }>('SELECT person_id AS id FROM codes ORDER BY person_id')).rows.map((r) => r.id);
    let killing = true;
    let killed = 0;
    const killer = (async () => {
      while (killing) {
        for (const name of ['hc-edge-edge-1', 'hc-edge-edge-2', 'hc-master-master-1']) killed += await killConnections(redisAdmin, name);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    try {
      for (let round = 0; round < 6; round++) {
        const now = Math.floor(Date.now() / 1000);
        await store.transaction(async (s) => {
          const rows = await loadPeople(s.db, ids, true);
          const decision = { color: (['yellow', 'green'] as const)[round % 2]!, reason: `kill_round_${round}`, until: null, notices: [], nextEvalAt: null, overridden: false };
          await writeDecisions(s, rows.map((row) => ({ row, decision })), 'cluster-test', 'cluster-test', now);
        });
        master.master!.publisher.kick();
        await new Promise((r) => setTimeout(r, 150));
      }
    } finally {
      killing = false;
      await killer;
    }
    expect(killed).toBeGreaterThan(5);
    await replicasEqualMaster();
  }, 120_000);

  it('Redis away from edge 1 for a while: it keeps answering, spools scans, catches up, and every scan arrives exactly once', async () => {
    const token = await session({ phone: '13600000003' });
    for (const url of edges) await displayed(url, token, () => true, 'person');
    const venue = master.master!.demo!.sampleVenue!;
    redisProxy.down();
    const SCANS = 25;
    for (let i = 0; i < SCANS; i++) {
      const r = await http('POST', `${edges[0]}/v1/scan`, { venue }, token);
      expect(r.status, r.text).toBe(200);
    }
    expect((await http('GET', `${edges[0]}/v1/code`, undefined, token)).status).toBe(200);
    // a change made meanwhile reaches edge 2 at once, edge 1 after Redis is back
    const login = await http('POST', `${adminUrl}/admin/v1/login`, adminCredentials(master.config.dataDir));
    const t = await http('POST', `${adminUrl}/admin/v1/codes/transcode`, { phone: '13600000003', color: 'yellow', reason: 'outage_test' }, login.body.token as string);
    expect(t.status, t.text).toBe(200);
    await displayed(edges[1]!, token, (b) => b.color === 'yellow', 'yellow on edge 2');
    expect((await http('GET', `${edges[0]}/v1/code`, undefined, token)).body.color).toBe('green');
    await new Promise((r) => setTimeout(r, 1500));
    expect(edge1.edge!.shipper.metrics().spoolDepth).toBe(SCANS);
    redisProxy.up();
    await displayed(edges[0]!, token, (b) => b.color === 'yellow', 'yellow on edge 1 after Redis is back', 30_000);
    const store = master.master!.store;
    const [p] = await store.findPersonsByPhone('13600000003');
    const n = await until('all spooled scans in PostgreSQL', async () => {
      const q = await store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM scans WHERE uid = $1 AND node = 'edge-1'", [p!.uid]);
      return q.rows[0]!.n >= SCANS ? q.rows[0]!.n : undefined;
    }, 30_000);
    expect(n).toBe(SCANS);
    expect(edge1.edge!.shipper.metrics().spoolDepth).toBe(0);
    await replicasEqualMaster();
  }, 120_000);

  it('PostgreSQL away from the master: admin-api answers 503, edges keep serving and spooling; afterwards every scan lands exactly once', async () => {
    const token = await session({ phone: '13600000004' });
    for (const url of edges) await displayed(url, token, () => true, 'person');
    const venue = master.master!.demo!.sampleVenue!;
    const store = master.master!.store;
    const [p] = await store.findPersonsByPhone('13600000004');
    pgProxy.down();
    const refused = await http('POST', `${adminUrl}/v1/session`, { phone: '13600000005' });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('MASTER_ERR_UNAVAILABLE');
    const SCANS = 10;
    for (let i = 0; i < SCANS; i++) {
      for (const url of edges) expect((await http('POST', `${url}/v1/scan`, { venue }, token)).status).toBe(200);
      for (const url of edges) expect((await http('GET', `${url}/v1/code`, undefined, token)).status).toBe(200);
    }
    await until('importer retrying', async () => (master.master!.importer.metrics().errors > 0 ? true : undefined));
    pgProxy.up();
    const n = await until('every scan in PostgreSQL once', async () => {
      const q = await pgAdmin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.scans WHERE uid = $1`, [p!.uid]);
      return q.rows[0]!.n >= SCANS * 2 ? q.rows[0]!.n : undefined;
    }, 60_000);
    expect(n).toBe(SCANS * 2);
    const again = await http('POST', `${adminUrl}/v1/session`, { phone: '13600000005' });
    expect(again.status, again.text).toBe(200);
  }, 120_000);
});
