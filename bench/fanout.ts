import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { CodeRecord } from '../core/code-record.js';
import type { Delta } from '../core/delta.js';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { RedisDeltaBus } from '../sync/bus-redis.js';
import { Publisher, type OutboxSource } from '../sync/publisher.js';
import { ReplicaWriter } from '../sync/replica-writer.js';

/**
 * Mass change across many edges (issue 14 item 4): what one edge node pays,
 * in CPU, to apply a 1M-code change — the figure that sizes production (an
 * edge node must keep serving while it applies).
 *
 *   npm run bench:fanout -- [--changes 1000000] [--edges 8] [--dir D]
 *   (REDIS_URL, default redis://127.0.0.1:6379; keys under a fresh
 *   `hc-fanout:<hex>:` prefix, deleted at the end)
 *
 * One base replica of `changes` people (uid-ordered bulk load). Then
 * `edges` follower PROCESSES (bench/fanout-follower.ts: the real
 * ReplicaFollower on a RedisDeltaBus, each with its own replica and
 * connections, as separate nodes would have) run three phases, each on its
 * OWN fresh copy of the base replica (same starting state for all three),
 * each changing every person once, in uid-random order as the master emits
 * a mass change, seqs base+1..base+N on a stream of its own:
 *
 *   1. packed   the publisher encodes each record once (deltaForm 'packed'),
 *               everything is on the stream, then all edges catch up at once
 *   2. objects  the same change in the object form (core/delta.ts): the old
 *               path, msgpack decode + checks + re-encode at every edge (baseline)
 *   3. raw      each edge reads phase 1's entries off its stream (untimed) and
 *               times only a putSync loop of the same (uid, value) bytes in the
 *               same order and transaction size (ceiling)
 *
 * After phases 1 and 2 each edge checks that its two replicas hold the same
 * bytes for a sample of people (the two forms must leave the same replica).
 * Per edge: process CPU seconds (process.cpuUsage: user + system, every
 * thread, reading Redis included) from "go" to the target sequence applied
 * (durable: the sequence is committed with the deltas), and wall time (all
 * edges run at once on a shared machine: wall time says little).
 *
 * Last line: `fanout: E edges × N changes, apply p50 X core-s, max Y core-s
 * per edge (Z× old path, W of raw LMDB)` where Z = packed p50 ÷ old-path p50
 * (CPU; below 1 is cheaper) and W = raw p50 ÷ packed p50 (the fraction of the
 * bare LMDB loop's speed the packed path reaches).
 */
function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

const CHANGES = Number(flag('changes', '1000000'));
const EDGES = Number(flag('edges', '8'));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** the base replica's snapshot sequence: the stream starts after it */
const BASE_SEQ = 1000;
const NOW = 1_780_000_000;
const PHASES = ['packed', 'objects', 'raw'] as const;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k]!;
}

function record(color: CodeRecord['color'], seq: number): CodeRecord {
  return { color, reason: color === 'green' ? 'normal' : 'district_lockdown', since: NOW, until: color === 'green' ? null : NOW + 14 * 86400, name: '张*三', notices: [], seq };
}

/** Uids in ascending order, spread over the key space like HMAC outputs (first 4 bytes ascending, the rest random). */
function makeUids(n: number): Buffer[] {
  const tail = randomBytes(12 * n);
  const step = Math.floor(2 ** 32 / n);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const u = Buffer.allocUnsafe(16);
    u.writeUInt32BE(i * step, 0);
    tail.copy(u, 4, 12 * i, 12 * i + 12);
    out.push(u);
  }
  return out;
}

/** The master's outbox for the bench: every uid changed once, in `order`, to yellow. */
class MassChangeOutbox implements OutboxSource {
  upTo = BASE_SEQ;
  constructor(
    private readonly uids: readonly Buffer[],
    private readonly order: Int32Array,
  ) {}
  private delta(seq: number): Delta {
    const k = seq - BASE_SEQ - 1;
    return { seq, type: 'code', uid: this.uids[this.order[k]!]!, record: record('yellow', seq) };
  }
  async readOutbox(afterSeq: number, limit: number): Promise<Delta[]> {
    const out: Delta[] = [];
    for (let s = afterSeq + 1; s <= Math.min(this.upTo, afterSeq + limit); s++) out.push(this.delta(s));
    return out;
  }
  async maxSeq(): Promise<number> {
    return this.upTo;
  }
  async prunedThrough(): Promise<number> {
    return BASE_SEQ;
  }
}

interface Done {
  readonly type: 'done';
  readonly phase: string;
  readonly i: number;
  readonly cpuS: number;
  readonly userS: number;
  readonly sysS: number;
  readonly wallS: number;
  readonly deltas: number;
  readonly rssMiB: number;
}

class Followers {
  private readonly waiting = new Map<string, { need: number; got: Done[]; done: (r: Done[]) => void }>();
  constructor(readonly children: ChildProcess[]) {
    for (const c of children) {
      c.on('message', (m: Done) => {
        if (m?.type !== 'done') return;
        const w = this.waiting.get(m.phase);
        if (w === undefined) return;
        w.got.push(m);
        if (w.got.length === w.need) w.done(w.got);
      });
    }
  }
  static async start(dirs: readonly string[]): Promise<Followers> {
    const script = fileURLToPath(new URL('./fanout-follower.js', import.meta.url));
    const children = dirs.map((dir, i) => fork(script, [JSON.stringify({ dir, redisUrl: REDIS_URL, i })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await Promise.all(children.map((c) => new Promise<void>((resolve, reject) => {
      c.once('exit', (code) => reject(new Error(`follower exited with ${code} before it was ready`)));
      c.on('message', (m: { type?: string }) => {
        if (m?.type === 'ready') resolve();
      });
    })));
    for (const c of children) {
      c.removeAllListeners('exit');
      c.on('exit', (code) => {
        if (code !== 0) {
          process.stderr.write(`fanout: a follower exited with ${code}\n`);
          process.exit(1);
        }
      });
    }
    return new Followers(children);
  }
  run(phase: string, msg: Record<string, unknown>): Promise<Done[]> {
    const p = new Promise<Done[]>((done) => this.waiting.set(phase, { need: this.children.length, got: [], done }));
    for (const c of this.children) c.send({ ...msg, phase });
    return p;
  }
  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => new Promise<void>((resolve) => {
      c.removeAllListeners('exit');
      c.once('exit', () => resolve());
      c.send({ type: 'exit' });
    })));
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

interface PhaseResult {
  readonly cpu: number[];
  readonly wall: number[];
  readonly rows: Done[];
}

function summarise(name: string, rows: Done[], extra = ''): PhaseResult {
  const cpu = rows.map((r) => r.cpuS).sort((a, b) => a - b);
  const wall = rows.map((r) => r.wallS).sort((a, b) => a - b);
  const user = rows.map((r) => r.userS).sort((a, b) => a - b);
  const sys = rows.map((r) => r.sysS).sort((a, b) => a - b);
  say(`  ${name}: apply core-s per edge p50 ${pct(cpu, 50).toFixed(2)} (user ${pct(user, 50).toFixed(2)}, sys ${pct(sys, 50).toFixed(2)}), ` +
    `min ${cpu[0]!.toFixed(2)}, max ${cpu[cpu.length - 1]!.toFixed(2)}; wall p50 ${pct(wall, 50).toFixed(1)} s, max ${wall[wall.length - 1]!.toFixed(1)} s` +
    ` (${rows.length} edges at once); ${Math.round(rows[0]!.deltas / pct(cpu, 50)).toLocaleString('en')} changes per core-s${extra}`);
  return { cpu, wall, rows };
}

async function publish(bus: RedisDeltaBus, outbox: MassChangeOutbox, form: 'packed' | 'objects', target: number): Promise<string> {
  outbox.upTo = target;
  const publisher = new Publisher({ bus, source: outbox, deltaForm: form, retainEntries: 0, onError: (e) => say(`  publisher: ${e.message}`) });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  publisher.start();
  if (!(await publisher.waitFor(target, 1_800_000))) throw new Error(`publisher did not reach ${target}`);
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const m = publisher.metrics();
  await publisher.stop();
  return `${m.entriesPublished} entries, ${(m.bytesPublished / 2 ** 20).toFixed(1)} MiB on the stream; publisher ${((cpu.user + cpu.system) / 1e6).toFixed(2)} core-s (outbox rows generated in the same process), ${wall.toFixed(1)} s`;
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(CHANGES) || CHANGES < 1 || !Number.isSafeInteger(EDGES) || EDGES < 1) throw new Error('--changes and --edges must be positive integers');
  const dir = flag('dir', '') || mkdtempSync(join(tmpdir(), 'hc-fanout-'));
  const prefix = `hc-fanout:${randomBytes(4).toString('hex')}:`;
  say(`fanout bench: ${EDGES} edge follower processes, ${CHANGES} code changes per phase, Redis ${REDIS_URL} (prefix ${prefix}), data in ${dir}`);
  let followers: Followers | null = null;
  let bus: RedisDeltaBus | null = null;
  try {
    // the base replica: every person green at BASE_SEQ, copied to each edge (closed files: safe to copy)
    const uids = makeUids(CHANGES);
    const base = join(dir, 'base');
    mkdirSync(base, { recursive: true });
    const tb = performance.now();
    const w = ReplicaWriter.open({ dir: base });
    w.bulkLoadCodes(uids.map((u, i) => [u, record('green', i + 1)] as const));
    w.markSnapshot(BASE_SEQ);
    await w.close();
    const dirs: string[] = [];
    for (let i = 0; i < EDGES; i++) {
      const d = join(dir, `edge-${i}`);
      // one fresh copy per phase (closed files: safe to copy)
      for (const phase of PHASES) {
        mkdirSync(join(d, phase, REPLICA_DIR), { recursive: true });
        copyFileSync(join(base, 'data.mdb'), join(d, phase, REPLICA_DIR, 'data.mdb'));
      }
      dirs.push(d);
    }
    say(`  base replica: ${CHANGES} people, ${(statSync(join(base, 'data.mdb')).size / 2 ** 20).toFixed(0)} MiB, built and copied ×${EDGES * PHASES.length} in ${((performance.now() - tb) / 1000).toFixed(1)} s`);
    rmSync(base, { recursive: true, force: true });

    // a mass change reaches the outbox in person order, which is uid-random
    const order = new Int32Array(CHANGES);
    for (let i = 0; i < CHANGES; i++) order[i] = i;
    for (let i = CHANGES - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    const outbox = new MassChangeOutbox(uids, order);
    followers = await Followers.start(dirs);
    const end = BASE_SEQ + CHANGES;
    const sample = Array.from({ length: 1000 }, () => uids[randomInt(CHANGES)]!.toString('hex'));

    bus = await RedisDeltaBus.connect({ url: REDIS_URL, keyPrefix: `${prefix}packed:`, connectionName: 'hc-fanout-publisher' });
    say(`  phase 1, packed: ${await publish(bus, outbox, 'packed', end)}`);
    await bus.close();
    bus = null;
    const packed = summarise('packed (new path)', await followers.run('packed', { type: 'follow', prefix: `${prefix}packed:`, target: end }));

    bus = await RedisDeltaBus.connect({ url: REDIS_URL, keyPrefix: `${prefix}objects:`, connectionName: 'hc-fanout-publisher' });
    say(`  phase 2, objects: ${await publish(bus, outbox, 'objects', end)}`);
    await bus.close();
    bus = null;
    const objects = summarise('objects (old path, baseline)', await followers.run('objects', { type: 'follow', prefix: `${prefix}objects:`, target: end }));

    const same = await followers.run('compare', { type: 'compare', a: 'packed', b: 'objects', uids: sample });
    const differ = same.reduce((n, r) => n + r.deltas, 0);
    say(`  packed and old-path replicas: ${differ === 0 ? 'the same bytes' : `${differ} DIFFERENT values`} for ${sample.length} sampled people on every edge`);
    if (differ !== 0) throw new Error('the packed and object forms left different replicas');

    const raw = summarise('raw LMDB putSync loop of the same bytes (ceiling)', await followers.run('raw', { type: 'raw', prefix: `${prefix}packed:`, from: BASE_SEQ + 1, to: end }));

    const p50 = pct(packed.cpu, 50);
    const max = packed.cpu[packed.cpu.length - 1]!;
    const z = p50 / pct(objects.cpu, 50);
    const wRaw = pct(raw.cpu, 50) / p50;
    say(`  per edge: packed ${p50.toFixed(2)} core-s vs old path ${pct(objects.cpu, 50).toFixed(2)} (${(1 / z).toFixed(1)}× less CPU) vs bare LMDB ${pct(raw.cpu, 50).toFixed(2)}; goal ≤ 5 core-s per edge per 1M changes`);
    say(`fanout: ${EDGES} edges × ${CHANGES} changes, apply p50 ${p50.toFixed(2)} core-s, max ${max.toFixed(2)} core-s per edge (${z.toFixed(2)}× old path, ${wRaw.toFixed(2)} of raw LMDB)`);
  } finally {
    if (followers !== null) await followers.stop();
    if (bus !== null) await bus.close();
    await deletePrefix(prefix);
    if (flag('dir', '') === '') rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fanout: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
