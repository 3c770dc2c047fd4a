import type { Database } from 'lmdb';

/**
 * The code changes of one apply transaction as columns of byte offsets
 * (issue 14 item 4): change k's uid is `bufs[k][uidAt[k]..+16]` and its
 * replica value `bufs[k][valueAt[k]..+valueLen[k]]` (valueLen −1: delete).
 * Packed batches (delta-packed.ts) add their changes without copying a
 * byte; changes of the object form add a small buffer they encoded.
 *
 * `apply` writes them in ascending uid order (stable: a uid changed twice
 * keeps its seq order, so the last change wins). Sorted puts walk the
 * B-tree left to right (each leaf page copied once, and in cache: see
 * ReplicaWriter.applySorted). The sort is a native Float64Array sort on
 * (first 32 bits of the uid) · 2^21 + arrival index — exact in a double —
 * instead of a comparator over 1M strings; the rare runs of equal 32-bit
 * prefixes are then ordered by the whole uid.
 */
const UID_BYTES = 16;
const INDEX_BITS = 2 ** 21;

export class CodeOps {
  private readonly bufs: Buffer[] = [];
  private uidAt: Int32Array;
  private valueAt: Int32Array;
  private valueLen: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    const c = Math.max(16, capacity);
    this.uidAt = new Int32Array(c);
    this.valueAt = new Int32Array(c);
    this.valueLen = new Int32Array(c);
  }

  get size(): number {
    return this.n;
  }

  /** Changes must be added in seq order. */
  add(buf: Buffer, uidAt: number, valueAt: number, valueLen: number): void {
    if (this.n === this.uidAt.length) this.grow();
    this.bufs.push(buf);
    this.uidAt[this.n] = uidAt;
    this.valueAt[this.n] = valueAt;
    this.valueLen[this.n] = valueLen;
    this.n++;
  }

  private grow(): void {
    const c = this.uidAt.length * 2;
    for (const k of ['uidAt', 'valueAt', 'valueLen'] as const) {
      const next = new Int32Array(c);
      next.set(this[k]);
      this[k] = next;
    }
  }

  private prefix(k: number): number {
    return this.bufs[k]!.readUInt32BE(this.uidAt[k]!);
  }

  private uid(k: number): Buffer {
    const at = this.uidAt[k]!;
    return this.bufs[k]!.subarray(at, at + UID_BYTES);
  }

  private compareUid(a: number, b: number): number {
    const x = this.bufs[a]!;
    const y = this.bufs[b]!;
    return x.compare(y, this.uidAt[b]!, this.uidAt[b]! + UID_BYTES, this.uidAt[a]!, this.uidAt[a]! + UID_BYTES);
  }

  /**
   * Arrival indexes in (uid, arrival) order, and beside each its uid's first
   * 32 bits (so the apply loop tells neighbours apart without touching bytes).
   */
  sortedOrder(): { order: Int32Array; prefixes: Float64Array } {
    const n = this.n;
    const order = new Int32Array(n);
    const keys = new Float64Array(n);
    if (n >= INDEX_BITS) {
      // more than 2M changes in one transaction (not with the follower's defaults): comparator sort
      const idx = Array.from({ length: n }, (_, i) => i);
      idx.sort((a, b) => this.compareUid(a, b) || a - b);
      order.set(idx);
      for (let i = 0; i < n; i++) keys[i] = this.prefix(order[i]!);
      return { order, prefixes: keys };
    }
    for (let k = 0; k < n; k++) keys[k] = this.prefix(k) * INDEX_BITS + k;
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = keys[i]! % INDEX_BITS;
    // runs of one 32-bit prefix: the same uid (already in arrival order) or, rarely, different uids
    let i = 0;
    while (i < n) {
      const p = Math.floor(keys[i]! / INDEX_BITS);
      let j = i + 1;
      while (j < n && Math.floor(keys[j]! / INDEX_BITS) === p) j++;
      if (j - i > 1) {
        const run = Array.from(order.subarray(i, j));
        run.sort((a, b) => this.compareUid(a, b) || a - b);
        order.set(run, i);
      }
      i = j;
    }
    for (let i = 0; i < n; i++) keys[i] = Math.floor(keys[i]! / INDEX_BITS);
    return { order, prefixes: keys };
  }

  /**
   * Inside the caller's write transaction: every change put or deleted in
   * uid order; for each distinct uid, its display entry deleted (when
   * `dropDisplays`) and the uid listed. Returns the distinct uids (views into
   * the batches), or null past `maxChanged`.
   */
  apply(
    codes: Database<Uint8Array, Uint8Array>,
    display: Database<Uint8Array, Uint8Array>,
    dropDisplays: boolean,
    maxChanged: number,
  ): Uint8Array[] | null {
    const { order, prefixes } = this.sortedOrder();
    const changed: Uint8Array[] = [];
    let distinct = 0;
    const n = this.n;
    // No allocation per change (1M changes = 2M short-lived views otherwise):
    // one key buffer, refilled; and per source buffer one view whose
    // `start`/`end` lmdb-js reads as the value's position in its ArrayBuffer
    // (write.js writeInstructions: "buffers with start/end position", the
    // form msgpackr's reused buffers take). Both are copied into the write
    // instruction at once (sync write), so reusing them is safe; the tests
    // compare the stored bytes with the object form's.
    const key = Buffer.allocUnsafe(UID_BYTES);
    type View = Buffer<ArrayBufferLike> & { start: number; end: number };
    const views = new Map<Buffer, View>();
    let lastSrc: Buffer | null = null;
    let view: View = Object.assign(Buffer.alloc(0), { start: 0, end: 0 });
    for (let i = 0; i < n; i++) {
      const k = order[i]!;
      const src = this.bufs[k]!;
      const u = this.uidAt[k]!;
      for (let b = 0; b < UID_BYTES; b++) key[b] = src[u + b]!;
      const len = this.valueLen[k]!;
      if (len < 0) {
        codes.removeSync(key);
      } else {
        if (src !== lastSrc) {
          lastSrc = src;
          const known = views.get(src);
          if (known !== undefined) view = known;
          else views.set(src, (view = Object.assign(Buffer.from(src.buffer, src.byteOffset, src.length), { start: 0, end: 0 })));
        }
        view.start = src.byteOffset + this.valueAt[k]!;
        view.end = view.start + len;
        codes.putSync(key, view);
      }
      // the same uid again right after: one display delete, one changed entry
      if (i + 1 < n && prefixes[i] === prefixes[i + 1] && this.compareUid(k, order[i + 1]!) === 0) continue;
      if (dropDisplays) display.removeSync(key);
      distinct++;
      if (distinct <= maxChanged) changed.push(this.uid(k));
    }
    return distinct > maxChanged ? null : changed;
  }
}
