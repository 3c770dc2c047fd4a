import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertEventInput } from '../master/alert-events.js';
import type { LogAuditConfig } from './config.js';
import { DecoderSet } from './decoders.js';
import { headerPlan, lastAtMs, normaliseInto, rebuildEvent, type HeaderPlan, type Outcome, type RawMessage } from './normalise.js';
import { RowBatch } from './row-format.js';
import type { LogEvent } from './schema.js';
import { Correlator, loadRules, severityOf, type CompiledRule, type RuleHit } from './sigma.js';
import { Spool } from './spool.js';
import { EventStore } from './store.js';

/**
 * The processing core, shared by the central system and the tests:
 *
 *   intake ─accept()─▶ memory queue ──drain──▶ normalise ─▶ store (day files)
 *                         │ above high-water        │      └▶ correlator ─▶ alerts
 *                         ▼                         │      └▶ assets (last seen)
 *                       spool (disk) ──when idle───┘
 *                         │ full
 *                         ▼
 *                       shed: counted + alert (logaudit.shed)
 *
 * TCP senders are paused while the queue is above its high-water mark
 * (intake.ts), so only UDP ever reaches the spool in a burst.
 */
export type Counter =
  | 'received' | 'stored' | 'spooled' | 'shed' | 'rate_limited' | 'framing_error' | 'connections' | 'alerts' | 'alert_errors' | Outcome;

export interface Asset {
  ip: string;
  hostName: string | null;
  dataset: string;
  vendor: string | null;
  product: string | null;
  firstSeenMs: number;
  lastSeenMs: number;
  events: number;
  silent: boolean;
}

export type AlertOut = AlertEventInput & { triggerReceivedMs: number };

export interface EngineOptions {
  config: LogAuditConfig;
  now?: () => number;
  /** where alerts go (the capability writes them with raiseAlertEvent); default: kept in `alertsRaised` */
  raise?: (alerts: readonly AlertOut[]) => Promise<void>;
  decoders?: DecoderSet;
  rules?: CompiledRule[];
  /** called when the queue has room again (the intake resumes paused TCP senders) */
  onDrain?: () => void;
  log?: (line: string) => void;
}

/** messages per slice: small, so the loop gets back to the sockets before the kernel's UDP buffer fills */
const BATCH = 64;
/** events per store write (one gzip member): large, so compression and the index stay cheap */
const STORE_BATCH = 4000;

/**
 * TCP/TLS senders are also paused while the oldest message in memory has
 * waited this long: a queue that is short in messages can still be seconds
 * of work, and every alert waits behind it. Paused senders keep their data in
 * their own buffers (nothing is lost), so what is queued stays ~⅕ s of work
 * and an attack's alert follows its last line by about that much.
 */
const MAX_QUEUE_AGE_MS = 200;

/**
 * Alert writes at most every this many ms: an alert raised within that time
 * of the previous write waits for the next one (an alert after a quiet spell
 * goes out at once). Each write is one transaction; with the bench's
 * in-process PGlite ~200 alerts in 100 000 events were ~100 writes, 6 % of the
 * event loop's time (CLOSING.md, h3 section). Adds at most this much to an
 * alert's latency (issue 13: ≤ 1 s).
 */
const ALERT_WRITE_GAP_MS = 200;

/** RcvbufErrors of /proc/net/snmp (UDP drops no socket read in time); 0 where there is no such file */
export function udpRcvbufErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0]!.split(/\s+/);
    const vals = lines[1]!.split(/\s+/);
    return Number(vals[names.indexOf('RcvbufErrors')] ?? 0) || 0;
  } catch {
    return 0;
  }
}

export class LogAuditEngine {
  readonly counters: Record<Counter, number> = {
    received: 0, stored: 0, spooled: 0, shed: 0, rate_limited: 0, framing_error: 0, connections: 0, alerts: 0, alert_errors: 0,
    invalid_utf8: 0, forged_timestamp: 0, unparsed: 0, undecoded: 0, oversized: 0,
  };
  readonly decoders: DecoderSet;
  readonly rules: CompiledRule[];
  readonly correlator: Correlator;
  readonly store: EventStore;
  readonly spool: Spool;
  readonly assets = new Map<string, Asset>();
  readonly perSourceShed = new Map<string, number>();
  readonly alertLatencies: number[] = [];
  /**
   * receipt → rule hit, per rule hit (ms): the part of alert latency spent
   * waiting in the queue and being normalised; the rest (hit → alert row
   * committed) is the alert write. Measured so the bench can say which one it is.
   */
  readonly hitDelays: number[] = [];
  readonly alertsRaised: AlertOut[] = [];
  private queue: RawMessage[] = [];
  /** first unprocessed index of `queue` (no shifting a 100 000-element array per slice) */
  private qHead = 0;
  private scheduled = false;
  private congested = false;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly lastAlertAt = new Map<string, number>();
  private alertChain: Promise<void> = Promise.resolve();
  private pendingAlerts: AlertOut[] = [];
  private lastAlertWrite = -Infinity;
  private alertTimer: NodeJS.Timeout | null = null;
  /** the store batch being filled: bytes + typed columns, no object per event (row-format.ts RowBatch) */
  private readonly batch = new RowBatch();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly cfg: LogAuditConfig;
  private readonly plan: HeaderPlan;
  private stopped = false;
  /** events handed to the store; `idle()` waits for this to reach `received` */
  private handled = 0;

  constructor(private readonly opts: EngineOptions) {
    this.cfg = opts.config;
    this.now = opts.now ?? Date.now;
    this.decoders = opts.decoders ?? DecoderSet.load();
    this.rules = opts.rules ?? loadRules();
    this.correlator = new Correlator(this.rules);
    // events here feed correlation and the asset list only (stored rows are rebuilt in full on read)
    this.plan = headerPlan(new Set([...this.correlator.fieldsUsed, 'host.name', 'observer.vendor', 'observer.product']));
    const nopts = { tzOffsetMin: this.cfg.tzOffsetMin, maxSkewMs: this.cfg.maxSkewMs };
    this.store = new EventStore(this.cfg.dataDir, this.now, (row) => rebuildEvent(row, this.decoders, nopts));
    this.spool = new Spool(join(this.cfg.dataDir, 'logaudit', 'spool'), this.cfg.spoolMaxBytes);
  }

  count(c: Counter, n = 1): void {
    this.counters[c] += n;
  }

  /** One received message. Returns true when TCP senders should pause. */
  accept(m: RawMessage): boolean {
    if (this.stopped) return true;
    this.counters.received++;
    if (this.cfg.sourceRate > 0 && !this.allow(m.from, m.receivedMs)) {
      this.counters.rate_limited++;
      this.perSourceShed.set(m.from, (this.perSourceShed.get(m.from) ?? 0) + 1);
      this.handled++;
      this.alertOnce(`flood:${m.from}`, {
        source: 'logaudit', kind: 'logaudit.flood', severity: 'warning', key: `flood:${m.from}`,
        summary: `日志源 ${m.from} 发送速率超过每秒 ${this.cfg.sourceRate} 条，超出部分已丢弃并计数`,
        details: { source: m.from, shed: this.perSourceShed.get(m.from), limitPerSecond: this.cfg.sourceRate },
        triggerReceivedMs: m.receivedMs,
      });
      return false;
    }
    if (this.queueLength < this.cfg.queueHigh && this.spool.empty) {
      this.queue.push(m);
    } else if (this.spool.append(m)) {
      this.counters.spooled++;
    } else {
      this.counters.shed++;
      this.handled++;
      this.alertOnce('shed', {
        source: 'logaudit', kind: 'logaudit.shed', severity: 'critical', key: 'shed',
        summary: `日志审计磁盘缓冲区已满，已丢弃 ${this.counters.shed} 条日志`,
        details: { shed: this.counters.shed, spoolBytes: this.spool.bytes }, triggerReceivedMs: m.receivedMs,
      });
    }
    this.schedule();
    if (this.queueLength >= this.cfg.queueHigh || this.headAgeMs(m.receivedMs) > MAX_QUEUE_AGE_MS) this.congested = true;
    return this.congested;
  }

  /** Durable hand-over (forwarded batches from collectors): straight into the spool, acknowledged after. */
  acceptDurable(items: RawMessage[]): boolean {
    for (const m of items) {
      this.counters.received++;
      if (!this.spool.append(m)) {
        this.counters.received -= 1;
        return false;
      }
    }
    this.schedule();
    return true;
  }

  private allow(src: string, at: number): boolean {
    const rate = this.cfg.sourceRate;
    let b = this.buckets.get(src);
    if (!b) { b = { tokens: rate, at }; this.buckets.set(src, b); }
    b.tokens = Math.min(rate, b.tokens + ((at - b.at) * rate) / 1000);
    b.at = at;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** Processes one batch (memory first, then the spool) and reschedules while there is work. */
  drain(): void {
    const t0 = performance.now();
    for (;;) {
      let batch: RawMessage[];
      let fromSpool = false;
      if (this.qHead < this.queue.length) {
        const end = Math.min(this.queue.length, this.qHead + BATCH);
        batch = this.queue.slice(this.qHead, end);
        this.qHead = end;
        if (this.qHead === this.queue.length) { this.queue = []; this.qHead = 0; }
        else if (this.qHead > 65_536) { this.queue = this.queue.slice(this.qHead); this.qHead = 0; }
      } else if (!this.spool.empty) {
        batch = this.spool.read(BATCH * 4);
        fromSpool = true;
        if (batch.length === 0) break;
      } else break;
      this.process(batch);
      if (fromSpool) {
        // a spooled message leaves the spool only once it is on disk: written synchronously
        const b = this.batch;
        const n = b.length;
        const { minMs, maxMs } = b;
        if (n > 0) this.store.appendEncoded(b.take(), n, minMs, maxMs, this.now());
        this.counters.stored += n;
        this.handled += n;
        this.spool.commit();
      }
      // a few milliseconds at most, then back to the sockets (the kernel's UDP buffer holds ~2000 datagrams)
      if (performance.now() - t0 > 4) break;
    }
    if (this.congested && this.queueLength < this.cfg.queueHigh / 2 && this.headAgeMs(Date.now()) < MAX_QUEUE_AGE_MS / 2) {
      this.congested = false;
      this.opts.onDrain?.();
    }
    if (this.queueLength > 0 || !this.spool.empty) this.schedule();
  }

  private process(batch: RawMessage[]): void {
    const outcome = (o: Outcome): void => { this.counters[o]++; };
    const opts = { tzOffsetMin: this.cfg.tzOffsetMin, maxSkewMs: this.cfg.maxSkewMs };
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i]!;
      const e = normaliseInto(m, this.decoders, opts, outcome, this.plan, this.batch);
      const atMs = lastAtMs();
      this.touchAsset(e, m);
      const hits = this.correlator.feed(e, m.receivedMs, atMs);
      for (const h of hits) this.onHit(h);
    }
    if (this.batch.length >= STORE_BATCH || (this.queueLength === 0 && this.spool.empty)) this.flushStore();
  }

  private flushStore(): void {
    const b = this.batch;
    const n = b.length;
    if (n === 0) return;
    const { minMs, maxMs } = b;
    this.store.appendEncodedAsync(b.take(), n, minMs, maxMs, this.now(), (k) => { this.counters.stored += k; this.handled += k; });
  }

  private touchAsset(e: LogEvent, m: RawMessage): void {
    const ip = String(e['observer.ip'] ?? m.from);
    let a = this.assets.get(ip);
    const ds = String(e['event.dataset']);
    if (!a) {
      a = { ip, hostName: null, dataset: ds, vendor: null, product: null, firstSeenMs: m.receivedMs, lastSeenMs: m.receivedMs, events: 0, silent: false };
      this.assets.set(ip, a);
    }
    a.events++;
    if (m.receivedMs > a.lastSeenMs) a.lastSeenMs = m.receivedMs;
    if (ds !== 'unknown') {
      a.dataset = ds;
      a.vendor = (e['observer.vendor'] as string) ?? a.vendor;
      a.product = (e['observer.product'] as string) ?? a.product;
    }
    if (e['host.name'] !== undefined) a.hostName = String(e['host.name']);
    if (a.silent) {
      a.silent = false;
      this.enqueueAlert({
        source: 'logaudit', kind: 'logaudit.device_back', severity: 'info', key: `silent:${ip}`,
        summary: `设备 ${a.hostName ?? ip} 恢复发送日志`, details: { ip }, triggerReceivedMs: m.receivedMs,
      });
    }
  }

  private onHit(h: RuleHit): void {
    if (this.hitDelays.length >= 100_000) this.hitDelays.splice(0, 50_000);
    this.hitDelays.push(Date.now() - h.triggerReceivedMs);
    const by = h.group ? `（${h.group}）` : '';
    const win = h.rule.windowMs > 0 ? `，${Math.round(h.rule.windowMs / 1000)} 秒内 ${h.count} 次` : '';
    this.enqueueAlert({
      source: 'logaudit', kind: 'logaudit.rule', severity: severityOf(h.rule.level), key: `${h.rule.id}:${h.group}`.slice(0, 200),
      summary: `${h.rule.zh}${by}${win}`.slice(0, 500),
      details: {
        rule: h.rule.id, title: h.rule.title, group: h.group, count: h.count, firstAt: new Date(h.firstMs).toISOString(), lastAt: new Date(h.lastMs).toISOString(),
        tags: h.rule.tags, device: h.sample['observer.ip'] ?? null, dataset: h.sample['event.dataset'] ?? null,
      },
      triggerReceivedMs: h.triggerReceivedMs,
    });
  }

  /** at most one alert per key per minute (floods and shedding would otherwise raise one per message) */
  private alertOnce(key: string, a: AlertOut): void {
    const last = this.lastAlertAt.get(key) ?? -Infinity;
    const now = this.now();
    if (now - last < 60_000) return;
    this.lastAlertAt.set(key, now);
    this.enqueueAlert(a);
  }

  private enqueueAlert(a: AlertOut): void {
    this.counters.alerts++;
    this.pendingAlerts.push(a);
    if (this.pendingAlerts.length > 1) return; // a write is already due
    const wait = this.lastAlertWrite + ALERT_WRITE_GAP_MS - Date.now();
    if (wait <= 0) this.writeAlertsNow();
    else {
      this.alertTimer = setTimeout(() => this.writeAlertsNow(), wait);
      this.alertTimer.unref();
    }
  }

  /** the pending alerts go out now (after any write in progress); idle() and stop() call it so nothing waits for the timer */
  private writeAlertsNow(): void {
    if (this.alertTimer) { clearTimeout(this.alertTimer); this.alertTimer = null; }
    if (this.pendingAlerts.length === 0) return;
    this.lastAlertWrite = Date.now();
    this.alertChain = this.alertChain.then(() => this.flushAlerts());
  }

  /** Everything pending goes out in one call (one transaction): a burst of hits costs one commit, not one each. */
  private async flushAlerts(): Promise<void> {
    const batch = this.pendingAlerts;
    this.pendingAlerts = [];
    if (batch.length === 0) return;
    try {
      if (this.opts.raise) await this.opts.raise(batch);
      else this.alertsRaised.push(...batch);
      const done = Date.now();
      if (this.alertLatencies.length >= 100_000) this.alertLatencies.splice(0, 50_000);
      for (const a of batch) this.alertLatencies.push(done - a.triggerReceivedMs);
    } catch (err) {
      this.counters.alert_errors += batch.length;
      this.opts.log?.(`logaudit: could not raise ${batch.length} alert(s): ${(err as Error).message}`);
    }
  }

  /** Silent devices: known sources with nothing for `silentAfterMs` (checked by the tick). */
  checkSilent(nowMs = this.now()): Asset[] {
    const out: Asset[] = [];
    for (const a of this.assets.values()) {
      if (a.silent || nowMs - a.lastSeenMs < this.cfg.silentAfterMs) continue;
      a.silent = true;
      out.push(a);
      this.enqueueAlert({
        source: 'logaudit', kind: 'logaudit.device_silent', severity: 'warning', key: `silent:${a.ip}`,
        summary: `设备 ${a.hostName ?? a.ip} 已超过 ${Math.round(this.cfg.silentAfterMs / 60_000)} 分钟未发送日志`,
        details: { ip: a.ip, lastSeenAt: new Date(a.lastSeenMs).toISOString(), dataset: a.dataset }, triggerReceivedMs: nowMs,
      });
    }
    return out;
  }

  /** UDP datagrams the kernel dropped (socket buffer full) since start: host-wide, from /proc/net/snmp */
  private kernelDropsAtStart = udpRcvbufErrors();

  start(): void {
    this.kernelDropsAtStart = udpRcvbufErrors();
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
    if (!this.spool.empty) this.schedule();
  }

  private ticks = 0;
  tick(): void {
    this.flushStore();
    this.store.seal(false);
    if (++this.ticks % 10 === 0) this.checkSilent();
    if (this.ticks % 3600 === 1) {
      this.store.prune(this.cfg.retentionDays);
      this.correlator.sweep(this.now());
    }
  }

  /** Resolves when everything received so far is stored and its alerts raised. */
  async idle(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.queueLength > 0 || !this.spool.empty || this.scheduled) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.flushStore();
    await this.store.flushed();
    this.writeAlertsNow();
    await this.alertChain;
  }

  /** how long the oldest message in memory has waited (0 when none) */
  private headAgeMs(nowMs: number): number {
    return this.qHead < this.queue.length ? nowMs - this.queue[this.qHead]!.receivedMs : 0;
  }

  get queueLength(): number {
    return this.queue.length - this.qHead;
  }

  async stop(): Promise<void> {
    // finish what is queued, then seal the day's manifest
    while (this.queueLength > 0 || !this.spool.empty) this.drain();
    this.flushStore();
    await this.store.flushed();
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.writeAlertsNow();
    await this.alertChain;
    this.store.close();
    this.spool.close();
  }

  health(): Record<string, unknown> {
    return {
      udpKernelDrops: udpRcvbufErrors() - this.kernelDropsAtStart,
      mode: this.cfg.mode, counters: { ...this.counters }, queue: this.queueLength, spoolBytes: Math.max(0, this.spool.bytes),
      devices: this.assets.size, silentDevices: [...this.assets.values()].filter((a) => a.silent).length,
      rules: this.rules.length, deviceTypes: this.decoders.deviceTypeCount, handled: this.handled,
    };
  }
}
