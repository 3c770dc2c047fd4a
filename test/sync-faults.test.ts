import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDisplayEntry } from '../core/replica-layout.js';
import { runKillLoop } from '../bench/daemon-kill.js';
import { generateDemoData } from '../demo-data.js';
import { loadPeople, writeDecisions } from '../master/code-batch.js';
import { CodeService } from '../master/code-service.js';
import { loadOrCreateSecrets } from '../master/pii-crypto.js';
import { openPglite, type SqlClient } from '../master/sql-client.js';
import { MasterStore } from '../master/store.js';
import { loadStackConfig } from '../stack-config.js';
import { startEmbeddedStack, type StackHandle } from '../stack.js';
import { MemoryDeltaBus } from '../sync/bus-memory.js';
import { EdgeDaemon } from '../sync/edge-daemon.js';
import { masterOutboxSource } from '../sync/outbox-master.js';
import { Publisher } from '../sync/publisher.js';
import { SnapshotService, SNAPSHOT_PATH } from '../sync/snapshot.js';
import { startSyncHttp, type SyncHttpServer } from '../sync/sync-http.js';
import { http, logSink, masterCodes, until } from './stack-helpers.js';

/**
 * Fault tests of sync (issue 4 §7): the edge daemon killed with SIGKILL
 * while it applies, a node whose position was trimmed from the stream, and
 * the master going away while edges serve.
 */

describe('edge daemon killed with SIGKILL while it applies', () => {
  it('20 kills: after every kill the replica is exactly the master at its applied seq; at the end it equals the master', async () => {
    const r = await runKillLoop({ kills: 20, people: 1000 });
    expect(r.kills).toBe(20);
    // half the runs get a 1000-person change a few ms before the kill: those kills land
    // while the replica is behind the master, mostly inside an apply transaction
    expect(r.killsWhileBehind).toBeGreaterThanOrEqual(5);
    expect(r.checks + r.killsDuringBootstrap).toBe(20);
    expect(r.checks).toBeGreaterThanOrEqual(10);
    expect(r.codesCompared).toBe(1000);
  }, 240_000);
});

describe('a node whose position was trimmed from the stream', () => {
  let dir: string;
  let db: SqlClient;
  let store: MasterStore;
  let bus: MemoryDeltaBus;
  let publisher: Publisher;
  let snapshots: SnapshotService;
  let sync: SyncHttpServer;
  let ids: number[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-trim-'));
    db = await openPglite();
    const secrets = loadOrCreateSecrets(join(dir, 'secrets'), {});
    store = new MasterStore(db, secrets);
    await store.migrate();
    const codes = new CodeService(store, { log: () => {} });
    await generateDemoData(store, codes, secrets, { people: 500, venues: 5 });
    bus = new MemoryDeltaBus();
    // tiny entries, a tiny window: a few hundred changes push an offline node out of the stream
    publisher = new Publisher({ bus, source: masterOutboxSource(store), pollMs: 5, maxDeltasPerEntry: 20, retainEntries: 3, trimEveryEntries: 1 });
    publisher.start();
    snapshots = new SnapshotService({ dir: join(dir, 'snapshots'), db, bus, checkpointEveryMs: 60_000, blockMs: 100 });
    await snapshots.start();
    sync = await startSyncHttp({ host: '127.0.0.1', port: 0, snapshots });
    ids = (await db.query<{ id: number }>('SELECT person_id AS id FROM codes ORDER BY person_id')).rows.map((r) => r.id);
  });

  afterAll(async () => {
    await sync?.close();
    await snapshots?.stop();
    await publisher?.stop();
    await bus?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-bootstraps from a snapshot by merging it in place: changed codes rewritten, unchanged display entries kept', async () => {
    const edgeDir = join(dir, 'edge');
    const open = () => EdgeDaemon.open({ dataDir: edgeDir, bus, node: 'trim-test', snapshot: { url: `${sync.url}${SNAPSHOT_PATH}` }, blockMs: 100, log: () => {} });
    let daemon = open();
    daemon.start();
    expect(await daemon.waitFor(await store.maxOutboxSeq(), 15_000)).toBe(true);
    expect(daemon.metrics().bootstraps).toBe(1); // a new replica starts from a snapshot
    const before = daemon.appliedSeq();

    // a display entry for someone whose code will not change, and one for someone whose code will
    const uids = (await db.query<{ uid: Buffer }>('SELECT p.uid FROM codes c JOIN persons p ON p.id = c.person_id ORDER BY c.person_id')).rows.map((r) => r.uid);
    const keep = uids[0]!;
    const change = uids[1]!;
    const entry = encodeDisplayEntry(2_000_000_000, 7, Buffer.from('{"cached":true}'));
    expect(await daemon.writer.putDisplay(keep, entry, daemon.writer.code(keep)!.seq)).toBe(true);
    expect(await daemon.writer.putDisplay(change, entry, daemon.writer.code(change)!.seq)).toBe(true);
    await daemon.close();

    // offline: 300 people change (not the first), in entries of 20, of which the stream keeps ~3
    const now = Math.floor(Date.now() / 1000);
    await store.transaction(async (s) => {
      const rows = await loadPeople(s.db, ids.slice(1, 301), true);
      await writeDecisions(s, rows.map((row) => ({ row, decision: { color: 'yellow', reason: 'trim_test', until: null, notices: [], nextEvalAt: null, overridden: false } })), 't', 'trim-test', now);
    });
    publisher.kick();
    const max = await store.maxOutboxSeq();
    expect(await publisher.waitFor(max, 15_000)).toBe(true);
    const first = (await bus.firstDeltaSeq())!;
    expect(first).toBeGreaterThan(before + 1); // the deltas right after the node's position are gone

    daemon = open();
    daemon.start();
    try {
      expect(await daemon.waitFor(max, 20_000)).toBe(true);
      const m = daemon.metrics();
      expect(m.bootstraps).toBe(1);
      expect(m.lastBootstrap!.mode).toBe('merge');
      expect(m.lastBootstrap!.codes.put).toBeGreaterThanOrEqual(300);
      expect(m.lastBootstrap!.codes.deleted).toBe(0);
      expect(Buffer.from(daemon.writer.displayEntry(keep)!).equals(entry)).toBe(true);
      expect(daemon.writer.displayEntry(change)).toBeUndefined();
      const expected = await masterCodes(db, store);
      expect(daemon.writer.counts().codes).toBe(expected.size);
      for (const [k, r] of expected) expect(daemon.writer.code(Buffer.from(k, 'hex'))).toEqual(r);
    } finally {
      await daemon.close();
    }
  });
});

describe('the master unavailable', () => {
  let dir: string;
  let stack: StackHandle;
  const logs = logSink();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-master-down-'));
    const config = loadStackConfig({
      HC_DATA_DIR: dir, EDGE_PORT: '0', ADMIN_PORT: '0', SYNC_PORT: '0', EDGE_WORKERS: '1',
      HC_DEMO_PEOPLE: '100', HC_DEMO_VENUES: '20', HC_NODE_ID: 'down-test', ADMIN_LOG_LEVEL: 'silent',
    });
    stack = await startEmbeddedStack(config, { log: logs.log, adminLogStream: logs.stream });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('admin-api answers 503 with a clear error; the edge keeps serving displays and accepting scans', async () => {
    const admin = `http://127.0.0.1:${stack.adminPort}`;
    const edge = `http://127.0.0.1:${stack.edgePort}`;
    const s = await http('POST', `${admin}/v1/session`, { phone: '13700000007' });
    expect(s.status, s.text).toBe(200);
    const token = s.body.token as string;
    await until('the person on the edge', async () => ((await http('GET', `${edge}/v1/code`, undefined, token)).status === 200 ? true : undefined));

    await stack.master!.db.close(); // the master's database is gone

    const refused = await http('POST', `${admin}/v1/session`, { phone: '13700000008' });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('MASTER_ERR_UNAVAILABLE');
    expect(typeof refused.body.message).toBe('string');

    const shown = await http('GET', `${edge}/v1/code`, undefined, token);
    expect(shown.status).toBe(200);
    expect(shown.body.color).toBe('green');
    const scan = await http('POST', `${edge}/v1/scan`, { venue: stack.master!.demo!.sampleVenue }, token);
    expect(scan.status, scan.text).toBe(200);
    // the scan left the node (spool → bus) and waits there for the importer, which keeps retrying
    await until('scan shipped to the bus', async () => (stack.edge!.shipper.metrics().shipped >= 1 ? true : undefined));
    await until('importer failing and retrying', async () => (stack.master!.importer.metrics().errors > 0 ? true : undefined));
    const waiting = await stack.bus.readScans('0-0', 10, 0);
    expect(waiting.length).toBeGreaterThanOrEqual(1);
    expect((await http('GET', `${edge}/readyz`)).status).toBe(200);
  });
});
