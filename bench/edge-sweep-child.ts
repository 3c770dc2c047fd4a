import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeDisplayEntry, REPLICA_DIR } from '../core/replica-layout.js';
import { DisplaySweep } from '../sync/display-sweep.js';
import { ReplicaWriter } from '../sync/replica-writer.js';
import { writeBenchUid } from './build-replica.js';

/**
 * bench:edge's sweep helper (a child process, like the node's edge daemon):
 *
 *   node dist/bench/edge-sweep-child.js <dataDir> <entries> <firstIndex>
 *
 * 1. stores `entries` EXPIRED display entries (≈ 300-byte bodies, uids of
 *    bench people from `firstIndex` on — not the active set) in chunked
 *    write transactions, then reports `{type:'filled', ms}`;
 * 2. on `{type:'go'}` runs the production background sweep
 *    (sync/display-sweep.ts, default step and pause) until `{type:'stop'}`
 *    or a whole pass is done, then reports `{type:'swept', metrics, ms}` and
 *    exits.
 */
const CHUNK = 100_000;

async function main(): Promise<void> {
  const [dataDir, entriesText, firstText] = process.argv.slice(2);
  if (dataDir === undefined || entriesText === undefined || firstText === undefined) throw new Error('usage: edge-sweep-child.js <dataDir> <entries> <firstIndex>');
  const entries = Number(entriesText);
  const first = Number(firstText);
  const writer = ReplicaWriter.open({ dir: join(dataDir, REPLICA_DIR) });
  const t0 = performance.now();
  const body = Buffer.from(`{"color":"green","reason":"none","since":1780000000,"until":null,"name":"张*三","token":"TF1:${'X'.repeat(140)}","expiresAt":1,"notices":[]}`);
  const entry = encodeDisplayEntry(1, 1, body);
  const uid = Buffer.alloc(16);
  for (let i = 0; i < entries; i += CHUNK) {
    writer.bulkDisplays(Math.min(CHUNK, entries - i), (k) => {
      writeBenchUid(first + i + k, uid, 0);
      return [uid, entry];
    });
  }
  process.send?.({ type: 'filled', ms: performance.now() - t0 });
  const sweep = new DisplaySweep(writer);
  let started = 0;
  const finish = async (): Promise<void> => {
    sweep.stop();
    process.send?.({ type: 'swept', metrics: sweep.metrics(), ms: performance.now() - started });
    await writer.close();
    process.exit(0);
  };
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'go') {
      started = performance.now();
      sweep.start();
      const watch = setInterval(() => {
        if (sweep.metrics().passes > 0) {
          clearInterval(watch);
          void finish();
        }
      }, 50);
    } else if (m?.type === 'stop') void finish();
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`edge-sweep-child: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
