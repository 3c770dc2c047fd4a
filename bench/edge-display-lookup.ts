import { pathToFileURL } from 'node:url';
import { open } from 'lmdb';
import { DB_DISPLAY, REPLICA_MAX_DBS, REPLICA_MAX_READERS } from '../core/replica-layout.js';
import { issueSession } from '../core/session-token.js';
import { DisplayCache } from '../edge/display-cache.js';
import { ReplicaReader } from '../edge/replica-reader.js';
import { SessionCache, UID_OFFSET } from '../edge/session-cache.js';

/**
 * The display lookup alone, in CPU nanoseconds (issue 14): LMDB
 * (ReplicaReader.freshDisplayBody, what every display paid before) against
 * the in-memory bodies (DisplayCache.body), over the display entries a
 * bench:edge run left in its replica, in random order — the active set is
 * larger than the CPU caches, as in production.
 *
 *   node dist/bench/edge-display-lookup.js bench/out/edge-data/replica [lookups]
 *
 * CPU time (process.cpuUsage), not wall time: on a shared machine the wall
 * clock measures the neighbours. Last line: the two figures.
 */
async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: edge-display-lookup.js <replica dir> [lookups]');
  const n = Number(process.argv[3] ?? 2_000_000);
  const env = open({ path: dir, maxDbs: REPLICA_MAX_DBS, maxReaders: REPLICA_MAX_READERS, readOnly: true });
  const uids: Buffer[] = [];
  try {
    const disp = env.openDB<Uint8Array, Uint8Array>(DB_DISPLAY, { keyEncoding: 'binary', encoding: 'binary' });
    for (const k of disp.getKeys({ limit: 1_000_000 })) uids.push(Buffer.from(k));
  } finally {
    await env.close();
  }
  if (uids.length === 0) throw new Error(`${dir} holds no display entries: run bench:edge first`);
  const reader = ReplicaReader.open(dir);
  const now = Math.floor(Date.now() / 1000);
  const key = Buffer.alloc(32, 1);
  const sessions = new SessionCache(Math.max(1024, uids.length));
  const slots = uids.map((u) => sessions.remember(issueSession(key, u, now + 86_400), now));
  const cache = new DisplayCache(uids.length, sessions.table);
  cache.validate(reader.appliedSeq(), reader);
  for (const s of slots) {
    const b = reader.freshDisplayBody(sessions.table, s + UID_OFFSET, 0);
    if (b !== undefined) cache.fill(sessions.table, s, b, reader.lastExpiresAt);
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = slots[(Math.random() * slots.length) | 0]!;
  const run = (f: (slot: number) => Uint8Array | undefined): number => {
    let sink = 0;
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) sink += f(order[i]!)?.length ?? 0;
    const c = process.cpuUsage(c0);
    if (sink === 0) throw new Error('no body found');
    return ((c.user + c.system) * 1000) / n;
  };
  const lmdb: number[] = [];
  const mem: number[] = [];
  for (let r = 0; r < 3; r++) {
    lmdb.push(run((s) => reader.freshDisplayBody(sessions.table, s + UID_OFFSET, 0)));
    mem.push(run((s) => cache.body(sessions.table, s, 0)));
  }
  await reader.close();
  const best = (xs: number[]): number => Math.min(...xs);
  process.stdout.write(`display lookup over ${uids.length} entries, ${n} random lookups ×3: LMDB ${best(lmdb).toFixed(0)} ns CPU, in memory ${best(mem).toFixed(0)} ns CPU (best of 3)\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`edge-display-lookup: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
