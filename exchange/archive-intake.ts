import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { CapabilityHost } from '../admin-api/capability.js';
import type { DatasetStore } from './dataset-store.js';
import { detailOf, ExchangeError, zhOf, type ExchangeErrorCode } from './errors.js';
import type { FileFormat } from './file-reader.js';
import type { ImportJobs } from './import-jobs.js';
import { newBatchId } from './import-jobs.js';
import { candidatePasswords, expandPattern } from './password-rules.js';
import type { ExchangeSecrets } from './recipients.js';
import type { SftpForwarder } from './sftp-forward.js';
import { encryptZip, extractZip, type ZipLimits } from './zip-archive.js';
import { PollLoop } from './poll-loop.js';

/**
 * Encrypted archives in (issue 10 item 4). An archive arrives in the intake
 * folder as `<dataDir>/exchange/intake/<dataset>/<department>/<name>.zip`
 * (a department's SFTP drop or a mount), or through `take()` directly:
 *
 * 1. same bytes as an archive already taken (sha-256) → recorded as a
 *    duplicate, nothing imported twice;
 * 2. opened with the department's password rule (today's, yesterday's, the
 *    day before's password), zip-bomb and path limits enforced;
 * 3. every CSV / XLSX inside becomes an import batch (the same checks and
 *    code assignment as an upload);
 * 4. for every recipient subscribed to the dataset, the files are
 *    re-encrypted (AES-256) with the recipient's password of the day and a
 *    forward row queued for the SFTP forwarder (exactly once, retried).
 *
 * The intake file is removed once its outcome is recorded; a failed archive
 * keeps its coded error (EXC_ERR_ZIP_*) in exchange_archives.
 */
export interface ArchiveResult {
  readonly id: string;
  readonly status: 'done' | 'failed' | 'duplicate';
  readonly error: { code: string; message: string } | null;
  readonly batches: string[];
  readonly forwards: string[];
}

export class ArchiveIntake {
  readonly intakeDir: string;
  private readonly workDir: string;
  private readonly loop: PollLoop<void>;

  constructor(
    private readonly host: CapabilityHost,
    private readonly jobs: ImportJobs,
    private readonly datasets: DatasetStore,
    private readonly secrets: ExchangeSecrets,
    private readonly forwarder: SftpForwarder,
    private readonly opts: { pollMs: number; limits: ZipLimits },
  ) {
    this.loop = new PollLoop(() => this.pollOnce(), { pollMs: this.opts.pollMs, log: (l) => this.host.log(l), what: 'intake' });
    this.intakeDir = join(host.dataDir, 'exchange', 'intake');
    this.workDir = join(host.dataDir, 'exchange', 'work');
    mkdirSync(this.intakeDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.workDir, { recursive: true, mode: 0o700 });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Takes every archive waiting in the intake folder (one scan at a time). */
  poll(): Promise<void> {
    return this.loop.run();
  }

  private async pollOnce(): Promise<void> {
    for (const dataset of safeList(this.intakeDir)) {
      for (const department of safeList(join(this.intakeDir, dataset))) {
        const dir = join(this.intakeDir, dataset, department);
        for (const name of safeList(dir)) {
          if (extname(name).toLowerCase() !== '.zip') continue;
          const path = join(dir, name);
          await this.take(path, dataset, department, name);
          rmSync(path, { force: true });
        }
      }
    }
  }

  /** Processes one archive file (left in place: the caller removes it). */
  async take(path: string, dataset: string, department: string, fileName: string): Promise<ArchiveResult> {
    const id = randomBytes(9).toString('base64url');
    const size = statSync(path).size;
    const sha256 = await sha256File(path);
    const prior = await this.host.db.query<{ id: string }>("SELECT id FROM exchange_archives WHERE sha256 = $1 AND status = 'done' LIMIT 1", [sha256]);
    if (prior.rows.length > 0) {
      await this.record(id, department, dataset, fileName, sha256, size, 'duplicate', null, []);
      return { id, status: 'duplicate', error: null, batches: [], forwards: [] };
    }
    const work = join(this.workDir, id);
    mkdirSync(work, { recursive: true, mode: 0o700 });
    const early: string[] = [];
    let recorded = false;
    try {
      const def = await this.datasets.get(dataset);
      const rule = await this.secrets.passwordRule(department);
      if (rule === null) throw new ExchangeError('EXC_ERR_NO_PASSWORD_RULE');
      const { files } = await extractZip(path, work, candidatePasswords(rule, this.host.nowMs()), this.opts.limits);
      const data = files.filter((f) => formatOf(f.name) !== null);
      if (data.length === 0) throw new ExchangeError('EXC_ERR_ZIP_EMPTY');

      // Re-encrypt for every subscribed recipient before the files move into the import spool.
      const forwards: { id: string; recipientId: string; remoteName: string; bytes: number }[] = [];
      const day = expandPattern('{yyyyMMdd}', this.host.nowMs());
      for (const r of await this.secrets.recipients(dataset)) {
        const s = await this.secrets.recipientSecrets(r.id);
        const fid = randomBytes(9).toString('base64url');
        const remoteName = `${dataset}-${day}-${fid}.zip`;
        // the upload to `<name>.part` runs while the archive is written (sftp-forward.ts beginEarly); the
        // forwarder renames it once the forward below is recorded
        early.push(fid);
        const mirror = await this.forwarder.beginEarly(fid, r, s, remoteName);
        const bytes = await encryptZip(data.map((f) => ({ name: basename(f.name), path: f.path })), this.forwarder.localPath(fid), expandPattern(s.zipPattern, this.host.nowMs()), mirror === undefined ? {} : { mirror });
        forwards.push({ id: fid, recipientId: r.id, remoteName, bytes });
      }
      const batches: string[] = [];
      await this.record(id, department, dataset, fileName, sha256, size, 'done', null, []);
      for (const f of data) {
        const bid = newBatchId();
        renameSync(f.path, this.jobs.spoolPath(bid));
        await this.jobs.create(bid, {
          dataset: def, department, region: '', fileName: `${fileName}/${basename(f.name)}`.slice(0, 200), format: formatOf(f.name)!,
          sizeBytes: f.bytes, sha256, createdBy: `archive:${id}`, origin: `archive:${id}`,
        });
        batches.push(bid);
      }
      await this.host.db.transaction(async (tx) => {
        await tx.query('UPDATE exchange_archives SET batches = $2::jsonb WHERE id = $1', [id, JSON.stringify(batches)]);
        for (const fw of forwards) {
          await tx.query(
            `INSERT INTO exchange_forwards (id, archive_id, recipient_id, remote_name, bytes, status, next_attempt_at, node)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)`,
            [fw.id, id, fw.recipientId, fw.remoteName, fw.bytes, new Date(this.host.nowMs()), this.jobs.node],
          );
        }
      });
      recorded = true;
      this.host.log(`exchange: archive ${id} taken: ${batches.length} batches, ${forwards.length} forwards`);
      if (forwards.length > 0) void this.forwarder.deliverDue().catch((err: unknown) => this.host.log(`exchange: forward pass failed (retrying): ${(err as Error).message}`));
      return { id, status: 'done', error: null, batches, forwards: forwards.map((f) => f.id) };
    } catch (err) {
      if (!(err instanceof ExchangeError)) throw err;
      const code = err.code as ExchangeErrorCode;
      const detail = detailOf(code, err.message);
      const error = { code, message: detail === '' ? zhOf(code) : `${zhOf(code)}：${detail}` };
      await this.record(id, department, dataset, fileName, sha256, size, 'failed', error, []);
      this.host.log(`exchange: archive ${id} failed ${code}`);
      return { id, status: 'failed', error, batches: [], forwards: [] };
    } finally {
      // early uploads of forwards that were never recorded: closed, their `.part` never renamed
      if (!recorded) for (const fid of early) await this.forwarder.discardEarly(fid);
      rmSync(work, { recursive: true, force: true });
    }
  }

  private async record(
    id: string, department: string, dataset: string, fileName: string, sha256: string, size: number,
    status: ArchiveResult['status'], error: { code: string; message: string } | null, batches: string[],
  ): Promise<void> {
    await this.host.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO exchange_archives (id, department, dataset, file_name, sha256, size_bytes, status, error_code, error_message, batches)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)`,
        [id, department, dataset, fileName.slice(0, 200), sha256, size, status, error?.code ?? null, error?.message ?? null, JSON.stringify(batches)],
      );
      // every import is in the audit trail (issue 10 item 7), those arriving as archives too; the batches follow as exchange_batches rows
      await this.host.audit.append({
        actor: 'system:exchange-intake', role: 'system', action: 'exchange.archive.import', target: `archive:${id}`,
        outcome: status === 'done' ? 'ok' : status, details: { dataset, department, bytes: size, sha256, ...(error === null ? {} : { code: error.code }) },
      }, tx);
    });
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

function formatOf(name: string): FileFormat | null {
  const n = name.toLowerCase();
  if (n.endsWith('.csv') || n.endsWith('.txt')) return 'csv';
  if (n.endsWith('.xlsx')) return 'xlsx';
  return null;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
