import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runMigrations } from '../master/migrations.js';
import { openPglite, type SqlClient } from '../master/sql-client.js';
import { loadAlertingConfig } from './config.js';
import { startGatewaySim, type GatewaySim } from './gateway-sim.js';
import { ALERTING_MIGRATIONS } from './migrations.js';
import { signature, SIG_HEADER, TS_HEADER } from './sms-protocol.js';
import { backoffMs, chinaDayStart, MAX_BACKOFF_MS, SmsClient } from './sms-client.js';

const KEY = 'k'.repeat(40);
const PHONE = '13912345678';
let db: SqlClient;
let sim: GatewaySim;
const clock = { ms: Date.UTC(2026, 11, 7, 2, 0, 0) };
const logs: string[] = [];
let n = 0;

function client(over: Partial<ConstructorParameters<typeof SmsClient>[1]> = {}): SmsClient {
  return new SmsClient(db, {
    url: sim.url, key: KEY, timeoutMs: 300, dailyBudget: 1000,
    phones: { oncall: [PHONE], escalation: [PHONE, '13700001111'] },
    now: () => clock.ms, log: (l) => logs.push(l), ...over,
  });
}
const nextId = (): string => `msg-${String(++n).padStart(4, "0")}-${Date.now()}`;

beforeAll(async () => {
  db = await openPglite();
  // version 1 only: the later ones index master tables this bare database does not have
  await runMigrations(db, ALERTING_MIGRATIONS.slice(0, 1), 'alerting_migrations');
  sim = await startGatewaySim({ key: KEY, log: (l) => logs.push(l) });
});
afterAll(async () => {
  await sim.close();
  await db.close();
});
beforeEach(async () => {
  sim.mode = 'ok';
  await db.query(`UPDATE alerting_sms SET status = 'rejected' WHERE status = 'queued'`);
});

describe('config', () => {
  it('defaults to the simulator and a placeholder phone', () => {
    const c = loadAlertingConfig({}, { dataDir: '/tmp' });
    expect(c.gatewayUrl).toBeNull();
    expect(c.gatewayKey.length).toBeGreaterThanOrEqual(32);
    expect(c.phones).toHaveLength(1);
  });
  it('names the variable of a bad value, never echoing a phone', () => {
    const bad = (env: Record<string, string>, name: string): void => {
      expect(() => loadAlertingConfig(env, { dataDir: '/tmp' })).toThrow(expect.objectContaining({ code: 'ALR_ERR_CONFIG', field: name }));
    };
    bad({ SMS_GATEWAY_URL: 'ftp://x' }, 'SMS_GATEWAY_URL');
    bad({ SMS_GATEWAY_URL: 'http://sms.example/send' }, 'SMS_GATEWAY_KEY');
    bad({ SMS_GATEWAY_URL: 'http://sms.example/send', SMS_GATEWAY_KEY: 'short' }, 'SMS_GATEWAY_KEY');
    bad({ SMS_GATEWAY_URL: 'http://sms.example/send', SMS_GATEWAY_KEY: KEY }, 'ALERT_PHONES');
    bad({ ALERT_PHONES: '13912345678,1234' }, 'ALERT_PHONES');
    bad({ SMS_DAILY_BUDGET: '-3' }, 'SMS_DAILY_BUDGET');
    bad({ ALERT_TICK_MS: 'fast' }, 'ALERT_TICK_MS');
    bad({ ALERT_EDGE_URLS: 'http://a:8080,nope' }, 'ALERT_EDGE_URLS');
    bad({ ALERT_LOOPS: 'sometimes' }, 'ALERT_LOOPS');
    bad({ ALERT_LOGIN_FAILURES: '1' }, 'ALERT_LOGIN_FAILURES');
    bad({ ALERT_LOGIN_WINDOW_MIN: '0' }, 'ALERT_LOGIN_WINDOW_MIN');
    bad({ ALERT_METRICS_TOKEN: 'too-short' }, 'ALERT_METRICS_TOKEN');
    bad({ ALERT_METRICS_TOKEN: `${'a'.repeat(20)} ${'b'.repeat(20)}` }, 'ALERT_METRICS_TOKEN');
    try {
      loadAlertingConfig({ ALERT_METRICS_TOKEN: 'secret-but-short' }, { dataDir: '/tmp' });
    } catch (e) {
      expect((e as Error).message).not.toContain('secret-but-short'); // a secret is never echoed
    }
    expect(loadAlertingConfig({}, { dataDir: '/tmp' }).metricsToken).toBeNull();
    expect(loadAlertingConfig({ ALERT_METRICS_TOKEN: 'x'.repeat(32) }, { dataDir: '/tmp' }).metricsToken).toBe('x'.repeat(32));
    expect(loadAlertingConfig({}, { dataDir: '/tmp', mode: 'embedded' }).loops).toBe(true);
    expect(loadAlertingConfig({ ALERT_LOOPS: 'off' }, { dataDir: '/tmp', mode: 'cluster' }).loops).toBe(false);
    try {
      loadAlertingConfig({ ALERT_PHONES: '13912345678,2345678' }, { dataDir: '/tmp' });
    } catch (e) {
      expect((e as Error).message).not.toContain('2345678');
    }
    const ok = loadAlertingConfig({ SMS_GATEWAY_URL: 'https://sms.example/send', SMS_GATEWAY_KEY: KEY, ALERT_PHONES: '139 1234 5678, +8613700001111' }, { dataDir: '/tmp' });
    expect(ok.phones).toEqual(['13912345678', '13700001111']);
  });
});

describe('gateway protocol (simulator)', () => {
  async function post(body: string, headers: Record<string, string>): Promise<{ status: number; body: { error?: string } }> {
    const r = await fetch(sim.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: r.status, body: (await r.json()) as { error?: string } };
  }
  it('refuses a missing or wrong signature and a stale timestamp', async () => {
    const body = JSON.stringify({ phones: [PHONE], text: '测试', id: 'abcdefgh1' });
    expect((await post(body, {})).body.error).toBe('ALR_ERR_GATEWAY_SIGNATURE');
    const ts = String(Date.now());
    expect((await post(body, { [TS_HEADER]: ts, [SIG_HEADER]: signature('x'.repeat(40), ts, body) })).body.error).toBe('ALR_ERR_GATEWAY_SIGNATURE');
    const old = String(Date.now() - 3_600_000);
    const r = await post(body, { [TS_HEADER]: old, [SIG_HEADER]: signature(KEY, old, body) });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('ALR_ERR_GATEWAY_REPLAY');
  });
  it('refuses malformed messages with ALR_ERR_GATEWAY_BAD_REQUEST', async () => {
    for (const body of ['nope', '[]', JSON.stringify({ phones: ['123'], text: 'x', id: 'abcdefgh2' }), JSON.stringify({ phones: [PHONE], text: '', id: 'abcdefgh3' }), JSON.stringify({ phones: [PHONE], text: 'x', id: 'a b' }), JSON.stringify({ phones: [PHONE], text: 'x', id: 'abcdefgh4', extra: 1 })]) {
      const ts = String(Date.now());
      const r = await post(body, { [TS_HEADER]: ts, [SIG_HEADER]: signature(KEY, ts, body) });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('ALR_ERR_GATEWAY_BAD_REQUEST');
    }
  });
});

describe('SMS client', () => {
  it('sends a queued message once, recorded with the answer; phones masked in the record and log', async () => {
    const c = client();
    const id = nextId();
    await db.transaction((tx) => c.enqueue(tx, { id, text: '测试短信', recipients: 'oncall', severity: 'warning', purpose: 'test' }));
    expect(await db.transaction((tx) => c.enqueue(tx, { id, text: '测试短信', recipients: 'oncall', severity: 'warning', purpose: 'test' }))).toBe(false);
    const r = await c.flush();
    expect(r.sent).toBe(1);
    const rec = (await c.list()).find((x) => x.id === id)!;
    expect(rec).toMatchObject({ status: 'sent', attempts: 1, phonesMasked: '139****5678' });
    expect(rec.answer).toMatchObject({ ok: true, id, duplicate: false });
    expect(sim.delivered.filter((d) => d.id === id)).toHaveLength(1);
    expect(sim.delivered.find((d) => d.id === id)!.text).toBe('【健康码告警】测试短信');
    expect(logs.join('\n')).not.toContain(PHONE);
  });

  for (const mode of ['down', 'error500', 'garbage', 'slow'] as const) {
    it(`gateway ${mode}: stays queued with backoff, sent once when it is back, never twice`, async () => {
      const c = client();
      const ids = [nextId(), nextId(), nextId()];
      for (const id of ids) await db.transaction((tx) => c.enqueue(tx, { id, text: `故障 ${mode}`, recipients: 'escalation', severity: 'critical', purpose: 'firing' }));
      sim.mode = mode;
      sim.slowMs = 1000;
      const r1 = await c.flush();
      expect(r1.failed).toBe(1);
      expect(r1.sent).toBe(0);
      // not yet due: nothing is sent even though the gateway is fine again
      sim.mode = 'ok';
      expect((await c.flush()).sent).toBe(0);
      const rec = (await c.list()).find((x) => x.id === ids[0])!;
      expect(rec.status).toBe('queued');
      expect(rec.lastError).not.toBeNull();
      clock.ms += MAX_BACKOFF_MS;
      const r2 = await c.flush();
      expect(r2.sent).toBe(3);
      for (const id of ids) expect(sim.delivered.filter((d) => d.id === id)).toHaveLength(1);
      const recs = (await c.list()).filter((x) => ids.includes(x.id));
      expect(recs.every((x) => x.status === 'sent')).toBe(true);
      if (mode === 'garbage' || mode === 'slow') {
        // the gateway had taken the first one: the retry is answered as a duplicate
        expect(recs.find((x) => x.id === ids[0])!.answer).toMatchObject({ duplicate: true });
      }
    });
  }

  it('a 400 is permanent: rejected, not retried', async () => {
    const c = client({ phones: { oncall: ['12345'], escalation: [] } });
    const id = nextId();
    await db.transaction((tx) => c.enqueue(tx, { id, text: 'x', recipients: 'oncall', severity: 'info', purpose: 'test' }));
    expect((await c.flush()).rejected).toBe(1);
    expect((await c.list()).find((x) => x.id === id)!.status).toBe('rejected');
  });

  it('keeps to the daily budget: the rest is recorded over_budget', async () => {
    const start = clock.ms;
    clock.ms = chinaDayStart(clock.ms) + 2 * 86_400_000 + 3_600_000;
    const c = client({ dailyBudget: 2 });
    const ids = [nextId(), nextId(), nextId()];
    for (const id of ids) await db.transaction((tx) => c.enqueue(tx, { id, text: '预算', recipients: 'oncall', severity: 'warning', purpose: 'test' }));
    const r = await c.flush();
    expect(r).toMatchObject({ sent: 2, overBudget: 1 });
    expect((await c.list()).find((x) => x.id === ids[2])!.status).toBe('over_budget');
    clock.ms = start;
  });

  it('backoff doubles up to its cap; China days start at 16:00 UTC', () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(30)).toBe(MAX_BACKOFF_MS);
    expect(new Date(chinaDayStart(Date.UTC(2026, 11, 7, 2))).toISOString()).toBe('2026-12-06T16:00:00.000Z');
  });
});
