import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Color } from '../core/code-record.js';

/**
 * The node's durable scan spool (DESIGN §1, §6): every scan and verify is
 * committed here BEFORE the edge answers, so an answered scan is never lost —
 * not when the process crashes, not when Redis or the master is down. The
 * sync daemon ships the spool to the master (`readBatch` … `ack`) and deletes
 * what the master acknowledged.
 *
 * Its own LMDB environment at `<dataDir>/spool/` (not inside the replica:
 * the replica can be thrown away and re-bootstrapped from a snapshot, the
 * spool never can). Every edge server process of the node opens it and
 * appends; LMDB serialises the writers with its lock file.
 *
 * Opened with `overlappingSync: false`: lmdb-js then resolves a write's
 * promise only after the commit is fsync'ed (mdb_txn_commit with sync), so
 * "answered" implies "on disk" even across a power cut.
 *
 * Group commit (issue 14): an fsync'ed commit costs ≈ 0.15–0.4 ms of CPU on
 * these machines (kernel journal work, counted against the server process)
 * against ≈ 3–4 µs per event written — measured with 1, 16, 64 and 256
 * events a commit. So the spool gathers every event appended in the same
 * event-loop tick (all requests uWS read in one poll phase) into ONE write
 * transaction, one fsync, and resolves ONE promise for the whole group; the
 * callers answer after it. While a group's commit is in flight the next
 * group keeps gathering, so under load a commit carries every scan that
 * arrived during the previous fsync — at most one commit in flight per
 * process, groups grow with the load.
 *
 * Key (16 bytes, big-endian) — byte order = time order, so the shipper reads
 * the oldest first and a range scan after the last shipped key continues
 * exactly where it stopped:
 *
 *   bytes 0–7    unix milliseconds (uint64)
 *   bytes 8–11   writer: the process id (uint32) — several processes append
 *   bytes 12–15  counter within that process (uint32, wraps)
 *
 * Value: msgpack (lmdb-js default encoding) of ScanEvent.
 */
export const SPOOL_DIR = 'spool';
export const SPOOL_KEY_BYTES = 16;

export type ScanKind =
  /** a citizen scanned a venue's place code (POST /v1/scan) */
  | 'scan'
  /** a venue scanner read a citizen's TF1 token (POST /v1/verify) */
  | 'verify';

export interface ScanEvent {
  readonly kind: ScanKind;
  /** 16 bytes */
  readonly uid: Uint8Array;
  /** place code id */
  readonly venue: string;
  /** unix milliseconds */
  readonly at: number;
  /** the colour the edge answered with */
  readonly color: Color;
}

export interface SpooledScan {
  readonly key: Buffer;
  readonly event: ScanEvent;
}

/** One write transaction's worth of events and the promise its callers wait on. */
interface Group {
  readonly keys: Buffer[];
  readonly events: ScanEvent[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { keys: [], events: [], done, resolve, reject };
}

export class ScanSpool {
  private counter = 0;
  private readonly writer: number;
  /** the group gathering now (null: none) */
  private gathering: Group | null = null;
  /** the group whose commit is in flight (null: none) */
  private committing: Group | null = null;
  private flushQueued = false;
  /** commits and events written, for metrics and the bench */
  commits = 0;
  written = 0;

  private constructor(
    private readonly root: RootDatabase,
    private readonly db: Database<ScanEvent, Buffer>,
    readonly path: string,
    /** gather window (ms) before a group's commit starts; 0 = the end of the tick */
    readonly gatherMs: number,
  ) {
    this.writer = process.pid >>> 0;
  }

  /** Opens (creating) `<dataDir>/spool/`. */
  /**
   * `gatherMs` (EDGE_SCAN_GATHER_MS, default 0): how long a group gathers
   * before its commit starts. 0 = the end of the current tick, which already
   * groups every scan of a busy tick and every scan that arrives during an
   * fsync. A few ms buys bigger groups at moderate load, when a tick holds
   * only a few scans and the commit's fixed CPU cost is paid by each of
   * them. Every answer waits up to that much longer.
   */
  static open(dataDir: string, gatherMs = 0): ScanSpool {
    const path = join(dataDir, SPOOL_DIR);
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const root = open({ path, overlappingSync: false, maxDbs: 2, maxReaders: 1024 });
    const db = root.openDB<ScanEvent, Buffer>({ name: 'scans', keyEncoding: 'binary', encoding: 'msgpack' });
    return new ScanSpool(root, db, path, gatherMs);
  }

  /** The key an event appended now by this process gets. */
  nextKey(atMs: number): Buffer {
    const key = Buffer.allocUnsafe(SPOOL_KEY_BYTES);
    key.writeUIntBE(Math.floor(atMs / 2 ** 32), 0, 4);
    key.writeUInt32BE(atMs >>> 0, 4);
    key.writeUInt32BE(this.writer, 8);
    key.writeUInt32BE(this.counter, 12);
    this.counter = (this.counter + 1) >>> 0;
    return key;
  }

  /**
   * Appends an event; resolves (with its key) once it is committed and synced
   * to disk. Callers answer the client only after this resolves.
   */
  async append(event: ScanEvent): Promise<Buffer> {
    const key = this.nextKey(event.at);
    await this.enqueue(key, event);
    return key;
  }

  /**
   * HOT PATH of POST /v1/scan and /v1/verify: adds the event to the group
   * of this tick and returns the GROUP's promise (shared by every event of
   * the group: no promise per scan), resolved after its fsync'ed commit,
   * rejected if the commit failed — then none of the group is answered 200.
   */
  add(event: ScanEvent): Promise<void> {
    return this.enqueue(this.nextKey(event.at), event);
  }

  private enqueue(key: Buffer, event: ScanEvent): Promise<void> {
    const g = (this.gathering ??= newGroup());
    g.keys.push(key);
    // Store uid as a Buffer so every reader gets bytes back, not a plain array.
    g.events.push({ kind: event.kind, uid: Buffer.from(event.uid), venue: event.venue, at: event.at, color: event.color });
    if (this.committing === null && !this.flushQueued) {
      this.flushQueued = true;
      // after the poll phase: every request read in this tick joins the group (or after the gather window)
      if (this.gatherMs > 0) setTimeout(flushSpool, this.gatherMs, this);
      else setImmediate(flushSpool, this);
    }
    return g.done;
  }

  /** @internal commits the gathering group; the next one starts when this commit is durable */
  flush(): void {
    this.flushQueued = false;
    const g = this.gathering;
    if (g === null || this.committing !== null) return;
    this.gathering = null;
    this.committing = g;
    const db = this.db;
    db.transaction(function writeGroup() {
      for (let i = 0; i < g.keys.length; i++) db.putSync(g.keys[i]!, g.events[i]!);
    }).then(
      () => {
        this.commits++;
        this.written += g.keys.length;
        this.afterCommit(g);
        g.resolve();
      },
      (err: unknown) => {
        this.afterCommit(g);
        g.reject(err);
      },
    );
  }

  private afterCommit(g: Group): void {
    if (this.committing === g) this.committing = null;
    // what gathered during this fsync goes now, in one commit
    if (this.gathering !== null) this.flush();
  }

  /** Resolves once every event appended so far is durable. */
  async drained(): Promise<void> {
    for (;;) {
      const g = this.gathering ?? this.committing;
      if (g === null) return;
      if (this.committing === null) this.flush();
      await g.done.catch(() => undefined);
    }
  }

  /** Up to `n` events after `afterKey` (exclusive; null = from the start), oldest first. */
  readBatch(afterKey: Uint8Array | null, n: number): SpooledScan[] {
    const out: SpooledScan[] = [];
    const range = afterKey === null ? { limit: n + 1 } : { start: Buffer.from(afterKey), limit: n + 1 };
    for (const { key, value } of this.db.getRange(range)) {
      if (afterKey !== null && Buffer.compare(key, afterKey) === 0) continue;
      if (out.length === n) break;
      out.push({ key: Buffer.from(key), event: toEvent(value) });
    }
    return out;
  }

  /** Deletes shipped events (the master acknowledged them) in one transaction. */
  async ack(keys: readonly Uint8Array[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.transaction(() => {
      for (const k of keys) this.db.removeSync(Buffer.from(k));
    });
  }

  /** Events waiting to be shipped (O(1): LMDB keeps the count in the db's stat). */
  depth(): number {
    return (this.db.getStats() as { entryCount: number }).entryCount;
  }

  async close(): Promise<void> {
    await this.drained();
    await this.root.close();
  }
}

function flushSpool(spool: ScanSpool): void {
  spool.flush();
}

function toEvent(v: ScanEvent): ScanEvent {
  return { kind: v.kind, uid: Buffer.from(v.uid), venue: v.venue, at: v.at, color: v.color };
}
