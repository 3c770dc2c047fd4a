import { maskPhone } from '../core/identity.js';
import type { AlertSeverity } from '../master/alert-events.js';
import type { SqlClient } from '../master/sql-client.js';
import { sendSigned, type SendOutcome } from './sms-protocol.js';

/**
 * The SMS client: a durable outbound queue (alerting_sms) and a sender.
 *
 *   engine tx ──enqueue()──▶ alerting_sms (queued) ──flush()──▶ gateway
 *                                 ▲   retry with backoff        │
 *                                 └── down / slow / 500 / garbage
 *
 * enqueue() runs in the caller's transaction, so the decision to notify and
 * the message commit together. flush() sends queued rows oldest first; the
 * message id is the gateway's idempotency key, so a retry after a timeout of
 * a message the gateway did take is answered `duplicate` and the phone rings
 * once. A transport failure ends the flush (the gateway is down; do not
 * hammer it) and the row waits out its backoff. A 400 is permanent
 * (`rejected`); anything over the daily budget is kept as `over_budget`
 * (visible in 短信记录 and the metrics) instead of being sent.
 */
export type Recipients = 'oncall' | 'escalation';
export type SmsPurpose = 'firing' | 'repeat' | 'resolved' | 'escalation' | 'test';
export type SmsStatus = 'queued' | 'sent' | 'rejected' | 'over_budget';

export interface SmsToSend {
  readonly id: string;
  readonly text: string;
  readonly recipients: Recipients;
  readonly severity: AlertSeverity;
  readonly purpose: SmsPurpose;
  readonly groupKey?: string | null;
}

export interface SmsRecord {
  readonly id: string;
  readonly createdMs: number;
  readonly recipients: Recipients;
  readonly phonesMasked: string;
  readonly text: string;
  readonly severity: AlertSeverity;
  readonly purpose: SmsPurpose;
  readonly status: SmsStatus;
  readonly attempts: number;
  readonly nextAttemptMs: number;
  readonly lastError: string | null;
  readonly sentMs: number | null;
  readonly answer: unknown;
}

export interface SmsClientOptions {
  readonly url: string;
  readonly key: string;
  readonly timeoutMs: number;
  readonly dailyBudget: number;
  readonly phones: Readonly<Record<Recipients, readonly string[]>>;
  readonly now: () => number;
  readonly log: (line: string) => void;
}

export interface FlushResult {
  sent: number;
  failed: number;
  rejected: number;
  overBudget: number;
}

/** Cap of the retry backoff: once the gateway is back, a message waits at most this long. */
export const MAX_BACKOFF_MS = 30_000;
export const PREFIX = '【健康码告警】';
const DAY_MS = 86_400_000;
const CHINA_OFFSET_MS = 8 * 3_600_000;

export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, attempts - 1));
}

/** Start of the China (UTC+8) day containing `ms`. */
export function chinaDayStart(ms: number): number {
  return Math.floor((ms + CHINA_OFFSET_MS) / DAY_MS) * DAY_MS - CHINA_OFFSET_MS;
}

interface Row {
  id: string;
  created_ms: string | number;
  recipients: Recipients;
  phones_masked: string;
  text: string;
  severity: AlertSeverity;
  purpose: SmsPurpose;
  status: SmsStatus;
  attempts: number;
  next_attempt_ms: string | number;
  last_error: string | null;
  sent_ms: string | number | null;
  answer: unknown;
}

function toRecord(r: Row): SmsRecord {
  return {
    id: r.id,
    createdMs: Number(r.created_ms),
    recipients: r.recipients,
    phonesMasked: r.phones_masked,
    text: r.text,
    severity: r.severity,
    purpose: r.purpose,
    status: r.status,
    attempts: r.attempts,
    nextAttemptMs: Number(r.next_attempt_ms),
    lastError: r.last_error,
    sentMs: r.sent_ms === null ? null : Number(r.sent_ms),
    answer: typeof r.answer === 'string' ? JSON.parse(r.answer) : r.answer,
  };
}

export class SmsClient {
  private flushing: Promise<FlushResult> | null = null;
  /** after a transport failure the whole gateway is backed off, not just the one message */
  private gatewayRetryAtMs = 0;
  /** false after a flush found the queue empty and nothing was queued since: a quiet flush reads nothing */
  private mayHaveWork = true;
  private consecutiveFailures = 0;
  private again = false;
  /** counters for the metrics */
  readonly counters = { sent: 0, failures: 0, rejected: 0, overBudget: 0, duplicates: 0 };

  constructor(private readonly db: SqlClient, private readonly o: SmsClientOptions) {}

  get url(): string {
    return this.o.url;
  }

  maskedPhones(r: Recipients): string {
    const p = this.o.phones[r];
    const mask = (x: string): string => {
      try {
        return maskPhone(x);
      } catch {
        return '***********'.slice(0, x.length);
      }
    };
    return p.length === 0 ? '' : p.length === 1 ? mask(p[0]!) : `${mask(p[0]!)} 等${p.length}个号码`;
  }

  /** Queues a message in the caller's transaction; a second enqueue of the same id is a no-op. */
  async enqueue(tx: SqlClient, m: SmsToSend): Promise<boolean> {
    this.mayHaveWork = true;
    const text = (PREFIX + m.text).slice(0, 500);
    const now = this.o.now();
    const r = await tx.query(
      `INSERT INTO alerting_sms (id, created_ms, recipients, phones_masked, text, severity, purpose, group_key, status, next_attempt_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $2) ON CONFLICT (id) DO NOTHING`,
      [m.id, now, m.recipients, this.maskedPhones(m.recipients), text, m.severity, m.purpose, m.groupKey ?? null],
    );
    return r.rowCount > 0;
  }

  /**
   * Sends what is due. Single flight: a call while one runs waits for it and
   * then runs once more (the new rows may have been queued after its read).
   */
  flush(): Promise<FlushResult> {
    if (this.flushing !== null) {
      this.again = true;
      return this.flushing;
    }
    const run = async (): Promise<FlushResult> => {
      const total: FlushResult = { sent: 0, failed: 0, rejected: 0, overBudget: 0 };
      do {
        this.again = false;
        const r = await this.flushOnce();
        total.sent += r.sent;
        total.failed += r.failed;
        total.rejected += r.rejected;
        total.overBudget += r.overBudget;
        if (r.failed > 0) break;
      } while (this.again);
      return total;
    };
    this.flushing = run().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<FlushResult> {
    const res: FlushResult = { sent: 0, failed: 0, rejected: 0, overBudget: 0 };
    const now = this.o.now();
    if (now < this.gatewayRetryAtMs || !this.mayHaveWork) return res;
    this.mayHaveWork = false;
    const due = await this.db.query<Row>(
      `SELECT * FROM alerting_sms WHERE status = 'queued' AND next_attempt_ms <= $1 ORDER BY created_ms, id LIMIT 100`,
      [now],
    );
    if (due.rows.length === 0) {
      // rows waiting out a backoff keep the flag up
      const left = await this.db.query(`SELECT 1 FROM alerting_sms WHERE status = 'queued' LIMIT 1`);
      this.mayHaveWork = left.rows.length > 0;
      return res;
    }
    this.mayHaveWork = true;
    const dayStart = chinaDayStart(now);
    const c = await this.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM alerting_sms WHERE status = 'sent' AND sent_ms >= $1`, [dayStart]);
    let sentToday = Number(c.rows[0]!.n);
    for (const row of due.rows) {
      if (sentToday >= this.o.dailyBudget) {
        await this.db.query(`UPDATE alerting_sms SET status = 'over_budget', last_error = $2 WHERE id = $1 AND status = 'queued'`, [row.id, `每日预算 ${this.o.dailyBudget} 条已用完`]);
        this.counters.overBudget++;
        res.overBudget++;
        continue;
      }
      const outcome = await this.post(row);
      if (outcome.kind === 'sent') {
        await this.db.query(
          `UPDATE alerting_sms SET status = 'sent', attempts = attempts + 1, sent_ms = $2, answer = $3::jsonb, last_error = NULL WHERE id = $1`,
          [row.id, this.o.now(), JSON.stringify(outcome.answer)],
        );
        this.consecutiveFailures = 0;
        this.gatewayRetryAtMs = 0;
        this.counters.sent++;
        if (outcome.answer.duplicate) this.counters.duplicates++;
        sentToday++;
        res.sent++;
      } else if (outcome.kind === 'rejected') {
        await this.db.query(`UPDATE alerting_sms SET status = 'rejected', attempts = attempts + 1, last_error = $2 WHERE id = $1`, [row.id, outcome.error]);
        this.o.log(`alerting: SMS ${row.id} refused by the gateway: ${outcome.error}`);
        this.counters.rejected++;
        res.rejected++;
      } else {
        const attempts = row.attempts + 1;
        await this.db.query(`UPDATE alerting_sms SET attempts = $2, next_attempt_ms = $3, last_error = $4 WHERE id = $1`, [
          row.id, attempts, this.o.now() + backoffMs(attempts), outcome.error,
        ]);
        if (attempts === 1 || attempts % 10 === 0) this.o.log(`alerting: SMS gateway failed (${outcome.error}); ${row.id} stays queued, attempt ${attempts}`);
        this.consecutiveFailures++;
        this.gatewayRetryAtMs = this.o.now() + backoffMs(this.consecutiveFailures);
        this.counters.failures++;
        res.failed++;
        break;
      }
    }
    return res;
  }

  private post(row: Row): Promise<SendOutcome> {
    return sendSigned(this.o, { phones: [...this.o.phones[row.recipients]], text: row.text, id: row.id });
  }

  async list(q: { limit?: number; status?: SmsStatus } = {}): Promise<SmsRecord[]> {
    const r = await this.db.query<Row>(
      `SELECT * FROM alerting_sms WHERE ($1::text IS NULL OR status = $1) ORDER BY created_ms DESC, id DESC LIMIT $2`,
      [q.status ?? null, Math.min(Math.max(q.limit ?? 100, 1), 1000)],
    );
    return r.rows.map(toRecord);
  }

  async queueDepth(): Promise<{ queued: number; oldestMs: number | null }> {
    const r = await this.db.query<{ n: string | number; oldest: string | number | null }>(
      `SELECT count(*) AS n, min(created_ms) AS oldest FROM alerting_sms WHERE status = 'queued'`,
    );
    return { queued: Number(r.rows[0]!.n), oldestMs: r.rows[0]!.oldest === null ? null : Number(r.rows[0]!.oldest) };
  }
}
