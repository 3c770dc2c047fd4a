import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { decodeCodeRecord } from '../core/code-record.js';
import { DB_CODES, DB_META, META_APPLIED_SEQ, META_FORMAT, REPLICA_MAX_DBS, REPLICA_MAX_READERS, metaNumber } from '../core/replica-layout.js';

/**
 * Child process of verify-edge.ts: reads one replica environment (the LMDB
 * a node serves from, core/replica-layout.ts) read-only and answers lookups
 * over IPC:
 *
 *   node dist/exchange/verify-edge-child.js <dir>
 *   ← {ready: true, applied} | {error: text}
 *   → {id, uids: [hex, …]}   ← {id, applied, codes: [[color, seq] | null, …]}
 *
 * A separate process because the replicas of this machine are already open
 * in the admin process (the embedded edge's daemon, the snapshot follower),
 * and an LMDB environment must not be opened twice in one process (FACTS:
 * lmdb); reader processes are what LMDB is built for. It never writes.
 */
const dir = process.argv[2] ?? '';
function fail(text: string): void {
  process.send!({ error: text }, () => process.exit(0));
}
if (!existsSync(join(dir, 'data.mdb'))) fail('no replica (data.mdb) in the directory');
else {
  try {
    const env = open({ path: dir, maxDbs: REPLICA_MAX_DBS, maxReaders: REPLICA_MAX_READERS, cache: false, readOnly: true });
    const meta = env.openDB<unknown, string>(DB_META, { cache: false, create: false } as object) as ReturnType<typeof env.openDB<unknown, string>> | undefined;
    const codes = env.openDB<Uint8Array, Uint8Array>(DB_CODES, { keyEncoding: 'binary', encoding: 'binary', cache: false, create: false } as object) as
      ReturnType<typeof env.openDB<Uint8Array, Uint8Array>> | undefined;
    if (meta === undefined || codes === undefined || typeof meta.get(META_FORMAT) !== 'number') fail('the replica was never initialised');
    else {
      const applied = (): number => metaNumber(meta, META_APPLIED_SEQ) ?? 0;
      process.send!({ ready: true, applied: applied() });
      process.on('message', (m: { id: number; uids: string[] }) => {
        env.resetReadTxn(); // see the daemon's latest commit
        const out = m.uids.map((u) => {
          const buf = codes.getBinary(Buffer.from(u, 'hex'));
          if (buf === undefined) return null;
          try {
            const r = decodeCodeRecord(buf);
            return [r.color, r.seq];
          } catch {
            return ['?', -1];
          }
        });
        process.send!({ id: m.id, applied: applied(), codes: out });
      });
      process.on('disconnect', () => process.exit(0));
    }
  } catch (err) {
    fail((err as Error).message);
  }
}
