import { sendSigned, type SendOutcome } from '../alerting/sms-protocol.js';
import { CODE_TTL_MS, type PendingSms, type TravelCards } from './travel-card.js';

/**
 * Sends the citizen SMS outbox (cit_sms_outbox: travel-card codes, appeal
 * reply notices) to the province SMS platform with the documented protocol
 * the alerting capability uses (alerting/SMS-PROTOCOL.md, sms-protocol.ts:
 * HMAC-signed JSON POST, the answer checked with parseAnswer).
 *
 *   outbox (sealed) ──pendingSms()──▶ POST {phones:[one], text, id} ──200 ok──▶ markSmsSent
 *                          ▲    down / 5xx / 401 / garbage: gateway backed off, row stays
 *                          └──────────────────────────────────────────────┘
 *
 * Never twice: the gateway's idempotency key is derived from the outbox row
 * (`cit-<row id>-<created ms in base 36>`), so a retry after a lost or
 * garbled answer — or a second master sending the same row — is answered
 * `duplicate` and the phone gets one message. A 400 means the message itself
 * is wrong: it is closed as failed, not retried. A verification code whose
 * 5 minutes passed while the gateway was down is closed as expired rather
 * than texted late (the citizen asks for a new one).
 *
 * Log lines carry the message id and the gateway's error only: never the
 * phone, the text or the code.
 */
export interface CitizenSmsSenderOptions {
  readonly url: string;
  readonly key: string;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly log: (line: string) => void;
  /** the master's clock (expiry of codes) */
  readonly nowMs: () => number;
  /** first backoff after a failure, doubled per consecutive failure (default 1000) */
  readonly backoffBaseMs?: number;
  /** cap of the backoff: once the gateway is back a message waits at most this long (default 30 000) */
  readonly maxBackoffMs?: number;
}

export interface SmsFlushResult {
  sent: number;
  failed: number;
  rejected: number;
  expired: number;
}

type Outcome = SendOutcome;

export function gatewayMessageId(m: Pick<PendingSms, 'id' | 'createdMs'>): string {
  return `cit-${m.id}-${m.createdMs.toString(36)}`;
}

export class CitizenSmsSender {
  /** counters for tests and the operator */
  readonly counters = { sent: 0, duplicates: 0, failures: 0, rejected: 0, expired: 0 };
  private retryAtMs = 0;
  private consecutiveFailures = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SmsFlushResult> | null = null;
  private stopped = true;
  /** set by stop(): a flush in progress ends after its current message */
  private closing = false;

  constructor(private readonly travel: TravelCards, private readonly o: CitizenSmsSenderOptions) {}

  start(): void {
    this.stopped = false;
    this.closing = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    const wait = Math.max(this.o.pollMs, this.retryAtMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush()
        .catch((err: unknown) => this.o.log(`citizen: SMS sender failed: ${(err as Error).message}`))
        .finally(() => this.schedule());
    }, wait);
    this.timer.unref();
  }

  /** Sends what is queued (single flight); a backed-off gateway is left alone until its time. */
  flush(): Promise<SmsFlushResult> {
    this.running ??= this.flushOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private backoff(n: number): number {
    return Math.min(this.o.maxBackoffMs ?? 30_000, (this.o.backoffBaseMs ?? 1000) * 2 ** Math.max(0, n - 1));
  }

  private async flushOnce(): Promise<SmsFlushResult> {
    const res: SmsFlushResult = { sent: 0, failed: 0, rejected: 0, expired: 0 };
    if (Date.now() < this.retryAtMs) return res;
    for (const m of await this.travel.pendingSms()) {
      if (this.closing) break;
      if (m.purpose === 'travel_card' && this.o.nowMs() - m.createdMs > CODE_TTL_MS) {
        await this.travel.markSmsFailed(m.id, 'expired before the gateway took it');
        this.counters.expired++;
        res.expired++;
        continue;
      }
      const id = gatewayMessageId(m);
      const out = await this.post(m, id);
      if (out.kind === 'sent') {
        await this.travel.markSmsSent([m.id]);
        this.consecutiveFailures = 0;
        this.retryAtMs = 0;
        this.counters.sent++;
        if (out.answer.duplicate) this.counters.duplicates++;
        res.sent++;
      } else if (out.kind === 'rejected') {
        await this.travel.markSmsFailed(m.id, out.error);
        this.o.log(`citizen: SMS ${id} (${m.purpose}) refused by the gateway: ${out.error}`);
        this.counters.rejected++;
        res.rejected++;
      } else {
        // the gateway is down or confused: back it off as a whole, do not hammer it
        this.consecutiveFailures++;
        this.retryAtMs = Date.now() + this.backoff(this.consecutiveFailures);
        this.counters.failures++;
        res.failed++;
        if (this.consecutiveFailures === 1 || this.consecutiveFailures % 10 === 0) {
          this.o.log(`citizen: SMS gateway failed (${out.error}); ${id} stays queued, failure ${this.consecutiveFailures} in a row`);
        }
        break;
      }
    }
    return res;
  }

  private post(m: PendingSms, id: string): Promise<Outcome> {
    return sendSigned(this.o, { phones: [m.phone], text: m.text, id });
  }
}
