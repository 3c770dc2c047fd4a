import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import {
  decodeCodeRecord,
  decodeVenue,
  decodeVersioned,
  checkRiskArea,
  FORMAT_VERSION,
  type CodeRecord,
  type RiskArea,
  type Venue,
} from '../core/code-record.js';
import { CoreError } from '../core/errors.js';
import {
  CHANGE_ALL,
  CHANGE_HEADER_BYTES,
  changeEntryFrom,
  changeKey,
  changeKeySeq,
  DB_CHANGES,
  DB_CODES,
  DB_DISPLAY,
  DISPLAY_HEADER_BYTES,
  displayExpiresAt,
  DB_META,
  DB_RISK,
  DB_RULES,
  DB_VENUES,
  META_FORMAT,
  ReplicaMetaView,
  replicaEnvOptions,
} from '../core/replica-layout.js';
import { EdgeError } from './errors.js';

/**
 * What each edge server process opens: the node's LMDB replica
 * (core/replica-layout.ts), memory-mapped, read-mostly. The only writes are
 * display entries this process signed on demand; LMDB serialises them with
 * the sync daemon's writes across processes (one writer at a time, lock file).
 *
 * Freshness (FACTS): lmdb-js shares one read transaction per event-loop turn
 * and resets it on a setTimeout(0), so a commit by the daemon (another
 * process) is visible from the next turn on. `refresh()` forces it sooner
 * (readyz, tests). No object cache: `cache: true` would go stale when another
 * process writes.
 */
export interface ReplicaRules {
  readonly version: string;
  readonly activeFrom: number;
  readonly ruleSet: unknown;
}

const UID_BYTES = 16;
/**
 * Longest string key looked up. Venue ids arrive in scan requests (user
 * input): an over-long key would make LMDB throw (its key limit is ~2 KB of
 * encoded bytes) — a miss is the right answer, not an exception.
 */
const MAX_STRING_KEY = 256;

/** The LMDB data file inside an environment directory (lmdb-js opens a path without an extension as a directory). */
const DATA_FILE = 'data.mdb';

/**
 * GB/T 2260 region codes from the given one up to its province, most
 * specific first (the risk-area lookup walks this chain):
 *
 *   12 digits  village/community  510104001002
 *    9 digits  street/township    510104001
 *    6 digits  district/county    510104
 *              city               5101 + 00
 *              province           51 + 0000
 *
 * A code that is already a city or province yields only itself and what lies
 * above. Anything that is not 6, 9 or 12 digits yields [].
 */
export function regionChain(region: string): string[] {
  if (!/^\d{6}(\d{3}(\d{3})?)?$/.test(region)) return [];
  const chain: string[] = [region];
  if (region.length === 12) chain.push(region.slice(0, 9));
  if (region.length >= 9) chain.push(region.slice(0, 6));
  const city = region.slice(0, 4) + '00';
  const province = region.slice(0, 2) + '0000';
  if (chain[chain.length - 1] !== city && city !== province) chain.push(city);
  if (chain[chain.length - 1] !== province) chain.push(province);
  return chain;
}

function isUid(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === UID_BYTES;
}

const uint8Slice = Uint8Array.prototype.slice;
/** Display bodies up to this size get a reusable view (freshDisplayBody); a body is ≈ 300 bytes. */
const MAX_VIEWED_ENTRY = 4096;

/**
 * lmdb-js `keyEncoder` of the display database (lmdb README, "Custom Key
 * Encoding"): a key is either a 16-byte uid (Uint8Array) or — on the display
 * hot path only — a number: the offset of a uid inside the reader's current
 * key source (`freshDisplayBody`), copied straight into lmdb's key buffer.
 * Why: with the default binary key writer (`TypedArray.prototype.set` from
 * a uid Buffer held per session) that copy showed as 5 % of the display
 * path's CPU in a perf profile — mostly the cache misses on the Buffer
 * object and then its bytes, two dependent loads from cold memory per
 * request. Here the uid is read from the session cache's slot, which the
 * session lookup has just brought into the cache.
 */
interface UidKeyEncoder {
  writeKey(key: Uint8Array | number, target: Uint8Array, start: number): number;
  readKey(source: Uint8Array, start: number, end: number): Uint8Array;
}

function uidKeyEncoder(reader: { keySrc: Uint8Array }): UidKeyEncoder {
  return {
    writeKey(key, target, start) {
      if (typeof key === 'number') {
        const src = reader.keySrc;
        for (let k = 0; k < UID_BYTES; k++) target[start + k] = src[key + k]!;
        return start + UID_BYTES;
      }
      target.set(key, start);
      return start + key.length;
    },
    readKey(source, start, end) {
      return uint8Slice.call(source, start, end);
    },
  };
}

export class ReplicaReader extends ReplicaMetaView {
  readonly dir: string;
  private readonly env: RootDatabase;
  private readonly codes: Database<Uint8Array, Uint8Array>;
  private readonly display: Database<Uint8Array, Uint8Array>;
  private readonly venues: Database<Uint8Array, string>;
  private readonly risk: Database<Uint8Array, string>;
  private readonly rulesDb: Database<Uint8Array, string>;
  protected readonly meta: Database<unknown, string>;
  /** the writer's change log (replica-layout.ts); undefined in a replica written by an older build */
  private readonly changes: Database<Uint8Array, Uint8Array> | undefined;
  private closed = false;
  private readonly ownsEnv: boolean;
  /** stored expiry of the entry freshDisplayBody last returned (unix s) */
  lastExpiresAt = 0;
  /** @internal where numeric display keys are read from (see uidKeyEncoder); set by freshDisplayBody */
  keySrc: Uint8Array = new Uint8Array(UID_BYTES);
  /** lmdb's shared read buffer the cached body views below look into */
  private viewedBuffer: Uint8Array | null = null;
  /** body views of viewedBuffer by entry size: the hot path allocates no view per request */
  private views: (Uint8Array | undefined)[] = [];

  private constructor(dir: string, shared: RootDatabase | null) {
    super();
    this.dir = dir;
    this.ownsEnv = shared === null;
    // lmdb-js would silently create an empty environment: check first.
    if (!existsSync(join(dir, DATA_FILE))) {
      throw new EdgeError('EDGE_ERR_REPLICA_MISSING', `${join(dir, DATA_FILE)} does not exist`);
    }
    this.env = shared ?? open(replicaEnvOptions(dir));
    try {
      // `create: false` (lmdb-js DatabaseOptions, not in its .d.ts): a reader
      // never creates the writer's databases; openDB then returns undefined
      // for a missing one, meaning sync/replica-writer.ts never initialised it.
      const uidDb = { keyEncoding: 'binary', encoding: 'binary', cache: false, create: false } as const;
      const strDb = { encoding: 'binary', cache: false, create: false } as const;
      const env = this.env;
      const need = function need<V, K extends string | Uint8Array>(name: string, opts: object): Database<V, K> {
        const db = env.openDB<V, K>(name, opts) as Database<V, K> | undefined;
        if (db === undefined) throw new EdgeError('EDGE_ERR_REPLICA_MISSING', `${dir} has no "${name}" database: it was never initialised`);
        return db;
      };
      this.meta = need<unknown, string>(DB_META, { cache: false, create: false });
      const format = this.meta.get(META_FORMAT);
      if (typeof format !== 'number') {
        throw new EdgeError('EDGE_ERR_REPLICA_MISSING', `${dir} holds no replica format: it was never initialised`);
      }
      if (format > FORMAT_VERSION) {
        throw new EdgeError('EDGE_ERR_REPLICA_FORMAT', `${dir} has format ${format}, this build reads up to ${FORMAT_VERSION}`);
      }
      // the uid key encoder here too: POST /v1/scan reads the code of the uid in the session's slot (codeAt)
      this.codes = need<Uint8Array, Uint8Array>(DB_CODES, { encoding: 'binary', cache: false, create: false, keyEncoder: uidKeyEncoder(this) });
      // a custom key encoder instead of keyEncoding 'binary': same 16 raw bytes on disk
      this.display = need<Uint8Array, Uint8Array>(DB_DISPLAY, { encoding: 'binary', cache: false, create: false, keyEncoder: uidKeyEncoder(this) });
      this.venues = need<Uint8Array, string>(DB_VENUES, strDb);
      this.risk = need<Uint8Array, string>(DB_RISK, strDb);
      this.rulesDb = need<Uint8Array, string>(DB_RULES, strDb);
      this.changes = env.openDB<Uint8Array, Uint8Array>(DB_CHANGES, uidDb) as Database<Uint8Array, Uint8Array> | undefined;
    } catch (err) {
      if (this.ownsEnv) void this.env.close();
      throw err;
    }
  }

  /** Opens `<dataDir>/replica`; EDGE_ERR_REPLICA_MISSING when absent, EDGE_ERR_REPLICA_FORMAT when newer than this build. */
  static open(dir: string): ReplicaReader {
    return new ReplicaReader(dir, null);
  }

  /**
   * A reader on an environment this process has ALREADY opened (the
   * embedded stack: its sync daemon's writer). FACTS (lmdb): never open the
   * same environment twice in one process — with EDGE_WORKERS=1 the stack
   * did, and two roots in one process can deadlock lmdb-js's callback
   * transactions. close() then leaves the environment to its owner.
   */
  static attach(dir: string, env: RootDatabase): ReplicaReader {
    return new ReplicaReader(dir, env);
  }

  /**
   * HOT PATH. The display entry of a uid (replica-layout.ts: 6-byte header,
   * then the GET /v1/code body), or undefined.
   *
   * The bytes are a view of lmdb's shared read buffer (getBinaryFast): valid
   * only until the next read on this reader, so send or copy them before
   * anything else reads. The view is cut to the entry's size
   * (`subarray(0, buf.length)`): the raw fast buffer's byteLength is the
   * whole shared allocation and native senders (uWS res.end) would send all
   * of it (FACTS, measured).
   */
  displayFast(uid: Uint8Array): Uint8Array | undefined {
    const buf = this.display.getBinaryFast(uid);
    return buf === undefined ? undefined : buf.subarray(0, buf.length);
  }

  /**
   * HOT PATH. The GET /v1/code body stored for the uid at `src[off..off+16)`
   * if its entry expires after `validAfter` (unix seconds); undefined when
   * there is none or it is due for re-signing.
   *
   * No allocation: the uid is copied from `src` into lmdb's key buffer (no
   * key object), and the body is a view of lmdb's shared read buffer that is
   * made once per entry size and reused. Like displayFast, the view is valid
   * only until the next read on this reader: send it synchronously.
   */
  freshDisplayBody(src: Uint8Array, off: number, validAfter: number): Uint8Array | undefined {
    this.keySrc = src;
    const buf = this.display.getBinaryFast(off as unknown as Uint8Array);
    if (buf === undefined) return undefined;
    const size = buf.length; // lmdb-js sets .length to the value's size (FACTS)
    if (size < DISPLAY_HEADER_BYTES) return undefined;
    const exp = displayExpiresAt(buf);
    if (exp <= validAfter) return undefined;
    this.lastExpiresAt = exp;
    if (size > MAX_VIEWED_ENTRY) return buf.subarray(DISPLAY_HEADER_BYTES, size);
    if (buf !== this.viewedBuffer) {
      // lmdb-js replaced its shared buffer (a larger value was read): views of the old one are void
      this.viewedBuffer = buf;
      this.views = [];
    }
    let v = this.views[size];
    if (v === undefined) {
      v = new Uint8Array(buf.buffer, buf.byteOffset + DISPLAY_HEADER_BYTES, size - DISPLAY_HEADER_BYTES);
      this.views[size] = v;
    }
    return v;
  }

  /**
   * Walks the change log after `after` up to `upTo` (the applied sequence
   * read in this same read transaction), calling `drop(entry, offset)` for
   * each uid listed. False when the log cannot tell what changed: no log
   * (older replica), a gap (trimmed, a snapshot load), an entry marked
   * "everything", or a log that does not reach `upTo`.
   */
  changesAfter(after: number, upTo: number, drop: (src: Uint8Array, off: number) => void): boolean {
    if (this.changes === undefined || after < 0) return false;
    let expect = after + 1;
    for (const { key, value } of this.changes.getRange({ start: changeKey(after + 1) })) {
      const to = changeKeySeq(key);
      if (to > upTo) break;
      if (value.length < CHANGE_HEADER_BYTES || changeEntryFrom(value) > expect || value[0] === CHANGE_ALL) return false;
      for (let o = CHANGE_HEADER_BYTES; o + UID_BYTES <= value.length; o += UID_BYTES) drop(value, o);
      expect = to + 1;
    }
    return expect > upTo;
  }

  code(uid: Uint8Array): CodeRecord | undefined {
    const buf = this.codes.getBinaryFast(uid);
    return buf === undefined ? undefined : decodeCodeRecord(buf.subarray(0, buf.length));
  }

  /**
   * HOT PATH of POST /v1/scan: the stored code record of the uid at
   * `src[off..off+16)` as raw bytes (format byte + msgpack), a view of lmdb's
   * shared read buffer — valid only until the next read on this reader.
   * No key object: the uid is copied from `src` (the session table) into
   * lmdb's key buffer, as freshDisplayBody does.
   */
  codeBytesAt(src: Uint8Array, off: number): Uint8Array | undefined {
    this.keySrc = src;
    const buf = this.codes.getBinaryFast(off as unknown as Uint8Array);
    return buf === undefined ? undefined : buf.subarray(0, buf.length);
  }

  venue(id: string): Venue | undefined {
    if (id.length === 0 || id.length > MAX_STRING_KEY) return undefined; // LMDB refuses empty and over-long keys
    const buf = this.venues.getBinaryFast(id);
    return buf === undefined ? undefined : decodeVenue(buf.subarray(0, buf.length));
  }

  /** The risk area stored for exactly this region code. */
  riskArea(region: string): RiskArea | undefined {
    if (region.length === 0 || region.length > MAX_STRING_KEY) return undefined;
    const buf = this.risk.getBinaryFast(region);
    return buf === undefined ? undefined : checkRiskArea(decodeVersioned(buf.subarray(0, buf.length), 'risk area'));
  }

  /**
   * The risk area covering a region: the most specific one found walking up
   * street → district → city → province (regionChain), or undefined.
   */
  riskAreaCovering(region: string): RiskArea | undefined {
    for (const r of regionChain(region)) {
      const a = this.riskArea(r);
      if (a !== undefined) return a;
    }
    return undefined;
  }

  /** A stored rule-set version. */
  rules(version: string): ReplicaRules | undefined {
    if (version.length === 0 || version.length > MAX_STRING_KEY) return undefined;
    const buf = this.rulesDb.getBinaryFast(version);
    if (buf === undefined) return undefined;
    const v = decodeVersioned(buf.subarray(0, buf.length), 'rules') as Partial<ReplicaRules> | null;
    if (typeof v !== 'object' || v === null || typeof v.version !== 'string' || typeof v.activeFrom !== 'number') {
      throw new CoreError('CORE_ERR_RECORD_INVALID', `rules ${version}`);
    }
    return { version: v.version, activeFrom: v.activeFrom, ruleSet: v.ruleSet };
  }

  /** Drops this process's current read snapshot so the next read sees the latest commit (of any process). */
  refresh(): void {
    this.env.resetReadTxn();
  }

  /**
   * Stores a display entry this process signed on demand (async put, batched
   * per turn by lmdb's write thread). Pass `ifCodeSeq` = the `seq` of the
   * CodeRecord the entry was rendered from: the put then runs in a write
   * transaction that checks the current code still has it, and is dropped
   * (resolves false) if the daemon changed the code meanwhile — otherwise a
   * signature finishing after a code delta would store the old colour back.
   * Same logic as sync/replica-writer.ts putDisplay (edge may import only core/).
   */
  putDisplay(uid: Uint8Array, entry: Uint8Array, ifCodeSeq?: number): Promise<boolean> {
    if (!isUid(uid)) return Promise.reject(new TypeError(`display uid must be ${UID_BYTES} bytes`));
    if (ifCodeSeq === undefined) return this.display.put(uid, entry);
    const codes = this.codes;
    const display = this.display;
    return display.transaction(function checkAndPut() {
      const buf = codes.getBinaryFast(uid);
      if (buf === undefined) return false;
      if (decodeCodeRecord(buf.subarray(0, buf.length)).seq !== ifCodeSeq) return false;
      display.putSync(uid, entry);
      return true;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsEnv) return;
    await this.env.flushed;
    await this.env.close();
  }
}
