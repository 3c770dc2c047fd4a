import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CodeRecord, Notice, Venue } from '../core/code-record.js';
import type { Delta } from '../core/delta.js';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { issueSession } from '../core/session-token.js';
import { loadAppAssets, type AppAssets } from '../edge/app-assets.js';
import type { EdgeConfig } from '../edge/config.js';
import { publicNodeKeys, readNodeKeys } from '../edge/node-keys.js';
import { startEdgeServer, type EdgeServer } from '../edge/server.js';

/**
 * The citizen page on a real edge, for the browser test (test/app-page.test.ts)
 * and `npm run bench:page`: a temp data dir, a replica holding one person and
 * two venues, the real edge server (edge/server.ts, in this process), and the
 * page's assets (edge/app-assets.ts).
 *
 * The replica is written by a CHILD process running the compiled
 * sync/replica-writer.ts (dist/): one LMDB environment must not be opened
 * twice in one process (FACTS), and an edge process and its node's sync daemon
 * are separate processes in production too. The child also plays the daemon's
 * heartbeat (syncedAt every second) unless a test freezes it.
 *
 * Serving /app/: while edge/server.ts does not mount edge/app-assets.ts yet, a
 * small node:http front (what the load balancer is in production) serves
 * /app/ from app-assets and passes everything else through to the edge
 * unchanged. As soon as the edge answers GET /app/ itself, the front is not
 * started and the browser talks to the edge directly.
 */

// <repo>/bench/page-stack.ts, or compiled: <repo>/dist/bench/page-stack.js
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = basename(dirname(HERE)) === 'dist' ? resolve(HERE, '..', '..') : resolve(HERE, '..');

export const PERSON_NAME = '张*三';
export const ENTRY_VENUE: Venue = { id: 'V510108001', name: '成都东站入川检测点', region: '510108', kind: 'entry', entryTestHours: 24 };
export const NORMAL_VENUE: Venue = { id: 'V510104002', name: '春熙路商场', region: '510104', kind: 'normal', entryTestHours: null };

export interface PageStackOptions {
  /** built page (edge/app/build.mjs output); default <repo>/dist/app */
  readonly appDir?: string;
  /** EDGE_MAX_LAG_SEC of the edge (default 30) */
  readonly maxLagSec?: number;
  readonly log?: (line: string) => void;
}

export interface PageStack {
  /** origin the browser loads, e.g. http://127.0.0.1:40123 */
  readonly base: string;
  /** true when the edge serves /app/ itself (no front server) */
  readonly edgeServesApp: boolean;
  readonly edgeOrigin: string;
  readonly dataDir: string;
  readonly uid: Uint8Array;
  /** a citizen session for the person (core/session-token.ts, the key the edge checks with) */
  readonly session: string;
  /** Another session, as admin-api would issue it (e.g. renewed, or for a person not on the replica). */
  sessionFor(uid: Uint8Array, expiresAt: number): string;
  /** Public key set of this node, `{ keys }` as /v1/keys serves it once published. */
  publicKeys(): { keys: unknown[] };
  /** Replaces the person's code record (a code delta through the replica writer). */
  setCode(change: Partial<Pick<CodeRecord, 'color' | 'reason' | 'until'>> & { notices?: Notice[] }): Promise<void>;
  /** Sets the replica's syncedAt (unix ms) and stops (freeze) or restarts the heartbeat. */
  setSyncedAt(ms: number, freeze: boolean): Promise<void>;
  /** Waits until the edge has re-read replica state (it does so once a second). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

// The child: a long-lived replica writer driven over IPC (advanced serialisation keeps Uint8Array).
const CHILD = `
const { ReplicaWriter } = await import(process.argv[3]);
const w = ReplicaWriter.open({ dir: process.argv[2] });
let beat = true;
const timer = setInterval(() => { if (beat) w.setSyncedAt(Date.now()); }, 1000);
process.on('message', async (m) => {
  try {
    let result;
    if (m.op === 'apply') result = w.applyBatch(m.batch).length;
    else if (m.op === 'syncedAt') { beat = !m.freeze; w.setSyncedAt(m.ms); }
    else if (m.op === 'keys') w.setKeys(m.keys);
    else if (m.op === 'close') { clearInterval(timer); await w.close(); process.send({ id: m.id, ok: true }, () => process.exit(0)); return; }
    await w.flushed();
    process.send({ id: m.id, ok: true, result });
  } catch (e) {
    process.send({ id: m.id, ok: false, error: String(e && (e.code || e.stack) || e) });
  }
});
process.send({ ready: true });
`;

class WriterChild {
  private next = 1;
  private readonly pending = new Map<number, (m: { ok: boolean; result?: unknown; error?: string }) => void>();
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: { id?: number; ok: boolean; result?: unknown; error?: string }) => {
      if (m.id !== undefined) this.pending.get(m.id)?.(m);
    });
  }

  static async start(script: string, replicaDir: string): Promise<WriterChild> {
    const writerJs = join(ROOT, 'dist', 'sync', 'replica-writer.js');
    if (!existsSync(writerJs)) throw new Error(`${writerJs} is missing: run npm run build (vitest's global setup does it)`);
    const child = fork(script, [replicaDir, pathToFileURL(writerJs).href], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((ok, fail) => {
      child.once('message', () => ok());
      child.once('exit', (c) => fail(new Error(`replica writer child exited with ${c}`)));
    });
    return new WriterChild(child);
  }

  async call(msg: Record<string, unknown>): Promise<unknown> {
    const id = this.next++;
    const reply = await new Promise<{ ok: boolean; result?: unknown; error?: string }>((ok) => {
      this.pending.set(id, ok);
      this.child.send({ ...msg, id });
    });
    this.pending.delete(id);
    if (!reply.ok) throw new Error(`replica writer: ${reply.error}`);
    return reply.result;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((ok) => this.child.once('exit', ok));
    await this.call({ op: 'close' });
    await exited;
  }
}

/** Reverse proxy for everything but /app/: method, path, headers and body as they came, the edge's answer as it is. */
function frontServer(app: AppAssets, edgePort: number): http.Server {
  const agent = new http.Agent({ keepAlive: true });
  return http.createServer(function front(req, res) {
    const url = req.url ?? '/';
    const ae = req.headers['accept-encoding'];
    const inm = req.headers['if-none-match'];
    const r = app.lookup(url, Array.isArray(ae) ? ae.join(',') : ae, Array.isArray(inm) ? inm.join(',') : inm);
    if (r !== undefined) {
      res.writeHead(r.status, r.headers.map(([k, v]) => [k, v]).flat());
      res.end(req.method === 'HEAD' ? undefined : r.body);
      return;
    }
    const up = http.request(
      { host: '127.0.0.1', port: edgePort, method: req.method, path: url, headers: req.headers, agent },
      function fromEdge(ur) {
        res.writeHead(ur.statusCode ?? 502, ur.rawHeaders);
        ur.pipe(res);
      },
    );
    up.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'bad_gateway', message: err.message }));
    });
    req.pipe(up);
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok((server.address() as AddressInfo).port));
  });
}

export async function startPageStack(opts: PageStackOptions = {}): Promise<PageStack> {
  const log = opts.log ?? (() => {});
  const appDir = opts.appDir ?? join(ROOT, 'dist', 'app');
  const app = loadAppAssets(appDir);
  const tmp = mkdtempSync(join(tmpdir(), 'hc-page-'));
  const dataDir = join(tmp, 'data');
  const script = join(tmp, 'writer-child.mjs');
  writeFileSync(script, CHILD);

  const now = Math.floor(Date.now() / 1000);
  const uid = new Uint8Array(randomBytes(16));
  let seq = 0;
  const record: CodeRecord = { color: 'green', reason: 'normal', since: now - 30 * 86_400, until: null, name: PERSON_NAME, notices: [], seq: 0 };
  let current = record;

  const writer = await WriterChild.start(script, join(dataDir, REPLICA_DIR));
  let edge: EdgeServer | undefined;
  let front: http.Server | undefined;
  try {
    const deltas: Delta[] = [
      { seq: ++seq, type: 'code', uid, record: (current = { ...record, seq }) },
      { seq: ++seq, type: 'venue', id: ENTRY_VENUE.id, venue: ENTRY_VENUE },
      { seq: ++seq, type: 'venue', id: NORMAL_VENUE.id, venue: NORMAL_VENUE },
    ];
    await writer.call({ op: 'apply', batch: { from: 1, to: seq, deltas } });
    await writer.call({ op: 'syncedAt', ms: Date.now(), freeze: false });

    const sessionKey = randomBytes(32);
    const config: EdgeConfig = {
      host: '127.0.0.1',
      port: 0,
      workers: 1,
      dataDir,
      sessionKey,
      maxLagSec: opts.maxLagSec ?? 30,
      tokenTtlSec: 3600,
      signAlg: 'Ed25519',
      keyLifetimeDays: 30,
      signThreads: 1,
      sessionCacheSize: 1024,
    };
    edge = await startEdgeServer(config, { log });
    const edgeOrigin = `http://127.0.0.1:${edge.port}`;
    // register this node's public keys as the master would (through sync)
    const keys = { keys: publicNodeKeys(readNodeKeys(dataDir) ?? []) };
    await writer.call({ op: 'keys', keys });

    const probe = await fetch(`${edgeOrigin}/app/`).catch(() => undefined);
    const edgeServesApp = probe !== undefined && probe.status === 200 && (probe.headers.get('content-type') ?? '').startsWith('text/html');
    await probe?.arrayBuffer().catch(() => undefined);
    let base = edgeOrigin;
    if (!edgeServesApp) {
      front = frontServer(app, edge.port);
      base = `http://127.0.0.1:${await listen(front)}`;
      log(`page-stack: edge ${edgeOrigin} does not serve /app/ yet; front server ${base} serves it from ${appDir}`);
    }
    const session = issueSession(sessionKey, uid, now + 7 * 86_400);
    const edgeNow = edge;
    const frontNow = front;

    return {
      base,
      edgeServesApp,
      edgeOrigin,
      dataDir,
      uid,
      session,
      sessionFor: (u, exp) => issueSession(sessionKey, u, exp),
      publicKeys: () => keys,
      async setCode(change) {
        const s = ++seq;
        current = { ...current, ...change, notices: change.notices ?? current.notices, seq: s };
        await writer.call({ op: 'apply', batch: { from: s, to: s, deltas: [{ seq: s, type: 'code', uid, record: current }] } });
      },
      async setSyncedAt(ms, freeze) {
        await writer.call({ op: 'syncedAt', ms, freeze });
      },
      settle() {
        return new Promise((ok) => setTimeout(ok, 1300));
      },
      async close() {
        await new Promise<void>((ok) => (frontNow ? frontNow.close(() => ok()) : ok()));
        frontNow?.closeAllConnections();
        await edgeNow.close();
        await writer.stop();
        rmSync(tmp, { recursive: true, force: true });
      },
    };
  } catch (err) {
    front?.close();
    await edge?.close();
    await writer.stop();
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
