import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { colorByte } from '../core/code-record.js';
import { KeySet } from '../core/key-set.js';
import { encodeDisplayEntry, REPLICA_DIR } from '../core/replica-layout.js';
import type { PublicKeyInfo, SigningKey } from '../core/signing-key.js';
import { noticesChangeAt, renderDisplayBody } from '../edge/display-body.js';
import { chooseSigningKey, ensureNodeKeys, publicNodeKeys, readNodeKeys } from '../edge/node-keys.js';
import { SignPool } from '../edge/sign-pool.js';
import type { DeltaBus } from './delta-bus.js';
import { SyncError } from './errors.js';
import { DisplaySweep, type DisplaySweepMetrics, type DisplaySweepOptions } from './display-sweep.js';
import { ReplicaFollower, type FollowerMetrics } from './replica-follower.js';
import { ReplicaWriter, type LoadSnapshotResult } from './replica-writer.js';
import { fetchSnapshot } from './snapshot-fetch.js';
import { openSnapshotImage } from './snapshot-image.js';

/**
 * The edge node's sync daemon (DESIGN §1, §6): the ONE writer of the node's
 * replica (`<dataDir>/replica`) apart from the display entries the edge
 * servers store.
 *
 *  - Bootstrap: a new replica, or one whose position was trimmed from the
 *    stream, downloads a snapshot (snapshot-fetch.ts: undici stream into
 *    `<dataDir>/bootstrap/`, SHA-256 and key walk verified) and merges it
 *    INTO the live environment (ReplicaWriter.loadSnapshot).
 *
 *    Decision — merge in place, not versioned directories: edge server
 *    processes hold the replica environment open for their whole life
 *    (edge/server.ts opens `<dataDir>/replica` once), so a new directory
 *    would need every server to notice a `current` pointer, reopen, and
 *    drain requests still reading the old map — machinery on the hot path's
 *    process for a rare event. Merging in one write transaction switches
 *    every reader from the old state to the new one atomically at the
 *    commit (LMDB MVCC), keeps the display entries (signatures) of everyone
 *    whose code did not change, and needs nothing from the servers. On a new
 *    node (empty replica) the image is bulk-loaded in chunks instead; the
 *    node is not ready meanwhile (never synced) and says so.
 *
 *  - Tail: replica-follower.ts — XREAD after the applied seq stored in the
 *    replica, each entry applied in one LMDB transaction with its seq,
 *    syncedAt after every drained read. A crash (kill -9 included) resumes
 *    exactly at the applied seq: no gap, no double apply.
 *
 *  - Signing: decision — sign changed codes eagerly only for ordinary
 *    changes, lazily for mass changes. Applying a code delta deletes the
 *    uid's display entry in the same transaction (replica-layout.ts
 *    invariant), so the next display re-signs on the edge's pool anyway.
 *    When an applied read changed at most `presignMax` codes (default 256),
 *    the daemon signs them right away on its own pool — the person who was
 *    just told "your code changed" gets an instant display. A mass change
 *    (a district locked down: 1M codes) is NOT pre-signed: 1M Ed25519
 *    signatures are ≈ 30 s of a core on every edge (FACTS: 33k/s), mostly for
 *    people who will not open the app before the token would have to be
 *    renewed anyway; on-demand signing spreads that cost over the people
 *    who actually look, at ≤ one signature each.
 *
 *  - Keys: at start and every `keysEveryMs` the node's own public keys
 *    (edge/node-keys.ts) are compared with the key set the replica holds;
 *    keys missing there are registered with the master (`registerKeys`:
 *    direct in the embedded stack, POST /sync/v1/node-keys in a cluster).
 *    The master publishes the new key set as a `keys` delta, which brings
 *    them to every node's GET /v1/keys.
 */
export type KeyRegistrar = (node: string, keys: PublicKeyInfo[]) => Promise<void>;

export interface SnapshotSourceOptions {
  /** GET /sync/v1/snapshot on the master's sync port */
  readonly url: string;
  /** HC_SYNC_TOKEN */
  readonly token?: string;
}

export interface EdgeDaemonOptions {
  readonly dataDir: string;
  readonly bus: DeltaBus;
  /** where snapshots come from; without it a new replica replays the stream from its start */
  readonly snapshot?: SnapshotSourceOptions;
  /** node id (scan ids, key registration) */
  readonly node: string;
  readonly registerKeys?: KeyRegistrar;
  /** how often keys are compared with the replica's key set (default 60 000 ms) */
  readonly keysEveryMs?: number;
  /** token lifetime and key options as the edge servers use them (edge/config.ts); without it nothing is pre-signed */
  readonly signing?: {
    readonly tokenTtlSec: number;
    readonly signAlg: 'Ed25519' | 'SM2';
    readonly keyLifetimeDays: number;
    /** signing threads of the daemon's pool (default 1) */
    readonly threads?: number;
  };
  /** pre-sign an entry's changed codes when there are at most this many (default 256; 0 = never) */
  readonly presignMax?: number;
  readonly readCount?: number;
  readonly blockMs?: number;
  readonly log?: (line: string) => void;
  readonly onBootstrapProgress?: (bytes: number, total: number) => void;
  /** background sweep of expired display entries (sync/display-sweep.ts); false = none. Default: on, with its defaults */
  readonly sweep?: DisplaySweepOptions | false;
  /** after every applied read (metrics, benchmarks): the new applied seq and how many deltas it took */
  readonly onApplied?: (appliedSeq: number, deltas: number) => void;
}

export interface EdgeDaemonMetrics extends FollowerMetrics {
  readonly presigned: number;
  readonly presignSkipped: number;
  readonly keyRegistrations: number;
  readonly lastBootstrap: (LoadSnapshotResult & { bytes: number; ms: number }) | null;
  readonly sweep: DisplaySweepMetrics | null;
}

export class EdgeDaemon {
  readonly writer: ReplicaWriter;
  readonly follower: ReplicaFollower;
  private readonly opts: EdgeDaemonOptions;
  private readonly log: (line: string) => void;
  private readonly presignMax: number;
  private pool: SignPool | null = null;
  private keysTimer: NodeJS.Timeout | null = null;
  private keysRunning: Promise<void> | null = null;
  private presigned = 0;
  private presignSkipped = 0;
  private keyRegistrations = 0;
  private lastBootstrap: EdgeDaemonMetrics['lastBootstrap'] = null;
  private closed = false;
  private readonly sweep: DisplaySweep | null;
  /** aborts a snapshot download in flight when the daemon closes */
  private readonly abort = new AbortController();

  private constructor(opts: EdgeDaemonOptions, writer: ReplicaWriter) {
    this.opts = opts;
    this.writer = writer;
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.presignMax = opts.signing === undefined ? 0 : opts.presignMax ?? 256;
    this.sweep = opts.sweep === false ? null : new DisplaySweep(writer, { log: this.log, ...(opts.sweep ?? {}) });
    const self = this;
    this.follower = new ReplicaFollower({
      writer,
      bus: opts.bus,
      bootstrapWhenNew: opts.snapshot !== undefined,
      ...(opts.readCount === undefined ? {} : { readCount: opts.readCount }),
      maxChanged: this.presignMax,
      ...(opts.blockMs === undefined ? {} : { blockMs: opts.blockMs }),
      hooks: {
        bootstrap: (minSeq) => self.bootstrap(minSeq),
        onApplied: (changed, seq, deltas) => self.afterApply(changed, seq, deltas),
        onError: (err) => self.log(`sync: ${err.message}`),
      },
    });
  }

  /** Opens (creating) `<dataDir>/replica`. */
  static open(opts: EdgeDaemonOptions): EdgeDaemon {
    const dir = join(opts.dataDir, REPLICA_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new EdgeDaemon(opts, ReplicaWriter.open({ dir }));
  }

  start(): void {
    if (this.opts.signing !== undefined && this.presignMax > 0 && this.pool === null) {
      this.pool = new SignPool({ dataDir: this.opts.dataDir, threads: this.opts.signing.threads ?? 1 });
    }
    this.follower.start();
    this.sweep?.start();
    if (this.opts.registerKeys !== undefined) {
      void this.syncKeys();
      this.keysTimer = setInterval(() => void this.syncKeys(), this.opts.keysEveryMs ?? 60_000);
      this.keysTimer.unref();
    }
  }

  appliedSeq(): number {
    return this.writer.appliedSeq();
  }

  waitFor(seq: number, timeoutMs: number): Promise<boolean> {
    return this.follower.waitFor(seq, timeoutMs);
  }

  metrics(): EdgeDaemonMetrics {
    return {
      ...this.follower.metrics(),
      presigned: this.presigned,
      presignSkipped: this.presignSkipped,
      keyRegistrations: this.keyRegistrations,
      lastBootstrap: this.lastBootstrap,
      sweep: this.sweep?.metrics() ?? null,
    };
  }

  /** Stops following, waits for work in flight, closes the replica. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.keysTimer !== null) clearInterval(this.keysTimer);
    this.sweep?.stop();
    this.abort.abort();
    await this.follower.stop();
    await this.keysRunning?.catch(() => undefined);
    await this.pool?.close();
    await this.writer.close();
  }

  // ── bootstrap ───────────────────────────────────────────────────────────

  private async bootstrap(minSeq: number): Promise<void> {
    const src = this.opts.snapshot;
    if (src === undefined) {
      if (minSeq === 0) return; // new replica, no snapshot source: replay the stream from its start
      throw new SyncError('SYNC_ERR_SNAPSHOT_UNAVAILABLE', `the stream no longer holds the deltas after ${this.writer.appliedSeq()} and no snapshot source is configured`);
    }
    const dir = join(this.opts.dataDir, 'bootstrap');
    try {
      let fetched;
      try {
        fetched = await fetchSnapshot(src.url, dir, {
          minSeq,
          signal: this.abort.signal,
          ...(src.token === undefined ? {} : { token: src.token }),
          ...(this.opts.onBootstrapProgress === undefined ? {} : { onProgress: this.opts.onBootstrapProgress }),
        });
      } catch (err) {
        // A brand-new replica can still replay the stream if it starts at 1: the trim check sends us back here otherwise.
        if (minSeq === 0) {
          this.log(`sync: no snapshot (${(err as Error).message}); reading the stream from its start`);
          return;
        }
        throw err;
      }
      const image = openSnapshotImage(fetched.dir);
      try {
        const t0 = Date.now();
        const r = this.writer.loadSnapshot(image);
        this.lastBootstrap = { ...r, bytes: fetched.bytes, ms: fetched.ms + Date.now() - t0 };
        this.log(
          `sync: bootstrapped from snapshot ${r.seq} (${(fetched.bytes / 1048576).toFixed(1)} MiB, ${r.mode}: ` +
            `${r.codes.put} codes written, ${r.codes.deleted} deleted, ${r.codes.unchanged} unchanged) in ${this.lastBootstrap.ms} ms`,
        );
      } finally {
        await image.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // ── eager signing of ordinary changes ─────────────────────────────────────

  private afterApply(changed: Uint8Array[] | null, seq: number, deltas: number): void {
    this.opts.onApplied?.(seq, deltas);
    if (changed === null) {
      this.presignSkipped += deltas; // a mass change: signed on demand (see the file comment)
      return;
    }
    if (changed.length === 0 || this.pool === null) return;
    void this.presign(changed).catch((err: Error) => this.log(`sync: pre-signing failed: ${err.message}`));
  }

  private signingKey(now: number): SigningKey | null {
    const keys = readNodeKeys(this.opts.dataDir) ?? [];
    let published: KeySet;
    try {
      const raw = this.writer.keys();
      published = raw === undefined || raw === null ? new KeySet([]) : KeySet.fromPublicJson(raw);
    } catch {
      published = new KeySet([]);
    }
    const chosen = chooseSigningKey(keys, now, function isPublished(kid, publicKey) {
      return published.get(kid)?.publicKey === publicKey;
    });
    return chosen?.key ?? null;
  }

  /** Same rendering and stored expiry as edge/server.ts renderDisplay (keep in step). */
  private async presign(uids: Uint8Array[]): Promise<void> {
    const signing = this.opts.signing!;
    const pool = this.pool!;
    const iat = Math.floor(Date.now() / 1000);
    const key = this.signingKey(iat);
    if (key === null) return;
    const exp = Math.min(iat + signing.tokenTtlSec, key.notAfter);
    if (exp <= iat) return;
    const marginSec = Math.max(1, Math.ceil(signing.tokenTtlSec / 10));
    const jobs: Promise<void>[] = [];
    for (const uid of uids) {
      const record = this.writer.code(uid);
      if (record === undefined) continue;
      jobs.push(
        pool.sign(key.kid, { uid, color: colorByte(record.color), iat, exp }).then((token) => {
          const body = renderDisplayBody(record, token, exp, iat);
          const storedUntil = Math.min(exp, noticesChangeAt(record.notices, iat) + marginSec);
          // ifCodeSeq: dropped if a newer delta changed the code while we signed
          return this.writer.putDisplay(uid, encodeDisplayEntry(storedUntil, key.kid, body), record.seq).then((stored) => {
            if (stored) this.presigned++;
          });
        }),
      );
    }
    await Promise.all(jobs);
  }

  // ── key registration ──────────────────────────────────────────────────────

  /** Registers this node's keys with the master when the replica's key set lacks any of them. */
  syncKeys(): Promise<void> {
    if (this.keysRunning !== null) return this.keysRunning;
    this.keysRunning = this.registerMissingKeys()
      .catch((err: Error) => this.log(`sync: ${err instanceof SyncError ? err.message : `key registration failed: ${err.message}`}`))
      .finally(() => {
        this.keysRunning = null;
      });
    return this.keysRunning;
  }

  private async registerMissingKeys(): Promise<void> {
    const register = this.opts.registerKeys;
    if (register === undefined) return;
    const now = Math.floor(Date.now() / 1000);
    let keys = readNodeKeys(this.opts.dataDir);
    if (keys === null && this.opts.signing !== undefined) {
      // The edge servers create it too; whoever is first wins (edge/node-keys.ts: race-free creation).
      keys = ensureNodeKeys(this.opts.dataDir, {
        alg: this.opts.signing.signAlg,
        lifetimeSec: this.opts.signing.keyLifetimeDays * 86_400,
        now,
      });
    }
    if (keys === null) return;
    const live = keys.filter((k) => k.notAfter > now);
    let published: KeySet;
    try {
      const raw = this.writer.keys();
      published = raw === undefined || raw === null ? new KeySet([]) : KeySet.fromPublicJson(raw);
    } catch {
      published = new KeySet([]);
    }
    const missing = live.filter((k) => published.get(k.kid)?.publicKey !== k.publicKey);
    if (missing.length === 0) return;
    await register(this.opts.node, publicNodeKeys(live));
    this.keyRegistrations++;
    this.log(`sync: registered node keys ${missing.map((k) => k.kid).join(', ')} of ${this.opts.node} with the master`);
  }
}
