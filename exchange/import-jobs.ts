import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { CapabilityHost } from '../admin-api/capability.js';
import { raiseAlertEvent } from '../master/alert-events.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import { applyChunk, PROFILE, type ChunkRow } from './apply-chunk.js';
import type { ExchangeConfig } from './config.js';
import type { DatasetStore } from './dataset-store.js';
import type { DatasetDef } from './datasets.js';
import { detailOf, ExchangeError, zhOf, type ExchangeErrorCode } from './errors.js';
import { openRows, type FileFormat } from './file-reader.js';
import { mergePrepared, type PreparedChunk } from './prepare-chunk.js';
import { PreparePool } from './prepare-pool.js';
import { checkRow, layoutOf, rowError, type CheckedRow, type RowError } from './row-check.js';

/**
 * Import batches: a file spooled under <dataDir>/exchange/spool, a row in
 * exchange_batches, and an in-process queue that works through queued
 * batches one at a time (the embedded master is one PGlite connection
 * anyway). Each chunk of rows commits with the batch's progress (next_row),
 * so after a restart `start()` picks up every queued or running batch and
 * continues after its last committed chunk; a batch whose file is gone fails
 * cleanly (EXC_ERR_INTERRUPTED) with what it committed so far.
 */
/** Checked rows per message to the prepare thread. */
const PREPARE_SLICE = 1000;

export type BatchStatus = 'queued' | 'running' | 'done' | 'failed';

export interface BatchRow {
  readonly id: string;
  readonly dataset: string;
  readonly datasetVersion: number;
  readonly department: string;
  readonly region: string;
  readonly fileName: string;
  readonly format: FileFormat;
  readonly encoding: string | null;
  readonly sizeBytes: number;
  readonly status: BatchStatus;
  readonly rows: { total: number; accepted: number; rejected: number };
  readonly nextRow: number;
  readonly error: { code: string; message: string } | null;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly finishedAt: number | null;
  readonly origin: string;
}

interface DbBatch {
  id: string; dataset: string; dataset_version: number; department: string; region: string; file_name: string; format: FileFormat;
  encoding: string | null; size_bytes: number | string; status: BatchStatus; rows_total: number; accepted: number; rejected: number;
  next_row: number; error_code: string | null; error_message: string | null; created_by: string; created_at: Date; finished_at: Date | null;
  origin: string;
}

const sec = (d: Date | null): number | null => (d === null ? null : Math.floor(new Date(d).getTime() / 1000));

export function toBatch(r: DbBatch): BatchRow {
  return {
    id: r.id, dataset: r.dataset, datasetVersion: r.dataset_version, department: r.department, region: r.region, fileName: r.file_name,
    format: r.format, encoding: r.encoding, sizeBytes: Number(r.size_bytes), status: r.status,
    rows: { total: r.rows_total, accepted: r.accepted, rejected: r.rejected }, nextRow: r.next_row,
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    createdBy: r.created_by, createdAt: sec(r.created_at)!, finishedAt: sec(r.finished_at), origin: r.origin,
  };
}

export const BATCH_COLUMNS = `id, dataset, dataset_version, department, region, file_name, format, encoding, size_bytes, status, rows_total,
  accepted, rejected, next_row, error_code, error_message, created_by, created_at, finished_at, origin`;

export interface NewBatch {
  readonly dataset: DatasetDef;
  readonly department: string;
  readonly region: string;
  readonly fileName: string;
  readonly format: FileFormat;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly createdBy: string;
  readonly origin?: string;
}

export function nodeId(dataDir: string): string {
  return `${hostname()}:${dataDir}`;
}

export function newBatchId(): string {
  return randomBytes(9).toString('base64url');
}

export class ImportJobs {
  private readonly queue: string[] = [];
  private running: Promise<void> | null = null;
  private stopping = false;
  private started = false;
  private readonly crypto: PiiCrypto;
  /** hashing and encryption of the next chunk, on a worker thread */
  private readonly pool: PreparePool;
  readonly spoolDir: string;
  /** bytes read of the batch in progress (in-process: the console's progress bar) */
  private readonly progress = new Map<string, { bytesRead: number }>();
  /** called after each committed chunk (console progress; tests stop the queue here to simulate a restart) */
  onChunk: ((batchId: string, nextRow: number) => void) | null = null;

  /**
   * This master process's identity (host name + data dir): in a cluster
   * every master starts the queue, but only the one holding a batch's
   * spooled file may work on it (another would find no file and fail it).
   */
  readonly node: string;

  constructor(private readonly host: CapabilityHost, private readonly cfg: ExchangeConfig, private readonly datasets: DatasetStore) {
    this.node = nodeId(host.dataDir);
    this.crypto = new PiiCrypto(host.secrets);
    this.pool = new PreparePool(host.secrets, this.crypto);
    this.spoolDir = join(host.dataDir, 'exchange', 'spool');
    mkdirSync(this.spoolDir, { recursive: true, mode: 0o700 });
  }

  spoolPath(id: string): string {
    return join(this.spoolDir, `${id}.upload`);
  }

  /** Records a spooled file as a queued batch and queues it. */
  async create(id: string, b: NewBatch): Promise<void> {
    await this.host.db.query(
      `INSERT INTO exchange_batches (id, dataset, dataset_version, department, region, file_name, format, size_bytes, sha256, status, created_by, next_row, origin, node)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, 2, $11, $12)`,
      [id, b.dataset.id, b.dataset.version, b.department, b.region, b.fileName, b.format, b.sizeBytes, b.sha256, b.createdBy, b.origin ?? 'upload', this.node],
    );
    this.enqueue(id);
  }

  async get(id: string): Promise<BatchRow | null> {
    const r = await this.host.db.query<DbBatch>(`SELECT ${BATCH_COLUMNS} FROM exchange_batches WHERE id = $1`, [id]);
    return r.rows.length === 0 ? null : toBatch(r.rows[0]!);
  }

  /** Bytes of the file read so far while the batch runs in this process; null otherwise. */
  bytesRead(id: string): number | null {
    return this.progress.get(id)?.bytesRead ?? null;
  }

  enqueue(id: string): void {
    if (!this.queue.includes(id)) this.queue.push(id);
    if (this.started && !this.stopping) this.kick();
  }

  /** Resumes every queued or running batch (oldest first), then serves new ones. */
  async start(): Promise<void> {
    this.started = true;
    this.stopping = false;
    const r = await this.host.db.query<{ id: string }>(
      "SELECT id FROM exchange_batches WHERE status IN ('queued', 'running') AND node = $1 ORDER BY created_at, id",
      [this.node],
    );
    for (const x of r.rows) if (!this.queue.includes(x.id)) this.queue.push(x.id);
    this.kick();
  }

  /** Stops after the chunk in flight commits; the batch stays 'running' and resumes at the next start(). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    await this.pool.close();
  }

  /** Resolves when the queue is empty (tests, bench). */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  private kick(): void {
    if (this.running !== null || this.stopping || this.queue.length === 0) return;
    const loop = async (): Promise<void> => {
      await Promise.resolve(); // never finish synchronously: `running` is assigned first
      try {
        while (!this.stopping && this.queue.length > 0) {
          const id = this.queue.shift()!;
          await this.run(id);
        }
      } finally {
        this.running = null;
      }
    };
    // a batch that throws past its own error handling (the database away) stays
    // queued in its table and resumes at the next start; never an unhandled rejection
    this.running = loop().catch((err: unknown) => this.host.log(`exchange: import queue stopped on an error (resumes at restart): ${(err as Error).message}`));
  }

  private async fail(id: string, code: ExchangeErrorCode, detail: string | undefined): Promise<void> {
    const message = detail === undefined || detail === '' ? zhOf(code) : `${zhOf(code)}：${detail}`;
    await this.host.db.transaction(async (tx) => {
      await tx.query(
        "UPDATE exchange_batches SET status = 'failed', error_code = $2, error_message = $3, finished_at = now() WHERE id = $1",
        [id, code, message],
      );
      await tx.query('INSERT INTO exchange_errors (batch_id, row, field, code, message) VALUES ($1, 0, $2, $3, $4)', [id, '', code, message]);
    });
    this.host.log(`exchange: batch ${id} failed ${code}`);
    this.removeSpool(id);
  }

  private removeSpool(id: string): void {
    rmSync(this.spoolPath(id), { force: true });
  }

  private async run(id: string): Promise<void> {
    const b = await this.get(id);
    if (b === null || b.status === 'done' || b.status === 'failed') return;
    const path = this.spoolPath(id);
    if (!existsSync(path)) {
      await this.fail(id, 'EXC_ERR_INTERRUPTED', undefined);
      return;
    }
    try {
      const def = await this.datasets.get(b.dataset, b.datasetVersion);
      await this.host.codes.activeRules(); // publishes the built-in rules on a fresh master, outside the chunk transactions
      await this.host.db.query("UPDATE exchange_batches SET status = 'running', started_at = COALESCE(started_at, now()) WHERE id = $1", [id]);
      const finished = await this.process(b, def, path);
      if (!finished) return; // stopping: resumes at the next start()
      await this.finish(id, def);
      this.removeSpool(id);
    } catch (err) {
      if (this.stopping && !(err instanceof ExchangeError)) return; // the database went away under a shutdown: resume later
      if (err instanceof ExchangeError) {
        const code = err.code as ExchangeErrorCode;
        await this.fail(id, code, detailOf(code, err.message));
      } else {
        this.host.log(`exchange: batch ${id} internal error: ${(err as Error).name} ${(err as { code?: string }).code ?? ''}`);
        if (process.env.EXCHANGE_DEBUG === '1') console.error(err);
        await this.fail(id, 'EXC_ERR_INTERNAL', undefined);
      }
    }
  }

  /** Streams the file through the checks in chunks. false = stopped before the end. */
  private async process(b: BatchRow, def: DatasetDef, path: string): Promise<boolean> {
    const progress = { bytesRead: 0 };
    this.progress.set(b.id, progress);
    const { encoding, rows } = await openRows(path, b.format, progress);
    if (encoding !== null && b.encoding === null) {
      await this.host.db.query('UPDATE exchange_batches SET encoding = $2 WHERE id = $1', [b.id, encoding]);
    }
    let layout: ReturnType<typeof layoutOf> | null = null;
    let chunk: ChunkRow[] = [];
    // The chunk's checked rows go to the prepare thread in slices as they are read, so hashing
    // overlaps the reading too; one clock reading per chunk for its preparation and its write.
    let slices: Promise<PreparedChunk>[] = [];
    let unsent: CheckedRow[] = [];
    let chunkNowMs: number | null = null;
    const send = (): void => {
      if (unsent.length === 0) return;
      const p = this.pool.prepare(def, unsent, chunkNowMs!);
      p.catch(() => undefined); // awaited at the flush: never an unhandled rejection meanwhile
      slices.push(p);
      unsent = [];
    };
    const ctx = {
      store: this.host.store, rules: this.host.codes.rules, secrets: this.host.secrets, crypto: this.crypto, batchId: b.id, def,
      nowMs: this.host.nowMs(), log: (l: string) => this.host.log(l), lazyFirstCode: this.cfg.importFirstCode === 'lazy',
    };
    // Pipelined: while chunk N commits on this thread (the embedded database runs here), the
    // prepare thread hashes and encrypts chunk N+1 (prepare-pool.ts). At most one chunk is
    // being written and one prepared; they commit in file order, each with its progress.
    let inflight: Promise<void> | null = null;
    let unwritten = false;
    const settle = async (): Promise<void> => {
      const p = inflight;
      inflight = null;
      if (p !== null) await p;
    };
    const flush = async (nextRow: number): Promise<void> => {
      const part = chunk;
      chunk = [];
      send();
      const nowMs = chunkNowMs ?? this.host.nowMs();
      const prepared = Promise.all(slices).then(mergePrepared);
      prepared.catch(() => undefined); // awaited below: never an unhandled rejection meanwhile
      slices = [];
      chunkNowMs = null;
      await settle(); // the previous chunk commits while this one is prepared
      if (this.stopping) {
        unwritten = true; // not written: the batch resumes at this chunk
        return;
      }
      const apply = async (): Promise<void> => {
        let t = performance.now();
        const p = await prepared;
        PROFILE.set('prepare-wait', (PROFILE.get('prepare-wait') ?? 0) + performance.now() - t);
        t = performance.now();
        const r = await applyChunk({ ...ctx, nowMs }, part, nextRow, p);
        PROFILE.set('applyChunk', (PROFILE.get('applyChunk') ?? 0) + performance.now() - t);
        if (r.changed > 0) this.host.committed();
        this.onChunk?.(b.id, nextRow);
      };
      const running = apply();
      running.catch(() => undefined); // settled by the next flush or at the end
      inflight = running;
    };
    try {
      for await (const raw of rows) {
        if (layout === null) {
          layout = layoutOf(def, raw.cells);
          // kept for the reject download's header row (column names only, no personal data)
          await this.host.db.query('UPDATE exchange_batches SET header = $2::jsonb WHERE id = $1 AND header IS NULL', [b.id, JSON.stringify(raw.cells.map((c) => c.slice(0, 64)))]);
          continue;
        }
        if (raw.row < b.nextRow) continue; // committed before a restart
        let result = checkRow(def, layout, raw.row, raw.cells, this.host.nowMs());
        if (raw.formulaCols !== undefined) {
          const errs: RowError[] = raw.formulaCols.map((c) => rowError(raw.row, layout!.columns[c]?.name ?? '', 'EXC_ERR_XLSX_FORMULA', `第 ${c + 1} 列`));
          result = errs;
        }
        chunkNowMs ??= this.host.nowMs();
        chunk.push({ row: raw.row, cells: raw.cells.map((c) => (c.length > 256 ? `${c.slice(0, 256)}…` : c)), result });
        if (!Array.isArray(result)) {
          unsent.push(result);
          if (unsent.length >= PREPARE_SLICE) send();
        }
        if (chunk.length >= this.cfg.chunkRows) {
          await flush(raw.row + 1);
          if (this.stopping) {
            await settle();
            return false;
          }
        }
      }
    } catch (err) {
      await settle(); // chunks before a bad record commit exactly once; a failed write is the first error
      throw err;
    } finally {
      this.progress.delete(b.id);
      await rows.return(undefined);
    }
    if (layout === null) throw new ExchangeError('EXC_ERR_EMPTY_FILE');
    if (chunk.length > 0) await flush(chunk[chunk.length - 1]!.row + 1);
    await settle();
    return !unwritten;
  }

  /** Marks the batch done; a reject share over the threshold raises an alert in the same transaction. */
  private async finish(id: string, def: DatasetDef): Promise<void> {
    await this.host.db.transaction(async (tx) => {
      const r = await tx.query<DbBatch>(
        `UPDATE exchange_batches SET status = 'done', finished_at = now() WHERE id = $1 RETURNING ${BATCH_COLUMNS}`,
        [id],
      );
      const b = toBatch(r.rows[0]!);
      const share = b.rows.total === 0 ? 0 : b.rows.rejected / b.rows.total;
      if (b.rows.total >= this.cfg.alertMinRows && share > this.cfg.alertRejectShare) {
        await raiseAlertEvent(tx, {
          source: 'exchange', kind: 'exchange.reject_threshold', severity: share > 0.5 ? 'critical' : 'warning',
          key: `department:${b.department}`,
          summary: `${b.department}报送的${def.name}拒收率 ${(share * 100).toFixed(1)}%，超过阈值 ${(this.cfg.alertRejectShare * 100).toFixed(1)}%`,
          details: { batch: b.id, dataset: def.id, total: b.rows.total, rejected: b.rows.rejected, threshold: this.cfg.alertRejectShare },
          region: b.region === '' ? null : b.region,
        });
      }
    });
    this.host.log(`exchange: batch ${id} done`);
  }
}
