import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeySet } from '../core/key-set.js';
import { issueSession } from '../core/session-token.js';
import { verifyTf1 } from '../core/token.js';
import { ScanSpool } from '../edge/scan-spool.js';
import type { ReplicaWriter } from '../sync/replica-writer.js';
import { nowSec, record, seedReplica, uidOf, VENUE_ENTRY } from './edge-fixture.js';

/**
 * The node as operators run it: `node dist/edge/main.js` forking
 * EDGE_WORKERS server processes on one port (SO_REUSEPORT), the replica
 * written by another process (here: this test, through ReplicaWriter).
 */
const MAIN = fileURLToPath(new URL('../dist/edge/main.js', import.meta.url));

let dataDir: string;
let writer: ReplicaWriter;
let port: number;
let sup: ChildProcess;
let supExit: Promise<number | null>;
let supLog = '';
const sessionKey = randomBytes(32);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function startSupervisor(extraEnv: Record<string, string> = {}): { child: ChildProcess; exit: Promise<number | null>; ready: Promise<number[]> } {
  const child = fork(MAIN, [], {
    env: {
      ...process.env,
      EDGE_HOST: '127.0.0.1',
      EDGE_PORT: String(port),
      EDGE_WORKERS: '2',
      HC_DATA_DIR: dataDir,
      HC_SESSION_KEY: sessionKey.toString('hex'),
      EDGE_MAX_LAG_SEC: '3600',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout!.on('data', (d) => (supLog += d));
  child.stderr!.on('data', (d) => (supLog += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<number[]>((resolve, reject) => {
    child.on('message', (m: { type?: string; pids?: number[] }) => m?.type === 'ready' && resolve(m.pids ?? []));
    child.on('exit', (code) => reject(new Error(`supervisor exited ${code}: ${supLog}`)));
  });
  return { child, exit, ready };
}

/** One request on a fresh connection (no keep-alive), so SO_REUSEPORT spreads them. */
function get(path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { ...headers, connection: 'close' }, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, json: text === '' ? null : JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function healthPids(n: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < n; i++) pids.add((await get('/healthz')).json.pid);
  return pids;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'hc-edge-mp-'));
  writer = seedReplica(dataDir, 20);
  port = await freePort();
  const s = startSupervisor();
  sup = s.child;
  supExit = s.exit;
  await s.ready;
});

afterAll(async () => {
  if (sup.exitCode === null) {
    sup.kill('SIGKILL');
    await supExit;
  }
  await writer.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('edge node with two server processes', () => {
  it('serves one port from two processes (SO_REUSEPORT)', async () => {
    const pids = await healthPids(60);
    expect(pids.size).toBe(2);
    expect(pids.has(process.pid)).toBe(false);
  });

  it('signs and stores displays from either process; a code change written by another process shows up', async () => {
    const auth = { authorization: `Bearer ${issueSession(sessionKey, uidOf(3), nowSec() + 600)}` };
    const first = await get('/v1/code', auth);
    expect(first.status).toBe(200);
    const keys = KeySet.fromPublicJson((await get('/v1/keys')).json);
    expect(verifyTf1(first.json.token, keys, nowSec()).color).toBe(0);
    // the other process (or the same) serves the stored entry
    for (let i = 0; i < 6; i++) expect((await get('/v1/code', auth)).json.token).toBe(first.json.token);
    const seq = writer.appliedSeq() + 1;
    writer.applyBatch({ from: seq, to: seq, deltas: [{ seq, type: 'code', uid: uidOf(3), record: record('yellow', seq, { reason: 'risk_area_visit' }) }] });
    for (let i = 0; i < 6; i++) {
      const r = await get('/v1/code', auth);
      expect(r.json.color).toBe('yellow');
      expect(verifyTf1(r.json.token, keys, nowSec()).color).toBe(1);
    }
  });

  it('has a scan on disk once it is answered: killing every server right after the answer loses nothing', async () => {
    const before = await healthPids(20);
    const auth = { authorization: `Bearer ${issueSession(sessionKey, uidOf(7), nowSec() + 600)}`, 'content-type': 'application/json' };
    const r = await get('/v1/scan', auth, 'POST', JSON.stringify({ venue: VENUE_ENTRY.id }));
    expect(r.status).toBe(200);
    expect(r.json.notices[0].kind).toBe('entry_test');
    for (const pid of before) process.kill(pid, 'SIGKILL');
    // read back from disk by a fresh opener (this process never wrote the spool)
    const spool = ScanSpool.open(dataDir);
    try {
      await spool.absorb();
      const mine = spool.readBatch(null, 1000).filter((e) => Buffer.from(e.event.uid).equals(uidOf(7)));
      expect(mine.map((e) => [e.event.kind, e.event.venue])).toEqual([['scan', VENUE_ENTRY.id]]);
    } finally {
      await spool.close();
    }
  });

  it('restarts crashed servers', async () => {
    // the servers killed above come back with new pids
    let pids = new Set<number>();
    for (let i = 0; i < 100 && pids.size < 2; i++) {
      try {
        pids = await healthPids(20);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(pids.size).toBe(2);
    expect(supLog).toMatch(/exited \(SIGKILL\); restarting/);
  });

  it('refuses to start a second node on a port that is taken', async () => {
    const second = startSupervisor();
    second.ready.catch(() => undefined);
    expect(await second.exit).toBe(1);
    expect(supLog).toMatch(/EDGE_PORT: .*not available/);
  });

  it('refuses a bad configuration naming the variable', async () => {
    const bad = startSupervisor({ EDGE_WORKERS: 'many' });
    bad.ready.catch(() => undefined);
    expect(await bad.exit).toBe(2);
    expect(supLog).toMatch(/EDGE_WORKERS/);
  });

  it('stops cleanly on SIGTERM (exit 0, port released)', async () => {
    sup.kill('SIGTERM');
    expect(await supExit).toBe(0);
    await expect(get('/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});
