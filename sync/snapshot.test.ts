import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../core/signing-key.js';
import { CodeService } from '../master/code-service.js';
import { NodeKeysRegistry } from '../master/node-keys-registry.js';
import { loadOrCreateSecrets } from '../master/pii-crypto.js';
import { openPglite, type SqlClient } from '../master/sql-client.js';
import { MasterStore } from '../master/store.js';
import { MemoryDeltaBus } from './bus-memory.js';
import { EdgeDaemon } from './edge-daemon.js';
import { masterOutboxSource } from './outbox-master.js';
import { Publisher } from './publisher.js';
import { fetchSnapshot } from './snapshot-fetch.js';
import { openSnapshotImage } from './snapshot-image.js';
import { buildFullSnapshot, SNAPSHOT_PATH, SnapshotService, verifySnapshotDir, verifySnapshotIsolated } from './snapshot.js';
import { NODE_KEYS_PATH, STATUS_PATH, startSyncHttp, type SyncHttpServer } from './sync-http.js';

/**
 * Snapshots end to end on a PGlite master: the full build at one sequence,
 * verification, the service (follower + checkpoints), the sync endpoint
 * (snapshot, node keys, status) and the edge's download.
 */
const TOKEN = 't'.repeat(40);

describe('snapshots and the sync endpoint', () => {
  let dir: string;
  let db: SqlClient;
  let store: MasterStore;
  let codes: CodeService;
  let registry: NodeKeysRegistry;
  let bus: MemoryDeltaBus;
  let publisher: Publisher;
  let service: SnapshotService;
  let sync: SyncHttpServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-snapshot-'));
    db = await openPglite();
    store = new MasterStore(db, loadOrCreateSecrets(dir, {}));
    await store.migrate();
    codes = new CodeService(store, { log: () => {} });
    registry = new NodeKeysRegistry(store);
    for (let i = 0; i < 25; i++) await codes.register({ phone: `1390000${String(i).padStart(4, '0')}` });
    await store.upsertVenue({ id: 'E1', name: '机场', region: '510116', kind: 'entry', entryTestHours: 24 });
    await store.upsertRiskArea({ region: '510107', level: 'high', since: 1_780_000_000 });
    const k = generateSigningKey('Ed25519', 4242, 1_780_000_000, 1_790_000_000);
    await registry.register('edge-x', [k]);
    bus = new MemoryDeltaBus();
    publisher = new Publisher({ bus, source: masterOutboxSource(store), pollMs: 5 });
    publisher.start();
    service = new SnapshotService({ dir: join(dir, 'snapshots'), db, bus, blockMs: 50, checkpointEveryMs: 3_600_000 });
    await service.start();
    sync = await startSyncHttp({
      host: '127.0.0.1',
      port: 0,
      snapshots: service,
      token: TOKEN,
      registerKeys: async (node, keys) => {
        const r = await registry.register(node, keys);
        if (r.seq !== null) publisher.kick();
      },
      status: () => ({ publisher: publisher.metrics() }),
    });
  });

  afterAll(async () => {
    await sync?.close();
    await service?.stop();
    await publisher?.stop();
    await bus?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a full build holds the master at one sequence: codes, venues, risk areas, rules, keys', async () => {
    const out = join(dir, 'full');
    const built = await buildFullSnapshot(db, out);
    expect(built.seq).toBe(await store.maxOutboxSeq());
    expect(built.counts).toMatchObject({ codes: 25, venues: 1, risk: 1 });
    expect(built.counts.rules).toBeGreaterThanOrEqual(1);
    const v = await verifySnapshotDir(out, { seq: built.seq, codes: 25 });
    expect(v.counts.codes).toBe(25);
    const img = openSnapshotImage(out);
    try {
      expect(img.seq).toBe(built.seq);
      expect((img.keys as { keys: { kid: number }[] }).keys.map((k) => k.kid)).toEqual([4242]);
      const uids = [...img.codes.entries()].map(([u]) => Buffer.from(u).toString('hex'));
      expect(uids).toEqual([...uids].sort()); // ascending uid order
    } finally {
      await img.close();
    }
    await expect(buildFullSnapshot(db, out)).rejects.toMatchObject({ code: 'SYNC_ERR_CONFIG' });
  });

  it('verification refuses a damaged file, a wrong sequence or count (SYNC_ERR_SNAPSHOT_CORRUPT)', async () => {
    const out = join(dir, 'damaged');
    const built = await buildFullSnapshot(db, out);
    await expect(verifySnapshotDir(out, { seq: built.seq + 1 })).rejects.toMatchObject({ code: 'SYNC_ERR_SNAPSHOT_CORRUPT' });
    await expect(verifySnapshotDir(out, { codes: 3 })).rejects.toMatchObject({ code: 'SYNC_ERR_SNAPSHOT_CORRUPT' });
    // zero the meta pages: not an LMDB file any more
    const fd = openSync(join(out, 'data.mdb'), 'r+');
    writeSync(fd, Buffer.alloc(8192), 0, 8192, 0);
    closeSync(fd);
    rmSync(join(out, 'lock.mdb'), { force: true });
    // lmdb-js itself would crash on this file (exit 139): the meta check refuses it before mapping it
    await expect(verifySnapshotDir(out)).rejects.toMatchObject({ code: 'SYNC_ERR_SNAPSHOT_CORRUPT' });
    await expect(verifySnapshotIsolated(out)).rejects.toMatchObject({ code: 'SYNC_ERR_SNAPSHOT_CORRUPT' });
    // a cut-off copy
    const cut = join(dir, 'cut');
    const ok = await buildFullSnapshot(db, cut);
    expect((await verifySnapshotIsolated(cut, { seq: ok.seq })).counts.codes).toBe(25);
    const size = statSync(join(cut, 'data.mdb')).size;
    const fd2 = openSync(join(cut, 'data.mdb'), 'r+');
    ftruncateSync(fd2, size - 100);
    closeSync(fd2);
    await expect(verifySnapshotIsolated(cut)).rejects.toMatchObject({ code: 'SYNC_ERR_SNAPSHOT_CORRUPT' });
    const empty = join(dir, 'empty-env');
    mkdirSync(empty);
    await expect(verifySnapshotDir(empty)).rejects.toMatchObject({ code: 'SYNC_ERR_SNAPSHOT_CORRUPT' });
  });

  it('serves the newest snapshot with its sequence and SHA-256; a minSeq past it makes a new checkpoint first', async () => {
    const first = service.latest()!;
    expect(statSync(first.file).size).toBe(first.bytes);
    await codes.register({ phone: '13900009999' });
    publisher.kick();
    const max = await store.maxOutboxSeq();
    const got = await fetchSnapshot(`${sync.url}${SNAPSHOT_PATH}`, join(dir, 'dl1'), { minSeq: max, token: TOKEN });
    expect(got.seq).toBeGreaterThanOrEqual(max);
    expect(got.counts.codes).toBe(26);
    expect(service.latest()!.seq).toBe(got.seq);
    expect(readFileSync(service.latest()!.file).equals(readFileSync(join(got.dir, 'data.mdb')))).toBe(true);
  });

  it('a new edge daemon bootstraps from it over HTTP and then follows the stream', async () => {
    const daemon = EdgeDaemon.open({
      dataDir: join(dir, 'edge-node'),
      bus,
      node: 'edge-y',
      snapshot: { url: `${sync.url}${SNAPSHOT_PATH}`, token: TOKEN },
      blockMs: 50,
      log: () => {},
    });
    daemon.start();
    try {
      expect(await daemon.waitFor(await store.maxOutboxSeq(), 10_000)).toBe(true);
      expect(daemon.metrics().bootstraps).toBe(1);
      expect(daemon.metrics().lastBootstrap!.mode).toBe('bulk');
      await codes.register({ phone: '13900008888' });
      publisher.kick();
      expect(await daemon.waitFor(await store.maxOutboxSeq(), 10_000)).toBe(true);
      expect(daemon.writer.counts().codes).toBe(27);
    } finally {
      await daemon.close();
    }
  });

  it('the sync endpoint refuses what it must (401, 400, 404) with sync error codes', async () => {
    const url = (p: string) => `${sync.url}${p}`;
    const noToken = await fetch(url(SNAPSHOT_PATH));
    expect(noToken.status).toBe(401);
    expect(((await noToken.json()) as { error: string }).error).toBe('SYNC_ERR_UNAUTHORIZED');
    const wrong = await fetch(url(SNAPSHOT_PATH), { headers: { authorization: `Bearer ${'x'.repeat(40)}` } });
    expect(wrong.status).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const badSeq = await fetch(url(`${SNAPSHOT_PATH}?minSeq=-1`), { headers: auth });
    expect(badSeq.status).toBe(400);
    expect(((await badSeq.json()) as { error: string }).error).toBe('SYNC_ERR_BAD_REQUEST');
    expect((await fetch(url('/nope'), { headers: auth })).status).toBe(404);
    expect((await fetch(url(NODE_KEYS_PATH), { method: 'POST', body: '{}' })).status).toBe(401);
    const notJson = await fetch(url(NODE_KEYS_PATH), { method: 'POST', headers: auth, body: 'nope' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toBe('SYNC_ERR_BAD_REQUEST');
    const badShape = await fetch(url(NODE_KEYS_PATH), { method: 'POST', headers: auth, body: JSON.stringify({ node: 'n', keys: 'k' }) });
    expect(badShape.status).toBe(400);
    const tooBig = await fetch(url(NODE_KEYS_PATH), { method: 'POST', headers: auth, body: 'x'.repeat(70_000) }).catch(() => null);
    if (tooBig !== null) expect(tooBig.status).toBe(400);
    const status = await fetch(url(STATUS_PATH), { headers: auth });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { snapshots: { latestSeq: number } }).snapshots.latestSeq).toBeGreaterThan(0);
  });

  it('registers node keys over HTTP; a kid that names another key is refused (MASTER_ERR_KEY_CONFLICT, 409)', async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const k = generateSigningKey('Ed25519', 777, 1_780_000_000, 1_790_000_000);
    const pub = { kid: k.kid, alg: k.alg, publicKey: k.publicKey, notBefore: k.notBefore, notAfter: k.notAfter };
    const ok = await fetch(`${sync.url}${NODE_KEYS_PATH}`, { method: 'POST', headers: auth, body: JSON.stringify({ node: 'edge-z', keys: [pub] }) });
    expect(ok.status).toBe(200);
    expect((await registry.publicSet()).keys.map((x) => x.kid)).toContain(777);
    const other = generateSigningKey('Ed25519', 777, 1_780_000_000, 1_790_000_000);
    const clash = await fetch(`${sync.url}${NODE_KEYS_PATH}`, {
      method: 'POST', headers: auth,
      body: JSON.stringify({ node: 'edge-z', keys: [{ kid: 777, alg: 'Ed25519', publicKey: other.publicKey, notBefore: other.notBefore, notAfter: other.notAfter }] }),
    });
    expect(clash.status).toBe(409);
    expect(((await clash.json()) as { error: string }).error).toBe('MASTER_ERR_KEY_CONFLICT');
  });
});

describe('downloading a snapshot', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let respond: (res: import('node:http').ServerResponse) => void = () => {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-snapshot-fetch-'));
    server = createServer((_req, res) => respond(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${SNAPSHOT_PATH}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const body = Buffer.alloc(4096, 1);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it.each([
    ['an error status', () => (res: import('node:http').ServerResponse) => {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"SYNC_ERR_SNAPSHOT_UNAVAILABLE"}');
    }, 'SYNC_ERR_SNAPSHOT_UNAVAILABLE'],
    ['missing headers', () => (res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-length': body.length }).end(body);
    }, 'SYNC_ERR_SNAPSHOT_CORRUPT'],
    ['a sequence below minSeq', () => (res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-length': body.length, 'x-snapshot-seq': '3', 'x-snapshot-sha256': sha(body) }).end(body);
    }, 'SYNC_ERR_SNAPSHOT_CORRUPT'],
    ['a SHA-256 that does not match', () => (res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-length': body.length, 'x-snapshot-seq': '10', 'x-snapshot-sha256': 'ab'.repeat(32) }).end(body);
    }, 'SYNC_ERR_SNAPSHOT_CORRUPT'],
    ['bytes that are no LMDB file', () => (res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-length': body.length, 'x-snapshot-seq': '10', 'x-snapshot-sha256': sha(body) }).end(body);
    }, 'SYNC_ERR_SNAPSHOT_CORRUPT'],
    ['a connection cut short', () => (res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-length': body.length * 2, 'x-snapshot-seq': '10', 'x-snapshot-sha256': sha(body) });
      res.write(body, () => res.destroy());
    }, 'SYNC_ERR_SNAPSHOT_UNAVAILABLE'],
  ])('refuses %s', async (_what, make, code) => {
    respond = make();
    await expect(fetchSnapshot(base, join(dir, 'dl'), { minSeq: 5 })).rejects.toMatchObject({ code });
  });

  it('says so when nothing listens (SYNC_ERR_SNAPSHOT_UNAVAILABLE)', async () => {
    await expect(fetchSnapshot('http://127.0.0.1:1/sync/v1/snapshot', join(dir, 'dl2'), { minSeq: 0 })).rejects.toMatchObject({ code: 'SYNC_ERR_SNAPSHOT_UNAVAILABLE' });
  });
});
