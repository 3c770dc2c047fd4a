import { hasHan, initialsOf } from './venue-text.js';

/**
 * The in-memory fuzzy index's data (venue-index.ts keeps it current from the
 * table and verifies hits): names as slots, their grams as integer ids,
 * posting lists as one Int32Array, everything else in typed arrays.
 *
 * Why this shape (measured with `npm run bench:tracing-search`, 1M bench
 * names; see tracing/README.md "Numbers"): the previous index kept a
 * `Map<string, number[]>` of posting lists, a string per name and a boolean[]
 * — 458 MB heap and 345 s to build 1M venues at load 18, p99 512 ms. Here:
 *
 * - A gram is a number (two code points → cpA·2²¹ + cpB; initials grams
 *   negative), interned to a dense id. A slot's gram ids are kept in one
 *   Int32Array (`fwd`, the forward index), so a candidate is scored against
 *   the whole query by summing the query's weight per gram id (a Float32Array
 *   indexed by gram id) — no posting-list search.
 * - Posting lists are built in one pass (count per gram, allocate one
 *   Int32Array, fill) after the bulk load and again when the slots added since
 *   (renames, new venues: kept in small per-gram arrays meanwhile) reach 1/16
 *   of the whole; dead slots (renamed, deleted) are left out then.
 * - Names are UTF-16 units in one Uint16Array (length for ranking, the
 *   one-character substring scan); regions interned to ids.
 *
 * Search: a name missing at most `x` of the query's weight holds at least
 * one gram of any set of query grams weighing more than `x`; so the RAREST
 * grams are read first, only until their weight passes `x`, and each slot
 * met the first time is scored in full from `fwd` (a typed score per slot,
 * reset through the touched list). Tiers x = 1.5, 3.5 (one wrong character
 * in the middle of a name misses two bigrams and maybe two initials bigrams:
 * 3), then half the weight: the first tier answers when it has a name
 * holding the whole text or 10 names (tier 1), or any name (tier 2) — the
 * whole bench names (the traditional form) went from p50 17.0 to 1.2 ms
 * at 1M venues; names holding only half the text are looked
 * for only when nothing closer exists — that last tier is what reads long
 * lists.
 *
 * Early stop: posting lists are in (name length, slot) order, and a name
 * holding every query gram is in every list; so once `limit` such names were
 * met in a list, no later name can rank above them and the search is over.
 * A partial name ('建设路', in 5% of the bench names) reads ~limit entries
 * instead of 50,000.
 */
export interface RankedSlot {
  readonly id: string;
  readonly score: number;
}

const B = 0x200000; // 2^21 > any code point
/** a posting list this long (a word in 2% of 1M names) is read only while nothing was found */
const COMMON_MIN = 20_000;

class GrowI32 {
  a: Int32Array;
  n = 0;
  constructor(cap = 1024) {
    this.a = new Int32Array(cap);
  }
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  /** drop the doubling slack (after a bulk load: up to half the array) */
  trim(): void {
    this.a = this.a.slice(0, Math.max(this.n, 1));
  }
}

/** the distinct gram keys of a normalised name: name bigrams (positive) and initials bigrams (negative) */
export function nameGramKeys(norm: string, out: number[]): number[] {
  out.length = 0;
  pairs(norm, 1, out);
  pairs(initialsOf(norm), -1, out);
  return out;
}

/** a one-code-point text is its own gram; else its bigrams */
function pairs(s: string, sign: 1 | -1, out: number[]): void {
  let prev = -1;
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (prev !== -1) out.push(sign * (prev * B + cp));
    prev = cp;
    count++;
  }
  if (count === 1) out.push(sign * prev);
}

/** the query's gram keys with weights: its own bigrams 1 and initials 0.5 when Chinese; initials 1 when Latin (venue-text.ts queryGrams) */
export function queryGramKeys(norm: string): { keys: number[]; weights: number[]; total: number } {
  const keys: number[] = [];
  const weights: number[] = [];
  const add = (list: number[], w: number): void => {
    for (const k of list) {
      if (keys.includes(k)) continue;
      keys.push(k);
      weights.push(w);
    }
  };
  const tmp: number[] = [];
  if (hasHan(norm)) {
    pairs(norm, 1, tmp);
    add(tmp, 1);
    tmp.length = 0;
    pairs(initialsOf(norm), -1, tmp);
    add(tmp, 0.5);
  } else {
    pairs(norm, -1, tmp);
    add(tmp, 1);
  }
  let total = 0;
  for (const w of weights) total += w;
  return { keys, weights, total };
}

/** slots per step of a yielding compaction (a few ms at ~20 grams a name) */
const STEP_MASK = (1 << 14) - 1;

export class VenuePostings {
  // ---- slots ----
  private ids: string[] = [];
  private slotCap = 1024;
  private region = new Int32Array(this.slotCap);
  private alive = new Uint8Array(this.slotCap);
  private nameStart = new Int32Array(this.slotCap + 1);
  private fwdStart = new Int32Array(this.slotCap + 1);
  private readonly units = new GrowI32Units();
  private readonly fwd = new GrowI32(1 << 16);
  private readonly slotOf = new Map<string, number>();
  private readonly regionIds = new Map<string, number>();
  private readonly regionNames: string[] = [];
  // ---- grams ----
  private readonly gramIds = new Map<number, number>();
  private gramCount = 0;
  // ---- posting lists: CSR over slots [0, base), per-gram arrays for slots added since ----
  private postStart = new Int32Array(1);
  private post = new Int32Array(0);
  private base = 0;
  private tail = new Map<number, number[]>();
  private tailSlots = 0;
  private bulk = false;
  /** the last rank(): posting entries read and names scored (the bench reports them) */
  readonly last = { read: 0, scored: 0 };
  // ---- search scratch ----
  private score = new Float32Array(1024);
  private qw = new Float32Array(1024);
  private readonly touched = new GrowI32();
  private readonly keysScratch: number[] = [];
  private seen = new Int32Array(1024);

  /** live entries */
  get size(): number {
    return this.slotOf.size;
  }

  /** bytes held in typed arrays (the rest — ids, maps — is on the JS heap) */
  get typedBytes(): number {
    return this.region.byteLength + this.alive.byteLength + this.nameStart.byteLength + this.fwdStart.byteLength + this.units.a.byteLength
      + this.fwd.a.byteLength + this.postStart.byteLength + this.post.byteLength + this.score.byteLength + this.qw.byteLength + this.seen.byteLength;
  }

  /** While loading many names: posting lists are built once at `endBulk()` instead of per name. */
  beginBulk(): void {
    this.bulk = true;
  }

  endBulk(): void {
    for (const _ of this.endBulkSteps()) continue;
  }

  /**
   * `endBulk()` cut into steps of 16k slots, so a caller on a server's event
   * loop can yield between them (venue-index.ts): at 5M venues the single
   * pass blocked the admin-api for seconds. No put may run until the last step.
   */
  *endBulkSteps(): Generator<void> {
    this.bulk = false;
    this.fwd.trim();
    this.units.trim();
    yield* this.compactSteps();
  }

  /** Adds or re-indexes one venue (normalised name); returns whether anything changed. */
  put(id: string, norm: string, region: string): boolean {
    const rid = this.regionId(region);
    const old = this.slotOf.get(id);
    if (old !== undefined) {
      if (this.nameOf(old) === norm) {
        this.region[old] = rid;
        return false;
      }
      this.alive[old] = 0;
    }
    const slot = this.ids.length;
    if (slot + 1 >= this.slotCap) this.growSlots();
    this.ids.push(id);
    this.slotOf.set(id, slot);
    this.region[slot] = rid;
    this.alive[slot] = 1;
    for (let i = 0; i < norm.length; i++) this.units.push(norm.charCodeAt(i));
    this.nameStart[slot + 1] = this.units.n;
    for (const key of nameGramKeys(norm, this.keysScratch)) {
      let gid = this.gramIds.get(key);
      if (gid === undefined) {
        gid = this.gramCount++;
        this.gramIds.set(key, gid);
        if (gid >= this.seen.length) this.seen = grow(this.seen, gid + 1);
      }
      if (this.seen[gid] === slot + 1) continue; // twice in one name
      this.seen[gid] = slot + 1;
      this.fwd.push(gid);
      if (!this.bulk) {
        let list = this.tail.get(gid);
        if (list === undefined) this.tail.set(gid, (list = []));
        list.push(slot);
      }
    }
    this.fwdStart[slot + 1] = this.fwd.n;
    if (!this.bulk && ++this.tailSlots > Math.max(4096, this.base >> 4)) this.compact();
    return true;
  }

  remove(id: string): void {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return;
    this.alive[slot] = 0;
    this.slotOf.delete(id);
  }

  /**
   * Posting lists of every live slot, in one pass: count per gram, allocate,
   * fill (slots ascending). ~O(grams held); 1M names ≈ 20M entries.
   */
  compact(): void {
    for (const _ of this.compactSteps()) continue;
  }

  private *compactSteps(): Generator<void> {
    const n = this.ids.length;
    const counts = new Int32Array(this.gramCount + 1);
    const fwd = this.fwd.a;
    for (let s = 0; s < n; s++) {
      if ((s & STEP_MASK) === STEP_MASK) yield;
      if (this.alive[s] === 0) continue;
      for (let j = this.fwdStart[s]!; j < this.fwdStart[s + 1]!; j++) counts[fwd[j]! + 1]!++;
    }
    for (let g = 0; g < this.gramCount; g++) counts[g + 1]! += counts[g]!;
    const post = new Int32Array(counts[this.gramCount]!);
    const fill = counts.slice(0, this.gramCount);
    // slots in (name length, slot) order, so every list is too: the shortest
    // names holding a gram come first (search stops early on them)
    const byLen = new Int32Array(257);
    for (let s = 0; s < n; s++) if (this.alive[s] !== 0) byLen[Math.min(256, this.nameStart[s + 1]! - this.nameStart[s]!)]!++;
    for (let l = 1; l <= 256; l++) byLen[l]! += byLen[l - 1]!;
    const order = new Int32Array(byLen[256]!);
    for (let s = n - 1; s >= 0; s--) if (this.alive[s] !== 0) order[--byLen[Math.min(256, this.nameStart[s + 1]! - this.nameStart[s]!)]!] = s;
    for (let k = 0; k < order.length; k++) {
      if ((k & STEP_MASK) === STEP_MASK) yield;
      const s = order[k]!;
      for (let j = this.fwdStart[s]!; j < this.fwdStart[s + 1]!; j++) post[fill[fwd[j]!]!++] = s;
    }
    this.postStart = counts;
    this.post = post;
    this.base = n;
    this.tail = new Map();
    this.tailSlots = 0;
  }

  /** Slots whose names best match the normalised text, best first (score = share of the query's weight held). */
  rank(norm: string, regionPrefix: string, limit: number): RankedSlot[] {
    const n = this.ids.length;
    if (this.score.length < n) this.score = new Float32Array(Math.max(n, this.score.length * 2));
    const allowed = new Uint8Array(this.regionNames.length);
    for (let r = 0; r < allowed.length; r++) allowed[r] = this.regionNames[r]!.startsWith(regionPrefix) ? 1 : 0;
    const cps = [...norm];
    if (cps.length === 1) return this.substring(cps[0]!, allowed, limit);

    const q = queryGramKeys(norm);
    if (this.qw.length < this.gramCount) this.qw = new Float32Array(Math.max(this.gramCount, this.qw.length * 2));
    const lists: { gid: number; w: number; len: number }[] = [];
    for (let i = 0; i < q.keys.length; i++) {
      const gid = this.gramIds.get(q.keys[i]!);
      if (gid === undefined) lists.push({ gid: -1, w: q.weights[i]!, len: 0 });
      else {
        this.qw[gid] = q.weights[i]!;
        lists.push({ gid, w: q.weights[i]!, len: this.csrLength(gid) + (this.tail.get(gid)?.length ?? 0) });
      }
    }
    lists.sort((a, b) => a.len - b.len);
    const common = Math.max(COMMON_MIN, n >> 6);
    const touched = this.touched;
    touched.n = 0;
    this.last.read = 0;
    const score = this.score;
    const W = q.total;
    const enough = Math.min(limit, 10);
    let p = 0;
    let covered = 0;
    let out: RankedSlot[] = [];
    try {
      for (const missing of [1.5, 3.5, W * 0.5]) {
        const m = Math.max(W - missing, W * 0.5);
        // read the rarest lists until they weigh more than what a name may miss
        while (p < lists.length && covered <= W - m + 1e-6) {
          const l = lists[p]!;
          if (l.len > common && touched.n > 0) break; // a common word alone finds no new names worth offering
          if (l.gid >= 0 && this.visit(l.gid, allowed, W, limit)) {
            out = this.top(W, W, limit);
            return out;
          }
          covered += l.w;
          p++;
        }
        let best = 0;
        let qualified = 0;
        for (let i = 0; i < touched.n; i++) {
          const s = score[touched.a[i]!]!;
          if (s > best) best = s;
          if (s >= m - 1e-6) qualified++;
        }
        // a name holding the whole text, or enough close names, answer; then any name missing
        // at most 3.5; only then names holding half the text
        if (qualified >= (missing === 1.5 ? enough : 1) || best >= W - 1e-6 || m === W * 0.5 || p === lists.length) {
          out = this.top(Math.max(m, best - 1.5), W, limit);
          break;
        }
      }
    } finally {
      this.last.scored = touched.n;
      for (let i = 0; i < touched.n; i++) score[touched.a[i]!] = 0;
      for (const l of lists) if (l.gid >= 0) this.qw[l.gid] = 0;
    }
    return out;
  }

  /** scores every live, in-region slot of one posting list met for the first time */
  /**
   * Scores every live, in-region slot of one posting list met for the first
   * time. Returns true when `limit` names holding EVERY query gram (score =
   * total) were met in the length-ordered part: no later name of any list
   * can rank above them (none scores more, every later one is longer or
   * equal and a later slot), so the search is over.
   */
  private visit(gid: number, allowed: Uint8Array, total: number, limit: number): boolean {
    const score = this.score;
    const fwd = this.fwd.a;
    const qw = this.qw;
    const full = total - 1e-6;
    const one = (s: number): number => {
      if (score[s] !== 0 || this.alive[s] === 0 || allowed[this.region[s]!] === 0) return 0;
      let sum = 0;
      for (let j = this.fwdStart[s]!; j < this.fwdStart[s + 1]!; j++) sum += qw[fwd[j]!]!;
      score[s] = sum; // > 0: the slot holds this gram
      this.touched.push(s);
      return sum;
    };
    // the tail (slots added since the last compaction, newer than all others) first, whole
    const t = this.tail.get(gid);
    if (t !== undefined) for (const s of t) one(s);
    const post = this.post;
    let fullHits = 0;
    if (this.csrLength(gid) > 0) {
      for (let i = this.postStart[gid]!; i < this.postStart[gid + 1]!; i++) {
        if (one(post[i]!) >= full && ++fullHits >= limit) {
          this.last.read += i + 1 - this.postStart[gid]! + (t?.length ?? 0);
          return true;
        }
      }
    }
    this.last.read += this.csrLength(gid) + (t?.length ?? 0);
    return false;
  }

  /** the best `limit` touched slots at or above `floor`: score, then shorter name, then older slot */
  private top(floor: number, total: number, limit: number): RankedSlot[] {
    const score = this.score;
    const best: { slot: number; s: number; len: number }[] = [];
    const worse = (a: { s: number; len: number; slot: number }, b: { s: number; len: number; slot: number }): boolean =>
      a.s < b.s || (a.s === b.s && (a.len > b.len || (a.len === b.len && a.slot > b.slot)));
    for (let i = 0; i < this.touched.n; i++) {
      const slot = this.touched.a[i]!;
      const s = score[slot]!;
      if (s < floor - 1e-6) continue;
      const c = { slot, s, len: this.nameStart[slot + 1]! - this.nameStart[slot]! };
      if (best.length === limit && !worse(best[limit - 1]!, c)) continue;
      let k = best.length === limit ? limit - 1 : best.length;
      while (k > 0 && worse(best[k - 1]!, c)) {
        best[k] = best[k - 1]!;
        k--;
      }
      best[k] = c;
    }
    return best.map((b) => ({ id: this.ids[b.slot]!, score: Math.min(1, b.s / total) }));
  }

  /** one character: no bigram to look up, the names holding it (a scan of the name units, a few ms per million) */
  private substring(ch: string, allowed: Uint8Array, limit: number): RankedSlot[] {
    const u = this.units.a;
    const c0 = ch.charCodeAt(0);
    const c1 = ch.length > 1 ? ch.charCodeAt(1) : -1;
    const hits: { slot: number; len: number }[] = [];
    for (let s = 0; s < this.ids.length; s++) {
      if (this.alive[s] === 0 || allowed[this.region[s]!] === 0) continue;
      const a = this.nameStart[s]!;
      const b = this.nameStart[s + 1]!;
      for (let i = a; i < b; i++) {
        if (u[i] === c0 && (c1 === -1 || u[i + 1] === c1)) {
          hits.push({ slot: s, len: b - a });
          break;
        }
      }
    }
    hits.sort((x, y) => x.len - y.len || x.slot - y.slot);
    return hits.slice(0, limit).map((h) => ({ id: this.ids[h.slot]!, score: 1 }));
  }

  /** a gram first seen after the last compaction has no CSR list */
  private csrLength(gid: number): number {
    return gid + 1 < this.postStart.length ? this.postStart[gid + 1]! - this.postStart[gid]! : 0;
  }

  private nameOf(slot: number): string {
    let s = '';
    for (let i = this.nameStart[slot]!; i < this.nameStart[slot + 1]!; i++) s += String.fromCharCode(this.units.a[i]!);
    return s;
  }

  private regionId(region: string): number {
    let r = this.regionIds.get(region);
    if (r === undefined) {
      r = this.regionNames.length;
      this.regionNames.push(region);
      this.regionIds.set(region, r);
    }
    return r;
  }

  private growSlots(): void {
    const cap = this.slotCap * 2;
    this.region = grow(this.region, cap);
    const a = new Uint8Array(cap);
    a.set(this.alive);
    this.alive = a;
    this.nameStart = grow(this.nameStart, cap + 1);
    this.fwdStart = grow(this.fwdStart, cap + 1);
    this.slotCap = cap;
  }
}

class GrowI32Units {
  a = new Uint16Array(1 << 16);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Uint16Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  trim(): void {
    this.a = this.a.slice(0, Math.max(this.n, 1));
  }
}

function grow(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(cap, a.length * 2));
  b.set(a);
  return b;
}
