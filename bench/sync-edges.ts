import { performance } from 'node:perf_hooks';
import { RedisDeltaBus } from '../sync/bus-redis.js';
import { EdgeDaemon } from '../sync/edge-daemon.js';

/**
 * Simulated edge nodes for bench/sync.ts: N edge sync daemons in one
 * process, each with its own replica directory and its own Redis
 * connections (as separate machines would have), reading the delta stream.
 *
 *   node dist/bench/sync-edges.js '<json {redisUrl, prefix, dirs: string[]}>'
 *
 * IPC out:  {type: 'ready'}
 *           {type: 'applied', i, seq, deltas, at}   after every applied read (at = wall clock ms, µs precision:
 *                                                   performance.timeOrigin + performance.now(), comparable across processes)
 * SIGTERM closes the daemons.
 */
interface Args {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly dirs: readonly string[];
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  const daemons: EdgeDaemon[] = [];
  const buses: RedisDeltaBus[] = [];
  for (let i = 0; i < args.dirs.length; i++) {
    const bus = await RedisDeltaBus.connect({ url: args.redisUrl, keyPrefix: args.prefix, connectionName: `hc-bench-edge-${i}` });
    buses.push(bus);
    const daemon = EdgeDaemon.open({
      dataDir: args.dirs[i]!,
      bus,
      node: `bench-edge-${i}`,
      // 64 entries per read (the default): a mass change is applied in a few big transactions
      log: (l) => process.stderr.write(`edge ${i}: ${l}\n`),
      onApplied: (seq, deltas) => process.send!({ type: 'applied', i, seq, deltas, at: now() }),
    });
    daemons.push(daemon);
  }
  for (const d of daemons) d.start();
  process.send!({ type: 'ready' });
  const stop = async (): Promise<void> => {
    for (const d of daemons) await d.close();
    for (const b of buses) await b.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`sync-edges: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
