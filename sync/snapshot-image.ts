import { open, type Database, type RootDatabase } from 'lmdb';
import { DB_CODES, DB_META, DB_RISK, DB_RULES, DB_VENUES, META_APPLIED_SEQ, META_KEYS, REPLICA_MAX_DBS } from '../core/replica-layout.js';
import { SyncError } from './errors.js';
import type { ReplicaImage, ReplicaImageDb } from './replica-writer.js';

/**
 * A snapshot environment (a downloaded or freshly built one) opened as a
 * ReplicaImage for ReplicaWriter.loadSnapshot: raw values in key order,
 * nothing decoded or re-encoded on the way (the snapshot holds exactly the
 * bytes a replica holds).
 *
 * Values are copied out of LMDB (`getBinary`, range values): they are put
 * into ANOTHER environment, and a zero-copy view would point into this one's
 * map.
 */
export interface OpenImage extends ReplicaImage {
  close(): Promise<void>;
}

function imageDb<K extends Uint8Array | string>(db: Database<Uint8Array, K>): ReplicaImageDb<K> {
  return {
    *entries() {
      for (const { key, value } of db.getRange()) yield [key, value] as const;
    },
    has(key: K): boolean {
      return db.doesExist(key);
    },
  };
}

export function openSnapshotImage(dir: string): OpenImage {
  let env: RootDatabase;
  try {
    env = open({ path: dir, maxDbs: REPLICA_MAX_DBS, cache: false });
  } catch (err) {
    throw new SyncError('SYNC_ERR_SNAPSHOT_CORRUPT', `${dir}: ${(err as Error).message}`);
  }
  const need = <K extends Uint8Array | string>(name: string, binaryKeys: boolean): Database<Uint8Array, K> => {
    const opts = binaryKeys ? { keyEncoding: 'binary', encoding: 'binary', cache: false, create: false } : { encoding: 'binary', cache: false, create: false };
    const db = env.openDB<Uint8Array, K>(name, opts as object) as Database<Uint8Array, K> | undefined;
    if (db === undefined) throw new SyncError('SYNC_ERR_SNAPSHOT_CORRUPT', `${dir} has no "${name}" database`);
    return db;
  };
  try {
    const meta = env.openDB<unknown, string>(DB_META, { cache: false, create: false } as object) as Database<unknown, string> | undefined;
    if (meta === undefined) throw new SyncError('SYNC_ERR_SNAPSHOT_CORRUPT', `${dir} has no meta database`);
    const seq = meta.get(META_APPLIED_SEQ);
    if (typeof seq !== 'number') throw new SyncError('SYNC_ERR_SNAPSHOT_CORRUPT', `${dir} has no applied sequence`);
    return {
      seq,
      keys: meta.get(META_KEYS) ?? { keys: [] },
      codes: imageDb(need<Uint8Array>(DB_CODES, true)),
      venues: imageDb(need<string>(DB_VENUES, false)),
      risk: imageDb(need<string>(DB_RISK, false)),
      rules: imageDb(need<string>(DB_RULES, false)),
      close: async () => {
        await env.close();
      },
    };
  } catch (err) {
    void env.close();
    throw err;
  }
}
