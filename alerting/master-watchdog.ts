import { createHash } from 'node:crypto';
import { chinaTime } from '../core/china-time.js';
import { bad, httpUrl, int, phones, str, type Env } from './config.js';
import { sendSigned, type SendOutcome } from './sms-protocol.js';

/**
 * Master watchdog: pages the on-call phones when the master stops answering.
 *
 * The alerting engine runs inside the master, so the master's own death is the
 * one outage it can never page about. Every edge process of a cluster
 * (HC_ROLE=edge, started by main.ts) can run this small loop instead: probe the
 * master's HTTP health URL, and once it has failed for WATCHDOG_FOR_SEC send one
 * SMS straight to the gateway (same signed protocol as the engine), and a
 * "[已恢复]" SMS when it answers again.
 *
 * Several edges watch the same master. They do not talk to each other (the
 * master and perhaps Redis are exactly what is down); instead they all derive
 * the same message id for the same outage, and the gateway sends an id at most
 * once (SMS-PROTOCOL.md). The id is a hash of the probed URL, the
 * WATCHDOG_DEDUPE_WINDOW_MIN window the outage's first failed probe fell in,
 * and how many outages this watchdog already paged in that window. Watchdogs
 * first see a failure within one probe period of each other, so they agree
 * unless an outage starts within a probe period of a window boundary (then the
 * on-call phone gets two pages for it: a duplicate, never a missed page).
 *
 *   WATCHDOG_MASTER_URL          the master's health URL (e.g. http://master:8081/healthz);
 *                                unset: no watchdog. 2xx = up, anything else or no answer = down
 *   WATCHDOG_FOR_SEC             down this long before paging (default 60, 5..3600)
 *   WATCHDOG_INTERVAL_MS         probe period (default 5000, 200..60000)
 *   WATCHDOG_TIMEOUT_MS          per probe (default 3000, 100..60000)
 *   WATCHDOG_DEDUPE_WINDOW_MIN   see above (default 10, 1..1440)
 *   SMS_GATEWAY_URL, SMS_GATEWAY_KEY, ALERT_PHONES, SMS_TIMEOUT_MS  as for the engine (config.ts);
 *                                the first three are required with WATCHDOG_MASTER_URL
 */
export interface WatchdogConfig {
  readonly masterUrl: string;
  readonly forSec: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly dedupeWindowMin: number;
  readonly gateway: { readonly url: string; readonly key: string; readonly timeoutMs: number };
  readonly phones: readonly string[];
}

/** null when WATCHDOG_MASTER_URL is unset; ALR_ERR_CONFIG naming the variable on a bad value. */
export function loadWatchdogConfig(env: Env): WatchdogConfig | null {
  const raw = str(env, 'WATCHDOG_MASTER_URL');
  if (raw === undefined) return null;
  const masterUrl = httpUrl('WATCHDOG_MASTER_URL', raw);
  const gwRaw = str(env, 'SMS_GATEWAY_URL');
  // no simulator fallback here: a watchdog paging into a simulator nobody reads would be a silent no-op
  if (gwRaw === undefined) bad('SMS_GATEWAY_URL', 'is required with WATCHDOG_MASTER_URL (where to send the page)');
  const gatewayUrl = httpUrl('SMS_GATEWAY_URL', gwRaw);
  const key = str(env, 'SMS_GATEWAY_KEY');
  if (key === undefined) bad('SMS_GATEWAY_KEY', 'is required with WATCHDOG_MASTER_URL');
  if (key.length < 32) bad('SMS_GATEWAY_KEY', 'must be at least 32 characters');
  const oncall = phones(env, 'ALERT_PHONES');
  if (oncall === undefined) bad('ALERT_PHONES', 'is required with WATCHDOG_MASTER_URL (who is on call?)');
  return {
    masterUrl,
    forSec: int(env, 'WATCHDOG_FOR_SEC', 60, 5, 3600),
    intervalMs: int(env, 'WATCHDOG_INTERVAL_MS', 5000, 200, 60_000),
    timeoutMs: int(env, 'WATCHDOG_TIMEOUT_MS', 3000, 100, 60_000),
    dedupeWindowMin: int(env, 'WATCHDOG_DEDUPE_WINDOW_MIN', 10, 1, 1440),
    gateway: { url: gatewayUrl, key, timeoutMs: int(env, 'SMS_TIMEOUT_MS', 5000, 100, 120_000) },
    phones: oncall,
  };
}

export interface WatchdogOptions {
  /** who runs it, in the page's text (the edge's HC_NODE_ID) */
  readonly name: string;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

type State =
  | { readonly kind: 'up' }
  | { readonly kind: 'failing'; readonly sinceMs: number }
  | { readonly kind: 'paged'; readonly sinceMs: number; readonly id: string };

export class MasterWatchdog {
  private state: State = { kind: 'up' };
  /** a resolve SMS not yet taken by the gateway (retried each tick, same id) */
  private pendingResolve: { id: string; text: string } | null = null;
  /** outages paged per dedupe window (the ordinal part of the id) */
  private readonly pagedInWindow = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly host: string;

  constructor(
    private readonly config: WatchdogConfig,
    private readonly opts: WatchdogOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.host = new URL(config.masterUrl).host;
  }

  /** 'up' | 'failing' | 'paged' (tests, status lines) */
  get status(): State['kind'] {
    return this.state.kind;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      // one probe at a time: a probe that hangs to its timeout must not stack up behind itself
      this.running ??= this.tick().finally(() => (this.running = null));
    }, this.config.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One probe and whatever it calls for. */
  async tick(): Promise<void> {
    const up = await this.probe();
    const now = this.now();
    if (this.pendingResolve !== null) await this.sendResolve();
    const s = this.state;
    if (up) {
      if (s.kind === 'paged') {
        const secs = Math.round((now - s.sinceMs) / 1000);
        const lasted = secs < 60 ? `${secs}秒` : `${Math.round(secs / 60)}分钟`;
        this.pendingResolve = { id: `${s.id}-ok`, text: `[已恢复]主节点恢复应答：${this.host} 于 ${chinaTime(now, true)} 恢复，中断约${lasted}。请核对期间的告警（告警引擎随主节点中断）` };
        this.log(`watchdog: master ${this.host} answers again`);
        await this.sendResolve();
      }
      this.state = { kind: 'up' };
      return;
    }
    if (s.kind === 'up') {
      this.state = { kind: 'failing', sinceMs: now };
      return;
    }
    if (s.kind === 'failing' && now - s.sinceMs >= this.config.forSec * 1000) {
      const id = this.outageId(s.sinceMs);
      const secs = Math.round((now - s.sinceMs) / 1000);
      const text = `[严重]主节点无应答：${this.host} 自 ${chinaTime(s.sinceMs, true)} 起无应答（已${secs}秒），告警引擎随之停止，请立即处理。（边缘节点 ${this.opts.name} 看门狗）`;
      const r = await this.send(id, text);
      // not taken: stay 'failing' and resend next tick under the same id (the gateway dedupes a late success)
      if (r.kind === 'sent') {
        const w = this.windowOf(s.sinceMs);
        this.pagedInWindow.set(w, (this.pagedInWindow.get(w) ?? 0) + 1);
        this.state = { kind: 'paged', sinceMs: s.sinceMs, id };
        this.log(`watchdog: master ${this.host} down ${secs} s, paged (${r.answer.duplicate ? 'another watchdog was first' : 'sent'})`);
      } else if (r.kind === 'rejected') {
        // a 400 will not heal by resending; say so loudly, keep probing
        this.state = { kind: 'paged', sinceMs: s.sinceMs, id };
        this.log(`watchdog: master ${this.host} down, page refused by the gateway: ${r.error}`);
      }
    }
  }

  private windowOf(ms: number): number {
    return Math.floor(ms / (this.config.dedupeWindowMin * 60_000));
  }

  private outageId(sinceMs: number): string {
    const w = this.windowOf(sinceMs);
    const ordinal = this.pagedInWindow.get(w) ?? 0;
    return `mw-${createHash('sha256').update(`${this.config.masterUrl}\n${w}\n${ordinal}`).digest('hex').slice(0, 32)}`;
  }

  private async sendResolve(): Promise<void> {
    const p = this.pendingResolve!;
    const r = await this.send(p.id, p.text);
    if (r.kind !== 'retry') this.pendingResolve = null;
    if (r.kind === 'rejected') this.log(`watchdog: resolve SMS refused by the gateway: ${r.error}`);
  }

  private async send(id: string, text: string): Promise<SendOutcome> {
    const r = await sendSigned(this.config.gateway, { phones: this.config.phones, text, id });
    if (r.kind === 'retry') this.log(`watchdog: SMS gateway: ${r.error}; retrying next probe`);
    return r;
  }

  private async probe(): Promise<boolean> {
    try {
      const r = await fetch(this.config.masterUrl, { signal: AbortSignal.timeout(this.config.timeoutMs) });
      await r.arrayBuffer();
      return r.status >= 200 && r.status < 300;
    } catch {
      return false;
    }
  }
}
