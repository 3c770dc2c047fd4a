/**
 * The LMDB replica every edge node holds (DESIGN §1, §5, §6). Pure
 * description — names, key and value encodings — shared by the writer
 * (sync/replica-writer.ts, the node's single writer: the edge daemon) and the
 * readers (edge/replica-reader.ts, one per edge server process).
 *
 * One LMDB environment at `<dataDir>/replica/`, opened with these named
 * databases (lmdb-js `openDB({ name })`):
 *
 *   db "codes"    key: uid (16 raw bytes)            value: encodeCodeRecord()  [fmt][msgpack CodeRecord]
 *   db "display"  key: uid (16 raw bytes)            value: display entry (below) — the exact GET /v1/code
 *                                                     body with a TF1 token signed by THIS node
 *   db "venues"   key: venue id (utf-8 string)       value: encodeVenue()       [fmt][msgpack Venue]
 *   db "risk"     key: region code (utf-8 string)    value: encodeVersioned(RiskArea)
 *   db "rules"    key: version (utf-8 string)        value: encodeVersioned({ version, activeFrom, ruleSet })
 *   db "meta"     key: META_* string                 value: msgpack (lmdb-js default encoding)
 *   db "changes"  key: batch end seq (8 bytes, BE)   value: change-log entry (below)
 *
 * meta keys:
 *   appliedSeq  number   last outbox sequence applied; written in the SAME
 *                        transaction as the deltas it covers, so after a
 *                        crash the daemon resumes exactly there
 *   format      number   FORMAT_VERSION the replica was written with
 *   syncedAt    number   unix ms at which the daemon last knew it was level
 *                        with the stream (after an empty poll or a drained
 *                        batch). lag = now − syncedAt; it stops advancing when
 *                        the daemon, Redis or the master is gone.
 *   keys        object   the public key set of all nodes { keys: PublicKeyInfo[] } (GET /v1/keys)
 *   snapshotSeq number   sequence of the snapshot this replica was bootstrapped from
 *   streamId    string   last delta-stream entry id read (Redis `<seq>-0` form)
 *
 * Display entry (value of db "display"), big-endian:
 *
 *   bytes 0–3    token expiresAt, unix seconds (uint32)
 *   bytes 4–5    key id that signed the token (uint16)
 *   bytes 6..    UTF-8 JSON body of GET /v1/code, byte for byte what is sent
 *
 * Invariant: a display entry exists only while it matches the current code:
 * applying a code delta deletes the uid's display entry in the same
 * transaction. The hot path is then one lookup — present and not near expiry
 * → send bytes 6.. as they are; absent or expiring → sign (off the event
 * loop), render, store, send.
 */
/*
 * Change log (db "changes", issue 14): which uids' codes a committed delta
 * batch changed, written by the writer in the SAME transaction as the codes
 * and META_APPLIED_SEQ. Edge servers keep display bodies in memory
 * (edge/display-cache.ts) validated by the applied sequence: when it moves,
 * they read the entries after the sequence they validated and drop exactly
 * those uids' bodies. An entry, big-endian:
 *
 *   byte 0       0 = the uids follow; 1 = too many to list: drop every body
 *   bytes 1–8    first seq the batch covers (uint64; the key is the last)
 *   bytes 9..    16-byte uids
 *
 * Entries chain: each `from` is the previous key + 1. A reader that finds
 * no entry starting right after the sequence it validated (the log was
 * trimmed, a snapshot was loaded — snapshot loads write no entry) drops
 * every body: the log can only cause extra misses, never a stale body.
 */
export const CHANGE_LIST = 0;
export const CHANGE_ALL = 1;
export const CHANGE_HEADER_BYTES = 9;

export function changeKey(seq: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  k.writeUIntBE(Math.floor(seq / 2 ** 32), 0, 4);
  k.writeUInt32BE(seq >>> 0, 4);
  return k;
}

export function changeKeySeq(key: Uint8Array): number {
  const b = Buffer.from(key.buffer, key.byteOffset, 8);
  return b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4);
}

/** A change-log entry for seqs from..(key): the uids, or null = every uid (too many to list). */
export function encodeChangeEntry(from: number, uids: readonly Uint8Array[] | null): Buffer {
  const out = Buffer.allocUnsafe(CHANGE_HEADER_BYTES + (uids === null ? 0 : 16 * uids.length));
  out[0] = uids === null ? CHANGE_ALL : CHANGE_LIST;
  out.writeUInt32BE(Math.floor(from / 2 ** 32), 1);
  out.writeUInt32BE(from >>> 0, 5);
  if (uids !== null) for (let i = 0; i < uids.length; i++) out.set(uids[i]!, CHANGE_HEADER_BYTES + 16 * i);
  return out;
}

export function changeEntryFrom(entry: Uint8Array): number {
  const b = Buffer.from(entry.buffer, entry.byteOffset, CHANGE_HEADER_BYTES);
  return b.readUInt32BE(1) * 2 ** 32 + b.readUInt32BE(5);
}

export const REPLICA_DIR = 'replica';
export const DB_CODES = 'codes';
export const DB_DISPLAY = 'display';
export const DB_VENUES = 'venues';
export const DB_RISK = 'risk';
export const DB_RULES = 'rules';
export const DB_META = 'meta';
export const DB_CHANGES = 'changes';

export const META_APPLIED_SEQ = 'appliedSeq';
export const META_FORMAT = 'format';
export const META_SYNCED_AT = 'syncedAt';
export const META_KEYS = 'keys';
export const META_SNAPSHOT_SEQ = 'snapshotSeq';
export const META_STREAM_ID = 'streamId';

/** lmdb-js `maxDbs` for the replica env (7 named dbs + headroom). */
export const REPLICA_MAX_DBS = 12;

/**
 * lmdb-js `maxReaders` for the replica env. LMDB sizes the reader table of
 * lock.mdb when the first process creates it, so the writer and every reader
 * pass this same value. The default 126 is too few for one edge server
 * process per core plus the daemon and tools on a large node (FACTS); a slot
 * costs 64 bytes of lock file.
 */
export const REPLICA_MAX_READERS = 1024;

/**
 * The lmdb-js open options of the replica env: the writer and every reader
 * pass these same ones (the reader table size is fixed by whichever process
 * creates lock.mdb, so maxReaders must agree).
 */
export function replicaEnvOptions(dir: string, mapSize?: number) {
  return {
    path: dir,
    maxDbs: REPLICA_MAX_DBS,
    maxReaders: REPLICA_MAX_READERS,
    // Per-process object cache goes stale when another process writes (FACTS).
    cache: false,
    ...(mapSize === undefined ? {} : { mapSize }),
  };
}

export const DISPLAY_HEADER_BYTES = 6;

export function encodeDisplayEntry(expiresAt: number, kid: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(DISPLAY_HEADER_BYTES + body.length);
  out.writeUInt32BE(expiresAt, 0);
  out.writeUInt16BE(kid, 4);
  out.set(body, DISPLAY_HEADER_BYTES);
  return out;
}

/** Expiry of a display entry without copying it (hot path: no allocation). */
export function displayExpiresAt(entry: Uint8Array): number {
  return ((entry[0]! << 24) >>> 0) + (entry[1]! << 16) + (entry[2]! << 8) + entry[3]!;
}

export function displayKid(entry: Uint8Array): number {
  return (entry[4]! << 8) | entry[5]!;
}

/** What reading a meta value needs: lmdb-js `Database.get` on the "meta" db. */
export interface MetaSource {
  get(key: string): unknown;
}

/** A numeric meta value, or undefined when absent or of another type (shared by the reader and the writer). */
export function metaNumber(meta: MetaSource, key: string): number | undefined {
  const v = meta.get(key);
  return typeof v === 'number' ? v : undefined;
}

export function metaString(meta: MetaSource, key: string): string | undefined {
  const v = meta.get(key);
  return typeof v === 'string' ? v : undefined;
}

/**
 * The meta values as the writer (sync/replica-writer.ts) and the readers
 * (edge/replica-reader.ts) both answer them: one typed view of the "meta" db,
 * so both read a key the same way (absent or of another type → undefined).
 */
export abstract class ReplicaMetaView {
  protected abstract readonly meta: MetaSource;

  /** Last outbox sequence applied by the daemon; 0 for a replica that has none yet. */
  appliedSeq(): number {
    return metaNumber(this.meta, META_APPLIED_SEQ) ?? 0;
  }

  snapshotSeq(): number | undefined {
    return metaNumber(this.meta, META_SNAPSHOT_SEQ);
  }

  streamId(): string | undefined {
    return metaString(this.meta, META_STREAM_ID);
  }

  /** Unix ms at which the daemon last knew it was level with the stream (lag = now − syncedAt). */
  syncedAt(): number | undefined {
    return metaNumber(this.meta, META_SYNCED_AT);
  }

  /** The public key set `{ keys: PublicKeyInfo[] }` as the daemon stored it, or undefined. */
  keys(): unknown {
    return this.meta.get(META_KEYS);
  }

  formatVersion(): number | undefined {
    return metaNumber(this.meta, META_FORMAT);
  }
}
