import { open, type Database, type RootDatabase } from 'lmdb';
import {
  checkRiskArea,
  decodeCodeRecord,
  decodeVenue,
  decodeVersioned,
  encodeCodeRecord,
  encodeVenue,
  encodeVersioned,
  FORMAT_VERSION,
  type CodeRecord,
  type RiskArea,
  type Venue,
} from '../core/code-record.js';
import type { Delta, DeltaBatch } from '../core/delta.js';
import {
  DB_CODES,
  DB_DISPLAY,
  DB_META,
  DB_CHANGES,
  DISPLAY_HEADER_BYTES,
  displayExpiresAt,
  changeKey,
  encodeChangeEntry,
  DB_RISK,
  DB_RULES,
  DB_VENUES,
  META_APPLIED_SEQ,
  META_FORMAT,
  META_KEYS,
  META_SNAPSHOT_SEQ,
  META_STREAM_ID,
  META_SYNCED_AT,
  ReplicaMetaView,
  replicaEnvOptions,
} from '../core/replica-layout.js';
import { SyncError } from './errors.js';
import { CodeOps } from './code-ops.js';
import { isPacked, type AnyDeltaBatch, type PackedBatch } from './delta-packed.js';

/**
 * The single writer of a node's LMDB replica (layout: core/replica-layout.ts,
 * DESIGN §6). Used by the edge-side sync daemon, the replica builder and
 * tests. Edge server processes open the same environment through
 * edge/replica-reader.ts; LMDB serialises write transactions across
 * processes with its lock file, so their on-demand display puts interleave
 * safely with ours.
 *
 * Crash safety: every batch is applied in ONE write transaction that also
 * stores META_APPLIED_SEQ = batch.to, and META_APPLIED_SEQ is re-read INSIDE
 * that transaction. A crash anywhere leaves the replica at the end of the
 * last committed batch, and the daemon resumes from appliedSeq() + 1; even two
 * writers racing by mistake cannot apply a delta twice or skip one.
 */
export interface ReplicaWriterOptions {
  /** `<dataDir>/replica` — an LMDB environment directory (data.mdb + lock.mdb), created when absent */
  dir: string;
  /** initial map size in bytes; the bundled LMDB grows the map as needed (FACTS) */
  mapSize?: number;
}

/** lmdb-js TransactionFlags (index.d.ts): ABORTABLE 1, SYNCHRONOUS_COMMIT 2, NO_SYNC_FLUSH 0x10000. */
/** change-log entries kept: an edge server idle for longer than this many batches drops its whole display cache once */
const CHANGE_LOG_KEEP = 10_000;
/** uids listed in one change-log entry at most (64 KiB); a larger batch is logged as "everything changed" */
const CHANGE_LIST_MAX = 4096;
const TXN_DURABLE = 1 | 2; // the lmdb-js default: abortable, returns once committed AND flushed to disk
const TXN_NO_FLUSH_WAIT = 1 | 2 | 0x10000; // committed and visible on return; the fsync completes in the background

/**
 * Puts per bulk-load transaction. Measured here (1M sorted 16-byte keys,
 * 60-byte values): 100k and 1M per transaction load at the same ~1M/s; 200k
 * bounds the dirty-page memory of one transaction to a few tens of MB.
 */
const BULK_CHUNK = 200_000;
/** onProgress granularity of the bulk loads (a callback, not a commit). */
const PROGRESS_EVERY = 65_536;

const UID_BYTES = 16;

/** applyBatches sorts code deltas by uid from this many deltas on (below, seq order is as fast). */
const SORT_FROM = 2048;

function byKeyThenSeq(a: { key: string; d: Delta }, b: { key: string; d: Delta }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : a.d.seq - b.d.seq;
}

function isUid(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === UID_BYTES;
}

function badBatch(detail: string): never {
  throw new SyncError('SYNC_ERR_BATCH_INVALID', detail);
}

export class ReplicaWriter extends ReplicaMetaView {
  readonly dir: string;
  private readonly env: RootDatabase;
  private readonly codes: Database<Uint8Array, Uint8Array>;
  private readonly display: Database<Uint8Array, Uint8Array>;
  private readonly venues: Database<Uint8Array, string>;
  private readonly risk: Database<Uint8Array, string>;
  private readonly rules: Database<Uint8Array, string>;
  protected readonly meta: Database<unknown, string>;
  /** change log (replica-layout.ts): the uids each batch changed, for the edges' in-memory display bodies */
  private readonly changes: Database<Uint8Array, Uint8Array>;
  private closed = false;

  private constructor(dir: string, mapSize: number | undefined) {
    super();
    this.dir = dir;
    this.env = open(replicaEnvOptions(dir, mapSize));
    // uid-keyed dbs: raw 16-byte keys, raw values ('binary': the default
    // value encoding is msgpack, which would wrap our already-encoded bytes).
    const uidDb = { keyEncoding: 'binary', encoding: 'binary', cache: false } as const;
    const strDb = { encoding: 'binary', cache: false } as const;
    this.codes = this.env.openDB<Uint8Array, Uint8Array>(DB_CODES, uidDb);
    this.display = this.env.openDB<Uint8Array, Uint8Array>(DB_DISPLAY, uidDb);
    this.venues = this.env.openDB<Uint8Array, string>(DB_VENUES, strDb);
    this.risk = this.env.openDB<Uint8Array, string>(DB_RISK, strDb);
    this.rules = this.env.openDB<Uint8Array, string>(DB_RULES, strDb);
    this.meta = this.env.openDB<unknown, string>(DB_META, { cache: false }); // msgpack, per the layout
    this.changes = this.env.openDB<Uint8Array, Uint8Array>(DB_CHANGES, uidDb);
    try {
      this.env.transactionSync(() => {
        const stored = this.meta.get(META_FORMAT);
        if (typeof stored === 'number' && stored > FORMAT_VERSION) {
          throw new SyncError('SYNC_ERR_REPLICA_FORMAT', `${dir} has format ${stored}, this build writes ${FORMAT_VERSION}`);
        }
        // Older (or new) replica: from now on it holds values of this build's format.
        if (stored !== FORMAT_VERSION) this.meta.putSync(META_FORMAT, FORMAT_VERSION);
      }, TXN_DURABLE);
    } catch (err) {
      void this.env.close();
      throw err;
    }
  }

  static open(opts: ReplicaWriterOptions): ReplicaWriter {
    return new ReplicaWriter(opts.dir, opts.mapSize);
  }

  /** The current code of a uid (the daemon reads it to re-sign). */
  code(uid: Uint8Array): CodeRecord | undefined {
    const buf = this.codes.getBinaryFast(uid);
    // subarray(0, length): the fast buffer's byteLength is the whole shared allocation (FACTS)
    return buf === undefined ? undefined : decodeCodeRecord(buf.subarray(0, buf.length));
  }

  /** A copy of the uid's display entry (the edge reads it zero-copy through edge/replica-reader.ts). */
  displayEntry(uid: Uint8Array): Uint8Array | undefined {
    return this.display.getBinary(uid);
  }

  venue(id: string): Venue | undefined {
    const buf = id === '' ? undefined : this.venues.getBinaryFast(id);
    return buf === undefined ? undefined : decodeVenue(buf.subarray(0, buf.length));
  }

  riskArea(region: string): RiskArea | undefined {
    const buf = region === '' ? undefined : this.risk.getBinaryFast(region);
    return buf === undefined ? undefined : checkRiskArea(decodeVersioned(buf.subarray(0, buf.length), 'risk area'));
  }


  /**
   * Applies one dense batch (core/delta.ts) in ONE transaction together with
   * META_APPLIED_SEQ = batch.to.
   *
   *   batch.to   ≤ applied        → skipped (re-delivery), returns []
   *   batch.from ≤ applied < to   → only the deltas after `applied` (an overlapping
   *                                  re-delivery; batches are dense, so the skipped
   *                                  prefix is exactly what was applied before)
   *   batch.from = applied + 1    → applied whole
   *   batch.from > applied + 1    → SYNC_ERR_GAP, nothing written
   *
   * A malformed batch (not dense, bad uid, unknown type…) throws
   * SYNC_ERR_BATCH_INVALID and the transaction is aborted: none of its
   * writes and not the sequence land.
   *
   * A code delta puts (or, for a null record, deletes) the code AND deletes
   * the uid's display entry, keeping the invariant of replica-layout.ts.
   * Returns the distinct uids whose code changed, in first-change order (the
   * daemon re-signs them; for a deleted code `code(uid)` is now undefined).
   */
  applyBatch(batch: DeltaBatch): Uint8Array[] {
    const { from, to, deltas } = batch;
    if (!Number.isSafeInteger(from) || from < 1 || !Number.isSafeInteger(to) || to < from) {
      badBatch(`range ${String(from)}..${String(to)}`);
    }
    if (!Array.isArray(deltas) || deltas.length !== to - from + 1) {
      badBatch(`batch ${from}..${to} holds ${Array.isArray(deltas) ? deltas.length : 'no'} deltas`);
    }
    const changed: Uint8Array[] = [];
    const seen = new Set<string>();
    this.env.transactionSync(() => {
      // Read inside the write txn: the value cannot move under us.
      const stored = this.meta.get(META_APPLIED_SEQ);
      const applied = typeof stored === 'number' ? stored : 0;
      if (to <= applied) return;
      if (from > applied + 1) {
        throw new SyncError('SYNC_ERR_GAP', `batch ${from}..${to} after applied sequence ${applied}: deltas ${applied + 1}..${from - 1} are missing`);
      }
      for (let k = Math.max(0, applied + 1 - from); k < deltas.length; k++) {
        this.applyDelta(deltas[k]!, from + k, changed, seen);
      }
      this.logChanges(applied + 1, to, changed);
      this.meta.putSync(META_APPLIED_SEQ, to);
    }, TXN_DURABLE);
    return changed;
  }

  /**
   * applyBatch for several consecutive batches in ONE transaction, with
   * META_APPLIED_SEQ = the last batch's `to` (each batch checked and cut as
   * applyBatch does; a gap anywhere aborts the whole transaction).
   *
   * Why: a mass change (1M codes in uid-random order) applied one 4096-delta
   * entry per transaction copies ~4000 random leaf pages per commit (and
   * waits for its fsync); 64 entries per commit touch most leaf pages once
   * instead of 64 times. Measured here on a 1M-code replica, 1M deltas in
   * 245 entries: one transaction per entry 19.3 s, per 16 entries 9.8 s,
   * per 64 entries 5.5 s (with the uid-sorted apply below; 6.6 s without).
   */
  applyBatches(batches: readonly AnyDeltaBatch[], maxChanged = Infinity): Uint8Array[] | null {
    for (const b of batches) {
      const { from, to } = b;
      if (!Number.isSafeInteger(from) || from < 1 || !Number.isSafeInteger(to) || to < from) badBatch(`range ${String(from)}..${String(to)}`);
      if (isPacked(b)) continue; // decodePackedBatch checked it whole
      const deltas = (b as DeltaBatch).deltas;
      if (!Array.isArray(deltas) || deltas.length !== to - from + 1) {
        badBatch(`batch ${from}..${to} holds ${Array.isArray(deltas) ? deltas.length : 'no'} deltas`);
      }
    }
    if (batches.some(isPacked)) return this.applyMixed(batches, maxChanged);
    return this.applyObjectBatches(batches as readonly DeltaBatch[], maxChanged);
  }

  /** applyBatches for batches all of the object form (core/delta.ts): the path every follower took before packed batches. */
  private applyObjectBatches(batches: readonly DeltaBatch[], maxChanged: number): Uint8Array[] | null {
    let changed: Uint8Array[] | null = [];
    this.env.transactionSync(() => {
      const stored = this.meta.get(META_APPLIED_SEQ);
      let applied = typeof stored === 'number' ? stored : 0;
      const start = applied;
      // the deltas to apply, in seq order, after cutting what is applied already
      const todo: Delta[] = [];
      for (const { from, to, deltas } of batches) {
        if (to <= applied) continue;
        if (from > applied + 1) {
          throw new SyncError('SYNC_ERR_GAP', `batch ${from}..${to} after applied sequence ${applied}: deltas ${applied + 1}..${from - 1} are missing`);
        }
        for (let k = Math.max(0, applied + 1 - from); k < deltas.length; k++) {
          const d = deltas[k]!;
          if (typeof d !== 'object' || d === null || d.seq !== from + k) badBatch(`delta ${from + k}: seq ${String((d as { seq?: unknown } | null)?.seq)} (batches are dense)`);
          todo.push(d);
        }
        applied = to;
      }
      if (applied === start) return;
      changed = todo.length >= SORT_FROM ? this.applySorted(todo, maxChanged) : this.applyInOrder(todo, maxChanged);
      this.logChanges(start + 1, applied, changed);
      this.meta.putSync(META_APPLIED_SEQ, applied);
    }, TXN_DURABLE);
    return changed;
  }

  /**
   * applyBatches when at least one batch is packed (sync/delta-packed.ts,
   * issue 14 item 4), in ONE durable transaction with META_APPLIED_SEQ, as
   * for the object form. A packed batch's code changes go into LMDB as the
   * bytes the publisher encoded (no decode, no re-encode); object-form
   * batches in the same group are encoded here and join the same uid-sorted
   * pass, so both forms can follow each other on one stream. Other deltas
   * (venues, risk areas, rules, keys) are applied in seq order as before.
   */
  private applyMixed(batches: readonly AnyDeltaBatch[], maxChanged: number): Uint8Array[] | null {
    let capacity = 0;
    for (const b of batches) capacity += isPacked(b) ? b.codes : b.to - b.from + 1;
    let changed: Uint8Array[] | null = [];
    this.env.transactionSync(() => {
      const stored = this.meta.get(META_APPLIED_SEQ);
      let applied = typeof stored === 'number' ? stored : 0;
      const start = applied;
      const ops = new CodeOps(capacity);
      for (const b of batches) {
        const { from, to } = b;
        if (to <= applied) continue;
        if (from > applied + 1) {
          throw new SyncError('SYNC_ERR_GAP', `batch ${from}..${to} after applied sequence ${applied}: deltas ${applied + 1}..${from - 1} are missing`);
        }
        if (isPacked(b)) this.gatherPacked(b, applied, ops);
        else this.gatherObjects(b, applied, ops);
        applied = to;
      }
      if (applied === start) return;
      changed = ops.apply(this.codes, this.display, ops.size > 0 && this.hasDisplays(), maxChanged);
      this.logChanges(start + 1, applied, changed);
      this.meta.putSync(META_APPLIED_SEQ, applied);
    }, TXN_DURABLE);
    return changed;
  }

  /** A packed batch's deltas after `applied`: code changes into `ops` (views, no copy), the others applied now. */
  private gatherPacked(b: PackedBatch, applied: number, ops: CodeOps): void {
    for (const d of b.others) if (d.seq > applied) this.applyDelta(d, d.seq, [], new Set());
    for (let i = 0; i < b.codes; i++) {
      if (b.codeSeq[i]! > applied) ops.add(b.buf, b.uidAt[i]!, b.valueAt[i]!, b.valueLen[i]!);
    }
  }

  /** An object-form batch's deltas after `applied` (checked as applyObjectBatches checks them), codes encoded into `ops`. */
  private gatherObjects(b: DeltaBatch, applied: number, ops: CodeOps): void {
    const { from, deltas } = b;
    for (let k = Math.max(0, applied + 1 - from); k < deltas.length; k++) {
      const d = deltas[k]!;
      if (typeof d !== 'object' || d === null || d.seq !== from + k) badBatch(`delta ${from + k}: seq ${String((d as { seq?: unknown } | null)?.seq)} (batches are dense)`);
      if (d.type !== 'code') {
        this.applyDelta(d, d.seq, [], new Set());
        continue;
      }
      if (!isUid(d.uid)) badBatch(`delta ${d.seq}: uid is not ${UID_BYTES} bytes`);
      if (d.record === null) {
        ops.add(Buffer.from(d.uid), 0, 0, -1);
      } else if (typeof d.record === 'object') {
        const value = encodeCodeRecord(d.record);
        const one = Buffer.allocUnsafe(UID_BYTES + value.length);
        one.set(d.uid, 0);
        value.copy(one, UID_BYTES);
        ops.add(one, 0, UID_BYTES, value.length);
      } else {
        badBatch(`delta ${d.seq}: record`);
      }
    }
  }

  /**
   * Inside the apply transaction: one change-log entry for seqs from..to
   * (replica-layout.ts), and the oldest entries beyond CHANGE_LOG_KEEP
   * dropped. More than CHANGE_LIST_MAX uids (a mass change) or an unknown
   * list (null) is logged as "everything": edges drop every in-memory body.
   */
  private logChanges(from: number, to: number, changed: readonly Uint8Array[] | null): void {
    this.changes.putSync(changeKey(to), encodeChangeEntry(from, changed === null || changed.length > CHANGE_LIST_MAX ? null : changed));
    const over = entryCount(this.changes) - CHANGE_LOG_KEEP;
    if (over > 0) for (const k of this.changes.getKeys({ limit: over })) this.changes.removeSync(k);
  }

  private applyInOrder(todo: readonly Delta[], maxChanged: number): Uint8Array[] | null {
    const changed: Uint8Array[] = [];
    const seen = new Set<string>();
    for (const d of todo) this.applyDelta(d, d.seq, changed, seen);
    return changed.length > maxChanged ? null : changed;
  }

  /** Display entries exist (a node that served displays); when none do, deleting them per code is wasted B-tree descents. */
  private hasDisplays(): boolean {
    return entryCount(this.display) > 0;
  }

  /**
   * Code deltas in ascending uid order (stable: a uid changed twice keeps
   * its seq order, so the last change still wins), everything else in seq
   * order — different databases, so the two orders cannot conflict. Sorted
   * puts walk the B-tree left to right: each leaf page is copied once and
   * stays in cache (measured in bench/sync.ts "delta apply rate").
   */
  private applySorted(todo: readonly Delta[], maxChanged: number): Uint8Array[] | null {
    const codes: { key: string; d: Delta & { type: 'code' } }[] = [];
    for (const d of todo) {
      if (d.type === 'code') {
        if (!isUid(d.uid)) badBatch(`delta ${d.seq}: uid is not ${UID_BYTES} bytes`);
        codes.push({ key: Buffer.from(d.uid.buffer, d.uid.byteOffset, UID_BYTES).toString('latin1'), d });
      } else {
        this.applyDelta(d, d.seq, [], new Set());
      }
    }
    codes.sort(byKeyThenSeq);
    const dropDisplays = this.hasDisplays();
    const changed: Uint8Array[] | null = [];
    let distinct = 0;
    for (let i = 0; i < codes.length; i++) {
      const { key, d } = codes[i]!;
      if (d.record === null) this.codes.removeSync(d.uid);
      else if (typeof d.record === 'object') this.codes.putSync(d.uid, encodeCodeRecord(d.record));
      else badBatch(`delta ${d.seq}: record`);
      if (i + 1 < codes.length && codes[i + 1]!.key === key) continue; // the same uid again right after: one display delete, one changed entry
      if (dropDisplays) this.display.removeSync(d.uid);
      distinct++;
      if (distinct <= maxChanged) changed.push(d.uid);
    }
    return distinct > maxChanged ? null : changed;
  }

  private applyDelta(d: Delta, expectSeq: number, changed: Uint8Array[], seen: Set<string>): void {
    if (typeof d !== 'object' || d === null || d.seq !== expectSeq) {
      badBatch(`delta ${expectSeq}: seq ${String((d as { seq?: unknown } | null)?.seq)} (batches are dense)`);
    }
    switch (d.type) {
      case 'code': {
        if (!isUid(d.uid)) badBatch(`delta ${expectSeq}: uid is not ${UID_BYTES} bytes`);
        if (d.record === null) this.codes.removeSync(d.uid);
        else if (typeof d.record === 'object') this.codes.putSync(d.uid, encodeCodeRecord(d.record));
        else badBatch(`delta ${expectSeq}: record`);
        this.display.removeSync(d.uid);
        const key = Buffer.from(d.uid.buffer, d.uid.byteOffset, UID_BYTES).toString('latin1');
        if (!seen.has(key)) {
          seen.add(key);
          changed.push(d.uid);
        }
        return;
      }
      case 'venue':
        if (typeof d.id !== 'string' || d.id === '') badBatch(`delta ${expectSeq}: venue id`);
        if (d.venue === null) this.venues.removeSync(d.id);
        else if (typeof d.venue === 'object') this.venues.putSync(d.id, encodeVenue(d.venue));
        else badBatch(`delta ${expectSeq}: venue`);
        return;
      case 'risk_area':
        if (typeof d.region !== 'string' || d.region === '') badBatch(`delta ${expectSeq}: region`);
        if (d.area === null) this.risk.removeSync(d.region);
        else if (typeof d.area === 'object') this.risk.putSync(d.region, encodeVersioned(d.area));
        else badBatch(`delta ${expectSeq}: area`);
        return;
      case 'rules':
        if (typeof d.version !== 'string' || d.version === '') badBatch(`delta ${expectSeq}: rules version`);
        this.rules.putSync(d.version, encodeVersioned({ version: d.version, activeFrom: d.activeFrom, ruleSet: d.ruleSet }));
        return;
      case 'keys':
        this.meta.putSync(META_KEYS, d.keys);
        return;
      case 'noop':
        return;
      default:
        badBatch(`delta ${expectSeq}: unknown type ${String((d as { type?: unknown }).type)}`);
    }
  }

  /**
   * Stores a display entry (replica-layout.ts) with an async put, batched per
   * event-loop turn on lmdb's write thread (FACTS).
   *
   * Pass `ifCodeSeq` = the `seq` of the CodeRecord the entry was rendered
   * from: the put then happens in a write transaction that first checks the
   * uid's current code still has that seq, and is dropped (resolves false)
   * otherwise. Without it a signature that completes after a code delta was
   * applied would re-store a display of the OLD colour, breaking the layout's
   * invariant until the token expires.
   */
  putDisplay(uid: Uint8Array, entry: Uint8Array, ifCodeSeq?: number): Promise<boolean> {
    return putDisplayEntry(this.codes, this.display, uid, entry, ifCodeSeq);
  }

  /** Unix ms at which the daemon last knew it was level with the stream. Not waited to disk: losing it in a crash is harmless. */
  setSyncedAt(ms: number): void {
    this.env.transactionSync(() => this.meta.putSync(META_SYNCED_AT, ms), TXN_NO_FLUSH_WAIT);
  }

  /** The public key set of all nodes, `{ keys: PublicKeyInfo[] }` (GET /v1/keys). */
  setKeys(keys: { keys: unknown[] }): void {
    this.env.transactionSync(() => this.meta.putSync(META_KEYS, keys), TXN_DURABLE);
  }

  /** Last delta-stream entry id read (Redis `<seq>-0`). */
  setStreamId(id: string): void {
    this.env.transactionSync(() => this.meta.putSync(META_STREAM_ID, id), TXN_DURABLE);
  }

  /**
   * Records that the replica now holds the state of a snapshot taken at
   * `seq`: META_SNAPSHOT_SEQ and META_APPLIED_SEQ in one durable
   * transaction, so deltas resume at seq + 1. Call it AFTER the bulk loads:
   * a crash mid-bootstrap leaves appliedSeq 0 with partial data, which a
   * bootstrap detects and redoes.
   */
  markSnapshot(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) badBatch(`snapshot seq ${String(seq)}`);
    this.env.transactionSync(() => {
      this.meta.putSync(META_SNAPSHOT_SEQ, seq);
      this.meta.putSync(META_APPLIED_SEQ, seq);
    }, TXN_DURABLE);
  }

  /**
   * Bulk load for the builder and snapshot bootstrap: putSync inside
   * transactionSync chunks of BULK_CHUNK (FACTS: ~1M puts/s). Feed keys in
   * ascending uid order when you can: measured here on 1M bench codes,
   * random order loads in 6.0 s into a 364 MiB file, ascending order in
   * 1.5 s into 107 MiB (random puts leave half-full pages and copy-on-write
   * garbage all over the tree; see bench/build-replica.ts).
   *
   * Does not touch display entries or appliedSeq (see markSnapshot). Chunks
   * commit without waiting for fsync; close() (or a later durable commit)
   * makes them durable. Returns the number of entries loaded.
   */
  bulkLoadCodes(entries: Iterable<readonly [Uint8Array, CodeRecord]>, onProgress?: (n: number) => void): number {
    const codes = this.codes;
    return this.bulkLoad(entries, onProgress, function putCode(e, n) {
      const uid = e[0];
      if (!isUid(uid)) badBatch(`bulk entry ${n}: uid is not ${UID_BYTES} bytes`);
      codes.putSync(uid, encodeCodeRecord(e[1]));
    });
  }

  bulkLoadVenues(venues: Iterable<Venue>, onProgress?: (n: number) => void): number {
    const db = this.venues;
    return this.bulkLoad(venues, onProgress, function putVenue(v, n) {
      if (typeof v.id !== 'string' || v.id === '') badBatch(`bulk venue ${n}: id`);
      db.putSync(v.id, encodeVenue(v));
    });
  }

  bulkLoadRiskAreas(areas: Iterable<RiskArea>, onProgress?: (n: number) => void): number {
    const db = this.risk;
    return this.bulkLoad(areas, onProgress, function putArea(a, n) {
      if (typeof a.region !== 'string' || a.region === '') badBatch(`bulk risk area ${n}: region`);
      db.putSync(a.region, encodeVersioned(a));
    });
  }

  /** Rule versions as `rules` deltas carry them (snapshot builds; sync/snapshot.ts). */
  bulkLoadRules(rules: Iterable<{ readonly version: string; readonly activeFrom: number; readonly ruleSet: unknown }>): number {
    const db = this.rules;
    return this.bulkLoad(rules, undefined, function putRules(r, n) {
      if (typeof r.version !== 'string' || r.version === '') badBatch(`bulk rules ${n}: version`);
      db.putSync(r.version, encodeVersioned({ version: r.version, activeFrom: r.activeFrom, ruleSet: r.ruleSet }));
    });
  }

  private bulkLoad<T>(items: Iterable<T>, onProgress: ((n: number) => void) | undefined, put: (item: T, n: number) => void): number {
    const it = items[Symbol.iterator]();
    let n = 0;
    let done = false;
    while (!done) {
      this.env.transactionSync(() => {
        const end = n + BULK_CHUNK;
        while (n < end) {
          const r = it.next();
          if (r.done === true) {
            done = true;
            return;
          }
          put(r.value, n);
          n++;
          if (onProgress !== undefined && n % PROGRESS_EVERY === 0) onProgress(n);
        }
      }, TXN_NO_FLUSH_WAIT);
    }
    onProgress?.(n);
    return n;
  }

  /** Entries per database (O(1): LMDB keeps the counts in each db's stat). */
  counts(): ReplicaCounts {
    return {
      codes: entryCount(this.codes),
      display: entryCount(this.display),
      venues: entryCount(this.venues),
      risk: entryCount(this.risk),
      rules: entryCount(this.rules),
    };
  }

  /**
   * A consistent copy of the environment into the EXISTING empty directory
   * `dir` (lmdb-js `backup` = mdb_env_copy2 on a worker thread, inside one
   * read transaction: the copy is exactly some committed state, and its meta
   * says which sequence). Writes may go on meanwhile.
   * `compact` rewrites the tree without free pages; an open upstream issue
   * reports occasional corruption with it (FACTS): verify the copy before
   * serving it (sync/snapshot.ts does).
   */
  async backup(dir: string, compact: boolean): Promise<void> {
    await this.env.backup(dir, compact);
  }

  /**
   * Makes this replica hold exactly `image` (a snapshot taken at
   * `image.seq`), with META_APPLIED_SEQ = META_SNAPSHOT_SEQ = image.seq, so
   * deltas resume at seq + 1 (DESIGN §6: a new node or one whose position
   * was trimmed from the stream re-bootstraps from a snapshot).
   *
   * Two ways, chosen by what readers could see:
   *
   *  - 'bulk': the replica holds no codes (a new node, or wiped). The image
   *    is streamed in ascending key order in chunked transactions (fast,
   *    small dirty-page memory; FACTS ~1M puts/s), then appliedSeq is set
   *    last in a durable transaction. Edge servers reading meanwhile see a
   *    partial replica, but one that was never synced (no syncedAt): they
   *    are not ready and say so (edge /readyz, stale notice). A crash
   *    mid-way leaves codes with appliedSeq 0: the next bootstrap takes the
   *    merge path below and completes it.
   *  - 'merge': the replica is in use (a re-bootstrap after a trimmed
   *    position). ONE write transaction compares the image with the replica
   *    key by key and writes only the differences (deleting what the image
   *    lacks); edge servers in other processes switch from the old state to
   *    the new one atomically at the commit, and keep every display entry
   *    whose code did not change (no re-signing for unchanged people).
   *
   * Refuses an image older than what the replica already applied
   * (SYNC_ERR_SNAPSHOT_OLD): applying it would move the node back in time.
   */
  loadSnapshot(image: ReplicaImage, onProgress?: (n: number) => void): LoadSnapshotResult {
    if (!Number.isSafeInteger(image.seq) || image.seq < 0) badBatch(`snapshot seq ${String(image.seq)}`);
    const applied = this.appliedSeq();
    if (applied > image.seq) {
      throw new SyncError('SYNC_ERR_SNAPSHOT_OLD', `snapshot at ${image.seq}, replica already at ${applied}`);
    }
    const result = entryCount(this.codes) === 0 ? this.bulkImage(image, onProgress) : this.mergeImage(image, onProgress);
    return result;
  }

  private bulkImage(image: ReplicaImage, onProgress?: (n: number) => void): LoadSnapshotResult {
    const raw = function putRaw(db: Database<Uint8Array, Uint8Array> | Database<Uint8Array, string>) {
      return function put(e: readonly [Uint8Array | string, Uint8Array]): void {
        (db as Database<Uint8Array, Uint8Array | string>).putSync(e[0], e[1]);
      };
    };
    let done = 0;
    const progress = onProgress === undefined ? undefined : (n: number) => onProgress(done + n);
    const codes = this.bulkLoad(image.codes.entries(), progress, raw(this.codes));
    done += codes;
    const venues = this.bulkLoad(image.venues.entries(), progress, raw(this.venues));
    done += venues;
    const risk = this.bulkLoad(image.risk.entries(), progress, raw(this.risk));
    const rules = this.bulkLoad(image.rules.entries(), undefined, raw(this.rules));
    this.env.transactionSync(() => {
      this.meta.putSync(META_KEYS, image.keys);
      this.meta.putSync(META_SNAPSHOT_SEQ, image.seq);
      this.meta.putSync(META_APPLIED_SEQ, image.seq);
    }, TXN_DURABLE);
    const z = { put: 0, deleted: 0, unchanged: 0 };
    return {
      mode: 'bulk',
      seq: image.seq,
      codes: { ...z, put: codes },
      venues: { ...z, put: venues },
      risk: { ...z, put: risk },
      rules: { ...z, put: rules },
    };
  }

  private mergeImage(image: ReplicaImage, onProgress?: (n: number) => void): LoadSnapshotResult {
    let result: LoadSnapshotResult | undefined;
    const display = this.display;
    this.env.transactionSync(() => {
      let seen = 0;
      const tick = onProgress === undefined ? undefined : () => {
        if (++seen % PROGRESS_EVERY === 0) onProgress(seen);
      };
      const codes = mergeDb(this.codes, image.codes, tick, function codeGone(uid: Uint8Array) {
        display.removeSync(uid);
      });
      const venues = mergeDb(this.venues, image.venues, tick, undefined);
      const risk = mergeDb(this.risk, image.risk, tick, undefined);
      const rules = mergeDb(this.rules, image.rules, undefined, undefined);
      this.meta.putSync(META_KEYS, image.keys);
      this.meta.putSync(META_SNAPSHOT_SEQ, image.seq);
      this.meta.putSync(META_APPLIED_SEQ, image.seq);
      result = { mode: 'merge', seq: image.seq, codes, venues, risk, rules };
    }, TXN_DURABLE);
    return result!;
  }

  /** Bench and test helper: `n` display entries from `make(k)` in ONE write transaction (no change-log entry: display entries are not codes). */
  bulkDisplays(n: number, make: (k: number) => readonly [Uint8Array, Uint8Array]): void {
    this.env.transactionSync(() => {
      for (let k = 0; k < n; k++) {
        const [uid, entry] = make(k);
        this.display.putSync(uid, entry);
      }
    }, TXN_NO_FLUSH_WAIT);
  }

  /**
   * One step of the background sweep (sync/display-sweep.ts): looks at up
   * to `maxKeys` display entries after `after` (exclusive; null = from the
   * first) in ONE short write transaction and deletes those whose stored
   * expiry is at or before `nowSec` — the hot path never serves them, they
   * only grow the tree. The expiry is read inside the transaction, so an
   * entry an edge server has just re-signed is never removed. Not waited
   * to disk (TXN_NO_FLUSH_WAIT): a sweep lost in a crash is redone.
   * Returns the last key looked at (the next step's `after`), or null when
   * the end was reached.
   */
  sweepDisplays(after: Uint8Array | null, maxKeys: number, nowSec: number): { next: Uint8Array | null; scanned: number; removed: number } {
    let next: Uint8Array | null = null;
    let scanned = 0;
    let removed = 0;
    let more = false;
    const display = this.display;
    this.env.transactionSync(() => {
      // one more than a step takes (and the `after` key itself): tells whether the pass goes on
      const range = after === null ? { limit: maxKeys + 1 } : { start: after, limit: maxKeys + 2 };
      const dead: Uint8Array[] = [];
      for (const { key, value } of display.getRange(range)) {
        if (after !== null && scanned === 0 && next === null && Buffer.compare(key, after) === 0) continue;
        if (scanned === maxKeys) {
          more = true;
          break;
        }
        scanned++;
        next = Buffer.from(key);
        if (value.length < DISPLAY_HEADER_BYTES || displayExpiresAt(value) <= nowSec) dead.push(next);
      }
      // deleted after the walk: no delete under the iterating cursor
      for (const k of dead) display.removeSync(k);
      removed = dead.length;
    }, TXN_NO_FLUSH_WAIT);
    return { next: more ? next : null, scanned, removed };
  }

  /**
   * The open LMDB environment, for a reader in the SAME process
   * (edge/replica-reader.ts ReplicaReader.attach): one environment per
   * process (FACTS: lmdb).
   */
  rootEnv(): RootDatabase {
    return this.env;
  }

  /** Resolves once every commit so far is on disk. */
  async flushed(): Promise<void> {
    await this.env.flushed;
  }

  /** Waits for pending writes and their flush, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.env.flushed;
    await this.env.close();
  }
}

export interface ReplicaCounts {
  readonly codes: number;
  readonly display: number;
  readonly venues: number;
  readonly risk: number;
  readonly rules: number;
}

/** One database of a replica image: raw encoded values (as stored), keys in ascending LMDB order. */
export interface ReplicaImageDb<K extends Uint8Array | string> {
  entries(): Iterable<readonly [K, Uint8Array]>;
  has(key: K): boolean;
}

/** A whole replica at a snapshot sequence (sync/snapshot-fetch.ts opens a downloaded snapshot as one). */
export interface ReplicaImage {
  readonly seq: number;
  readonly codes: ReplicaImageDb<Uint8Array>;
  readonly venues: ReplicaImageDb<string>;
  readonly risk: ReplicaImageDb<string>;
  readonly rules: ReplicaImageDb<string>;
  /** META_KEYS of the image */
  readonly keys: unknown;
}

export interface MergeCounts {
  readonly put: number;
  readonly deleted: number;
  readonly unchanged: number;
}

export interface LoadSnapshotResult {
  readonly mode: 'bulk' | 'merge';
  readonly seq: number;
  readonly codes: MergeCounts;
  readonly venues: MergeCounts;
  readonly risk: MergeCounts;
  readonly rules: MergeCounts;
}

function entryCount(db: Database<unknown, Uint8Array> | Database<unknown, string>): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * Inside the caller's write transaction: makes `live` hold exactly `image`.
 * Pass 1 collects live keys the image lacks (reading only, so the cursor
 * never sees its own writes), pass 2 puts what differs, then the deletes.
 * `changed` is called for every key put or deleted (the codes db drops the
 * uid's display entry there).
 */
function mergeDb<K extends Uint8Array | string>(
  live: Database<Uint8Array, K>,
  image: ReplicaImageDb<K>,
  tick: (() => void) | undefined,
  changed: ((key: K) => void) | undefined,
): MergeCounts {
  const gone: K[] = [];
  for (const key of live.getKeys()) {
    if (!image.has(key as K)) gone.push((typeof key === 'string' ? key : Buffer.from(key as Uint8Array)) as K);
  }
  let put = 0;
  let unchanged = 0;
  for (const [key, value] of image.entries()) {
    const cur = live.getBinaryFast(key);
    if (cur !== undefined && sameBytes(cur.subarray(0, cur.length), value)) {
      unchanged++;
    } else {
      live.putSync(key, value);
      changed?.(key);
      put++;
    }
    tick?.();
  }
  for (const key of gone) {
    live.removeSync(key);
    changed?.(key);
  }
  return { put, deleted: gone.length, unchanged };
}

/**
 * edge/replica-reader.ts carries the same logic (edge may import only core/):
 * keep the two in step.
 */
async function putDisplayEntry(
  codes: Database<Uint8Array, Uint8Array>,
  display: Database<Uint8Array, Uint8Array>,
  uid: Uint8Array,
  entry: Uint8Array,
  ifCodeSeq: number | undefined,
): Promise<boolean> {
  if (!isUid(uid)) throw new TypeError(`display uid must be ${UID_BYTES} bytes`);
  if (ifCodeSeq === undefined) return display.put(uid, entry);
  // lmdb-js `transaction`: the callback runs inside the next batched write
  // txn, so the check and the put are atomic with respect to applyBatch.
  return display.transaction(function checkAndPut() {
    const buf = codes.getBinaryFast(uid);
    if (buf === undefined) return false;
    if (decodeCodeRecord(buf.subarray(0, buf.length)).seq !== ifCodeSeq) return false;
    display.putSync(uid, entry);
    return true;
  });
}
