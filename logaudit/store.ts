import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzip, gzipSync } from 'node:zlib';
import { decodeRows, encodeRows, ROW_FORMAT, type StoredRow } from './row-format.js';
import type { LogEvent } from './schema.js';

/**
 * The event store: day-partitioned, compressed, tamper-evident files.
 *
 *   <dataDir>/logaudit/store/
 *     2026-12-07/                 one folder per China-time day of intake
 *       data.ndjson.gz            one gzip member per written batch: compact rows (row-format.ts; the
 *                                 name is kept so days written before, with NDJSON inside, stay one file)
 *       index.ndjson              per batch: offset, length, count, time span, sha256, chain
 *       manifest.json             day totals + chain head + link to the previous day, Ed25519-signed
 *     pruned.ndjson               days removed by retention: their manifest hashes (the chain stays linked)
 *   <dataDir>/logaudit/keys/manifest-ed25519.pem (private; the public key sits beside it)
 *
 * chain(batch n) = sha256(chain(n-1) ‖ sha256(bytes of batch n)); the first
 * batch of a day chains from the previous day's manifest hash. Changing,
 * removing or reordering a batch, or a whole day, breaks the chain, and a
 * manifest cannot be rewritten without the private key. Partitioning is by
 * intake day (not the device's claimed time): a day is only ever appended
 * to, so it can be sealed; searches widen by the allowed clock skew.
 */
export interface BatchIndex {
  seq: number;
  off: number;
  len: number;
  count: number;
  minMs: number;
  maxMs: number;
  sha256: string;
  chain: string;
  /** 2: compact rows (row-format.ts); absent: NDJSON of whole events (stores written before) */
  fmt?: number;
}
export interface Manifest {
  day: string;
  batches: number;
  events: number;
  bytes: number;
  head: string;
  prev: string;
  sealed: boolean;
  signature: string;
}

const GENESIS = '0'.repeat(64);
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

export function cstDay(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
}

function sha(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

function manifestBody(m: Omit<Manifest, 'signature'>): string {
  return JSON.stringify({ day: m.day, batches: m.batches, events: m.events, bytes: m.bytes, head: m.head, prev: m.prev, sealed: m.sealed });
}

export function manifestHash(m: Manifest): string {
  return sha(manifestBody(m) + m.signature);
}

export function loadManifestKeys(keysDir: string): { priv: KeyObject; pub: KeyObject } {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const p = join(keysDir, 'manifest-ed25519.pem');
  const pubPath = join(keysDir, 'manifest-ed25519.pub.pem');
  if (!existsSync(p)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(p, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const priv = createPrivateKey(readFileSync(p));
  return { priv, pub: createPublicKey(priv) };
}

interface DayState {
  day: string;
  fd: number;
  off: number;
  seq: number;
  events: number;
  chain: string;
  prev: string;
}

export class EventStore {
  readonly root: string;
  private cur: DayState | null = null;
  private readonly keys: { priv: KeyObject; pub: KeyObject };
  private dirtyManifest = false;
  eventsWritten = 0;

  /**
   * `rebuild` turns a stored row back into its event (the engine passes
   * normalise.ts rebuildEvent with its decoders); needed only to read rows.
   */
  constructor(dataDir: string, private readonly now: () => number, private readonly rebuild?: (row: StoredRow) => LogEvent) {
    this.root = join(dataDir, 'logaudit', 'store');
    mkdirSync(this.root, { recursive: true });
    this.keys = loadManifestKeys(join(dataDir, 'logaudit', 'keys'));
  }

  days(): string[] {
    return readdirSync(this.root).filter((d) => DAY_RE.test(d)).sort();
  }

  private prevLink(day: string): string {
    const earlier = this.days().filter((d) => d < day);
    const last = earlier[earlier.length - 1];
    if (last !== undefined) {
      const m = this.readManifest(last);
      if (m) return manifestHash(m);
    }
    const pruned = this.pruned();
    return pruned.length > 0 ? pruned[pruned.length - 1]!.hash : GENESIS;
  }

  private pruned(): { day: string; hash: string }[] {
    const p = join(this.root, 'pruned.ndjson');
    if (!existsSync(p)) return [];
    return readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { day: string; hash: string });
  }

  readManifest(day: string): Manifest | null {
    const p = join(this.root, day, 'manifest.json');
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Manifest) : null;
  }

  readIndex(day: string): BatchIndex[] {
    const p = join(this.root, day, 'index.ndjson');
    if (!existsSync(p)) return [];
    return readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BatchIndex);
  }

  private open(day: string): DayState {
    if (this.cur?.day === day) return this.cur;
    if (this.cur) this.seal(true);
    const dir = join(this.root, day);
    mkdirSync(dir, { recursive: true });
    const idx = this.readIndex(day);
    const last = idx[idx.length - 1];
    const m = this.readManifest(day);
    const data = join(dir, 'data.ndjson.gz');
    const fd = openSync(data, 'a');
    const size = existsSync(data) ? statSync(data).size : 0;
    const prev = m?.prev ?? this.prevLink(day);
    this.cur = { day, fd, off: size, seq: last ? last.seq + 1 : 0, events: idx.reduce((n, b) => n + b.count, 0), chain: last ? last.chain : prev, prev };
    return this.cur;
  }

  /** Appends one batch (one gzip member) to the intake day of `atMs`. */
  append(events: readonly LogEvent[], atMs = this.now(), times?: readonly number[]): void {
    if (events.length === 0) return;
    const { text, minMs, maxMs } = this.serialise(events, times);
    this.write(gzipSync(text, { level: 1 }), events.length, minMs, maxMs, atMs);
  }

  private chain: Promise<void> = Promise.resolve();

  /**
   * Like append, but compresses on libuv's thread pool (the other core) so
   * the event loop goes back to the sockets; batches are still written, indexed
   * and chained in call order. `flushed()` resolves when all are on disk.
   */
  appendAsync(events: readonly LogEvent[], atMs: number, times: readonly number[] | undefined, done: (n: number) => void): void {
    if (events.length === 0) return;
    const { text, minMs, maxMs } = this.serialise(events, times);
    const gz = new Promise<Buffer>((res, rej) => gzip(text, { level: 1 }, (e, b) => (e ? rej(e) : res(b))));
    this.chain = this.chain.then(async () => {
      this.write(await gz, events.length, minMs, maxMs, atMs);
      done(events.length);
    });
  }

  /** Compact rows (row-format.ts), written synchronously (the spool's path: a row leaves the spool once on disk). */
  appendRows(rows: readonly StoredRow[], atMs = this.now()): void {
    if (rows.length === 0) return;
    const { minMs, maxMs } = span(rows);
    this.appendEncoded(encodeRows(rows), rows.length, minMs, maxMs, atMs);
  }

  /** Like appendRows, compressed on libuv's thread pool; written, indexed and chained in call order. */
  appendRowsAsync(rows: readonly StoredRow[], atMs: number, done: (n: number) => void): void {
    if (rows.length === 0) return;
    const { minMs, maxMs } = span(rows);
    this.appendEncodedAsync(encodeRows(rows), rows.length, minMs, maxMs, atMs, done);
  }

  /** A batch already in row format (row-format.ts RowBatch.take()), written synchronously (the spool's path). */
  appendEncoded(raw: Buffer, count: number, minMs: number, maxMs: number, atMs = this.now()): void {
    if (count === 0) return;
    this.write(gzipSync(raw, { level: 1 }), count, minMs, maxMs, atMs, ROW_FORMAT);
  }

  /** Like appendEncoded, compressed on libuv's thread pool; written, indexed and chained in call order. */
  appendEncodedAsync(raw: Buffer, count: number, minMs: number, maxMs: number, atMs: number, done: (n: number) => void): void {
    if (count === 0) return;
    // one output chunk (level 1 gives ~⅙ of the input here): the default 16 KiB chunks meant ~25 hops
    // between the pool thread and the event loop per batch (zlib processCallback was ~5 % of the main thread)
    const gz = new Promise<Buffer>((res, rej) => gzip(raw, { level: 1, chunkSize: Math.max(16_384, raw.length >> 2) }, (e, b) => (e ? rej(e) : res(b))));
    this.chain = this.chain.then(async () => {
      this.write(await gz, count, minMs, maxMs, atMs, ROW_FORMAT);
      done(count);
    });
  }

  flushed(): Promise<void> {
    return this.chain;
  }

  private serialise(events: readonly LogEvent[], times?: readonly number[]): { text: string; minMs: number; maxMs: number } {
    let minMs = Infinity;
    let maxMs = -Infinity;
    const lines: string[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const t = times ? times[i]! : Date.parse(e['@timestamp'] as string);
      if (t < minMs) minMs = t;
      if (t > maxMs) maxMs = t;
      // `message` is nearly always the tail of `event.original`: stored as its length (read() restores it)
      const m = e.message;
      const o = e['event.original'];
      if (typeof m === 'string' && typeof o === 'string' && m.length > 0 && o.endsWith(m)) {
        e.message = m.length;
        lines[i] = JSON.stringify(e);
        e.message = m;
      } else lines[i] = JSON.stringify(e);
    }
    return { text: lines.join('\n') + '\n', minMs, maxMs };
  }

  private write(gz: Buffer, count: number, minMs: number, maxMs: number, atMs: number, fmt?: number): void {
    const st = this.open(cstDay(atMs));
    writeSync(st.fd, gz);
    const digest = sha(gz);
    st.chain = sha(st.chain + digest);
    const entry: BatchIndex = { seq: st.seq++, off: st.off, len: gz.length, count, minMs, maxMs, sha256: digest, chain: st.chain, ...(fmt ? { fmt } : {}) };
    st.off += gz.length;
    st.events += count;
    appendFileSync(join(this.root, st.day, 'index.ndjson'), JSON.stringify(entry) + '\n');
    this.eventsWritten += count;
    this.dirtyManifest = true;
  }

  /** Writes (and signs) the current day's manifest; `final` marks it sealed (day over). */
  seal(final = false): void {
    const st = this.cur;
    if (!st) return;
    if (!this.dirtyManifest && !final) return;
    fsyncSync(st.fd);
    const body = { day: st.day, batches: st.seq, events: st.events, bytes: st.off, head: st.chain, prev: st.prev, sealed: final };
    const signature = sign(null, Buffer.from(manifestBody(body)), this.keys.priv).toString('base64');
    const p = join(this.root, st.day, 'manifest.json');
    writeFileSync(p + '.tmp', JSON.stringify({ ...body, signature }, null, 1));
    renameSync(p + '.tmp', p);
    this.dirtyManifest = false;
    if (final) {
      closeSync(st.fd);
      this.cur = null;
    }
  }

  close(): void {
    if (this.cur) {
      this.dirtyManifest = true;
      this.seal(false);
      closeSync(this.cur.fd);
      this.cur = null;
    }
  }

  /** Removes days older than `days` (China time), keeping their manifest hashes so the chain stays verifiable. */
  prune(days: number): string[] {
    const cutoff = cstDay(this.now() - days * 86_400_000);
    const removed: string[] = [];
    for (const d of this.days()) {
      if (d >= cutoff || d === this.cur?.day) continue;
      const m = this.readManifest(d);
      appendFileSync(join(this.root, 'pruned.ndjson'), JSON.stringify({ day: d, hash: m ? manifestHash(m) : GENESIS }) + '\n');
      rmSync(join(this.root, d), { recursive: true, force: true });
      removed.push(d);
    }
    return removed;
  }

  /** Reads the events of one day whose batches overlap [fromMs, toMs]. */
  *read(day: string, fromMs: number, toMs: number): Generator<LogEvent> {
    const idx = this.readIndex(day);
    if (idx.length === 0) return;
    const data = readFileSync(join(this.root, day, 'data.ndjson.gz'));
    for (const b of idx) {
      if (b.maxMs < fromMs || b.minMs > toMs) continue;
      const plain = gunzipSync(data.subarray(b.off, b.off + b.len));
      if (b.fmt === ROW_FORMAT) {
        if (!this.rebuild) throw new Error('EventStore: reading rows needs the rebuild function');
        for (const r of decodeRows(plain)) yield this.rebuild(r);
        continue;
      }
      const text = plain.toString('utf8');
      for (const line of text.split('\n')) {
        if (line.length === 0) continue;
        const e = JSON.parse(line) as LogEvent;
        if (typeof e.message === 'number') e.message = String(e['event.original']).slice(-e.message);
        yield e;
      }
    }
  }

  publicKeyPem(): string {
    return this.keys.pub.export({ type: 'spki', format: 'pem' }).toString();
  }
}

function span(rows: readonly StoredRow[]): { minMs: number; maxMs: number } {
  let minMs = Infinity;
  let maxMs = -Infinity;
  for (const r of rows) {
    if (r.atMs < minMs) minMs = r.atMs;
    if (r.atMs > maxMs) maxMs = r.atMs;
  }
  return { minMs, maxMs };
}

export interface VerifyProblem { day: string; problem: string }
export interface VerifyReport { ok: boolean; days: number; batches: number; events: number; problems: VerifyProblem[] }

/**
 * Recomputes every batch digest, the chain within each day and across days,
 * and each manifest's signature. Needs only the public key.
 */
export function verifyStore(root: string, pubPem: string): VerifyReport {
  const pub = createPublicKey(pubPem);
  const problems: VerifyProblem[] = [];
  const days = existsSync(root) ? readdirSync(root).filter((d) => DAY_RE.test(d)).sort() : [];
  const prunedPath = join(root, 'pruned.ndjson');
  const pruned = existsSync(prunedPath) ? readFileSync(prunedPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { day: string; hash: string }) : [];
  let link = pruned.length > 0 ? pruned[pruned.length - 1]!.hash : GENESIS;
  let batches = 0;
  let events = 0;
  days.forEach((day) => {
    const dir = join(root, day);
    const mp = join(dir, 'manifest.json');
    if (!existsSync(mp)) { problems.push({ day, problem: 'manifest missing' }); return; }
    const m = JSON.parse(readFileSync(mp, 'utf8')) as Manifest;
    const okSig = verify(null, Buffer.from(manifestBody(m)), pub, Buffer.from(m.signature ?? '', 'base64'));
    if (!okSig) problems.push({ day, problem: 'manifest signature does not verify' });
    if (m.prev !== link) problems.push({ day, problem: 'not linked to the previous day (a day was removed or replaced)' });
    const data = existsSync(join(dir, 'data.ndjson.gz')) ? readFileSync(join(dir, 'data.ndjson.gz')) : Buffer.alloc(0);
    const idxPath = join(dir, 'index.ndjson');
    const idx = existsSync(idxPath) ? readFileSync(idxPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BatchIndex) : [];
    let chain = m.prev;
    let n = 0;
    let ev = 0;
    let off = 0;
    for (const b of idx) {
      if (n >= m.batches) break; // batches after the last manifest: the live tail, checked at the next seal
      if (b.off !== off) { problems.push({ day, problem: `batch ${b.seq}: bytes missing or inserted before it` }); break; }
      const digest = sha(data.subarray(b.off, b.off + b.len));
      if (digest !== b.sha256) { problems.push({ day, problem: `batch ${b.seq}: content changed` }); break; }
      chain = sha(chain + digest);
      if (chain !== b.chain) { problems.push({ day, problem: `batch ${b.seq}: chain broken` }); break; }
      off += b.len;
      ev += b.count;
      n++;
    }
    if (n !== m.batches && problems.every((p) => p.day !== day)) problems.push({ day, problem: `manifest says ${m.batches} batches, found ${n}` });
    if (n === idx.length && data.length !== off && problems.every((p) => p.day !== day)) problems.push({ day, problem: 'bytes added to or cut from the data file after the last batch' });
    if (chain !== m.head && problems.every((p) => p.day !== day)) problems.push({ day, problem: 'chain head differs from the manifest' });
    if (ev !== m.events && problems.every((p) => p.day !== day)) problems.push({ day, problem: 'event count differs from the manifest' });
    batches += n;
    events += ev;
    link = sha(manifestBody(m) + m.signature);
  });
  return { ok: problems.length === 0, days: days.length, batches, events, problems };
}
