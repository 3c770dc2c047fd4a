import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import SftpClient from 'ssh2-sftp-client';
import type { CapabilityHost } from '../admin-api/capability.js';
import { raiseAlertEvent } from '../master/alert-events.js';
import { expandPattern } from './password-rules.js';
import type { ExchangeSecrets } from './recipients.js';
import type { ReturnLedger } from './return-ledger.js';
import { backoffMs, putOnce, sftpErrorCode } from './sftp-forward.js';
import { encryptZip } from './zip-archive.js';
import { PollLoop } from './poll-loop.js';

/**
 * Pushing returns to recipients that have an SFTP server (their return
 * recipient names a forwarding recipient: host, key, ZIP password rule), with
 * the forwards' exactly-once rules (sftp-forward.ts putOnce): the return's
 * CSV in an AES-256 ZIP with the recipient's password of the day, uploaded
 * as `<name>.part` and renamed; a `<name>` already there is recorded as sent,
 * never sent again. Failures back off 2^n s and give up after `maxAttempts`
 * with an `exchange.return_push_failed` alert.
 *
 * A pass claims each due return by moving its next attempt time forward
 * (a lease) before connecting: two masters never push the same return at once.
 *
 * The same background pass also makes the returns not made yet and raises
 * the overdue alerts (ReturnLedger.produce / checkOverdue).
 */
const LEASE_MS = 10 * 60_000;

export class ReturnPusher {
  private readonly dir: string;
  private readonly loop: PollLoop<void>;

  constructor(
    private readonly host: CapabilityHost,
    private readonly ledger: ReturnLedger,
    private readonly secrets: ExchangeSecrets,
    private readonly opts: { pollMs: number; maxAttempts: number; connectTimeoutMs: number },
  ) {
    this.loop = new PollLoop(() => this.passOnce(), { pollMs: this.opts.pollMs, log: (l) => this.host.log(l), what: 'return' });
    this.dir = join(host.dataDir, 'exchange', 'returns');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Make, push, check overdue; one pass at a time. */
  pass(): Promise<void> {
    return this.loop.run();
  }

  private async passOnce(): Promise<void> {
    await this.ledger.produce();
    await this.pushDue();
    await this.ledger.checkOverdue();
  }

  /** Pushes every return whose push is due. */
  async pushDue(): Promise<void> {
    const now = new Date(this.host.nowMs());
    const due = await this.host.db.query<{ id: string }>(
      "SELECT id FROM exchange_return_items WHERE push_status = 'pending' AND push_next_at <= $1 ORDER BY push_next_at, id LIMIT 100", [now],
    );
    for (const r of due.rows) {
      const claim = await this.host.db.query<{ push_attempts: number }>(
        "UPDATE exchange_return_items SET push_next_at = $3 WHERE id = $1 AND push_status = 'pending' AND push_next_at <= $2 RETURNING push_attempts",
        [r.id, now, new Date(now.getTime() + LEASE_MS)],
      );
      if (claim.rows.length > 0) await this.push(r.id, claim.rows[0]!.push_attempts);
    }
  }

  private async push(id: string, attemptsBefore: number): Promise<void> {
    const item = await this.ledger.item(id, '');
    const rr = await this.host.db.query<{ sftp_recipient: string | null }>('SELECT sftp_recipient FROM exchange_return_recipients WHERE id = $1', [item.recipientId]);
    const rcptId = rr.rows[0]?.sftp_recipient ?? null;
    const csvPath = join(this.dir, `${id}.csv`);
    const zipPath = join(this.dir, `${id}.zip`);
    const sftp = new SftpClient('exchange-return');
    try {
      const rcpt = rcptId === null ? undefined : (await this.secrets.recipients()).find((x) => x.id === rcptId);
      if (rcpt === undefined) throw Object.assign(new Error('recipient removed'), { code: 'NO_RECIPIENT' });
      const s = await this.secrets.recipientSecrets(rcpt.id);
      const how = await putOnce(sftp, rcpt, s, item.remoteName, this.opts.connectTimeoutMs, async () => {
        const out = createWriteStream(csvPath, { mode: 0o600 });
        await this.ledger.writeCsv(item, out);
        await finished(out);
        await encryptZip([{ name: item.remoteName.replace(/\.zip$/, '.csv'), path: csvPath }], zipPath, expandPattern(s.zipPattern, this.host.nowMs()));
        return zipPath;
      });
      await this.host.db.transaction(async (tx) => {
        await tx.query(
          "UPDATE exchange_return_items SET push_status = 'sent', pushed_at = $2, push_attempts = push_attempts + 1, push_error = NULL WHERE id = $1",
          [id, new Date(this.host.nowMs())],
        );
        // 'already-there': an earlier attempt renamed it and died before recording it — nothing was sent twice
        await this.ledger.recordTake(id, 'push', how === 'sent' ? `sftp:${rcpt.id}` : `sftp:${rcpt.id}:already-there`, tx);
        await this.host.audit.append({
          actor: 'system:exchange-return', role: 'system', action: 'exchange.return.push', target: `return:${id}`, outcome: 'ok',
          details: { recipient: item.recipientId, sftp: rcpt.id, how, batch: item.batchId, rows: item.rows, sha256: item.sha256, remoteName: item.remoteName },
        }, tx);
      });
      this.host.log(`exchange: return ${id} pushed to ${rcpt.id}`);
    } catch (err) {
      const code = sftpErrorCode(err);
      const attempts = attemptsBefore + 1;
      const failed = attempts >= this.opts.maxAttempts;
      await this.host.db.transaction(async (tx) => {
        await tx.query(
          'UPDATE exchange_return_items SET push_attempts = $2, push_error = $3, push_next_at = $4, push_status = $5 WHERE id = $1',
          [id, attempts, `EXC_ERR_SFTP ${code}`, new Date(this.host.nowMs() + backoffMs(attempts)), failed ? 'failed' : 'pending'],
        );
        if (failed) {
          await raiseAlertEvent(tx, {
            source: 'exchange', kind: 'exchange.return_push_failed', severity: 'critical', key: `return-recipient:${item.recipientId}`,
            summary: `向${item.recipientName}推送返还数据失败 ${attempts} 次，已停止重试，请通知其下载`,
            details: { return: id, attempts, error: code }, region: item.region === '' ? null : item.region,
          });
        }
      });
      this.host.log(`exchange: return ${id} push attempt ${attempts} failed (${code})`);
    } finally {
      await sftp.end().catch(() => undefined);
      rmSync(csvPath, { force: true });
      rmSync(zipPath, { force: true });
    }
  }
}
