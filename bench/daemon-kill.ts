import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { open } from 'lmdb';
import { decodeCodeRecord, type CodeRecord } from '../core/code-record.js';
import { DB_CODES, DB_META, META_APPLIED_SEQ, REPLICA_DIR, REPLICA_MAX_DBS, REPLICA_MAX_READERS } from '../core/replica-layout.js';
import { generateDemoData } from '../demo-data.js';
import { loadPeople, writeDecisions } from '../master/code-batch.js';
import { CodeService } from '../master/code-service.js';
import { loadOrCreateSecrets } from '../master/pii-crypto.js';
import { openPglite, type SqlClient } from '../master/sql-client.js';
import { MasterStore } from '../master/store.js';
import { MemoryDeltaBus } from '../sync/bus-memory.js';
import { masterOutboxSource } from '../sync/outbox-master.js';
import { Publisher } from '../sync/publisher.js';
import { SnapshotService, SNAPSHOT_PATH } from '../sync/snapshot.js';
import { startSyncHttp, type SyncHttpServer } from '../sync/sync-http.js';
import { serveBusOverIpc } from './ipc-bus.js';

/**
 * kill -9 the edge sync daemon while it applies, over and over, and prove
 * after EVERY kill that the replica holds exactly the master's state at the
 * replica's own applied sequence — no gap, no delta applied twice, nothing
 * half-applied (DESIGN §6: "after a crash it resumes exactly where it
 * stopped"). Finally the daemon runs to the end and the replica must equal
 * the master's codes table, code by code.
 *
 *   npm run build && node dist/bench/daemon-kill.js [--kills 1000] [--people 3000]
 *
 * Setup: a PGlite master with demo people, the publisher on an in-process
 * bus, the snapshot service on a loopback sync port; the daemon is a child
 * process (bench/daemon-child.ts) reading the bus over IPC. While it runs,
 * the parent keeps committing code changes in transactions of 1–1000
 * people (a few thousand deltas a second), so most kills land in the middle of applying an entry (counted).
 * The first restarts come within milliseconds, i.e. during the bootstrap
 * from the snapshot (bulk path: a kill leaves partial codes at appliedSeq 0,
 * which the next bootstrap finishes with a merge).
 *
 * The expected state at sequence A is folded from the master's outbox
 * (every code delta 1..A), kept as per-uid histories so each check is
 * O(people).
 */
export interface KillLoopOptions {
  readonly kills: number;
  readonly people?: number;
  /** each run lives this long before SIGKILL: a random time in [min, max] ms (default 5–250) */
  readonly minRunMs?: number;
  readonly maxRunMs?: number;
  readonly log?: (line: string) => void;
}

export interface KillLoopResult {
  readonly kills: number;
  /** kills that came while the master was ahead of what the replica had applied */
  readonly killsWhileBehind: number;
  /** kills before the first bootstrap had completed */
  readonly killsDuringBootstrap: number;
  readonly checks: number;
  readonly deltas: number;
  readonly finalSeq: number;
  readonly codesCompared: number;
  readonly ms: number;
}

function childFile(): string {
  const here = import.meta.url;
  return fileURLToPath(here.endsWith('.ts') ? new URL('../dist/bench/daemon-child.js', here) : new URL('./daemon-child.js', here));
}

/** Per-uid histories of code deltas: the state at any sequence in O(people). */
class Fold {
  private readonly hist = new Map<string, { seq: number; record: CodeRecord | null }[]>();
  foldedTo = 0;

  async refresh(store: MasterStore): Promise<void> {
    for (;;) {
      const rows = await store.readOutbox(this.foldedTo, 20_000);
      if (rows.length === 0) return;
      for (const d of rows) {
        if (d.type === 'code') {
          const k = Buffer.from(d.uid).toString('hex');
          let h = this.hist.get(k);
          if (h === undefined) this.hist.set(k, (h = []));
          h.push({ seq: d.seq, record: d.record });
        }
        this.foldedTo = d.seq;
      }
    }
  }

  /** uid hex → record at `seq` (people without a code at `seq` are absent). */
  at(seq: number): Map<string, CodeRecord> {
    const out = new Map<string, CodeRecord>();
    for (const [k, h] of this.hist) {
      let r: CodeRecord | null = null;
      for (let i = h.length - 1; i >= 0; i--) {
        if (h[i]!.seq <= seq) {
          r = h[i]!.record;
          break;
        }
      }
      if (r !== null) out.set(k, r);
    }
    return out;
  }
}

/** Reads the replica a killed daemon left: its applied seq and every code. */
async function readReplica(dataDir: string): Promise<{ applied: number; codes: Map<string, CodeRecord> }> {
  const env = open({ path: join(dataDir, REPLICA_DIR), maxDbs: REPLICA_MAX_DBS, maxReaders: REPLICA_MAX_READERS, cache: false });
  try {
    const meta = env.openDB<unknown, string>(DB_META, { cache: false });
    const codesDb = env.openDB<Uint8Array, Uint8Array>(DB_CODES, { keyEncoding: 'binary', encoding: 'binary', cache: false });
    const applied = meta.get(META_APPLIED_SEQ);
    const codes = new Map<string, CodeRecord>();
    for (const { key, value } of codesDb.getRange()) codes.set(Buffer.from(key).toString('hex'), decodeCodeRecord(value));
    return { applied: typeof applied === 'number' ? applied : 0, codes };
  } finally {
    await env.close();
  }
}

function sameRecord(a: CodeRecord, b: CodeRecord): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function compare(expected: Map<string, CodeRecord>, got: Map<string, CodeRecord>, what: string): void {
  if (expected.size !== got.size) throw new Error(`${what}: replica holds ${got.size} codes, the master had ${expected.size}`);
  for (const [k, r] of expected) {
    const g = got.get(k);
    if (g === undefined) throw new Error(`${what}: uid ${k} missing from the replica`);
    if (!sameRecord(r, g)) throw new Error(`${what}: uid ${k} is ${JSON.stringify(g)}, the master had ${JSON.stringify(r)}`);
  }
}

interface Master {
  readonly db: SqlClient;
  readonly store: MasterStore;
  readonly bus: MemoryDeltaBus;
  readonly publisher: Publisher;
  readonly snapshots: SnapshotService;
  readonly sync: SyncHttpServer;
  readonly personIds: number[];
}

async function startMaster(dir: string, people: number): Promise<Master> {
  const db = await openPglite();
  const secrets = loadOrCreateSecrets(join(dir, 'secrets'), {});
  const store = new MasterStore(db, secrets);
  await store.migrate();
  const codes = new CodeService(store, { log: () => {} });
  await generateDemoData(store, codes, secrets, { people, venues: 10 });
  const bus = new MemoryDeltaBus();
  const publisher = new Publisher({ bus, source: masterOutboxSource(store), pollMs: 5, retainEntries: 0 });
  publisher.start();
  const snapshots = new SnapshotService({ dir: join(dir, 'snapshots'), db, bus, checkpointEveryMs: 2000, blockMs: 100 });
  await snapshots.start();
  const sync = await startSyncHttp({ host: '127.0.0.1', port: 0, snapshots });
  const ids = (await db.query<{ id: number }>('SELECT person_id AS id FROM codes ORDER BY person_id')).rows.map((r) => r.id);
  return { db, store, bus, publisher, snapshots, sync, personIds: ids };
}

/**
 * Commits code changes until stopped: transactions of 1–1500 people through
 * the master's bulk code writer (code-batch.ts writeDecisions: codes, history
 * and outbox deltas in a few statements — the path rule sweeps take), with
 * colours and reasons that always differ from the round before.
 */
function startWriter(m: Master, stop: { stopped: boolean }, log: (l: string) => void): Promise<number> {
  return (async () => {
    let round = 0;
    let changes = 0;
    while (!stop.stopped) {
      round++;
      const n = round % 7 === 0 ? 1000 : 1 + Math.floor(Math.random() * 100);
      const start = Math.floor(Math.random() * m.personIds.length);
      const ids = new Set<number>();
      for (let k = 0; k < n; k++) ids.add(m.personIds[(start + k) % m.personIds.length]!);
      const sorted = [...ids].sort((a, b) => a - b);
      const color = (['green', 'yellow', 'red'] as const)[round % 3]!;
      const now = Math.floor(Date.now() / 1000);
      try {
        await m.store.transaction(async (s) => {
          const rows = await loadPeople(s.db, sorted, true);
          const decision = { color, reason: `kill_round_${round}`, until: null, notices: [], nextEvalAt: null, overridden: false };
          await writeDecisions(s, rows.map((row) => ({ row, decision })), 'daemon-kill', 'daemon-kill', now);
        });
        changes += sorted.length;
        m.publisher.kick();
      } catch (err) {
        log(`writer: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    return changes;
  })();
}

/** One transaction changing 1000 people (on top of the writer loop), published at once. */
async function bigChange(m: Master, k: number): Promise<void> {
  const start = Math.floor(Math.random() * m.personIds.length);
  const ids = [...new Set(Array.from({ length: 1000 }, (_, j) => m.personIds[(start + j) % m.personIds.length]!))].sort((a, b) => a - b);
  const now = Math.floor(Date.now() / 1000);
  await m.store.transaction(async (s) => {
    const rows = await loadPeople(s.db, ids, true);
    const decision = { color: k % 4 === 1 ? ('red' as const) : ('yellow' as const), reason: `kill_big_${k}`, until: null, notices: [], nextEvalAt: null, overridden: false };
    await writeDecisions(s, rows.map((row) => ({ row, decision })), 'daemon-kill', 'daemon-kill', now);
  });
  m.publisher.kick();
}

function waitMessage(child: ChildProcess, type: string, timeoutMs: number): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('message', on);
      resolve(null);
    }, timeoutMs);
    function on(m: Record<string, unknown>): void {
      if (m?.type === type) {
        clearTimeout(timer);
        child.off('message', on);
        resolve(m);
      }
    }
    child.on('message', on);
  });
}

/** Resolves once the child reports a replica past its bootstrap (appliedSeq > 0), or after `timeoutMs`. */
function waitApplied(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function on(m: Record<string, unknown>): void {
      if ((m?.type === 'applied' || m?.type === 'ready') && typeof (m.seq ?? m.appliedSeq) === 'number' && ((m.seq ?? m.appliedSeq) as number) > 0) done();
    }
    function done(): void {
      clearTimeout(timer);
      child.off('message', on);
      resolve();
    }
    child.on('message', on);
  });
}

function spawnDaemon(dataDir: string, snapshotUrl: string, bus: MemoryDeltaBus): { child: ChildProcess; detach: () => void; exited: Promise<void> } {
  const child = fork(childFile(), [dataDir, snapshotUrl], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const detach = serveBusOverIpc(child, bus);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, detach, exited };
}

export async function runKillLoop(opts: KillLoopOptions): Promise<KillLoopResult> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const people = opts.people ?? 3000;
  const minRun = opts.minRunMs ?? 5;
  const maxRun = opts.maxRunMs ?? 250;
  const dir = mkdtempSync(join(tmpdir(), 'hc-daemon-kill-'));
  const edgeDir = join(dir, 'edge');
  mkdirSync(edgeDir);
  const m = await startMaster(dir, people);
  const snapshotUrl = `${m.sync.url}${SNAPSHOT_PATH}`;
  const fold = new Fold();
  const stop = { stopped: false };
  const writer = startWriter(m, stop, log);
  let killsWhileBehind = 0;
  let killsDuringBootstrap = 0;
  let checks = 0;
  let lastApplied = 0;
  try {
    for (let k = 0; k < opts.kills; k++) {
      const d = spawnDaemon(edgeDir, snapshotUrl, m.bus);
      // the first few kills come right away: during the first bootstrap
      const runMs = k < 3 ? 5 + k * 15 : k % 2 === 1 ? 2 + Math.random() * 40 : minRun + Math.random() * (maxRun - minRun);
      await waitMessage(d.child, 'ready', 10_000);
      if (k >= 3) {
        // let the bootstrap finish, then give the daemon a 1000-person change to chew on
        // and kill it a few milliseconds into it: the kill lands while a transaction is open
        await waitApplied(d.child, 15_000);
        if (k % 2 === 1) await bigChange(m, k);
      }
      await new Promise((r) => setTimeout(r, runMs));
      const masterSeq = await m.store.maxOutboxSeq();
      d.child.kill('SIGKILL');
      await d.exited;
      d.detach();
      const replica = await readReplica(edgeDir);
      if (replica.applied < lastApplied) throw new Error(`kill ${k + 1}: applied sequence went back from ${lastApplied} to ${replica.applied}`);
      lastApplied = replica.applied;
      if (replica.applied < masterSeq) killsWhileBehind++;
      if (replica.applied === 0) {
        killsDuringBootstrap++;
        continue; // a bootstrap cut short: never synced, not served as current (edge-daemon.ts)
      }
      await fold.refresh(m.store);
      compare(fold.at(replica.applied), replica.codes, `after kill ${k + 1} at seq ${replica.applied}`);
      checks++;
      if ((k + 1) % 50 === 0) log(`${k + 1} kills, replica at ${replica.applied}, master at ${masterSeq}`);
    }
    stop.stopped = true;
    await writer;
    const finalSeq = await m.store.maxOutboxSeq();
    if (!(await m.publisher.waitFor(finalSeq, 30_000))) throw new Error('publisher did not publish everything');
    const d = spawnDaemon(edgeDir, snapshotUrl, m.bus);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const msg = await waitMessage(d.child, 'applied', 5000);
      if (msg !== null && (msg.seq as number) >= finalSeq) break;
      if (Date.now() > deadline) throw new Error(`the daemon did not reach ${finalSeq}`);
    }
    d.child.kill('SIGTERM');
    await d.exited;
    d.detach();
    const replica = await readReplica(edgeDir);
    if (replica.applied !== finalSeq) throw new Error(`final replica at ${replica.applied}, master at ${finalSeq}`);
    // the end state against the master's own codes table, not the outbox
    const rows = await m.db.query<{ uid: Buffer; person_id: number }>('SELECT p.uid, c.person_id FROM codes c JOIN persons p ON p.id = c.person_id');
    const expected = new Map<string, CodeRecord>();
    for (const r of rows.rows) {
      const c = (await m.store.getCode(r.person_id))!;
      expected.set(r.uid.toString('hex'), { color: c.color, reason: c.reason, since: c.since, until: c.until, name: c.name, notices: c.notices, seq: c.seq });
    }
    compare(expected, replica.codes, 'final replica vs master codes table');
    return {
      kills: opts.kills,
      killsWhileBehind,
      killsDuringBootstrap,
      checks,
      deltas: finalSeq,
      finalSeq,
      codesCompared: expected.size,
      ms: Date.now() - t0,
    };
  } finally {
    stop.stopped = true;
    await writer.catch(() => 0);
    await m.sync.close();
    await m.snapshots.stop();
    await m.publisher.stop();
    await m.bus.close();
    await m.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const kills = arg('kills', 1000);
  const people = arg('people', 3000);
  process.stderr.write(`daemon-kill: ${kills} × kill -9 of the edge sync daemon, ${people} people\n`);
  runKillLoop({ kills, people, log: (l) => process.stderr.write(`  ${l}\n`) }).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.stderr.write(
        `daemon-kill: ${r.kills} kills (${r.killsWhileBehind} while behind the master, ${r.killsDuringBootstrap} during the first bootstrap), ` +
          `${r.checks} consistency checks passed, final replica = master over ${r.codesCompared} codes at seq ${r.finalSeq}, ${(r.ms / 1000).toFixed(1)} s\n`,
      );
    },
    (err: unknown) => {
      process.stderr.write(`daemon-kill FAILED: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
