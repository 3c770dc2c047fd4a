import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { MemoryDeltaBus } from '../sync/bus-memory.js';
import { masterOutboxSource } from '../sync/outbox-master.js';
import { Publisher } from '../sync/publisher.js';
import { SnapshotService } from '../sync/snapshot.js';
import { startSyncHttp, type SyncHttpServer } from '../sync/sync-http.js';
import { alertingCapability, type AlertingInstance } from './alerting-capability.js';
import { startEdgeNode } from '../test/edge-fixture.js';
import { Monitors, promSeries, type MonitorReading } from './monitors.js';
import type { AlertingService } from './service.js';

/**
 * The publish-path monitors against the master's real sync status endpoint
 * (sync-http.ts) fed by a real Publisher on the in-process bus: a stalled
 * publisher (stopped here, as a dead Redis stops it) leaves a backlog whose
 * wait grows with the clock; the delta-stream rate comes from the same
 * status; the snapshot age from the newest file in <dataDir>/snapshots.
 */
let f: Fixture;
let svc: AlertingService;
let http: SyncHttpServer;
let publisher: Publisher;
const bus = new MemoryDeltaBus();
const dir = mkdtempSync(join(tmpdir(), 'hc-monitors-'));

beforeAll(async () => {
  f = await startAdmin({ capabilities: [alertingCapability], capabilityEnv: { alerting: { ALERT_PHONES: '13912345678', ALERT_LOOPS: 'off' } } });
  svc = (f.instances.alerting as AlertingInstance).service;
  publisher = new Publisher({ bus, source: masterOutboxSource(f.store), pollMs: 20 });
  publisher.start();
  const snapshots = new SnapshotService({ dir: join(dir, 'unused'), db: f.db, bus });
  http = await startSyncHttp({ host: '127.0.0.1', port: 0, snapshots, status: () => ({ publisher: publisher.metrics() }) });
});
afterAll(async () => {
  await publisher?.stop();
  await http?.close();
  await f?.close();
  rmSync(dir, { recursive: true, force: true });
});

function value(r: MonitorReading, metric: string): number | undefined {
  return r.samples.find((s) => s.metric === metric)?.value;
}

async function transcode(color: 'red' | 'green'): Promise<void> {
  const r = await f.call('POST', '/admin/v1/codes/transcode', { token: f.tokens.admin, body: { idType: 'resident', idNo: CHENGDU_ID, color, reason: 'monitor_test' } });
  expect(r.status, r.text).toBe(200);
}

describe('publish path and snapshot monitors', () => {
  it('publish_stalled_seconds: 0 while the publisher keeps up, grows with the clock while a backlog waits, 0 again once published', async () => {
    await f.store.upsertPerson({ idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME });
    const m = new Monitors({ db: f.db, dataDir: dir, sms: svc.sms, edgeUrls: [], syncStatusUrl: `${http.url}/sync/v1/status`, syncToken: null, now: () => f.clock.ms });
    try {
      await transcode('red');
      await expect.poll(async () => value(await m.sample(), 'outbox_backlog'), { timeout: 20_000 }).toBe(0);
      const level = await m.sample();
      expect(value(level, 'publish_stalled_seconds')).toBe(0);
      expect(value(level, 'delta_stream_rate')).toBeGreaterThanOrEqual(0);
      expect(level.observed).toContain('delta_stream_rate');

      await publisher.stop(); // what a dead Redis does to it: nothing moves
      await transcode('green');
      const first = await m.sample();
      expect(value(first, 'outbox_backlog')).toBeGreaterThan(0);
      expect(value(first, 'publish_stalled_seconds')).toBe(0);
      f.clock.ms += 40_000;
      expect(value(await m.sample(), 'publish_stalled_seconds')).toBe(40);

      publisher = new Publisher({ bus, source: masterOutboxSource(f.store), pollMs: 20 });
      publisher.start();
      await expect.poll(async () => value(await m.sample(), 'publish_stalled_seconds'), { timeout: 20_000 }).toBe(0);
    } finally {
      m.stop();
    }
  });

  it('snapshot_age_seconds: the newest snapshot file, "不可用" where there is none', async () => {
    const m = new Monitors({ db: f.db, dataDir: dir, sms: svc.sms, edgeUrls: [], syncStatusUrl: null, syncToken: null, now: () => f.clock.ms });
    try {
      const none = await m.sample();
      expect(none.unavailable.snapshot).toContain('不可用');
      expect(value(none, 'snapshot_age_seconds')).toBeUndefined();
      mkdirSync(join(dir, 'snapshots'));
      for (const [name, ageSec] of [['old', 7200], ['new', 120]] as const) {
        const file = join(dir, 'snapshots', name);
        writeFileSync(file, 'x');
        const t = (f.clock.ms - ageSec * 1000) / 1000;
        utimesSync(file, t, t);
      }
      const r = await m.sample();
      expect(r.unavailable.snapshot).toBeUndefined();
      expect(value(r, 'snapshot_age_seconds')).toBeCloseTo(120, 0);
    } finally {
      m.stop();
    }
  });
});

describe('edge server processes (forked workers are not this process)', () => {
  it('each edge reports its server process CPU seconds, RSS and open fds; the monitors turn them into per-edge samples', async () => {
    const node = await startEdgeNode();
    const m = new Monitors({ db: f.db, dataDir: dir, sms: svc.sms, edgeUrls: [node.base], syncStatusUrl: null, syncToken: null, now: () => f.clock.ms });
    try {
      const text = await (await fetch(`${node.base}/metrics`)).text();
      for (const name of ['edge_process_cpu_seconds_total', 'edge_process_resident_memory_bytes', 'edge_process_open_fds']) {
        expect(text).toContain(`# TYPE ${name} `);
        const series = promSeries(text, name);
        expect(series.map((x) => x.pid)).toEqual([String(process.pid)]);
        expect(series[0]!.value).toBeGreaterThan(0);
      }
      const edge = new URL(node.base).host;
      const of = (r: MonitorReading, metric: string): number | undefined => r.samples.find((s) => s.metric === metric && s.labels.edge === edge)?.value;
      const first = await m.sample();
      expect(of(first, 'edge_scrape_failed')).toBe(0);
      expect(of(first, 'edge_process_open_fds')).toBeGreaterThan(0);
      expect(of(first, 'edge_process_rss_bytes')).toBeGreaterThan(1024 * 1024);
      // a CPU share needs two readings of the same process
      expect(of(first, 'edge_process_cpu_ratio')).toBeUndefined();
      const second = await m.sample();
      expect(of(second, 'edge_process_cpu_ratio')).toBeGreaterThanOrEqual(0);
    } finally {
      m.stop();
      await node.close();
    }
  });

  it('promSeries reads every pid, skips other metrics and non-numbers', () => {
    const text = ['# TYPE edge_process_open_fds gauge', 'edge_process_open_fds{pid="11"} 40', 'edge_process_open_fds{pid="12"} NaN', 'edge_process_open_fds_x{pid="13"} 1', 'edge_process_open_fds{pid="14"} 52'].join('\n');
    expect(promSeries(text, 'edge_process_open_fds')).toEqual([{ pid: '11', value: 40 }, { pid: '14', value: 52 }]);
  });
});
