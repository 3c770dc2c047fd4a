import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { METRICS } from './rules.js';

/**
 * deploy/grafana/healthcode.json draws only metrics the alerting exposes
 * (prom-metrics.ts: hc_<monitor metric> and the counters), so a renamed
 * metric cannot leave a silently empty panel.
 */
const KNOWN = new Set([
  ...Object.keys(METRICS).map((m) => `hc_${m}`),
  'hc_process_open_fds', 'hc_disk_free_bytes', 'hc_db_connections', 'hc_outbox_seq', 'hc_sms_queue_depth',
  'hc_monitor_unavailable', 'hc_alerts', 'hc_alerting_events_total', 'hc_alerting_fired_total', 'hc_alerting_resolved_total',
  'hc_alerting_notifications_total', 'hc_sms_sent_total', 'hc_sms_failures_total', 'hc_sms_rejected_total', 'hc_sms_over_budget_total',
]);

describe('Grafana dashboard', () => {
  const d = JSON.parse(readFileSync(new URL('../deploy/grafana/healthcode.json', import.meta.url), 'utf8')) as {
    title: string; timezone: string; panels: { title: string; targets: { expr: string }[] }[];
  };
  it('is Chinese, in China time, and every panel queries a metric we expose', () => {
    expect(d.title).toMatch(/[\u4e00-\u9fff]/);
    expect(d.timezone).toBe('Asia/Shanghai');
    expect(d.panels.length).toBeGreaterThan(10);
    for (const p of d.panels) {
      expect(p.title).toMatch(/[\u4e00-\u9fff]/);
      for (const t of p.targets) {
        const names = t.expr.match(/hc_[a-z_]+/g) ?? [];
        expect(names.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        for (const n of names) expect(KNOWN.has(n), `${p.title}: ${n}`).toBe(true);
      }
    }
  });
});
