import { SESSION_BYTES, SESSION_TEXT_LENGTH, SESSION_UID_BYTES, SESSION_VERSION } from '../core/session-token.js';

/**
 * Verified citizen sessions, so a repeat display pays one table probe
 * instead of base64url decoding + HMAC-SHA256 (≈ 2 µs, FACTS) on every
 * request.
 *
 * WHY a flat table and not a Map. Measured here (bench:edge, perf; 200k
 * active sessions, random order, the display path of one server core): a
 * `Map<header string, {uid Buffer, expiresAt}>` cost ≈ 1.3 µs a request —
 * the Map's bucket, its entry, the stored key string, the session object,
 * the Buffer object and its backing store are six dependent cache misses,
 * and a miss to DRAM costs ≈ 300 ns on this VM (a pointer chase over 64 MiB:
 * 280 ns). Against a uWS hello-world answering in ≈ 4.6 µs of CPU, that
 * alone was 0.2 of the ceiling. Here a lookup decodes the 50 token
 * characters in registers (≈ 60 ns) and touches ONE 64-byte slot.
 *
 * Keyed by the token's bytes, not by the header's spelling: the hot path
 * decodes exactly `Bearer <50 characters>`; other spellings the slow path
 * accepts (`bearer`, extra spaces) find the same slot through `find`.
 * Only tokens that verifySession accepted are ever stored (`remember`), so
 * unauthenticated callers cannot fill the table, and a lookup compares all
 * 37 bytes: a forged token never matches.
 *
 * Slot layout (64 bytes: one cache line when the table is line-aligned, at
 * most two adjacent ones otherwise):
 *
 *   bytes 0–36   the session token as verified (core/session-token.ts):
 *                  0       version = 1   (0 marks an empty slot)
 *                  1–16    uid           ← UID_OFFSET: the replica key, read in place
 *                  17–20   expires at, unix seconds, big-endian
 *                  21–36   HMAC-SHA256, first 16 bytes
 *   bytes 37–63  unused
 *
 * Open addressing: the home slot is taken from the first MAC bytes — an
 * HMAC output, uniform for real tokens; forged ones never get in — and
 * probing is linear over at most PROBE_WINDOW slots (bounded work per
 * request, whatever the input). The table has ≥ 2 × capacity slots (load ≤
 * ½). When a window is full, inserting overwrites an expired slot, or else
 * one chosen round-robin in the window: random replacement, no per-entry LRU
 * bookkeeping on the hot path. Memory, allocated up front: 128–256 bytes a
 * session (16 MiB for the default 131072).
 *
 * Expiry is checked on every hit: a cached session is never honoured past
 * its `expiresAt`.
 */
export interface CachedSession {
  /** 16-byte uid, the replica key */
  readonly uid: Buffer;
  /** unix seconds */
  readonly expiresAt: number;
}

export const SLOT_BYTES = 64;
/** the table is allocated up front (≤ 4 slots a session): 2^24 sessions = 2 GiB at most */
export const MAX_CAPACITY = 1 << 24;
/** where a slot's uid starts (the replica key of the session at `slot + UID_OFFSET`) */
export const UID_OFFSET = 1;
const EXP_OFFSET = 1 + SESSION_UID_BYTES;
const MAC_OFFSET = EXP_OFFSET + 4;
/**
 * Marks a wiped slot (sweep): the last expiry byte, with the other three 0
 * (expiry 0x000000ff = 1970: expired for every lookup and insert). A live
 * session's expiry is never that small.
 */
const TOMBSTONE = 0xff;
/** slots probed at most per lookup or insert */
export const PROBE_WINDOW = 16;
/**
 * Slot bytes 0–39 as 32-bit words: the 37 token bytes and bytes 37–39, which
 * nothing writes (remember copies 37 bytes; the display cache's index is at
 * 40; sweep zeroes them), so they compare equal to the scratch's zero tail.
 */
const MATCH_WORDS = 10;
const PREFIX = 'Bearer ';
/** "Bearer " + 50 characters */
const HEADER_LENGTH = PREFIX.length + SESSION_TEXT_LENGTH;

/** base64url alphabet (RFC 4648 §5) → 6-bit value; −1 for anything else. */
const B64 = new Int8Array(128).fill(-1);
{
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < 64; i++) B64[abc.charCodeAt(i)] = i;
}

export class SessionCache {
  readonly capacity: number;
  /** the slots (read in place by ReplicaReader.freshDisplayBody, at slot + UID_OFFSET) */
  readonly table: Uint8Array;
  private readonly mask: number;
  /** the table as 32-bit words: a slot's first 40 bytes (the token, then 3 bytes always 0) compared as 10 words */
  private readonly words: Uint32Array;
  /** the token being looked up or inserted, decoded (40 bytes: 37 + 3 zero, compared as words) */
  private readonly scratchWords = new Uint32Array(MATCH_WORDS);
  private readonly scratch = new Uint8Array(this.scratchWords.buffer, 0, SESSION_BYTES);
  private victim = 0;
  /** occupied slots (expired ones included until they are reused) */
  size = 0;
  /** live sessions overwritten because their window was full (metrics) */
  evictions = 0;
  /** expired sessions emptied by sweep() */
  swept = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new RangeError(`session cache capacity ${capacity}: must be a whole number 1–${MAX_CAPACITY}`);
    }
    this.capacity = capacity;
    let slots = PROBE_WINDOW;
    while (slots < 2 * capacity) slots *= 2;
    this.table = new Uint8Array(slots * SLOT_BYTES);
    this.words = new Uint32Array(this.table.buffer);
    this.mask = slots - 1;
  }

  /**
   * HOT PATH. The slot offset of the session in an `Authorization` header
   * of exactly the form `Bearer <token>`, if cached and not expired at
   * `nowSec`; −1 otherwise (not seen yet, expired, another spelling, or not
   * a token at all — the caller's slow path sorts these out).
   */
  lookup(header: string, nowSec: number): number {
    if (header.length !== HEADER_LENGTH || !header.startsWith(PREFIX)) return -1;
    return this.decode(header, PREFIX.length) ? this.probe(nowSec) : -1;
  }

  /** Like lookup, for the token text alone (slow path: any header spelling). */
  find(token: string, nowSec: number): number {
    if (token.length !== SESSION_TEXT_LENGTH) return -1;
    return this.decode(token, 0) ? this.probe(nowSec) : -1;
  }

  /**
   * Background sweep (issue 14): wipes the expired sessions among `count`
   * slots from slot index `from` and returns where the next call starts
   * (wrapping). The server calls it from its timer in small steps, never on
   * a request, so an expired session's uid and MAC do not stay in memory
   * until an insert happens to probe its slot.
   *
   * A wiped slot keeps its version byte (a tombstone: occupied, expiry 255,
   * MAC zero): lookups stop probing only at a never-used slot, so emptying
   * one in the middle of a probe run would hide the sessions after it; an
   * insert reuses a tombstone like any expired slot, and `size` (occupied
   * slots, expired included) is unchanged.
   */
  sweep(from: number, count: number, nowSec: number): number {
    const t = this.table;
    let i = from & this.mask;
    for (let n = 0; n < count; n++) {
      const o = i * SLOT_BYTES;
      if (t[o] === 0) {
        i = (i + 1) & this.mask;
        continue;
      }
      const exp = this.expiresAt(o);
      if (exp <= nowSec && exp !== TOMBSTONE) {
        t.fill(0, o + 1, o + SLOT_BYTES);
        t[o + MAC_OFFSET - 1] = TOMBSTONE;
        this.swept++;
      }
      i = (i + 1) & this.mask;
    }
    return i;
  }

  /**
   * Stores a token that verifySession has just accepted; returns its slot.
   * Throws on text that is not a canonical token (a caller bug: verified
   * tokens always are).
   */
  remember(token: string, nowSec: number): number {
    if (token.length !== SESSION_TEXT_LENGTH || !this.decode(token, 0)) throw new TypeError('not a canonical session token');
    const t = this.table;
    const s = this.scratch;
    const home = this.home();
    let free = -1;
    let expired = -1;
    for (let p = 0; p < PROBE_WINDOW; p++) {
      const o = ((home + p) & this.mask) * SLOT_BYTES;
      if (t[o] === 0) {
        if (free < 0) free = o;
        continue;
      }
      if (this.matches(o)) return o;
      if (expired < 0 && this.expiresAt(o) <= nowSec) expired = o;
    }
    let o = free >= 0 ? free : expired;
    if (o < 0) {
      o = ((home + (this.victim++ % PROBE_WINDOW)) & this.mask) * SLOT_BYTES;
      this.evictions++;
    } else if (o === free) {
      this.size++;
    }
    t.set(s, o);
    return o;
  }

  /** unix seconds at which the session in `slot` expires */
  expiresAt(slot: number): number {
    const t = this.table;
    const o = slot + EXP_OFFSET;
    return ((t[o]! << 24) >>> 0) + (t[o + 1]! << 16) + (t[o + 2]! << 8) + t[o + 3]!;
  }

  /** The session in `slot` as an object (slow paths: allocates). */
  sessionAt(slot: number): CachedSession {
    return { uid: Buffer.from(this.table.subarray(slot + UID_OFFSET, slot + UID_OFFSET + SESSION_UID_BYTES)), expiresAt: this.expiresAt(slot) };
  }

  clear(): void {
    this.table.fill(0);
    this.size = 0;
  }

  /** Decodes 50 base64url characters of `text` from `start` into scratch; false unless canonical. */
  private decode(text: string, start: number): boolean {
    const s = this.scratch;
    let bad = 0;
    // every character's code OR'ed: ≥ 128 means a character outside the alphabet (the table
    // is indexed by the low 7 bits — no branch per character; with the word compare in matches(), a lookup went
    // 380–435 → 295–327 ns at 5k sessions in a same-process micro-run, edge/CLOSING.md)
    let high = 0;
    let o = 0;
    const end = start + SESSION_TEXT_LENGTH - 2;
    for (let i = start; i < end; i += 4) {
      const ca = text.charCodeAt(i);
      const cb = text.charCodeAt(i + 1);
      const cc = text.charCodeAt(i + 2);
      const cd = text.charCodeAt(i + 3);
      high |= ca | cb | cc | cd;
      const a = B64[ca & 127]!;
      const b = B64[cb & 127]!;
      const c = B64[cc & 127]!;
      const d = B64[cd & 127]!;
      bad |= a | b | c | d;
      const v = (a << 18) | (b << 12) | (c << 6) | d;
      s[o] = v >>> 16;
      s[o + 1] = v >>> 8;
      s[o + 2] = v;
      o += 3;
    }
    // 37 bytes = 296 bits in 50 characters (300 bits): the last one carries 2 bits and
    // 4 zero bits — anything else is a non-canonical spelling, refused as verifySession does.
    const ca = text.charCodeAt(end);
    const cb = text.charCodeAt(end + 1);
    high |= ca | cb;
    const a = B64[ca & 127]!;
    const b = B64[cb & 127]!;
    bad |= a | b | -(b & 0x0f);
    s[36] = (a << 2) | (b >>> 4);
    return bad >= 0 && high < 128 && s[0] === SESSION_VERSION;
  }

  private home(): number {
    const s = this.scratch;
    return ((s[MAC_OFFSET]! << 24) | (s[MAC_OFFSET + 1]! << 16) | (s[MAC_OFFSET + 2]! << 8) | s[MAC_OFFSET + 3]!) & this.mask;
  }

  /** Does slot `o` hold the scratch token? MAC bytes first: a wrong slot differs at once. */
  private matches(o: number): boolean {
    const w = this.words;
    const s = this.scratchWords;
    const b = o >> 2;
    // words 5–9 (bytes 20–39: the MAC) first, then 0–4
    for (let k = 5; k < MATCH_WORDS; k++) if (w[b + k] !== s[k]) return false;
    for (let k = 0; k < 5; k++) if (w[b + k] !== s[k]) return false;
    return true;
  }

  private probe(nowSec: number): number {
    const t = this.table;
    const home = this.home();
    for (let p = 0; p < PROBE_WINDOW; p++) {
      const o = ((home + p) & this.mask) * SLOT_BYTES;
      if (t[o] === 0) return -1; // nothing was ever stored past a never-used slot of this window
      if (this.matches(o)) return this.expiresAt(o) > nowSec ? o : -1;
    }
    return -1;
  }
}
