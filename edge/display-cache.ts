import { SLOT_BYTES, UID_OFFSET } from './session-cache.js';

/**
 * The active set's GET /v1/code bodies in this process's memory, keyed by
 * uid, validated by the replica's applied sequence (issue 14).
 *
 * WHY. A display served from LMDB pays a B-tree descent into cold pages and
 * a copy into lmdb-js's shared buffer (bench:edge perf: ≈ 1.5 µs of a 9 µs
 * request, more than the 10 % a 0.9-of-hello-world target leaves). Here a
 * hit reads the arena index from the session's own slot (already in cache
 * after the session lookup) and then ONE arena entry: uid, expiry, length
 * and the start of the body share its first cache line.
 *
 * Layout. A flat arena of `entries` × ENTRY_BYTES, allocated up front:
 *
 *   bytes 0–15   uid
 *   bytes 16–19  stored expiry (unix s, BE; the display entry's, which
 *                already accounts for notices ending — replica-layout.ts)
 *   bytes 20–21  body length (BE)
 *   bytes 22–23  generation (BE): an entry of an older generation is empty
 *   bytes 24..   the body, as stored in LMDB after its 6-byte header
 *
 * The session slot (edge/session-cache.ts, bytes 37–63 unused there) holds
 * `arena index + 1` at SLOT_ENTRY_OFFSET. A hit also compares the entry's
 * uid with the session's: a reused session slot or a reused arena entry is
 * a miss, never someone else's body.
 *
 * Validity. The server calls `validate` once per event-loop turn before
 * serving from here (edge/server.ts): when the replica's applied sequence
 * moved, the writer's change log (replica-layout.ts "changes") names the
 * uids whose codes changed and exactly those bodies are dropped; a gap in
 * the log (trimmed, a snapshot load, a mass change logged as "everything")
 * drops them all (one generation bump). So a body is never served from here
 * past the turn in which LMDB itself would have stopped serving it.
 *
 * Filling: only from a display entry read from LMDB (which obeys the
 * replica invariant), never from a freshly rendered body — the next display
 * of that person reads the stored entry and fills. Replacement: a clock
 * hand over the arena (no per-hit bookkeeping); a uid keeps its entry while
 * it lives (`byUid`), so one person's two sessions share one body.
 */
export const ENTRY_BYTES = 512;
const HEADER = 24;
/** the largest body kept here; larger ones (many notices) are served from LMDB */
export const MAX_CACHED_BODY = ENTRY_BYTES - HEADER;
/** where a session slot keeps its arena index + 1 (uint32, little-endian through a Uint32Array: 4-aligned, slots are 64 bytes) */
export const SLOT_ENTRY_OFFSET = 40;
const UID_BYTES = 16;

/** What validate reads: the replica's change log (ReplicaReader.changesAfter). */
export interface ChangeLog {
  changesAfter(after: number, upTo: number, drop: (src: Uint8Array, off: number) => void): boolean;
}

export class DisplayCache {
  readonly entries: number;
  private readonly arena: Uint8Array;
  /** the session table, as 32-bit words (SLOT_ENTRY_OFFSET) */
  private readonly slotWords: Uint32Array;
  private readonly byUid = new Map<string, number>();
  /** a view of each entry's body, made when it is filled: a hit allocates nothing */
  private readonly views: (Uint8Array | undefined)[];
  private hand = 0;
  private gen = 1;
  /** the replica's applied sequence these bodies are valid at (−1: none yet) */
  seq = -1;
  hits = 0;
  fills = 0;
  dropped = 0;
  flushes = 0;

  constructor(entries: number, sessionTable: Uint8Array) {
    if (!Number.isInteger(entries) || entries < 1) throw new RangeError(`display cache entries ${entries}: must be a whole number ≥ 1`);
    if (sessionTable.byteOffset % 4 !== 0 || sessionTable.byteLength % SLOT_BYTES !== 0) throw new RangeError('session table must be 4-aligned whole slots');
    this.entries = entries;
    this.arena = new Uint8Array(entries * ENTRY_BYTES);
    this.views = new Array<Uint8Array | undefined>(entries).fill(undefined);
    this.slotWords = new Uint32Array(sessionTable.buffer, sessionTable.byteOffset, sessionTable.byteLength >> 2);
  }

  /**
   * HOT PATH. The body cached for the session at `slot` (a byte offset in
   * `table`, SessionCache.lookup) if its stored expiry is after `validAfter`;
   * undefined otherwise. The view is a fresh Uint8Array over the arena (no
   * copy), valid until this entry is refilled: send it synchronously.
   */
  body(table: Uint8Array, slot: number, validAfter: number): Uint8Array | undefined {
    const a = this.slotWords[(slot + SLOT_ENTRY_OFFSET) >> 2]!;
    if (a === 0 || a > this.entries) return undefined;
    const arena = this.arena;
    const off = (a - 1) * ENTRY_BYTES;
    if (((arena[off + 22]! << 8) | arena[off + 23]!) !== this.gen) return undefined;
    const u = slot + UID_OFFSET;
    for (let k = 0; k < UID_BYTES; k++) if (arena[off + k] !== table[u + k]) return undefined;
    const exp = ((arena[off + 16]! << 24) >>> 0) + (arena[off + 17]! << 16) + (arena[off + 18]! << 8) + arena[off + 19]!;
    if (exp <= validAfter) return undefined;
    this.hits++;
    return this.views[a - 1];
  }

  /** Keeps a body read from LMDB for the session at `slot` (slow path: the first display of a session in this process). */
  fill(table: Uint8Array, slot: number, body: Uint8Array, expiresAt: number): void {
    if (body.length > MAX_CACHED_BODY) return;
    const u = slot + UID_OFFSET;
    const key = latin1(table, u);
    let a = this.byUid.get(key);
    const arena = this.arena;
    if (a === undefined) {
      a = this.hand;
      this.hand = (this.hand + 1) % this.entries;
      const old = a * ENTRY_BYTES;
      if (((arena[old + 22]! << 8) | arena[old + 23]!) === this.gen) {
        const oldKey = latin1(arena, old);
        if (this.byUid.get(oldKey) === a) this.byUid.delete(oldKey);
      }
      this.byUid.set(key, a);
    }
    const off = a * ENTRY_BYTES;
    arena.set(table.subarray(u, u + UID_BYTES), off);
    arena[off + 16] = expiresAt >>> 24;
    arena[off + 17] = (expiresAt >>> 16) & 0xff;
    arena[off + 18] = (expiresAt >>> 8) & 0xff;
    arena[off + 19] = expiresAt & 0xff;
    arena[off + 20] = body.length >>> 8;
    arena[off + 21] = body.length & 0xff;
    arena[off + 22] = this.gen >>> 8;
    arena[off + 23] = this.gen & 0xff;
    arena.set(body, off + HEADER);
    if (this.views[a]?.length !== body.length) this.views[a] = new Uint8Array(arena.buffer, arena.byteOffset + off + HEADER, body.length);
    this.slotWords[(slot + SLOT_ENTRY_OFFSET) >> 2] = a + 1;
    this.fills++;
  }

  /** Drops the body of the uid at `src[off..off+16)` (a change-log entry). */
  dropUid(src: Uint8Array, off: number): void {
    const a = this.byUid.get(latin1(src, off));
    if (a === undefined) return;
    const e = a * ENTRY_BYTES;
    this.arena[e + 22] = 0;
    this.arena[e + 23] = 0;
    this.dropped++;
  }

  /** Drops every body: one generation bump (a full clear only when the 16-bit generation wraps). */
  dropAll(): void {
    this.byUid.clear();
    this.flushes++;
    this.gen = (this.gen + 1) & 0xffff;
    if (this.gen === 0) {
      this.arena.fill(0);
      this.gen = 1;
    }
  }

  /**
   * Brings the cache to `appliedSeq`: `log.changesAfter(seq, appliedSeq, drop)`
   * calls `drop` for each changed uid and returns false when the log cannot
   * say what changed — then everything goes.
   */
  validate(appliedSeq: number, log: ChangeLog): void {
    if (appliedSeq === this.seq) return;
    if (this.seq < 0 || appliedSeq < this.seq || !log.changesAfter(this.seq, appliedSeq, this.dropFn)) this.dropAll();
    this.seq = appliedSeq;
  }

  private readonly dropFn = (src: Uint8Array, off: number): void => this.dropUid(src, off);
}

function latin1(src: Uint8Array, off: number): string {
  return Buffer.from(src.buffer, src.byteOffset + off, UID_BYTES).toString('latin1');
}
