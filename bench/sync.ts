import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { generateDemoData } from '../demo-data.js';
import { loadPeople, writeDecisions } from '../master/code-batch.js';
import { CodeService } from '../master/code-service.js';
import { loadOrCreateSecrets } from '../master/pii-crypto.js';
import { openPglite, openPostgres, type SqlClient } from '../master/sql-client.js';
import { MasterStore } from '../master/store.js';
import { MemoryDeltaBus } from '../sync/bus-memory.js';
import { RedisDeltaBus } from '../sync/bus-redis.js';
import type { DeltaBus } from '../sync/delta-bus.js';
import { EdgeDaemon } from '../sync/edge-daemon.js';
import { masterOutboxSource } from '../sync/outbox-master.js';
import { Publisher } from '../sync/publisher.js';
import { buildFullSnapshot, SnapshotService } from '../sync/snapshot.js';

/**
 * `npm run bench:sync` — how fast state moves from the master to the edges
 * (issue 4 §8). Never a test: it prints numbers and writes
 * bench/out/sync.json.
 *
 *  1. Propagation (master commit → applied in an edge replica, where edge
 *     servers read it on their next turn) p50/p99/max under a steady write
 *     load of single-person changes (like 转码), each its own transaction:
 *       embedded  PGlite + in-process bus + daemon in the same process
 *       cluster   PostgreSQL + Redis + a daemon in another process, with the
 *                 publisher kicked after each commit (admin-api in the
 *                 publisher's process) and poll-only (admin-api elsewhere:
 *                 the publisher finds the commit on its 50 ms poll)
 *  2. Snapshot build time and size at 1M people: full build from the
 *     master (REPEATABLE READ read + bulk load) on PGlite and PostgreSQL,
 *     and a checkpoint of the follower (what the service serves).
 *     `--big`: the same at 10M on PostgreSQL.
 *  3. Mass change: 1M codes changed in the outbox while the publisher is
 *     paused, then the publisher starts (t0) with 20 simulated edges — each
 *     its own replica and Redis connections, in several processes — reading
 *     the stream at once; until the last delta is applied at every edge.
 *     Also one edge alone (one edge per machine is the real layout).
 *  4. Delta apply rate (deltas/s) of one edge from 3.
 *
 * Flags: --people N (mass change and snapshot size, default 1000000)
 *        --edges N (default 20) --procs N (edge processes, default one per edge)
 *        --rate N (changes/s for propagation, default 100) --seconds N (default 10)
 *        --big (10M snapshot) --skip-embedded --skip-cluster
 * Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 * and Redis (REDIS_URL, default redis://127.0.0.1:6379) for the cluster parts.
 */

const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}
function num(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

const PEOPLE = num('people', 1_000_000);
const EDGES = num('edges', 20);
const PROCS = num('procs', EDGES); // one daemon per process, as on real edge machines
const RATE = num('rate', 100);
const SECONDS = num('seconds', 10);

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

function wall(): number {
  return performance.timeOrigin + performance.now();
}

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(samples: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(pct(s, 50)), p99: r(pct(s, 99)), max: r(s[s.length - 1] ?? NaN), mean: r(mean) };
}

function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}

const results: Record<string, unknown> = { machine: { cores: availableParallelism(), node: process.version } };

// ── propagation ───────────────────────────────────────────────────────────

/**
 * Drives `rate` single-person changes per second for `seconds`, each one
 * transaction (MasterStore.setCode, as a 转码 does), and measures commit →
 * applied at the edge. `applied(seq, at)` is fed by the edge (in-process
 * hook or IPC from another process).
 */
class Propagation {
  private readonly commitAt = new Map<number, number>();
  private readonly samples: number[] = [];
  private appliedSeq = 0;
  private early = 0;

  applied(seq: number, at: number): void {
    if (seq <= this.appliedSeq) return;
    for (const [s, t] of this.commitAt) {
      if (s <= seq) {
        const d = at - t;
        if (d < 0) this.early++;
        this.samples.push(Math.max(0, d));
        this.commitAt.delete(s);
      }
    }
    this.appliedSeq = seq;
  }

  async drive(store: MasterStore, ids: readonly number[], publisher: Publisher, kick: boolean): Promise<ReturnType<typeof summary> & { earlyArrivals: number }> {
    const total = RATE * SECONDS;
    const every = 1000 / RATE;
    const start = wall();
    for (let k = 0; k < total; k++) {
      const due = start + k * every;
      const wait = due - wall();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const r = await store.setCode(id, { color: (['green', 'yellow', 'red'] as const)[k % 3]!, reason: `prop_${k}`, until: null }, null, 'bench');
      const at = wall();
      if (r.seq > this.appliedSeq) this.commitAt.set(r.seq, at);
      if (kick) publisher.kick();
    }
    const end = wall() + 10_000;
    while (this.commitAt.size > 0 && wall() < end) await new Promise((r) => setTimeout(r, 20));
    return { ...summary(this.samples), earlyArrivals: this.early };
  }
}

async function propagationEmbedded(): Promise<void> {
  say('\n== propagation, embedded (PGlite, in-process bus, daemon in the same process)');
  const dir = mkdtempSync(join(tmpdir(), 'hc-bench-prop-'));
  const db = await openPglite();
  const secrets = loadOrCreateSecrets(join(dir, 'secrets'), {});
  const store = new MasterStore(db, secrets);
  await store.migrate();
  const codes = new CodeService(store, { log: () => {} });
  await generateDemoData(store, codes, secrets, { people: 2000, venues: 10 });
  const bus = new MemoryDeltaBus();
  const publisher = new Publisher({ bus, source: masterOutboxSource(store), retainEntries: 1000 });
  publisher.start();
  const prop = new Propagation();
  const daemon = EdgeDaemon.open({ dataDir: join(dir, 'edge'), bus, node: 'bench', log: () => {}, onApplied: (seq) => prop.applied(seq, wall()) });
  daemon.start();
  await daemon.waitFor(await store.maxOutboxSeq(), 30_000);
  const ids = (await db.query<{ id: number }>('SELECT person_id AS id FROM codes')).rows.map((r) => r.id);
  const s = await prop.drive(store, ids, publisher, true);
  say(`  ${s.n} changes at ${RATE}/s: p50 ${s.p50} ms  p99 ${s.p99} ms  max ${s.max} ms`);
  results.propagationEmbedded = { ratePerSec: RATE, ...s };
  await daemon.close();
  await publisher.stop();
  await bus.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}

// ── cluster helpers ───────────────────────────────────────────────────────

interface PgSchema {
  readonly db: SqlClient;
  readonly schema: string;
  drop(): Promise<void>;
}

async function pgSchema(max = 10): Promise<PgSchema> {
  let admin: SqlClient;
  try {
    admin = await openPostgres(PG_URL, { max: 1 });
  } catch (err) {
    throw new Error(`PostgreSQL not reachable at ${PG_URL}: ${(err as Error).message} (or pass --skip-cluster)`);
  }
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  const db = await openPostgres(PG_URL, { searchPath: schema, max });
  return {
    db,
    schema,
    drop: async () => {
      await db.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
    },
  };
}

function edgesFile(): string {
  const here = import.meta.url;
  return fileURLToPath(here.endsWith('.ts') ? new URL('../dist/bench/sync-edges.js', here) : new URL('./sync-edges.js', here));
}

interface EdgeProcs {
  readonly children: ChildProcess[];
  onApplied(fn: (i: number, seq: number, deltas: number, at: number) => void): void;
  stop(): Promise<void>;
}

/** Forks `procs` processes holding `dirs.length` daemons between them (daemon i = global index). */
async function startEdges(dirs: string[], procs: number, prefix: string): Promise<EdgeProcs> {
  const listeners: ((i: number, seq: number, deltas: number, at: number) => void)[] = [];
  const children: ChildProcess[] = [];
  const per = Math.ceil(dirs.length / procs);
  const ready: Promise<void>[] = [];
  for (let p = 0; p * per < dirs.length; p++) {
    const mine = dirs.slice(p * per, (p + 1) * per);
    const base = p * per;
    const child = fork(edgesFile(), [JSON.stringify({ redisUrl: REDIS_URL, prefix, dirs: mine })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`edge process exited (${code})`)));
        child.on('message', (m: { type: string; i: number; seq: number; deltas: number; at: number }) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'applied') for (const l of listeners) l(base + m.i, m.seq, m.deltas, m.at);
        });
      }),
    );
  }
  await Promise.all(ready);
  return {
    children,
    onApplied: (fn) => listeners.push(fn),
    stop: async () => {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((r) => {
              if (c.exitCode !== null) return r();
              c.removeAllListeners('exit');
              c.once('exit', () => r());
              c.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

async function redisBus(prefix: string): Promise<RedisDeltaBus> {
  try {
    return await RedisDeltaBus.connect({ url: REDIS_URL, keyPrefix: prefix, connectionName: 'hc-bench-master' });
  } catch (err) {
    throw new Error(`Redis not reachable at ${REDIS_URL}: ${(err as Error).message} (or pass --skip-cluster)`);
  }
}

async function deletePrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await r.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  r.disconnect();
}

async function propagationCluster(): Promise<void> {
  say('\n== propagation, cluster (PostgreSQL, Redis, daemon in another process)');
  const pg = await pgSchema();
  const dir = mkdtempSync(join(tmpdir(), 'hc-bench-propc-'));
  const prefix = `hc-bench:${randomBytes(4).toString('hex')}:`;
  const bus = await redisBus(prefix);
  try {
    const secrets = loadOrCreateSecrets(join(dir, 'secrets'), {});
    const store = new MasterStore(pg.db, secrets);
    await store.migrate();
    const codes = new CodeService(store, { log: () => {} });
    await generateDemoData(store, codes, secrets, { people: 2000, venues: 10 });
    const ids = (await pg.db.query<{ id: number }>('SELECT person_id AS id FROM codes')).rows.map((r) => r.id);
    const publisher = new Publisher({ bus, source: masterOutboxSource(store) });
    publisher.start();
    await publisher.waitFor(await store.maxOutboxSeq(), 30_000);
    const edgeDir = join(dir, 'edge');
    mkdirSync(edgeDir);
    const edges = await startEdges([edgeDir], 1, prefix);
    for (const kick of [true, false]) {
      const prop = new Propagation();
      edges.onApplied((_i, seq, _d, at) => prop.applied(seq, at));
      // level first
      const max = await store.maxOutboxSeq();
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if ((prop as unknown as { appliedSeq: number }).appliedSeq >= max) {
            clearInterval(t);
            resolve();
          }
        }, 20);
        setTimeout(() => {
          clearInterval(t);
          resolve();
        }, 30_000);
      });
      const s = await prop.drive(store, ids, publisher, kick);
      const label = kick ? 'publisher kicked after commit' : 'publisher polling (50 ms)';
      say(`  ${label}: ${s.n} changes at ${RATE}/s: p50 ${s.p50} ms  p99 ${s.p99} ms  max ${s.max} ms`);
      (results.propagationCluster ??= {} as Record<string, unknown>);
      (results.propagationCluster as Record<string, unknown>)[kick ? 'kicked' : 'polling'] = { ratePerSec: RATE, ...s };
    }
    await edges.stop();
    await publisher.stop();
  } finally {
    await bus.close();
    await deletePrefix(prefix);
    await pg.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ── province-scale data straight in SQL ───────────────────────────────────

/**
 * `n` people with green codes, generated inside the database (no identity:
 * a keyed hash stands in for the phone, as for a phone-only person), in
 * chunks so PGlite's memory stays bounded. Times it.
 */
async function generatePeople(db: SqlClient, n: number): Promise<number> {
  const t0 = Date.now();
  const CHUNK = 1_000_000;
  for (let off = 0; off < n; off += CHUNK) {
    const to = Math.min(n, off + CHUNK);
    await db.query(
      `INSERT INTO persons (uid, phone_hash, phone_enc, name_masked, region)
       SELECT substring(sha256(int8send(g)) FROM 1 FOR 16), sha256(int8send(-g)), '\\x00'::bytea, '张*三', '510104'
         FROM generate_series($1::bigint, $2::bigint) g`,
      [off + 1, to],
    );
    say(`  generated ${to} people`);
  }
  await db.query(`INSERT INTO codes (person_id, color, reason, since, seq) SELECT id, 'green', 'normal', now(), 0 FROM persons`);
  await db.query('ANALYZE persons');
  await db.query('ANALYZE codes');
  return Date.now() - t0;
}

async function snapshotAt(db: SqlClient, n: number, label: string, dir: string): Promise<Record<string, unknown>> {
  const full = join(dir, `full-${label}`);
  const t0 = Date.now();
  const built = await buildFullSnapshot(db, full, (phase, k) => {
    if (phase === 'codes' && k % 1_000_000 === 0) say(`  … ${k} codes`);
  });
  const fullMs = Date.now() - t0;
  const fullBytes = statSync(join(full, 'data.mdb')).size;
  say(`  ${label}: full build from the master ${(fullMs / 1000).toFixed(1)} s, ${mib(fullBytes)} MiB, ${built.counts.codes} codes`);
  // the served path: the service keeps that build as its follower and checkpoints it
  const svcDir = join(dir, `svc-${label}`);
  mkdirSync(svcDir, { recursive: true });
  renameSync(full, join(svcDir, 'follower'));
  const svc = new SnapshotService({ dir: svcDir, db, bus: new MemoryDeltaBus(), checkpointEveryMs: 3_600_000 });
  await svc.start(); // finds the follower: no second full build; makes the first checkpoint
  const cp = await svc.checkpoint();
  say(`  ${label}: checkpoint of the follower (copy + verify + sha256) ${(cp.buildMs / 1000).toFixed(1)} s, ${mib(cp.bytes)} MiB (compact ${cp.compact})`);
  await svc.stop();
  rmSync(svcDir, { recursive: true, force: true });
  return { people: n, fullBuildMs: fullMs, fullBuildMiB: mib(fullBytes), checkpointMs: cp.buildMs, checkpointMiB: mib(cp.bytes), checkpointCompact: cp.compact };
}

async function snapshotEmbedded(dir: string): Promise<void> {
  say(`\n== snapshot, embedded (PGlite) at ${PEOPLE} people`);
  const db = await openPglite();
  try {
    const store = new MasterStore(db, loadOrCreateSecrets(join(dir, 'secrets-e'), {}));
    await store.migrate();
    const genMs = await generatePeople(db, PEOPLE);
    say(`  generated in ${(genMs / 1000).toFixed(1)} s`);
    results.snapshotEmbedded = await snapshotAt(db, PEOPLE, 'pglite', dir);
  } finally {
    await db.close();
  }
}

// ── mass change with N edges ──────────────────────────────────────────────

async function massChange(dir: string): Promise<void> {
  say(`\n== cluster: snapshot at ${PEOPLE}, then a mass change of ${PEOPLE} codes with ${EDGES} edges in ${PROCS} processes (+ one edge alone)`);
  const pg = await pgSchema(4);
  const prefix = `hc-bench:${randomBytes(4).toString('hex')}:`;
  let bus: DeltaBus | null = null;
  try {
    const store = new MasterStore(pg.db, loadOrCreateSecrets(join(dir, 'secrets-c'), {}));
    await store.migrate();
    const genMs = await generatePeople(pg.db, PEOPLE);
    say(`  generated in ${(genMs / 1000).toFixed(1)} s`);
    results.snapshotCluster = await snapshotAt(pg.db, PEOPLE, 'postgres', dir);

    // every edge starts from the same replica: one full build, copied (closed files: safe to copy)
    const base = join(dir, 'base-replica');
    const built = await buildFullSnapshot(pg.db, base);
    const dirs: string[] = [];
    for (let i = 0; i <= EDGES; i++) {
      const d = join(dir, `edge-${i}`);
      mkdirSync(join(d, REPLICA_DIR), { recursive: true });
      copyFileSync(join(base, 'data.mdb'), join(d, REPLICA_DIR, 'data.mdb'));
      dirs.push(d);
    }
    rmSync(base, { recursive: true, force: true });

    // the mass change, committed while the publisher is paused
    const ids = (await pg.db.query<{ id: number }>('SELECT person_id AS id FROM codes ORDER BY person_id')).rows.map((r) => r.id);
    const tw = Date.now();
    const now = Math.floor(Date.now() / 1000);
    for (let off = 0; off < ids.length; off += 20_000) {
      await store.transaction(async (s) => {
        const rows = await loadPeople(s.db, ids.slice(off, off + 20_000), true);
        const decision = { color: 'yellow' as const, reason: 'district_lockdown', until: null, notices: [], nextEvalAt: null, overridden: false };
        await writeDecisions(s, rows.map((row) => ({ row, decision })), 'bench', 'bench', now);
      });
    }
    const writeMs = Date.now() - tw;
    const target = await store.maxOutboxSeq();
    say(`  master wrote ${target - built.seq} code changes (codes, history, outbox) in ${(writeMs / 1000).toFixed(1)} s`);

    for (const group of [{ name: 'oneEdge', dirs: [dirs[EDGES]!], procs: 1 }, { name: 'manyEdges', dirs: dirs.slice(0, EDGES), procs: PROCS }]) {
      const gprefix = `${prefix}${group.name}:`;
      bus = await redisBus(gprefix);
      const edges = await startEdges(group.dirs, group.procs, gprefix);
      const doneAt = new Map<number, number>();
      const firstAt = new Map<number, number>();
      edges.onApplied((i, seq, deltas, at) => {
        if (deltas > 0 && !firstAt.has(i)) firstAt.set(i, at);
        if (seq >= target && !doneAt.has(i)) doneAt.set(i, at);
      });
      const publisher = new Publisher({ bus, source: masterOutboxSource(store), retainEntries: 0 });
      const t0 = wall();
      publisher.start();
      let publishedMs = NaN;
      void publisher.waitFor(target, 600_000).then(() => {
        publishedMs = wall() - t0;
      });
      const deadline = Date.now() + 600_000;
      while (doneAt.size < group.dirs.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const published = publisher.metrics();
      await publisher.stop();
      await edges.stop();
      const times = [...doneAt.values()].map((t) => t - t0).sort((a, b) => a - b);
      const deltas = target - built.seq;
      const r = {
        edges: group.dirs.length,
        processes: group.procs,
        deltas,
        entries: published.entriesPublished,
        streamMiB: mib(published.bytesPublished),
        allAppliedMs: Math.round(times[times.length - 1] ?? NaN),
        firstEdgeDoneMs: Math.round(times[0] ?? NaN),
        medianEdgeDoneMs: Math.round(pct(times, 50)),
        perEdgeApplyRatePerSec: Math.round(deltas / ((times[0] ?? NaN) / 1000)),
        publishedAllMs: Math.round(publishedMs),
        finished: doneAt.size,
      };
      say(`  ${group.name}: ${r.finished}/${r.edges} edges applied all ${deltas} deltas (${r.entries} stream entries, ${r.streamMiB} MiB); ` +
        `all on the stream after ${(r.publishedAllMs / 1000).toFixed(1)} s; first edge done ${(r.firstEdgeDoneMs / 1000).toFixed(1)} s, median ${(r.medianEdgeDoneMs / 1000).toFixed(1)} s, last ${(r.allAppliedMs / 1000).toFixed(1)} s after the publisher started`);
      (results.massChange ??= {} as Record<string, unknown>);
      (results.massChange as Record<string, unknown>)[group.name] = { ...r, masterWriteMs: writeMs };
      await bus.close();
      bus = null;
      await deletePrefix(gprefix);
    }
  } finally {
    await bus?.close();
    await deletePrefix(prefix);
    await pg.drop();
  }
}

async function snapshotBig(dir: string): Promise<void> {
  const n = 10_000_000;
  say(`\n== snapshot at ${n} people (PostgreSQL)`);
  const pg = await pgSchema(2);
  try {
    const store = new MasterStore(pg.db, loadOrCreateSecrets(join(dir, 'secrets-big'), {}));
    await store.migrate();
    const genMs = await generatePeople(pg.db, n);
    say(`  generated in ${(genMs / 1000).toFixed(1)} s`);
    results.snapshotBig = await snapshotAt(pg.db, n, 'postgres-10M', dir);
  } finally {
    await pg.drop();
  }
}

async function main(): Promise<void> {
  say(`bench:sync — ${availableParallelism()} cores, node ${process.version}`);
  const dir = mkdtempSync(join(tmpdir(), 'hc-bench-sync-'));
  try {
    if (!flag('skip-embedded')) {
      await propagationEmbedded();
      await snapshotEmbedded(dir);
    }
    if (!flag('skip-cluster')) {
      await propagationCluster();
      await massChange(dir);
      if (flag('big')) await snapshotBig(dir);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const outDir = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './out/' : '../../bench/out/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'sync.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  say(`\nwritten to ${join(outDir, 'sync.json')}`);
  say('targets: propagation p99 ≤ 100 ms (both modes); 1M mass change at every edge ≤ 10 s; snapshot 10M ≤ 15 s');
}

main().catch((err: unknown) => {
  say(`bench:sync failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
