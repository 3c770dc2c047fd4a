import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertingError } from './errors.js';
import { startGatewaySim, type GatewaySim } from './gateway-sim.js';
import { loadWatchdogConfig, MasterWatchdog, type WatchdogConfig } from './master-watchdog.js';

const KEY = 'k'.repeat(40);

/** A stand-in master health endpoint, a real HTTP server: answers, refuses (socket cut) or hangs. */
async function fakeMaster(): Promise<{ url: string; mode: 'ok' | 'cut' | 'hang' | 'error'; close(): Promise<void> }> {
  const m = { url: '', mode: 'ok' as 'ok' | 'cut' | 'hang' | 'error', close: async (): Promise<void> => undefined };
  const server: Server = createServer((req, res) => {
    if (m.mode === 'cut') return void req.socket.destroy();
    if (m.mode === 'hang') return;
    res.writeHead(m.mode === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
    res.end(m.mode === 'ok' ? '{"ok":true}' : '{"ok":false}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  m.url = `http://127.0.0.1:${addr.port}/healthz`;
  m.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return m;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(n: number) {
  const gw: GatewaySim = await startGatewaySim({ key: KEY });
  const master = await fakeMaster();
  cleanups.push(() => gw.close(), () => master.close());
  const config: WatchdogConfig = loadWatchdogConfig({
    WATCHDOG_MASTER_URL: master.url,
    WATCHDOG_FOR_SEC: '30',
    WATCHDOG_TIMEOUT_MS: '300',
    SMS_GATEWAY_URL: gw.url,
    SMS_GATEWAY_KEY: KEY,
    ALERT_PHONES: '13800138001,13800138002',
  })!;
  const clock = { ms: Date.UTC(2026, 11, 7, 6, 1, 0) };
  const logs: string[] = [];
  const dogs = Array.from({ length: n }, (_, i) => new MasterWatchdog(config, { name: `edge-${i + 1}`, now: () => clock.ms, log: (l) => logs.push(l) }));
  // the test moves the clock; every watchdog probes once per "period"
  const round = async (advanceSec: number): Promise<void> => {
    clock.ms += advanceSec * 1000;
    for (const d of dogs) await d.tick();
  };
  return { gw, master, dogs, round, logs };
}

describe('master watchdog', () => {
  it('three watchdogs page exactly once per outage and resolve once, against a real HTTP master and the gateway simulator', async () => {
    const { gw, master, dogs, round } = await setup(3);
    await round(0);
    expect(dogs.map((d) => d.status)).toEqual(['up', 'up', 'up']);
    master.mode = 'cut';
    await round(5);
    expect(dogs.map((d) => d.status)).toEqual(['failing', 'failing', 'failing']);
    await round(10);
    await round(10);
    expect(gw.delivered).toHaveLength(0); // 20 s < WATCHDOG_FOR_SEC
    await round(10);
    expect(dogs.map((d) => d.status)).toEqual(['paged', 'paged', 'paged']);
    for (let i = 0; i < 5; i++) await round(5);
    expect(gw.delivered).toHaveLength(1);
    expect(gw.requests).toBe(3); // each watchdog sent once; the gateway sent one
    const page = gw.delivered[0]!;
    expect(page.phones).toEqual(['13800138001', '13800138002']);
    expect(page.text).toMatch(/^\[严重\]主节点无应答：127\.0\.0\.1:\d+ 自 2026-12-07 14:01:05 起无应答（已30秒）/);
    expect(page.text).toContain('边缘节点 edge-1 看门狗');

    master.mode = 'ok';
    await round(5);
    await round(5);
    expect(dogs.map((d) => d.status)).toEqual(['up', 'up', 'up']);
    expect(gw.delivered).toHaveLength(2);
    expect(gw.delivered[1]!.text).toMatch(/^\[已恢复\]主节点恢复应答：127\.0\.0\.1:\d+ 于 2026-12-07 14:02:\d\d 恢复，中断约1分钟/);
    expect(gw.delivered[1]!.id).toBe(`${page.id}-ok`);

    // a second outage in the same dedupe window is a new page, not a duplicate of the first
    master.mode = 'hang';
    await round(5);
    await round(31);
    expect(gw.delivered).toHaveLength(3);
    expect(gw.delivered[2]!.id).not.toBe(page.id);
    expect(gw.delivered[2]!.text).toContain('[严重]主节点无应答');
    master.mode = 'ok';
    await round(5);
    expect(gw.delivered).toHaveLength(4);
    expect(gw.delivered[3]!.text).toContain('[已恢复]');
    expect(gw.delivered[3]!.text).toContain('中断约36秒'); // under a minute: in seconds
  });

  it('a blip shorter than WATCHDOG_FOR_SEC pages nobody; an HTTP 503 counts as down', async () => {
    const { gw, master, dogs, round } = await setup(2);
    master.mode = 'error';
    await round(0);
    await round(20);
    master.mode = 'ok';
    await round(20);
    master.mode = 'error';
    await round(20);
    expect(gw.delivered).toHaveLength(0);
    expect(dogs[0]!.status).toBe('failing');
    await round(30);
    expect(gw.delivered).toHaveLength(1);
  });

  it('a gateway that is down when the page is due: resent on the next probe, still one page and one resolve', async () => {
    const { gw, master, dogs, round, logs } = await setup(2);
    master.mode = 'cut';
    await round(0);
    gw.mode = 'down';
    await round(40);
    expect(gw.delivered).toHaveLength(0);
    expect(dogs[0]!.status).toBe('failing');
    expect(logs.some((l) => l.includes('retrying next probe'))).toBe(true);
    gw.mode = 'ok';
    await round(5);
    expect(gw.delivered).toHaveLength(1);
    master.mode = 'ok';
    gw.mode = 'error500';
    await round(5);
    expect(gw.delivered).toHaveLength(1); // the resolve waits
    gw.mode = 'ok';
    await round(5);
    expect(gw.delivered).toHaveLength(2);
    expect(gw.delivered[1]!.text).toContain('[已恢复]');
    // no phone number in the watchdog's log lines
    expect(logs.join('\n')).not.toMatch(/1380013800/);
  });

  it('start() probes on its own timer and stop() ends it', async () => {
    const { master } = await setup(0);
    const config = loadWatchdogConfig({ WATCHDOG_MASTER_URL: master.url, WATCHDOG_INTERVAL_MS: '200', SMS_GATEWAY_URL: 'http://127.0.0.1:9/sms', SMS_GATEWAY_KEY: KEY, ALERT_PHONES: '13800138001' })!;
    const d = new MasterWatchdog(config, { name: 'e', log: () => undefined });
    master.mode = 'cut';
    d.start();
    await expect.poll(() => d.status, { timeout: 10_000 }).toBe('failing');
    await d.stop();
  });

  it('configuration: unset is no watchdog; every bad value is ALR_ERR_CONFIG naming the variable', () => {
    expect(loadWatchdogConfig({})).toBeNull();
    const ok = { WATCHDOG_MASTER_URL: 'http://10.0.0.1:8081/healthz', SMS_GATEWAY_URL: 'https://sms.example/send', SMS_GATEWAY_KEY: KEY, ALERT_PHONES: '13800138001' };
    const c = loadWatchdogConfig(ok)!;
    expect([c.forSec, c.intervalMs, c.timeoutMs, c.dedupeWindowMin]).toEqual([60, 5000, 3000, 10]);
    const cases: [Record<string, string | undefined>, string][] = [
      [{ WATCHDOG_MASTER_URL: 'master:8081' }, 'WATCHDOG_MASTER_URL'],
      [{ WATCHDOG_MASTER_URL: 'ftp://m/x' }, 'WATCHDOG_MASTER_URL'],
      [{ SMS_GATEWAY_URL: undefined }, 'SMS_GATEWAY_URL'],
      [{ SMS_GATEWAY_KEY: undefined }, 'SMS_GATEWAY_KEY'],
      [{ SMS_GATEWAY_KEY: 'short' }, 'SMS_GATEWAY_KEY'],
      [{ ALERT_PHONES: undefined }, 'ALERT_PHONES'],
      [{ ALERT_PHONES: '12345' }, 'ALERT_PHONES'],
      [{ WATCHDOG_FOR_SEC: '2' }, 'WATCHDOG_FOR_SEC'],
      [{ WATCHDOG_FOR_SEC: 'soon' }, 'WATCHDOG_FOR_SEC'],
      [{ WATCHDOG_INTERVAL_MS: '100' }, 'WATCHDOG_INTERVAL_MS'],
      [{ WATCHDOG_TIMEOUT_MS: '999999' }, 'WATCHDOG_TIMEOUT_MS'],
      [{ WATCHDOG_DEDUPE_WINDOW_MIN: '0' }, 'WATCHDOG_DEDUPE_WINDOW_MIN'],
    ];
    for (const [patch, field] of cases) {
      let err: unknown = null;
      try {
        loadWatchdogConfig({ ...ok, ...patch });
      } catch (e) {
        err = e;
      }
      expect(err, field).toBeInstanceOf(AlertingError);
      expect((err as AlertingError).code).toBe('ALR_ERR_CONFIG');
      expect((err as AlertingError).field).toBe(field);
      expect((err as AlertingError).message).not.toContain('12345');
    }
  });
});
