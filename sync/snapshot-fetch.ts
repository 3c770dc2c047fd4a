import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { SyncError } from './errors.js';
import { verifySnapshotIsolated, type VerifiedSnapshot } from './snapshot.js';

/**
 * Edge side of a bootstrap (DESIGN §6): downloads the snapshot the master's
 * sync endpoint serves (sync/snapshot.ts `snapshotHandler`) into a private
 * directory, and accepts it only if it is whole:
 *
 *   - the byte count equals `content-length` (a cut connection is not a snapshot);
 *   - the SHA-256 computed WHILE streaming equals `x-snapshot-sha256`
 *     (no second read of a file of gigabytes);
 *   - the file opens as a replica at exactly `x-snapshot-seq` and passes the
 *     same key walk the master ran before serving it (verifySnapshotDir).
 *
 * The file is fsync'ed before it is opened: the daemon then merges it into
 * the live replica, and a crash in between must not find half a page.
 * undici's `request` streams the body (no buffering of gigabytes); its
 * headersTimeout is long because the master may build a snapshot first
 * (`minSeq` newer than its newest).
 */
export interface FetchOptions {
  /** a snapshot at this sequence or later */
  readonly minSeq: number;
  /** HC_SYNC_TOKEN */
  readonly token?: string;
  /** wait this long for the answer to start (the master may build first), default 120 000 */
  readonly headersTimeoutMs?: number;
  /** longest silence while streaming, default 60 000 */
  readonly bodyTimeoutMs?: number;
  readonly onProgress?: (bytes: number, total: number) => void;
  /** aborts the download (the daemon stopping) */
  readonly signal?: AbortSignal;
}

export interface FetchedSnapshot extends VerifiedSnapshot {
  /** the environment directory holding the verified snapshot */
  readonly dir: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly ms: number;
}

class HashTap extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly onProgress: ((n: number) => void) | undefined) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    cb(null, chunk);
  }
}

/** Downloads into `dir` (emptied first) and verifies; SYNC_ERR_SNAPSHOT_UNAVAILABLE / _CORRUPT otherwise. */
export async function fetchSnapshot(url: string, dir: string, opts: FetchOptions): Promise<FetchedSnapshot> {
  const t0 = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = new URL(url);
  target.searchParams.set('minSeq', String(opts.minSeq));
  let res;
  try {
    res = await request(target, {
      method: 'GET',
      headers: opts.token === undefined || opts.token === '' ? {} : { authorization: `Bearer ${opts.token}` },
      headersTimeout: opts.headersTimeoutMs ?? 120_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 60_000,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    });
  } catch (err) {
    throw new SyncError('SYNC_ERR_SNAPSHOT_UNAVAILABLE', `${target.origin}${target.pathname}: ${(err as Error).message}`);
  }
  if (res.statusCode !== 200) {
    const text = await res.body.text().catch(() => '');
    throw new SyncError('SYNC_ERR_SNAPSHOT_UNAVAILABLE', `${target.origin}${target.pathname} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  }
  const seq = Number(res.headers['x-snapshot-seq']);
  const sha = String(res.headers['x-snapshot-sha256'] ?? '');
  const total = Number(res.headers['content-length']);
  if (!Number.isSafeInteger(seq) || seq < opts.minSeq || !/^[0-9a-f]{64}$/.test(sha) || !Number.isSafeInteger(total)) {
    await res.body.dump();
    throw new SyncError('SYNC_ERR_SNAPSHOT_CORRUPT', `bad snapshot headers: seq ${String(res.headers['x-snapshot-seq'])} (wanted ≥ ${opts.minSeq}), sha256 ${sha || '(none)'}, length ${String(res.headers['content-length'])}`);
  }
  const path = join(dir, 'data.mdb');
  const tap = new HashTap(opts.onProgress === undefined ? undefined : (n) => opts.onProgress!(n, total));
  try {
    await pipeline(res.body, tap, createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 }));
    const fh = await openFile(path, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new SyncError('SYNC_ERR_SNAPSHOT_UNAVAILABLE', `download of snapshot ${seq} broke after ${tap.bytes} of ${total} bytes: ${(err as Error).message}`);
  }
  if (tap.bytes !== total) throw new SyncError('SYNC_ERR_SNAPSHOT_CORRUPT', `snapshot ${seq}: ${tap.bytes} bytes received, ${total} announced`);
  const got = tap.hash.digest('hex');
  if (got !== sha) throw new SyncError('SYNC_ERR_SNAPSHOT_CORRUPT', `snapshot ${seq}: SHA-256 ${got}, announced ${sha}`);
  const v = await verifySnapshotIsolated(dir, { seq });
  return { ...v, dir, bytes: total, sha256: sha, ms: Date.now() - t0 };
}
