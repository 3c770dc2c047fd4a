import { REPLICA_DIR, DB_CODES, DB_META, META_APPLIED_SEQ } from '../core/replica-layout.js';
import { join } from 'node:path';
import { RedisDeltaBus } from '../sync/bus-redis.js';
import { CodeOps } from '../sync/code-ops.js';
import { decodePackedBatch, type PackedBatch } from '../sync/delta-packed.js';
import { ReplicaFollower } from '../sync/replica-follower.js';
import { ReplicaWriter } from '../sync/replica-writer.js';

/**
 * One edge follower of bench/fanout.ts, in its own process (as an edge
 * node's daemon is): its own replica and its own Redis connections.
 *
 *   node dist/bench/fanout-follower.js '<json {dir, redisUrl, i}>'
 *
 * Each phase works on its own replica, `<dir>/<phase>/replica`, and reads
 * the stream under its own key prefix.
 *
 * IPC in:   {type: 'follow', phase, prefix, target}  tail the stream (the real ReplicaFollower,
 *                                             default read and group sizes) until `target` is applied
 *           {type: 'raw', phase, prefix, from, to}  the ceiling: read entries from..to (packed) off
 *                                             the stream, untimed, then time a bare putSync loop of
 *                                             their (uid, value) bytes in the follower's uid
 *                                             order and transaction size, durable commits
 *           {type: 'compare', phase, a, b, uids}   how many of `uids` (hex) differ between the
 *                                             replicas of phases a and b (answered as `deltas`)
 * IPC out:  {type: 'ready'} · {type: 'done', phase, i, cpuS, userS, sysS, wallS, deltas, rssMiB}
 */
interface Args {
  readonly dir: string;
  readonly redisUrl: string;
  readonly i: number;
}

type Msg =
  | { type: 'follow'; phase: string; prefix: string; target: number }
  | { type: 'raw'; phase: string; prefix: string; from: number; to: number }
  | { type: 'compare'; phase: string; a: string; b: string; uids: string[] }
  | { type: 'exit' };

/** The follower's defaults (replica-follower.ts): 16 entries a read, 64 entries a transaction. */
const GROUP_ENTRIES = 64;

function cpuSeconds(u: NodeJS.CpuUsage): { cpuS: number; userS: number; sysS: number } {
  return { cpuS: (u.user + u.system) / 1e6, userS: u.user / 1e6, sysS: u.system / 1e6 };
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  // one LMDB environment open at a time in this process (FACTS: lmdb)
  async function open(phase: string, prefix: string): Promise<{ writer: ReplicaWriter; bus: RedisDeltaBus }> {
    const writer = ReplicaWriter.open({ dir: join(args.dir, phase, REPLICA_DIR) });
    const bus = await RedisDeltaBus.connect({ url: args.redisUrl, keyPrefix: prefix, connectionName: `hc-fanout-edge-${args.i}` });
    return { writer, bus };
  }

  async function follow(phase: string, prefix: string, target: number): Promise<void> {
    const { writer, bus } = await open(phase, prefix);
    const startSeq = writer.appliedSeq();
    const errors: string[] = [];
    const follower = new ReplicaFollower({
      writer,
      bus,
      bootstrapWhenNew: false,
      // the daemon's pre-sign bound (edge-daemon.ts): a mass change is not listed
      maxChanged: 256,
      hooks: {
        bootstrap: async () => {
          throw new Error('the bench stream is never trimmed: no bootstrap');
        },
        onError: (e) => errors.push(e.message),
      },
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    follower.start();
    const ok = await follower.waitFor(target, 1_800_000);
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - t0) / 1000;
    await follower.stop();
    if (!ok) throw new Error(`edge ${args.i}: ${phase} did not reach ${target} (at ${writer.appliedSeq()}): ${errors.join('; ')}`);
    if (errors.length > 0) process.stderr.write(`edge ${args.i}: ${errors.length} errors, first: ${errors[0]}\n`);
    const rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
    await bus.close();
    await writer.close();
    process.send!({ type: 'done', phase, i: args.i, ...cpuSeconds(cpu), wallS, deltas: target - startSeq, rssMiB });
  }

  async function compare(phase: string, a: string, b: string, uids: readonly string[]): Promise<void> {
    const values: (Buffer | undefined)[][] = [];
    for (const p of [a, b]) {
      const writer = ReplicaWriter.open({ dir: join(args.dir, p, REPLICA_DIR) });
      const codes = writer.rootEnv().openDB<Uint8Array, Uint8Array>(DB_CODES, { keyEncoding: 'binary', encoding: 'binary', cache: false });
      values.push(uids.map((u) => {
        const v = codes.getBinary(Buffer.from(u, 'hex'));
        return v === undefined ? undefined : Buffer.from(v);
      }));
      await writer.close();
    }
    let differ = 0;
    for (let k = 0; k < uids.length; k++) {
      const x = values[0]![k];
      const y = values[1]![k];
      if (x === undefined || y === undefined || !x.equals(y)) differ++;
    }
    process.send!({ type: 'done', phase, i: args.i, cpuS: 0, userS: 0, sysS: 0, wallS: 0, deltas: differ, rssMiB: 0 });
  }

  async function raw(phase: string, prefix: string, from: number, to: number): Promise<void> {
    const { writer, bus } = await open(phase, prefix);
    // untimed: the same packed entries off the stream, in groups as the follower makes them
    const groups: PackedBatch[][] = [];
    let after = from - 1;
    let group: PackedBatch[] = [];
    while (after < to) {
      const got = await bus.readDeltas(after, 16, 0);
      if (got.length === 0) throw new Error(`edge ${args.i}: stream ends at ${after}, expected ${to}`);
      for (const e of got) {
        if (e.toSeq > to) break;
        group.push(decodePackedBatch(e.payload));
        after = e.toSeq;
        if (group.length === GROUP_ENTRIES) {
          groups.push(group);
          group = [];
        }
      }
      if (got[got.length - 1]!.toSeq > to) break;
    }
    if (group.length > 0) groups.push(group);
    const env = writer.rootEnv();
    const codes = env.openDB<Uint8Array, Uint8Array>(DB_CODES, { keyEncoding: 'binary', encoding: 'binary', cache: false });
    const meta = env.openDB<unknown, string>(DB_META, { cache: false });
    const plans = groups.map((g) => {
      let n = 0;
      for (const b of g) n += b.codes;
      const ops = new CodeOps(n);
      const keys: Buffer[] = [];
      const values: Buffer[] = [];
      for (const b of g) for (let k = 0; k < b.codes; k++) ops.add(b.buf, b.uidAt[k]!, b.valueAt[k]!, b.valueLen[k]!);
      const all: { buf: Buffer; u: number; v: number; l: number }[] = [];
      for (const b of g) for (let k = 0; k < b.codes; k++) all.push({ buf: b.buf, u: b.uidAt[k]!, v: b.valueAt[k]!, l: b.valueLen[k]! });
      for (const k of ops.sortedOrder().order) {
        const x = all[k]!;
        keys.push(x.buf.subarray(x.u, x.u + 16));
        values.push(x.buf.subarray(x.v, x.v + x.l));
      }
      return { keys, values, to: g[g.length - 1]!.to };
    });
    // timed: nothing but the puts and the durable commits
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let deltas = 0;
    for (const p of plans) {
      env.transactionSync(() => {
        for (let k = 0; k < p.keys.length; k++) codes.putSync(p.keys[k]!, p.values[k]!);
        meta.putSync(META_APPLIED_SEQ, p.to);
      });
      deltas += p.keys.length;
    }
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - t0) / 1000;
    const rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
    await bus.close();
    await writer.close();
    process.send!({ type: 'done', phase, i: args.i, ...cpuSeconds(cpu), wallS, deltas, rssMiB });
  }

  let queue = Promise.resolve();
  process.on('message', (m: Msg) => {
    queue = queue.then(async () => {
      if (m.type === 'follow') await follow(m.phase, m.prefix, m.target);
      else if (m.type === 'raw') await raw(m.phase, m.prefix, m.from, m.to);
      else if (m.type === 'compare') await compare(m.phase, m.a, m.b, m.uids);
      else process.exit(0);
    }).catch((err: unknown) => {
      process.stderr.write(`fanout-follower ${args.i}: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready' });
}

main().catch((err: unknown) => {
  process.stderr.write(`fanout-follower: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
