import { createHash } from 'node:crypto';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeRecord, Notice, RiskArea, Venue } from '../core/code-record.js';
import { ReplicaWriter } from '../sync/replica-writer.js';

/**
 * Writes an edge replica (core/replica-layout.ts) from deterministic
 * generated data, for load runs at province scale (DESIGN: 114M people).
 *
 *   node dist/bench/build-replica.js --dir <path> [--people 10000000] [--venues 100000] [--seed 1] [--force]
 *
 * Person i has uid = first 16 bytes of sha256('person:' + i) (benchUid), so a
 * load generator can mint sessions for the same people without reading the
 * replica. Colours, names and times depend on (i, seed) only.
 *
 * Why it sorts: uids are hashes, i.e. random. Measured here, loading these
 * 1M codes through ReplicaWriter.bulkLoadCodes:
 *
 *   order                          load     data.mdb
 *   ascending (whole set sorted)   1.5 s    107 MiB
 *   sorted within 100k chunks      4.4 s    367 MiB
 *   generation order (random)      6.0 s    364 MiB
 *
 * Ascending puts fill leaf pages left to right (LMDB splits an append at the
 * page's end); random puts split and copy-on-write pages all over the tree,
 * leaving them half full. Sorting chunk by chunk barely helps: each chunk
 * lands all over the tree again. So the build sorts ALL uids first — in O(n): uids are uniform, so a counting sort on their
 * top 24 bits leaves a handful per bucket, finished by insertion sort.
 * Memory: 16 bytes (uid) + 4 (order) per person + 64 MiB of bucket counts;
 * 114M people ≈ 2.4 GB.
 *
 * uids are computed by a JS SHA-256 specialised for one-block messages
 * (FIPS 180-4 §6.2, 'person:<i>' is < 56 bytes): measured 0.36 µs/uid vs
 * 1.3 µs for node:crypto, whose per-call overhead dominates such short
 * inputs. benchUid (node:crypto) stays the definition; the tests check the
 * two agree.
 */

export function benchUid(i: number): Buffer {
  return createHash('sha256').update(`person:${i}`).digest().subarray(0, 16);
}

// ---- one-block SHA-256 (FIPS 180-4) ---------------------------------------

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Int32Array(64);
const BLOCK = new Uint8Array(64);
const DIGITS = new Uint8Array(16);
const PREFIX = [0x70, 0x65, 0x72, 0x73, 0x6f, 0x6e, 0x3a]; // 'person:'

/** Writes benchUid(i) into out[off..off+16) without allocating. i: a non-negative safe integer. */
export function writeBenchUid(i: number, out: Uint8Array, off: number): void {
  BLOCK.fill(0);
  for (let j = 0; j < 7; j++) BLOCK[j] = PREFIX[j]!;
  let nd = 0;
  let v = i;
  do {
    DIGITS[nd++] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  } while (v > 0);
  let n = 7;
  while (nd > 0) BLOCK[n++] = DIGITS[--nd]!;
  BLOCK[n] = 0x80; // padding: a 1 bit, zeros, then the bit length (big-endian) in the last bytes
  BLOCK[62] = (n * 8) >>> 8;
  BLOCK[63] = (n * 8) & 0xff;
  for (let t = 0; t < 16; t++) {
    W[t] = (BLOCK[4 * t]! << 24) | (BLOCK[4 * t + 1]! << 16) | (BLOCK[4 * t + 2]! << 8) | BLOCK[4 * t + 3]!;
  }
  for (let t = 16; t < 64; t++) {
    const w15 = W[t - 15]!;
    const w2 = W[t - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
  }
  let a = 0x6a09e667 | 0, b = 0xbb67ae85 | 0, c = 0x3c6ef372 | 0, d = 0xa54ff53a | 0;
  let e = 0x510e527f | 0, f = 0x9b05688c | 0, g = 0x1f83d9ab | 0, h = 0x5be0cd19 | 0;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t]! + W[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  writeWord(out, off, 0x6a09e667 + a);
  writeWord(out, off + 4, 0xbb67ae85 + b);
  writeWord(out, off + 8, 0x3c6ef372 + c);
  writeWord(out, off + 12, 0xa54ff53a + d);
}

function writeWord(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = v >>> 16;
  out[off + 2] = v >>> 8;
  out[off + 3] = v;
}

// ---- deterministic data -----------------------------------------------------

/** 2026-01-01T00:00:00Z: every generated time is relative to it, so a build is reproducible. */
export const BENCH_EPOCH = 1_767_225_600;
const DAY = 86_400;

/** A 32-bit hash of (i, salt, seed) — murmur3's fmix32 over a Weyl-sequence mix. */
function mix(i: number, salt: number, seed: number): number {
  let h = (Math.imul(i, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b) ^ seed) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建红文斌宇浩凯健俊帆帅旭宁龙林欣彤晨瑞雪梅琳婷倩颖佳嘉怡思源博涵轩然';

/** A masked name as the master renders it (DESIGN §2): 张*三 for three characters, 李* for two. */
function maskedName(i: number, seed: number): string {
  const h = mix(i, 1, seed);
  const surname = SURNAMES[h % SURNAMES.length]!;
  return (h >>> 24) % 10 < 7 ? `${surname}*${GIVEN[(h >>> 8) % GIVEN.length]!}` : `${surname}*`;
}

const ENTRY_TEST: Notice['kind'] = 'entry_test';
const ENTRY_TEST_MSG = '请于入川后24小时内完成核酸检测（入川即检）';
const ENTRY_OVERDUE_MSG = '入川已超过24小时未完成核酸检测，请尽快就近检测';
const NO_NOTICES: readonly Notice[] = Object.freeze([]);

/**
 * Person i's code (reasons and windows from core/default-rules.ts):
 * 96.5 % green 'normal', 0.5 % green entry_test_pending with an entry_test
 * notice, 2 % yellow (secondary_contact, risk_area, entry_no_test), 1 % red
 * (close_contact, confirmed). seq = i + 1: the build stands for a snapshot
 * in which person i's row was outbox entry i + 1.
 */
export function benchCodeRecord(i: number, seed = 1): CodeRecord {
  const h = mix(i, 2, seed);
  const since = BENCH_EPOCH - (h % (30 * DAY));
  const name = maskedName(i, seed);
  const seq = i + 1;
  const p = (h >>> 8) % 1000;
  if (p < 965) return { color: 'green', reason: 'normal', since, until: null, name, notices: NO_NOTICES, seq };
  if (p < 970) {
    const until = since + DAY;
    return { color: 'green', reason: 'entry_test_pending', since, until, name, notices: [{ kind: ENTRY_TEST, message: ENTRY_TEST_MSG, until }], seq };
  }
  if (p < 980) return { color: 'yellow', reason: 'secondary_contact', since, until: since + 7 * DAY, name, notices: NO_NOTICES, seq };
  if (p < 985) return { color: 'yellow', reason: 'risk_area', since, until: since + 7 * DAY, name, notices: NO_NOTICES, seq };
  if (p < 990) {
    return { color: 'yellow', reason: 'entry_no_test', since, until: null, name, notices: [{ kind: 'entry_test_overdue', message: ENTRY_OVERDUE_MSG, until: null }], seq };
  }
  if (p < 998) return { color: 'red', reason: 'close_contact', since, until: since + 14 * DAY, name, notices: NO_NOTICES, seq };
  return { color: 'red', reason: 'confirmed', since, until: null, name, notices: NO_NOTICES, seq };
}

/** Districts of Chengdu (GB/T 2260) the venues and risk areas are spread over. */
const DISTRICTS: readonly (readonly [string, string])[] = [
  ['510104', '锦江区'], ['510105', '青羊区'], ['510106', '金牛区'], ['510107', '武侯区'], ['510108', '成华区'],
  ['510112', '龙泉驿区'], ['510113', '青白江区'], ['510114', '新都区'], ['510115', '温江区'], ['510116', '双流区'],
  ['510117', '郫都区'], ['510118', '新津区'],
];
const VENUE_KINDS = ['超市', '便利店', '餐厅', '药店', '地铁站', '医院', '学校', '写字楼', '小区', '菜市场'];
const ENTRY_KINDS = ['机场', '火车站', '高速收费站', '长途汽车站'];

export function benchVenueId(j: number): string {
  return `v${String(j).padStart(9, '0')}`;
}

/** Venue j: 0.5 % are entry points (kind 'entry', 入川即检 within 24 h); 70 % sit at street level (9-digit region). */
export function benchVenue(j: number, seed = 1): Venue {
  const h = mix(j, 3, seed);
  const [district, districtName] = DISTRICTS[h % DISTRICTS.length]!;
  const street = (h >>> 8) % 10 < 7 ? String(1 + ((h >>> 12) % 30)).padStart(3, '0') : '';
  const entry = (h >>> 16) % 1000 < 5;
  const kindName = entry ? ENTRY_KINDS[(h >>> 20) % ENTRY_KINDS.length]! : VENUE_KINDS[(h >>> 20) % VENUE_KINDS.length]!;
  return {
    id: benchVenueId(j),
    name: `${districtName}${kindName}${j}`,
    region: district + street,
    kind: entry ? 'entry' : 'normal',
    entryTestHours: entry ? 24 : null,
  };
}

/** A few risk areas: two streets high, two districts medium, one district low. */
export function benchRiskAreas(seed = 1): RiskArea[] {
  const pick = (k: number) => DISTRICTS[mix(k, 4, seed) % DISTRICTS.length]![0];
  const street = (k: number) => String(1 + (mix(k, 5, seed) % 30)).padStart(3, '0');
  const areas = new Map<string, RiskArea>();
  const add = (region: string, level: RiskArea['level'], k: number) => {
    if (!areas.has(region)) areas.set(region, { region, level, since: BENCH_EPOCH - (mix(k, 6, seed) % (7 * DAY)) });
  };
  add(pick(0) + street(0), 'high', 0);
  add(pick(1) + street(1), 'high', 1);
  add(pick(2), 'medium', 2);
  add(pick(3), 'medium', 3);
  add(pick(4), 'low', 4);
  return [...areas.values()];
}

// ---- ordering -----------------------------------------------------------------

function compareUids(u: Uint8Array, a: number, b: number): number {
  const oa = a * 16;
  const ob = b * 16;
  for (let k = 0; k < 16; k++) {
    const d = u[oa + k]! - u[ob + k]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Indices 0..n-1 ordered by uids[16i..16i+16) ascending. Counting sort on the
 * top `bits` bits (≈ log2 n, at most 24: ~1 uid a bucket, ~7 at 114M),
 * then insertion sort inside each bucket. O(n) for uniform keys (hashes).
 */
export function sortedOrder(uids: Uint8Array, n: number, onProgress?: (done: number) => void): Uint32Array {
  const bits = Math.max(8, Math.min(24, Math.ceil(Math.log2(Math.max(2, n)))));
  const shift = 24 - bits;
  const buckets = 1 << bits;
  const start = new Uint32Array(buckets + 1);
  for (let i = 0; i < n; i++) {
    const o = i * 16;
    start[(((uids[o]! << 16) | (uids[o + 1]! << 8) | uids[o + 2]!) >>> shift) + 1]!++;
  }
  for (let k = 0; k < buckets; k++) start[k + 1]! += start[k]!;
  const next = start.slice(0, buckets);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * 16;
    order[next[((uids[o]! << 16) | (uids[o + 1]! << 8) | uids[o + 2]!) >>> shift]!++] = i;
  }
  for (let k = 0; k < buckets; k++) {
    const lo = start[k]!;
    const hi = start[k + 1]!;
    for (let x = lo + 1; x < hi; x++) {
      const v = order[x]!;
      let y = x - 1;
      while (y >= lo && compareUids(uids, order[y]!, v) > 0) {
        order[y + 1] = order[y]!;
        y--;
      }
      order[y + 1] = v;
    }
    if (onProgress !== undefined && (k & 0xffff) === 0xffff && hi < n) onProgress(hi);
  }
  onProgress?.(n);
  return order;
}

// ---- the build ------------------------------------------------------------------

export type BuildPhase = 'uids' | 'sort' | 'codes' | 'venues';
export interface BuildProgress {
  readonly phase: BuildPhase;
  readonly done: number;
  readonly total: number;
}

export interface BuildReplicaOptions {
  /** the replica directory (`<dataDir>/replica`) */
  dir: string;
  people: number;
  venues?: number;
  seed?: number;
  /** replace an existing replica's data files in `dir` (otherwise refuse) */
  force?: boolean;
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildReplicaResult {
  readonly dir: string;
  readonly people: number;
  readonly venues: number;
  readonly riskAreas: number;
  readonly appliedSeq: number;
  readonly ms: number;
  readonly phaseMs: Readonly<Record<BuildPhase, number>>;
  /** data.mdb: size and blocks actually allocated on disk */
  readonly fileBytes: number;
  readonly diskBytes: number;
}

const UID_PROGRESS_EVERY = 1 << 18;

function* peopleInOrder(uids: Buffer, order: Uint32Array, seed: number): Generator<[Uint8Array, CodeRecord]> {
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    yield [uids.subarray(i * 16, i * 16 + 16), benchCodeRecord(i, seed)];
  }
}

function* venuesOf(count: number, seed: number): Generator<Venue> {
  for (let j = 0; j < count; j++) yield benchVenue(j, seed);
}

export async function buildReplica(opts: BuildReplicaOptions): Promise<BuildReplicaResult> {
  const people = opts.people;
  const venueCount = opts.venues ?? 100_000;
  const seed = opts.seed ?? 1;
  if (!Number.isSafeInteger(people) || people < 0 || people > 0xffff_ffff) throw new RangeError(`people must be 0..2^32-1, got ${people}`);
  if (!Number.isSafeInteger(venueCount) || venueCount < 0) throw new RangeError(`venues must be ≥ 0, got ${venueCount}`);
  const dir = resolve(opts.dir);
  const data = join(dir, 'data.mdb');
  if (existsSync(data)) {
    if (opts.force !== true) throw new Error(`${dir} already holds a replica: pass --force to replace it`);
    rmSync(data);
    rmSync(join(dir, 'lock.mdb'), { force: true });
  }
  const report = opts.onProgress;
  const phaseMs: Record<BuildPhase, number> = { uids: 0, sort: 0, codes: 0, venues: 0 };
  const t0 = performance.now();

  let t = performance.now();
  report?.({ phase: 'uids', done: 0, total: people });
  const uids = Buffer.allocUnsafe(people * 16);
  for (let i = 0; i < people; i++) {
    writeBenchUid(i, uids, i * 16);
    if (report !== undefined && (i & (UID_PROGRESS_EVERY - 1)) === UID_PROGRESS_EVERY - 1) report({ phase: 'uids', done: i + 1, total: people });
  }
  report?.({ phase: 'uids', done: people, total: people });
  phaseMs.uids = performance.now() - t;

  t = performance.now();
  report?.({ phase: 'sort', done: 0, total: people });
  const order = sortedOrder(uids, people, report && ((done) => report({ phase: 'sort', done, total: people })));
  phaseMs.sort = performance.now() - t;

  const writer = ReplicaWriter.open({ dir, mapSize: Math.max(1 << 24, people * 200) });
  let riskAreas: RiskArea[];
  try {
    t = performance.now();
    report?.({ phase: 'codes', done: 0, total: people });
    writer.bulkLoadCodes(peopleInOrder(uids, order, seed), report && ((done) => report({ phase: 'codes', done, total: people })));
    phaseMs.codes = performance.now() - t;

    t = performance.now();
    report?.({ phase: 'venues', done: 0, total: venueCount });
    writer.bulkLoadVenues(venuesOf(venueCount, seed), report && ((done) => report({ phase: 'venues', done, total: venueCount })));
    riskAreas = benchRiskAreas(seed);
    writer.bulkLoadRiskAreas(riskAreas);
    // One outbox row per code, venue and risk area: deltas resume after them.
    writer.markSnapshot(people + venueCount + riskAreas.length);
    phaseMs.venues = performance.now() - t;
  } finally {
    await writer.close();
  }
  const st = statSync(data);
  return {
    dir,
    people,
    venues: venueCount,
    riskAreas: riskAreas.length,
    appliedSeq: people + venueCount + riskAreas.length,
    ms: performance.now() - t0,
    phaseMs,
    fileBytes: st.size,
    diskBytes: st.blocks * 512,
  };
}

// ---- CLI ------------------------------------------------------------------------

function parseArgs(argv: readonly string[]): BuildReplicaOptions {
  const opts: BuildReplicaOptions = { dir: '', people: 10_000_000, venues: 100_000, seed: 1 };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    const value = (): string => {
      const v = argv[++k];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const count = (): number => {
      const v = value().replace(/_/g, '');
      if (!/^\d+$/.test(v)) throw new Error(`${a} needs a whole number, got ${v}`);
      return Number(v);
    };
    if (a === '--dir') opts.dir = value();
    else if (a === '--people') opts.people = count();
    else if (a === '--venues') opts.venues = count();
    else if (a === '--seed') opts.seed = count();
    else if (a === '--force') opts.force = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (opts.dir === '') throw new Error('--dir <path> is required (e.g. ./data/replica)');
  return opts;
}

function human(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

function bytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * A one-line progress bar on stderr: phase, %, rate, ETA. On a terminal the
 * line is rewritten with \r (at most 10×/s); otherwise (logs, CI) a line
 * every 2 s and one when a phase ends.
 */
function progressBar(): (p: BuildProgress) => void {
  const tty = process.stderr.isTTY === true;
  let phase = '';
  let started = 0;
  let lastDraw = 0;
  return function draw(p: BuildProgress): void {
    const now = performance.now();
    if (p.phase !== phase) {
      phase = p.phase;
      started = now; // each phase reports done: 0 when it starts
      lastDraw = now;
    }
    const finished = p.done >= p.total;
    const pct = p.total === 0 ? 100 : (100 * p.done) / p.total;
    if (!finished && now - lastDraw < (tty ? 100 : 2000)) return;
    lastDraw = now;
    const secs = (now - started) / 1000;
    const rate = secs > 0 ? p.done / secs : 0;
    const eta = rate > 0 ? (p.total - p.done) / rate : 0;
    const line = `${p.phase.padEnd(6)} ${pct.toFixed(1).padStart(5)}%  ${human(p.done)}/${human(p.total)}  ${human(Math.round(rate))}/s  ${finished ? `done in ${secs.toFixed(1)}s` : `ETA ${Math.ceil(eta)}s`}`;
    process.stderr.write(tty ? `\r${line.padEnd(72)}${finished ? '\n' : ''}` : `${line}\n`);
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  opts.onProgress = progressBar();
  process.stderr.write(`building a replica of ${human(opts.people)} people, ${human(opts.venues ?? 0)} venues in ${resolve(opts.dir)}\n`);
  const r = await buildReplica(opts);
  process.stderr.write(
    `built in ${(r.ms / 1000).toFixed(1)} s (uids ${(r.phaseMs.uids / 1000).toFixed(1)} s, sort ${(r.phaseMs.sort / 1000).toFixed(1)} s, ` +
      `codes ${(r.phaseMs.codes / 1000).toFixed(1)} s, venues ${(r.phaseMs.venues / 1000).toFixed(1)} s); ` +
      `data.mdb ${bytes(r.diskBytes)} on disk (${bytes(r.fileBytes)} file); appliedSeq ${r.appliedSeq}\n`,
  );
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`build-replica: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
