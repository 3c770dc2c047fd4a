import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSession } from '../core/session-token.js';
import { ScanSpool, SPOOL_DIR } from '../edge/scan-spool.js';
import { encodeRecord, RECORD_BYTES, WAL_DIR } from '../edge/scan-wal.js';
import { nowSec, seedReplica, uidOf, VENUE_NORMAL } from './edge-fixture.js';

/**
 * Group commit (edge/scan-spool.ts: one pwrite + fdatasync of a pre-zeroed
 * write-ahead file per tick, edge/scan-wal.ts) keeps the promise of DESIGN
 * §1/§6: an answered scan is on disk. A real edge server process (dist/edge/worker.js)
 * takes scans from 64 concurrent keep-alive connections — many per tick, so
 * commits carry groups — and is killed with SIGKILL in the middle of the
 * stream; every scan that got its 200 must be in the spool afterwards, and
 * a restarted server keeps appending to the same spool.
 *
 * Each person scans once: answered uids are then exactly checkable.
 */
const WORKER = fileURLToPath(new URL('../dist/edge/worker.js', import.meta.url));
const PEOPLE = 600;
const KILL_AFTER = 250;

let dataDir: string;
const sessionKey = randomBytes(32);

function startWorker(): { child: ChildProcess; port: Promise<number>; exit: Promise<void> } {
  const child = fork(WORKER, [], {
    env: {
      ...process.env,
      EDGE_HOST: '127.0.0.1',
      EDGE_PORT: '0',
      EDGE_WORKERS: '1',
      HC_DATA_DIR: dataDir,
      HC_SESSION_KEY: sessionKey.toString('hex'),
      EDGE_MAX_LAG_SEC: '3600',
      EDGE_SIGN_THREADS: '1',
    },
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const port = new Promise<number>((resolve, reject) => {
    child.on('message', (m: { type?: string; port?: number }) => m?.type === 'ready' && resolve(m.port!));
    child.on('exit', (code, signal) => reject(new Error(`edge worker exited before ready (${signal ?? code})`)));
  });
  return { child, port, exit };
}

function token(i: number): string {
  return issueSession(sessionKey, uidOf(i), nowSec() + 3600);
}

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'hc-scan-kill-'));
  const writer = seedReplica(dataDir, PEOPLE);
  return () => writer.close();
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('POST /v1/scan under kill -9', () => {
  it('loses no answered scan, and a restarted server appends to the same spool', async () => {
    const w = startWorker();
    const port = await w.port;
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64, pipelining: 1 });
    const answered = new Set<number>();
    let next = 1;
    let killed = false;
    const lane = async (): Promise<void> => {
      while (!killed && next <= PEOPLE) {
        const i = next++;
        try {
          const r = await pool.request({
            path: '/v1/scan',
            method: 'POST',
            headers: { authorization: `Bearer ${token(i)}`, 'content-type': 'application/json' },
            body: JSON.stringify({ venue: VENUE_NORMAL.id }),
          });
          const text = await r.body.text();
          if (r.statusCode === 200) {
            expect(JSON.parse(text).color).toBe('green');
            answered.add(i);
            if (answered.size >= KILL_AFTER && !killed) {
              killed = true;
              w.child.kill('SIGKILL');
            }
          }
        } catch {
          // the connection died with the server: this scan was never answered
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, lane));
    await w.exit;
    await pool.destroy();
    expect(killed).toBe(true);
    expect(w.child.signalCode).toBe('SIGKILL');

    // A power cut would also tear the group being written: put a torn record (its first 20 bytes) in the killed
    // writer's first empty slot. It was never answered; the records before it must all be read.
    const walPath = join(dataDir, SPOOL_DIR, WAL_DIR);
    const [killedFile] = readdirSync(walPath).filter((n) => n.endsWith('.wal'));
    const bytes = readFileSync(join(walPath, killedFile!));
    let empty = 0;
    while (bytes[empty * RECORD_BYTES + 4] !== 0) empty++;
    expect(empty).toBeGreaterThanOrEqual(answered.size);
    const torn = Buffer.alloc(RECORD_BYTES);
    encodeRecord(torn, 0, 'scan', 'green', Date.now(), 1, 1, uidOf(PEOPLE + 1), VENUE_NORMAL.id);
    const fd = openSync(join(walPath, killedFile!), 'r+');
    writeSync(fd, torn, 0, 20, empty * RECORD_BYTES);
    closeSync(fd);

    // restart on the same data dir: the restarted server writes a new file of its own
    const w2 = startWorker();
    const port2 = await w2.port;
    const r = await fetch(`http://127.0.0.1:${port2}/v1/scan`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token(PEOPLE)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ venue: VENUE_NORMAL.id }),
    });
    expect(r.status).toBe(200);
    w2.child.kill('SIGTERM');
    await w2.exit;

    const spool = ScanSpool.open(dataDir);
    try {
      // what the sync daemon's shipper does first: the servers' write-ahead files into the spool
      await spool.absorb();
      const spooled = new Set<string>();
      for (let batch = spool.readBatch(null, 1000), last: Buffer | null = null; batch.length > 0; batch = spool.readBatch(last, 1000)) {
        for (const e of batch) spooled.add(Buffer.from(e.event.uid).toString('hex'));
        last = batch[batch.length - 1]!.key;
      }
      const lost = [...answered].filter((i) => !spooled.has(uidOf(i).toString('hex')));
      expect(answered.size).toBeGreaterThanOrEqual(KILL_AFTER);
      expect(lost).toEqual([]);
      expect(spooled.has(uidOf(PEOPLE).toString('hex'))).toBe(true);
      expect(spooled.has(uidOf(PEOPLE + 1).toString('hex'))).toBe(false);
    } finally {
      await spool.close();
    }
  });
});
