import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import type { CapabilityHost } from '../admin-api/capability.js';
import { raiseAlertEvent } from '../master/alert-events.js';
import { nodeId } from './import-jobs.js';
import type { ExchangeSecrets, Recipient, RecipientSecrets } from './recipients.js';
import type { ArchiveMirror } from './archive-aes-writer.js';
import { SftpPartStream } from './sftp-stream.js';
import { PollLoop } from './poll-loop.js';

/**
 * Forwarding re-encrypted archives to recipients over SFTP, exactly once,
 * retried while a server is down. The ledger is exchange_forwards (one row
 * per archive and recipient, its local file under <dataDir>/exchange/forward):
 *
 * - upload to `<name>.part`, then rename to `<name>`: the recipient never
 *   sees half a file, and a name appears at most once;
 * - before uploading, a `<name>` already on the server means an earlier
 *   attempt got as far as the rename and died before recording it: record
 *   it now instead of sending it again;
 * - a failure keeps the row pending with a back-off (2^attempts s, at most
 *   5 min); after `maxAttempts` it turns failed and raises an alert.
 */
export interface ForwardRow {
  readonly id: string;
  readonly archiveId: string;
  readonly recipientId: string;
  readonly remoteName: string;
  readonly bytes: number;
  readonly status: 'pending' | 'sent' | 'failed';
  readonly attempts: number;
  readonly lastError: string | null;
  readonly sentAt: number | null;
}

/**
 * Larger SFTP writes than ssh2's default 32 KiB × 64: a 12.7 MiB archive to
 * OpenSSH on loopback took 262 ms at the default, 164 ms at 128 KiB × 16,
 * 124 ms at 255 KiB × 16 (load ≈ 12, same connection, one after the other).
 * ssh2 splits a write the server's limits@openssh.com would refuse.
 */
export const FAST_PUT = { chunkSize: 128 * 1024, concurrency: 32 } as const;

/**
 * One file to one recipient's folder, at most once: `<name>` already there
 * means an earlier attempt got as far as the rename (nothing is sent again);
 * otherwise upload `<name>.part` and rename. `source` is asked for the local
 * file only when it is needed. Shared by the forwards and the data returns
 * (return-push.ts).
 */
export async function putOnce(
  sftp: SftpClient, rcpt: Pick<Recipient, 'host' | 'port' | 'username' | 'remoteDir'>, s: Pick<RecipientSecrets, 'privateKey' | 'password'>, remoteName: string,
  connectTimeoutMs: number, source: () => string | Promise<string>,
  /** `connected`: `sftp` is already connected to this recipient; `partBytes`: `<name>.part` was streamed there complete, of this size */
  early: { connected: boolean; partBytes?: number } = { connected: false },
): Promise<'sent' | 'already-there'> {
  if (!early.connected) await sftp.connect(connectOptions(rcpt, s, connectTimeoutMs));
  const final = remotePath(rcpt, remoteName);
  if ((await sftp.exists(final)) !== false) return 'already-there';
  // a streamed `.part` is renamed only when every write was acknowledged and its size is the archive's
  const ready = early.partBytes !== undefined && await sftp.stat(`${final}.part`).then((st) => st.size === early.partBytes, () => false);
  if (!ready) await sftp.fastPut(await source(), `${final}.part`, FAST_PUT);
  await sftp.rename(`${final}.part`, final);
  return 'sent';
}

function connectOptions(rcpt: Pick<Recipient, 'host' | 'port' | 'username'>, s: Pick<RecipientSecrets, 'privateKey' | 'password'>, connectTimeoutMs: number): SftpClient.ConnectOptions {
  return {
    host: rcpt.host, port: rcpt.port, username: rcpt.username, readyTimeout: connectTimeoutMs, retries: 0,
    ...(s.privateKey !== undefined ? { privateKey: s.privateKey } : { password: s.password! }),
  };
}

function remotePath(rcpt: Pick<Recipient, 'remoteDir'>, remoteName: string): string {
  return `${rcpt.remoteDir.replace(/\/+$/, '')}/${remoteName}`;
}

/** The wait before the next attempt after `attempts` failures: 2^n s, at most 5 min. */
export function backoffMs(attempts: number): number {
  return Math.min(300, 2 ** Math.min(attempts, 9)) * 1000;
}

/** The code of a failed SFTP attempt (only it reaches ledgers and logs: messages may carry host details). */
export function sftpErrorCode(err: unknown): string {
  return String((err as { code?: unknown }).code ?? (err as Error).name ?? 'ERROR').slice(0, 40);
}

export class SftpForwarder {
  readonly dir: string;
  private readonly loop: PollLoop<void>;
  /** bytes and seconds of the last successful uploads (the bench reads them) */
  lastRate: { bytes: number; seconds: number } | null = null;
  /** forwards whose archive is streamed to the recipient's `.part` while it is made (beginEarly), by forward id */
  private readonly early = new Map<string, { client: SftpClient; stream: SftpPartStream }>();

  constructor(
    private readonly host: CapabilityHost,
    private readonly secrets: ExchangeSecrets,
    private readonly opts: { pollMs: number; maxAttempts: number; connectTimeoutMs: number },
  ) {
    this.loop = new PollLoop(() => this.deliverDueOnce(), { pollMs: this.opts.pollMs, log: (l) => this.host.log(l), what: 'forward' });
    this.dir = join(host.dataDir, 'exchange', 'forward');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  localPath(id: string): string {
    return join(this.dir, `${id}.zip`);
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    for (const id of [...this.early.keys()]) await this.discardEarly(id);
  }

  /**
   * Starts forward `id`'s upload while its archive is being written (archive-intake.ts): connects to the
   * recipient and opens `<remoteName>.part`, whose writes then overlap the re-encrypt (sftp-stream.ts).
   * Nothing becomes visible to the recipient here: the rename happens in `deliver`, once the forward is in
   * the ledger, so exactly-once is unchanged. undefined when the server cannot be reached now — the finished
   * file is then uploaded by `deliver` as before, with its retries.
   */
  async beginEarly(id: string, rcpt: Recipient, s: RecipientSecrets, remoteName: string): Promise<ArchiveMirror | undefined> {
    const client = new SftpClient('exchange-forward');
    try {
      const wrapper = await client.connect(connectOptions(rcpt, s, this.opts.connectTimeoutMs));
      const stream = await SftpPartStream.open(wrapper, `${remotePath(rcpt, remoteName)}.part`);
      this.early.set(id, { client, stream });
      return stream;
    } catch (err) {
      this.host.log(`exchange: forward ${id}: no early upload (${sftpErrorCode(err)}), the file goes after the archive`);
      await client.end().catch(() => undefined);
      return undefined;
    }
  }

  /** Closes an early upload whose forward was not recorded (the archive failed): its `.part` is never renamed. */
  async discardEarly(id: string): Promise<void> {
    const e = this.early.get(id);
    if (e === undefined) return;
    this.early.delete(id);
    await e.stream.finish().catch(() => false);
    await e.client.end().catch(() => undefined);
  }

  /** Sends every pending forward whose time has come; one run at a time. */
  deliverDue(): Promise<void> {
    return this.loop.run();
  }

  private async deliverDueOnce(): Promise<void> {
    const due = await this.host.db.query<{ id: string }>(
      "SELECT id FROM exchange_forwards WHERE status = 'pending' AND next_attempt_at <= $1 AND node = $2 ORDER BY created_at, id LIMIT 100",
      [new Date(this.host.nowMs()), nodeId(this.host.dataDir)],
    );
    for (const r of due.rows) await this.deliver(r.id);
  }

  async get(id: string): Promise<ForwardRow | null> {
    const r = await this.host.db.query<{ id: string; archive_id: string; recipient_id: string; remote_name: string; bytes: string | number; status: ForwardRow['status']; attempts: number; last_error: string | null; sent_at: Date | null }>(
      'SELECT id, archive_id, recipient_id, remote_name, bytes, status, attempts, last_error, sent_at FROM exchange_forwards WHERE id = $1', [id],
    );
    const x = r.rows[0];
    if (x === undefined) return null;
    return {
      id: x.id, archiveId: x.archive_id, recipientId: x.recipient_id, remoteName: x.remote_name, bytes: Number(x.bytes), status: x.status,
      attempts: x.attempts, lastError: x.last_error, sentAt: x.sent_at === null ? null : Math.floor(new Date(x.sent_at).getTime() / 1000),
    };
  }

  private async deliver(id: string): Promise<void> {
    const f = await this.get(id);
    if (f === null || f.status !== 'pending') return;
    const rcpt = (await this.secrets.recipients()).find((r) => r.id === f.recipientId);
    const local = this.localPath(id);
    const e = this.early.get(id);
    this.early.delete(id);
    const sftp = e?.client ?? new SftpClient('exchange-forward');
    const t0 = performance.now();
    try {
      if (rcpt === undefined) throw Object.assign(new Error('recipient removed'), { code: 'NO_RECIPIENT' });
      const streamed = e === undefined ? false : await e.stream.finish();
      await putOnce(sftp, rcpt, await this.secrets.recipientSecrets(rcpt.id), f.remoteName, this.opts.connectTimeoutMs, () => {
        if (!existsSync(local)) throw Object.assign(new Error('local file gone'), { code: 'NO_FILE' });
        return local;
      }, { connected: e !== undefined, ...(streamed ? { partBytes: f.bytes } : {}) });
      await this.host.db.query("UPDATE exchange_forwards SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1", [id]);
      this.lastRate = { bytes: f.bytes, seconds: (performance.now() - t0) / 1000 };
      rmSync(local, { force: true });
      this.host.log(`exchange: forward ${id} sent to ${rcpt.id}`);
    } catch (err) {
      // Only the error's code reaches the ledger and the log: messages may carry host details, never secrets anyway.
      const code = sftpErrorCode(err);
      const attempts = f.attempts + 1;
      const failed = attempts >= this.opts.maxAttempts;
      const next = new Date(this.host.nowMs() + backoffMs(attempts));
      await this.host.db.transaction(async (tx) => {
        await tx.query(
          'UPDATE exchange_forwards SET attempts = $2, last_error = $3, next_attempt_at = $4, status = $5 WHERE id = $1',
          [id, attempts, `EXC_ERR_SFTP ${code}`, next, failed ? 'failed' : 'pending'],
        );
        if (failed) {
          await raiseAlertEvent(tx, {
            source: 'exchange', kind: 'exchange.forward_failed', severity: 'critical', key: `recipient:${f.recipientId}`,
            summary: `向接收方 ${rcpt?.name ?? f.recipientId} 转发数据包失败 ${attempts} 次，已停止重试`,
            details: { forward: id, archive: f.archiveId, attempts, error: code },
          });
        }
      });
      this.host.log(`exchange: forward ${id} attempt ${attempts} failed (${code})`);
    } finally {
      await sftp.end().catch(() => undefined);
    }
  }
}
