import { randomBytes } from 'node:crypto';
import type { CapabilityHost } from '../admin-api/capability.js';
import type { SqlClient } from '../master/sql-client.js';
import type { AlertingConfig } from './config.js';
import { AlertEngine } from './engine.js';
import { startGatewaySim, type GatewaySim } from './gateway-sim.js';
import { Monitors } from './monitors.js';
import { PromMetrics } from './prom-metrics.js';
import { METRICS } from './rules.js';
import { SmsClient, type Recipients } from './sms-client.js';
import { Detectors } from './detectors.js';

/**
 * The alerting capability's parts wired together, and its background loops:
 *
 *   every ALERT_TICK_MS            engine.tick() (events, metrics, notify), then sms.flush()
 *   every ALERT_MONITOR_INTERVAL_MS  monitors.sample() → engine.observe(), Prometheus gauges
 *   every ALERT_ANOMALY_INTERVAL_MS  detectors.run(): red/yellow anomalies, operator behaviour
 *
 * Without SMS_GATEWAY_URL the gateway is the simulator (gateway-sim.ts), on a
 * loopback port, its messages in the log.
 */
export class AlertingService {
  readonly db: SqlClient;
  readonly sms: SmsClient;
  readonly engine: AlertEngine;
  readonly monitors: Monitors;
  readonly prom: PromMetrics;
  readonly detectors: Detectors;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private busy = { tick: false, monitor: false, detect: false };
  /** CPU seconds spent sampling, and wall ms covered: the monitor overhead */
  readonly overhead = { cpuSec: 0, samples: 0, sinceMs: Date.now() };

  private constructor(readonly host: CapabilityHost, readonly cfg: AlertingConfig, readonly sim: GatewaySim | null) {
    this.db = host.db;
    this.sms = new SmsClient(host.db, {
      url: cfg.gatewayUrl ?? sim!.url,
      key: cfg.gatewayKey,
      timeoutMs: cfg.timeoutMs,
      dailyBudget: cfg.dailyBudget,
      phones: { oncall: cfg.phones, escalation: cfg.escalationPhones },
      now: () => host.nowMs(),
      log: (l) => host.log(l),
    });
    this.engine = new AlertEngine({ db: host.db, sms: this.sms, audit: host.audit, now: () => host.nowMs(), log: (l) => host.log(l) });
    this.monitors = new Monitors({
      db: host.db, dataDir: host.dataDir, sms: this.sms, edgeUrls: cfg.edgeUrls, syncStatusUrl: cfg.syncStatusUrl, syncToken: cfg.syncToken, now: () => host.nowMs(),
    });
    this.prom = new PromMetrics(this.engine, this.sms);
    this.detectors = new Detectors({ db: host.readDb ?? host.db, writeDb: host.db, now: () => host.nowMs(), massChanges: cfg.operatorMassChanges, windowMin: cfg.operatorWindowMin, loginFailures: cfg.loginFailures, loginWindowMin: cfg.loginWindowMin });
  }

  static async create(host: CapabilityHost, cfg: AlertingConfig): Promise<AlertingService> {
    const sim = cfg.gatewayUrl === null ? await startGatewaySim({ key: cfg.gatewayKey, replayWindowSec: cfg.replayWindowSec, log: (l) => host.log(l) }) : null;
    const svc = new AlertingService(host, cfg, sim);
    await svc.engine.seedRules();
    return svc;
  }

  gatewayLabel(): string {
    return this.sim !== null ? '内置模拟网关（未配置 SMS_GATEWAY_URL）' : new URL(this.cfg.gatewayUrl!).host;
  }

  metricNames(): Record<string, string> {
    return { ...METRICS };
  }

  /** One monitor round: sample, hand to the engine and Prometheus. */
  async monitorOnce(): Promise<void> {
    const r = await this.monitors.sample();
    this.overhead.cpuSec += r.costCpuSec;
    this.overhead.samples++;
    this.engine.observe(r.samples, r.observed);
    this.prom.update(r);
  }

  async testMessage(recipients: Recipients, by: string, audit: (tx: SqlClient, id: string) => Promise<void>): Promise<string> {
    const id = `test-${randomBytes(12).toString('hex')}`;
    await this.db.transaction(async (tx) => {
      await this.sms.enqueue(tx, { id, text: `[测试] 告警短信通道测试（由 ${by} 发起）。`, recipients, severity: 'info', purpose: 'test' });
      await audit(tx, id);
    });
    void this.sms.flush().catch(() => undefined);
    return id;
  }

  async overview(): Promise<Record<string, unknown>> {
    const r = this.monitors.latest;
    const elapsed = (Date.now() - this.overhead.sinceMs) / 1000;
    return {
      atMs: r?.atMs ?? null,
      samples: r?.samples ?? [],
      unavailable: r?.unavailable ?? {},
      metricNames: METRICS,
      counts: await this.engine.counts(),
      queue: await this.sms.queueDepth(),
      gateway: this.gatewayLabel(),
      monitorOverheadCoreRatio: elapsed > 0 ? this.overhead.cpuSec / elapsed : 0,
      detectors: this.detectors.lastRun,
    };
  }

  start(): void {
    if (!this.cfg.loops) {
      this.host.log('alerting: background loops off (ALERT_LOOPS=off): routes, console and SMS test work, nothing is polled');
      return;
    }
    const loop = (ms: number, what: keyof AlertingService['busy'], fn: () => Promise<unknown>): void => {
      const run = (): void => {
        if (this.stopped || this.busy[what]) return;
        this.busy[what] = true;
        fn()
          .catch((err: unknown) => this.host.log(`alerting: ${what} failed: ${(err as Error).message}`))
          .finally(() => {
            this.busy[what] = false;
          });
      };
      const t = setInterval(run, ms);
      t.unref();
      this.timers.push(t);
      run();
    };
    loop(this.cfg.monitorIntervalMs, 'monitor', () => this.monitorOnce());
    loop(this.cfg.anomalyIntervalMs, 'detect', () => this.detectors.run());
    loop(this.cfg.tickMs, 'tick', async () => {
      await this.engine.tick();
      void this.sms.flush().catch((err: unknown) => this.host.log(`alerting: SMS flush failed: ${(err as Error).message}`));
    });
    this.host.log(`alerting: engine every ${this.cfg.tickMs} ms, monitors every ${this.cfg.monitorIntervalMs} ms; SMS via ${this.gatewayLabel()}${this.sim === null ? '' : ` ${this.sim.url}`}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.monitors.stop();
    // let a running round finish before the database closes
    for (let i = 0; i < 100 && (this.busy.tick || this.busy.monitor || this.busy.detect); i++) await new Promise((r) => setTimeout(r, 50));
    await this.sim?.close();
  }
}
