import { Counter, Gauge, Registry } from 'prom-client';
import type { AlertEngine } from './engine.js';
import type { MonitorReading } from './monitors.js';
import type { SmsClient } from './sms-client.js';

/**
 * The Prometheus view (prom-client, an own Registry so two stacks in one
 * test process do not collide): every monitor sample as `hc_<metric>`, the
 * engine's and the SMS client's counters, open alerts by state. Served at
 * GET /admin/v1/alerting/metrics; deploy/grafana/healthcode.json draws it.
 */
const EDGE_METRICS = new Set(['edge_scrape_failed', 'edge_replica_lag', 'edge_replica_lag_seconds', 'edge_process_cpu_ratio', 'edge_process_rss_bytes', 'edge_process_open_fds']);

export class PromMetrics {
  readonly registry = new Registry();
  private readonly gauges = new Map<string, Gauge<string>>();
  private readonly unavailable: Gauge<string>;

  constructor(engine: AlertEngine, sms: SmsClient) {
    const reg = this.registry;
    this.unavailable = new Gauge({ name: 'hc_monitor_unavailable', help: '1 when a monitor group cannot be read here (e.g. database statistics on PGlite).', labelNames: ['group'], registers: [reg] });
    const counter = (name: string, help: string, read: () => number): void => {
      let last = 0;
      new Counter({
        name, help, registers: [reg],
        collect() {
          const v = read();
          if (v > last) this.inc(v - last);
          last = v;
        },
      });
    };
    counter('hc_alerting_events_total', 'Alert events consumed from alert_events.', () => engine.counters.events);
    counter('hc_alerting_fired_total', 'Alerts that went firing.', () => engine.counters.fired);
    counter('hc_alerting_resolved_total', 'Firing alerts that resolved.', () => engine.counters.resolved);
    counter('hc_alerting_notifications_total', 'SMS messages the engine queued.', () => engine.counters.messages);
    counter('hc_sms_sent_total', 'SMS accepted by the gateway.', () => sms.counters.sent);
    counter('hc_sms_failures_total', 'SMS attempts that failed (down, slow, 5xx, garbage).', () => sms.counters.failures);
    counter('hc_sms_rejected_total', 'SMS refused by the gateway (400).', () => sms.counters.rejected);
    counter('hc_sms_over_budget_total', 'SMS held back by the daily budget.', () => sms.counters.overBudget);
    new Gauge({
      name: 'hc_alerts', help: 'Open alerts by state.', labelNames: ['status'], registers: [reg],
      async collect() {
        const c = await engine.counts();
        this.set({ status: 'pending' }, c.pending);
        this.set({ status: 'firing' }, c.firing);
      },
    });
  }

  update(r: MonitorReading): void {
    for (const g of this.gauges.values()) g.reset();
    for (const s of r.samples) {
      let g = this.gauges.get(s.metric);
      if (g === undefined) {
        g = new Gauge({ name: `hc_${s.metric}`, help: `monitor sample ${s.metric} (alerting/monitors.ts)`, labelNames: EDGE_METRICS.has(s.metric) ? ['edge'] : [], registers: [this.registry] });
        this.gauges.set(s.metric, g);
      }
      if (EDGE_METRICS.has(s.metric)) g.set({ edge: s.labels.edge ?? '' }, s.value);
      else g.set(s.value);
    }
    this.unavailable.reset();
    for (const group of ['fds', 'disk', 'database', 'outbox', 'edges']) this.unavailable.set({ group }, group in r.unavailable ? 1 : 0);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
