import { chmodSync, closeSync, fdatasyncSync, mkdirSync, openSync, readdirSync, readSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Color } from '../core/code-record.js';
import { DEFAULT_WAL_BYTES, decodeRecord, encodeRecord, isRetiredMode, RECORD_BYTES, WAL_SUFFIX, walDir, WalFile, type WalRecord } from './scan-wal.js';

/**
 * The node's durable scan spool (DESIGN §1, §6): every scan and verify is
 * on disk BEFORE the edge answers, so an answered scan is never lost — not
 * when the process crashes, not when Redis or the master is down. The sync
 * daemon ships the spool to the master (`readBatch` … `ack`) and deletes
 * what the master acknowledged.
 *
 * Two stages, both under `<dataDir>/spool/` (not inside the replica: the
 * replica can be thrown away and re-bootstrapped from a snapshot, the spool
 * never can):
 *
 * 1. Answering path — a pre-zeroed write-ahead file per edge server process
 *    (`wal/`, edge/scan-wal.ts): group commit = every scan of one event-loop
 *    tick encoded into fixed 256-byte slots, ONE pwrite, ONE fdatasync (on
 *    the libuv pool), then the group's ONE promise resolves and its callers
 *    answer. Scans that arrive during an fdatasync form the next group, so
 *    groups grow with the load; at most one write in flight per process.
 *    This replaced an fsync'ed LMDB commit per group (issue 14): that commit
 *    costs ≈ 0.15–0.4 ms of CPU (two syncs — data pages, then the meta page —
 *    plus the B-tree write) and was the scan path's largest cost.
 * 2. Shipping side — an LMDB environment (`data.mdb`): `absorb()` moves the
 *    write-ahead records into it in one fsync'ed transaction per call (the
 *    shipper calls it before each batch), and `readBatch`/`ack`/`depth`
 *    work on it as before. So the shipper's contract and the LMDB value
 *    format (msgpack of ScanEvent) are unchanged.
 *
 * Key (16 bytes, big-endian) — byte order = time order, so the shipper reads
 * the oldest first and a range scan after the last shipped key continues
 * exactly where it stopped:
 *
 *   bytes 0–7    unix milliseconds (uint64)
 *   bytes 8–11   writer: the process id (uint32) — several processes append
 *   bytes 12–15  counter within that process (uint32, wraps)
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

/**
 * Told once its scan's group is on disk (err null) or failed. The answering
 * path (edge/route-scan.ts) passes its request object itself: no promise,
 * no closure per scan, and the answer goes out inside the fdatasync's own
 * completion callback (the same wake-up).
 */
export interface ScanWaiter {
  durable(err: Error | null): void;
}

/**
 * A request whose record is made only when its group is written
 * (`ScanSpool.addPending`): `prepare` runs in the turn of the group's
 * pwrite, for every pending request in one loop, and either stages the
 * record with `addScanWaiter(…, this)` or answers an error itself. So the
 * work that is per TURN rather than per request — the venue answers'
 * validation, lmdb-js's read-transaction renewal and its reset timer, the
 * clock — is paid once per group, and the replica reads of a group run
 * back to back while their pages and code are in the CPU cache. Measured
 * (edge/CLOSING.md, session 2026-12-07 late h3/escan): at -c64 a scan
 * arrives alone in its wake-up, so these were paid per scan.
 */
export interface PendingScan extends ScanWaiter {
  /** `atMs`: the group's clock (one Date.now() per group) */
  prepare(spool: ScanSpool, atMs: number): void;
}

/** One fdatasync's worth of scans (slots 0…count-1 of the staging buffer) and who waits on it. */
class Group {
  count = 0;
  readonly waiters: ScanWaiter[] = [];
  private promise: Promise<void> | null = null;
  private resolve: (() => void) | null = null;
  private reject: ((err: unknown) => void) | null = null;
  private outcome: { err: unknown } | null = null;

  /** a promise for callers that await (made only when asked for) */
  get done(): Promise<void> {
    if (this.promise === null) {
      const o = this.outcome;
      if (o !== null) this.promise = o.err === null ? Promise.resolve() : Promise.reject(o.err);
      else
        this.promise = new Promise<void>((res, rej) => {
          this.resolve = res;
          this.reject = rej;
        });
    }
    return this.promise;
  }

  settle(err: unknown): void {
    this.outcome = { err };
    const e = err === null ? null : err instanceof Error ? err : new Error(String(err));
    for (const w of this.waiters) {
      try {
        w.durable(e);
      } catch {
        // one waiter's failure (an aborted socket) must not keep the others from their answer
      }
    }
    if (err === null) this.resolve?.();
    else this.reject?.(err);
  }
}

export interface SpoolOptions {
  /** bytes of one write-ahead file (default DEFAULT_WAL_BYTES, 16 MiB = 65 536 scans) */
  readonly walBytes?: number;
  /**
   * the absorber retires another process's write-ahead file that has not
   * changed for this long (default 60 s): a crashed writer's file is then
   * absorbed and deleted; a live but idle writer just starts a new file on
   * its next group (scan-wal.ts explains why nothing is lost either way)
   */
  readonly retireIdleMs?: number;
}

export class ScanSpool {
  private counter = 0;
  private readonly writer: number;
  /** the group gathering now (null: none) */
  private gathering: Group | null = null;
  /** the group whose fdatasync is in flight (null: none) */
  private committing: Group | null = null;
  private flushQueued = false;
  /** requests whose records are made at the next flush (addPending), and the array swapped in while they are prepared */
  private pending: PendingScan[] = [];
  private preparing: PendingScan[] = [];
  private inPrepare = false;
  /** the gathering group's slots, encoded in place as scans arrive (pwrite copies it: reused at once) */
  private stage = Buffer.alloc(RECORD_BYTES * 256);
  /** this process's write-ahead file (created on the first group: readers never make one) */
  private wal: WalFile | null = null;
  /** the next file, zero-filled in the background once the current one is half full */
  private spare: WalFile | null = null;
  private spareMaking: Promise<void> | null = null;
  private walSeq = 0;
  private readonly walPath: string;
  private readonly walBytes: number;
  private readonly retireIdleMs: number;
  /** the absorber's read descriptors, by file name */
  private readonly readFds = new Map<string, number>();
  private readonly readBuf = Buffer.allocUnsafe(RECORD_BYTES * 256);
  private closed = false;
  /** fdatasync'ed groups and events written, for metrics and the bench */
  commits = 0;
  written = 0;
  /** events this process moved from write-ahead files into LMDB */
  absorbed = 0;

  private constructor(
    private readonly root: RootDatabase,
    private readonly db: Database<ScanEvent, Buffer>,
    private readonly cursors: Database<number, string>,
    readonly path: string,
    /** gather window (ms) before a group's write starts; 0 = the end of the tick */
    readonly gatherMs: number,
    opts: SpoolOptions,
  ) {
    this.writer = process.pid >>> 0;
    this.walPath = walDir(path);
    this.walBytes = opts.walBytes ?? DEFAULT_WAL_BYTES;
    this.retireIdleMs = opts.retireIdleMs ?? 60_000;
  }

  /**
   * Opens (creating) `<dataDir>/spool/`.
   *
   * `gatherMs` (EDGE_SCAN_GATHER_MS, default 0): how long a group gathers
   * before its write starts. 0 = the end of the current tick, which already
   * groups every scan of a busy tick and every scan that arrives during an
   * fdatasync. A few ms buys bigger groups at moderate load. Every answer
   * waits up to that much longer.
   */
  static open(dataDir: string, gatherMs = 0, opts: SpoolOptions = {}): ScanSpool {
    const path = join(dataDir, SPOOL_DIR);
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const root = open({ path, overlappingSync: false, maxDbs: 4, maxReaders: 1024 });
    const db = root.openDB<ScanEvent, Buffer>({ name: 'scans', keyEncoding: 'binary', encoding: 'msgpack' });
    const cursors = root.openDB<number, string>({ name: 'wal-cursors', encoding: 'msgpack' });
    return new ScanSpool(root, db, cursors, path, gatherMs, opts);
  }

  /**
   * Appends an event; resolves (with its key) once it is on disk. Callers
   * answer the client only after this resolves.
   */
  async append(event: ScanEvent): Promise<Buffer> {
    const off = this.gathering === null ? 0 : this.gathering.count * RECORD_BYTES;
    const done = this.add(event);
    const key = Buffer.from(this.stage.subarray(off + 8, off + 8 + SPOOL_KEY_BYTES));
    await done;
    return key;
  }

  add(event: ScanEvent): Promise<void> {
    return this.addScan(event.kind, event.uid, event.venue, event.color, event.at);
  }

  /**
   * HOT PATH of POST /v1/scan and /v1/verify: encodes the event straight
   * into the gathering group's slot (no object, no key buffer per scan) and
   * returns the GROUP's promise (shared by every event of the group),
   * resolved after its fdatasync, rejected if the write failed — then none
   * of the group is answered 200.
   */
  addScan(kind: ScanKind, uid: Uint8Array, venue: string, color: Color, atMs: number): Promise<void> {
    return this.gather(kind, uid, 0, venue, color, atMs).done;
  }

  /**
   * HOT PATH, callback form of addScan: the uid is read from
   * `src[uidOff..uidOff+16)` (the session table's slot: no uid buffer) and
   * `waiter.durable(err)` is called once the group's fdatasync returned.
   * `venue` may be given as its UTF-8 bytes (copied, not encoded).
   * Measured (bench/edge-scan-gather.ts A/B, edge/CLOSING.md): the two
   * promises and the await per scan were a visible part of the V8 glue.
   */
  addScanWaiter(kind: ScanKind, src: Uint8Array, uidOff: number, venue: string | Uint8Array, color: Color, atMs: number, waiter: ScanWaiter): void {
    this.gather(kind, src, uidOff, venue, color, atMs).waiters.push(waiter);
  }

  /**
   * HOT PATH, deferred form: `p.prepare` is called when the next group is
   * written (at the end of this tick, or when the group in flight returns),
   * and stages its record then. Nothing is durable, and nothing may be
   * answered 200, before `p.durable(null)`.
   */
  addPending(p: PendingScan): void {
    this.pending.push(p);
    this.queueFlush();
  }

  private queueFlush(): void {
    if (this.committing === null && !this.flushQueued && !this.inPrepare) {
      this.flushQueued = true;
      // after the poll phase: every request read in this tick joins the group (or after the gather window)
      if (this.gatherMs > 0) setTimeout(flushSpool, this.gatherMs, this);
      else setImmediate(flushSpool, this);
    }
  }

  /** Makes the records of every pending request (PendingScan.prepare) into the gathering group. */
  private preparePending(): void {
    const list = this.pending;
    this.pending = this.preparing;
    this.preparing = list;
    this.inPrepare = true;
    const at = Date.now();
    try {
      for (let i = 0; i < list.length; i++) {
        try {
          list[i]!.prepare(this, at);
        } catch {
          // prepare answers its own errors; one throwing must not keep the others from the group
        }
      }
    } finally {
      list.length = 0;
      this.inPrepare = false;
    }
  }

  private gather(kind: ScanKind, uid: Uint8Array, uidOff: number, venue: string | Uint8Array, color: Color, atMs: number): Group {
    const g = (this.gathering ??= new Group());
    const off = g.count * RECORD_BYTES;
    if (off + RECORD_BYTES > this.stage.length) {
      const bigger = Buffer.alloc(this.stage.length * 2);
      this.stage.copy(bigger, 0, 0, off);
      this.stage = bigger;
    }
    encodeRecord(this.stage, off, kind, color, atMs, this.writer, this.counter, uid, venue, uidOff);
    this.counter = (this.counter + 1) >>> 0;
    g.count++;
    this.queueFlush();
    return g;
  }

  /** @internal writes the gathering group (one pwrite) and starts its fdatasync; the next group goes when it returns */
  flush(): void {
    if (this.committing !== null) {
      this.flushQueued = false;
      return;
    }
    if (this.pending.length > 0) this.preparePending();
    this.flushQueued = false;
    const g = this.gathering;
    if (g === null) return;
    this.gathering = null;
    this.committing = g;
    let wal: WalFile;
    let first: number;
    try {
      wal = this.walFor(g.count);
      first = wal.write(this.stage, g.count);
    } catch (err) {
      this.settle(g, err);
      return;
    }
    wal.sync((err) => this.synced(g, wal, first, err));
  }

  /** This process's file with room for `count` slots: the current one, or a fresh one (the full one is retired). */
  private walFor(count: number): WalFile {
    let w = this.wal;
    if (w !== null && w.free() < count) {
      this.wal = null;
      w.retireAndClose();
      w = null;
    }
    if (w === null) {
      w = this.takeSpare(count) ?? WalFile.create(this.walPath, this.nextWalName(), Math.max(this.walBytes, count * RECORD_BYTES));
      this.wal = w;
    }
    if (w.next >= w.slots / 2 && this.spare === null && this.spareMaking === null) this.makeSpare();
    return w;
  }

  /** @internal resolves when no spare file is being prepared (tests) */
  async prepared(): Promise<void> {
    if (this.spareMaking !== null) await this.spareMaking;
  }

  private nextWalName(): string {
    return `${this.writer.toString(16).padStart(8, '0')}-${Date.now().toString(16).padStart(12, '0')}-${this.walSeq++}${WAL_SUFFIX}`;
  }

  /** The prepared spare, if it is ready, big enough and was not retired by an absorber meanwhile (an idle empty file). */
  private takeSpare(count: number): WalFile | null {
    const s = this.spare;
    if (s === null) return null;
    this.spare = null;
    try {
      if (s.slots >= count && !s.retired()) return s;
    } catch {
      // fall through: unusable
    }
    try {
      s.retireAndClose();
    } catch {
      // the absorber deletes it either way
    }
    return null;
  }

  private makeSpare(): void {
    this.spareMaking = WalFile.createAsync(this.walPath, this.nextWalName(), this.walBytes).then(
      (f) => {
        this.spareMaking = null;
        if (this.closed) f.retireAndClose();
        else this.spare = f;
      },
      () => {
        // no spare: the rotation makes its file synchronously (and reports a failure to its group)
        this.spareMaking = null;
      },
    );
  }

  private synced(g: Group, wal: WalFile, first: number, err: Error | null): void {
    if (err !== null) {
      this.settle(g, err);
      return;
    }
    try {
      if (wal.retired()) {
        // the absorber retired our file while this group was being written: it may have read the file
        // before the group landed, so the group goes again into a fresh file (a repeat at worst)
        const bytes = wal.readSlots(first, g.count);
        if (this.wal === wal) {
          this.wal = null;
          wal.close();
        }
        const fresh = this.walFor(g.count);
        fresh.write(bytes, g.count);
        fdatasyncSync(fresh.fd);
      }
    } catch (e) {
      this.settle(g, e);
      return;
    }
    this.commits++;
    this.written += g.count;
    this.settle(g, null);
  }

  private settle(g: Group, err: unknown): void {
    if (this.committing === g) this.committing = null;
    g.settle(err);
    // what gathered during this fdatasync goes now, in one write
    if (this.gathering !== null || this.pending.length > 0) this.flush();
  }

  /** Resolves once every event appended so far is durable. */
  async drained(): Promise<void> {
    for (;;) {
      if (this.committing === null && (this.gathering !== null || this.pending.length > 0)) this.flush();
      const g = this.committing ?? this.gathering;
      if (g === null) return;
      await g.done.catch(() => undefined);
    }
  }

  /**
   * Moves every record of the node's write-ahead files (every edge server
   * process of the node writes its own) into the LMDB spool, in ONE
   * fsync'ed write transaction that also stores how far each file was read
   * (so a crash never moves a record twice), then deletes the files retired
   * and fully read. The sync daemon's shipper calls this before each batch;
   * its cost (one LMDB commit for everything written since the last call,
   * ≈ 3–4 µs an event) is the daemon's, off the answering path.
   *
   * Reading happens inside the write transaction: LMDB's writer lock makes
   * two absorbing processes take turns, so they never read the same records.
   */
  async absorb(): Promise<number> {
    const names = readdirSync(this.walPath).filter((n) => n.endsWith(WAL_SUFFIX)).sort();
    // files another absorber deleted: let their space go
    for (const name of [...this.readFds.keys()]) if (!names.includes(name)) this.closeReadFd(name);
    const stale: string[] = [];
    for (const { key } of this.cursors.getRange({})) if (!names.includes(key)) stale.push(key);
    if (stale.length === 0 && !names.some((n) => this.hasWork(n))) return 0;
    let moved = 0;
    const done: string[] = [];
    await this.root.transaction(() => {
      for (const k of stale) this.cursors.removeSync(k);
      for (const name of names) {
        const path = join(this.walPath, name);
        let st;
        try {
          st = statSync(path);
        } catch {
          continue; // another absorber deleted it
        }
        const retired = isRetiredMode(st.mode);
        const from = this.cursors.get(name) ?? 0;
        const to = this.scanFile(name, from, (r) => {
          this.db.putSync(r.key, { kind: r.kind, uid: r.uid, venue: r.venue, at: r.at, color: r.color });
          moved++;
        });
        if (to !== from) this.cursors.putSync(name, to);
        if (retired) done.push(name);
        else if (this.wal?.name !== name && Date.now() - st.mtimeMs > this.retireIdleMs) chmodSync(path, 0o400);
      }
    });
    // read to the end AFTER it was retired: nothing more will come; the cursor goes once the file is gone
    for (const name of done) {
      this.closeReadFd(name);
      try {
        unlinkSync(join(this.walPath, name));
      } catch {
        // another absorber was first
      }
    }
    this.absorbed += moved;
    return moved;
  }

  /** Does the file hold a record past its cursor, or is it retired (to be deleted)? */
  private hasWork(name: string): boolean {
    try {
      if (isRetiredMode(statSync(join(this.walPath, name)).mode)) return true;
    } catch {
      return false;
    }
    const from = this.cursors.get(name) ?? 0;
    let found = false;
    this.scanFile(
      name,
      from,
      () => {
        found = true;
        return true;
      },
      false,
    );
    return found;
  }

  /**
   * Calls `each` for every valid record from slot `from` up to the first
   * empty or torn one; returns that slot (`each` returning true stops
   * early). `keep`: keep the descriptor open for the next call (the
   * absorber); otherwise close it (depth() on a server process must not
   * hold a deleted file's space).
   */
  private scanFile(name: string, from: number, each: (r: WalRecord) => boolean | void, keep = true): number {
    let fd = this.readFds.get(name);
    if (fd === undefined) {
      try {
        fd = openSync(join(this.walPath, name), 'r');
      } catch {
        return from;
      }
      if (!keep) {
        try {
          return this.scanFd(fd, from, each);
        } finally {
          closeSync(fd);
        }
      }
      this.readFds.set(name, fd);
    }
    return this.scanFd(fd, from, each);
  }

  private scanFd(fd: number, from: number, each: (r: WalRecord) => boolean | void): number {
    const buf = this.readBuf;
    let slot = from;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, slot * RECORD_BYTES);
      const slots = Math.floor(n / RECORD_BYTES);
      for (let i = 0; i < slots; i++) {
        const r = decodeRecord(buf, i * RECORD_BYTES);
        if (r === null) return slot;
        slot++;
        if (each(r) === true) return slot;
      }
      if (slots * RECORD_BYTES < buf.length) return slot;
    }
  }

  private closeReadFd(name: string): void {
    const fd = this.readFds.get(name);
    if (fd === undefined) return;
    this.readFds.delete(name);
    closeSync(fd);
  }

  /** Up to `n` absorbed events after `afterKey` (exclusive; null = from the start), oldest first. */
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

  /** Events waiting to be shipped: absorbed (O(1), LMDB's count) plus those still in write-ahead files. */
  depth(): number {
    let pending = 0;
    for (const name of readdirSync(this.walPath)) {
      if (!name.endsWith(WAL_SUFFIX)) continue;
      const from = this.cursors.get(name) ?? 0;
      pending += this.scanFile(name, from, () => undefined, false) - from;
    }
    return (this.db.getStats() as { entryCount: number }).entryCount + pending;
  }

  async close(): Promise<void> {
    await this.drained();
    this.closed = true;
    if (this.spareMaking !== null) await this.spareMaking;
    if (this.spare !== null) {
      this.spare.retireAndClose();
      this.spare = null;
    }
    if (this.wal !== null) {
      // nothing more goes into it: the absorber reads it to the end and deletes it
      this.wal.retireAndClose();
      this.wal = null;
    }
    for (const name of [...this.readFds.keys()]) this.closeReadFd(name);
    await this.root.close();
  }
}

function flushSpool(spool: ScanSpool): void {
  spool.flush();
}

function toEvent(v: ScanEvent): ScanEvent {
  return { kind: v.kind, uid: Buffer.from(v.uid), venue: v.venue, at: v.at, color: v.color };
}
