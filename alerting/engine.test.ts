import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { raiseAlertEvent } from '../master/alert-events.js';
import { alertingCapability, type AlertingInstance } from './alerting-capability.js';
import { AlertEngine } from './engine.js';
import { bearerOf, metricsTokenMatches } from './metrics-token.js';
import type { AlertingService } from './service.js';

/**
 * The engine end to end over a real master (PGlite), the real SMS client and
 * the gateway simulator; the fixture's pinned clock stands in for time.
 */
let f: Fixture;
let svc: AlertingService;
const ESC = '13700001111';
const SCRAPE = 'prometheus-scrape-token-0123456789abcdef';

beforeAll(async () => {
  f = await startAdmin({
    capabilities: [alertingCapability],
    capabilityEnv: { alerting: { ALERT_PHONES: '13912345678', ALERT_ESCALATION_PHONES: ESC, SMS_TIMEOUT_MS: '500', ALERT_METRICS_TOKEN: SCRAPE } },
  });
  svc = (f.instances.alerting as AlertingInstance).service;
});
afterAll(async () => {
  await f?.close();
});

const delivered = (): typeof svc.sim extends null ? never : NonNullable<typeof svc.sim>['delivered'] => svc.sim!.delivered;
async function raise(kind: string, key: string, severity: 'warning' | 'critical' = 'critical', source = 'exchange'): Promise<void> {
  await raiseAlertEvent(f.db, { source, kind, severity, key, summary: `导入${key}拒绝率超过阈值` });
}
async function round(): Promise<void> {
  await svc.engine.tick();
  await svc.sms.flush();
}
const sec = (n: number): void => {
  f.clock.ms += n * 1000;
};
/** a fresh session (moving the clock expires the fixture's tokens) */
const tok = (a: Parameters<Fixture['login']>[0]): Promise<string> => f.login(a);

describe('alert engine', () => {
  it('an event fires, waits group_wait, and one Chinese SMS reaches the gateway; all audited', async () => {
    const before = delivered().length;
    await raise('exchange.reject_threshold', 'dept-1');
    await round();
    expect((await svc.engine.listAlerts())[0]).toMatchObject({ status: 'firing', ruleId: 'events-critical', notifiedMs: null });
    expect(delivered().length).toBe(before);
    sec(10);
    await round();
    const msgs = delivered().slice(before);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toMatch(/^【健康码告警】\[严重\]严重事件 新增1条告警/);
    expect(msgs[0]!.phones).toEqual(['13912345678']);
    const audit = await f.audit.list({ limit: 20, order: 'desc' });
    expect(audit.some((e) => e.action === 'alerting.fire' && e.actor === 'system:alerting')).toBe(true);
    expect(audit.some((e) => e.action === 'alerting.notify')).toBe(true);
  });

  it('deduplicates: the same problem again is the same alert, no new SMS', async () => {
    const before = delivered().length;
    await raise('exchange.reject_threshold', 'dept-1');
    await raise('exchange.reject_threshold', 'dept-1');
    sec(11);
    await round();
    const open = (await svc.engine.listAlerts()).filter((a) => a.key === 'dept-1');
    expect(open).toHaveLength(1);
    expect(open[0]!.events).toBe(3);
    expect(delivered().length).toBe(before);
  });

  it('an alert storm of 500 events becomes one SMS', async () => {
    const before = delivered().length;
    await f.db.transaction(async (tx) => {
      for (let i = 0; i < 500; i++) await raiseAlertEvent(tx, { source: 'citizen', kind: 'citizen.appeal_overdue', severity: 'critical', key: `appeal-${i}`, summary: `申诉${i}超期未处理` });
    });
    await round();
    sec(10);
    await round();
    const msgs = delivered().slice(before);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('新增500条告警');
    expect(msgs[0]!.text).toContain('等500条');
  });

  it('repeats an unacknowledged group after the repeat interval, escalates it, and an ack stops both', async () => {
    let before = delivered().length;
    sec(900); // escalateAfter of events-critical; keep events coming so nothing resolves
    await raise('exchange.reject_threshold', 'dept-1');
    for (let i = 0; i < 500; i += 50) await raiseAlertEvent(f.db, { source: 'citizen', kind: 'citizen.appeal_overdue', severity: 'critical', key: `appeal-${i}`, summary: '申诉超期' });
    await round();
    const esc = delivered().slice(before).filter((m) => m.text.includes('[升级]'));
    expect(esc.length).toBeGreaterThanOrEqual(1);
    expect(esc[0]!.phones).toEqual([ESC]);
    before = delivered().length;
    // ack the dept-1 alert from the console (security officer)
    const a = (await svc.engine.listAlerts()).find((x) => x.key === 'dept-1')!;
    const r = await f.call('POST', `/admin/v1/alerting/alerts/${a.id}/ack`, { token: await tok('security'), body: {} });
    expect(r.text).toContain('ackedBy');
    const again = await f.call('POST', `/admin/v1/alerting/alerts/${a.id}/ack`, { token: await tok('security'), body: {} });
    expect(again.body.error).toBe('ALR_ERR_ALREADY_ACKED');
    expect((await f.call('POST', '/admin/v1/alerting/alerts/999999/ack', { token: await tok('security'), body: {} })).body.error).toBe('ALR_ERR_NOT_FOUND');
    expect((await f.call('POST', `/admin/v1/alerting/alerts/${a.id}/ack`, { token: await tok('auditor'), body: {} })).status).toBe(403);
    sec(3600);
    await raise('exchange.reject_threshold', 'dept-1');
    await round();
    const repeats = delivered().slice(before).filter((m) => m.text.includes('[重复]'));
    // dept-1 is acknowledged: its group has nothing unacknowledged, so no repeat for it
    expect(repeats.some((m) => m.text.includes('dept-1'))).toBe(false);
    expect((await f.audit.list({ limit: 50, order: 'desc', action: 'alerting.ack' })).length).toBe(1);
  });

  it('resolves after the events stop, with one resolve SMS per group', async () => {
    const before = delivered().length;
    sec(301);
    await round();
    const msgs = delivered().slice(before);
    const resolvedMsgs = msgs.filter((m) => m.text.includes('[已恢复]'));
    expect(resolvedMsgs).toHaveLength(1);
    expect(resolvedMsgs[0]!.text).toContain('导入dept-1');
    expect((await svc.engine.counts()).firing).toBe(0);
    const audit = await f.audit.list({ limit: 10, order: 'desc', action: 'alerting.resolve' });
    expect(audit.length).toBeGreaterThan(0);
  });

  it('silences mute matching alerts; expiring the silence lets them through', async () => {
    const s = await f.call('POST', '/admin/v1/alerting/silences', {
      token: await tok('admin'), body: { matchers: { source: 'logaudit' }, durationMin: 60, comment: '演练期间屏蔽' },
    });
    expect(s.status).toBe(201);
    const before = delivered().length;
    await raise('logaudit.correlation', 'rule-7', 'critical', 'logaudit');
    await round();
    sec(11);
    await round();
    expect(delivered().length).toBe(before);
    expect((await svc.engine.listAlerts()).find((a) => a.source === 'logaudit')!.silenced).toBe(true);
    expect((await f.call('DELETE', `/admin/v1/alerting/silences/${s.body.id}`, { token: await tok('admin') })).status).toBe(200);
    expect((await f.call('DELETE', `/admin/v1/alerting/silences/${s.body.id}`, { token: await tok('admin') })).body.error).toBe('ALR_ERR_NOT_FOUND');
    await raise('logaudit.correlation', 'rule-7', 'critical', 'logaudit');
    await round();
    expect(delivered().slice(before).some((m) => m.text.includes('新增1条'))).toBe(true);
  });

  it('refuses a silence without matchers or duration', async () => {
    const t = await tok('admin');
    const bad = (body: unknown): Promise<{ body: { error: string; field?: string } }> => f.call('POST', '/admin/v1/alerting/silences', { token: t, body });
    expect((await bad({ matchers: {}, durationMin: 10, comment: 'x' })).body).toMatchObject({ error: 'ALR_ERR_SILENCE_INVALID', field: 'matchers' });
    expect((await bad({ matchers: { source: 'x' }, durationMin: 0, comment: 'x' })).body).toMatchObject({ error: 'ALR_ERR_SILENCE_INVALID', field: 'durationMin' });
    expect((await bad({ matchers: { source: 'x' }, durationMin: 5, comment: ' ' })).body).toMatchObject({ error: 'ALR_ERR_SILENCE_INVALID', field: 'comment' });
    expect((await bad({ matchers: { phone: '1' }, durationMin: 5, comment: 'x' })).body.error).toBe('ADM_ERR_VALIDATION');
  });

  it('metric rules: pending for the for-duration, then firing; resolved when the condition clears', async () => {
    const put = await f.call('PUT', '/admin/v1/alerting/rules/test-backlog', {
      token: await tok('security'),
      body: { name: '测试积压', enabled: true, severity: 'warning', condition: { type: 'metric', metric: 'outbox_backlog', op: '>', value: 100 }, forSec: 60, recipients: 'oncall', groupBy: [], groupWaitSec: 0, repeatSec: 3600, resolveAfterSec: 300, escalateAfterSec: 0, escalateTo: 'escalation' },
    });
    expect(put.status).toBe(200);
    const before = delivered().length;
    svc.engine.observe([{ metric: 'outbox_backlog', labels: {}, value: 500 }], ['outbox_backlog']);
    await round();
    const a = (await svc.engine.listAlerts()).find((x) => x.ruleId === 'test-backlog')!;
    expect(a.status).toBe('pending');
    sec(61);
    await round();
    expect((await svc.engine.listAlerts()).find((x) => x.ruleId === 'test-backlog')!.status).toBe('firing');
    expect(delivered().slice(before).some((m) => m.text.includes('测试积压'))).toBe(true);
    svc.engine.observe([], ['outbox_backlog']);
    await round();
    expect((await svc.engine.listAlerts()).find((x) => x.ruleId === 'test-backlog')).toBeUndefined();
    expect(delivered().slice(before).some((m) => m.text.includes('[已恢复]测试积压'))).toBe(true);
  });

  it('refuses invalid rules with the part named', async () => {
    const t = await tok('security');
    const put = (body: unknown): Promise<{ status: number; body: { error: string; field?: string } }> => f.call('PUT', '/admin/v1/alerting/rules/bad-rule', { token: t, body });
    const base = { name: '坏规则', enabled: true, severity: 'warning', condition: { type: 'metric', metric: 'outbox_backlog', op: '>', value: 1 }, forSec: 0, recipients: 'oncall', groupBy: [], groupWaitSec: 0, repeatSec: 3600, resolveAfterSec: 300, escalateAfterSec: 0, escalateTo: 'escalation' };
    expect((await put({ ...base, condition: { type: 'metric', metric: 'nope', op: '>', value: 1 } })).body).toMatchObject({ error: 'ALR_ERR_RULE_INVALID', field: 'condition.metric' });
    expect((await put({ ...base, recipients: 'everyone' })).body).toMatchObject({ error: 'ALR_ERR_RULE_INVALID', field: 'recipients' });
    expect((await put({ ...base, repeatSec: 5 })).body).toMatchObject({ error: 'ALR_ERR_RULE_INVALID', field: 'repeatSec' });
    expect((await put({ ...base, condition: { type: 'sql' } })).body).toMatchObject({ error: 'ALR_ERR_RULE_INVALID', field: 'condition.type' });
    expect((await put(base)).status).toBe(200);
    expect((await f.call('PUT', '/admin/v1/alerting/rules/x1', { token: await tok('operator'), body: base })).status).toBe(403);
    expect((await f.call('DELETE', '/admin/v1/alerting/rules/no-such', { token: await tok('security') })).body.error).toBe('ALR_ERR_NOT_FOUND');
  });

  it('the gateway down during an alert: queued durably, delivered once when back', async () => {
    const before = delivered().length;
    svc.sim!.mode = 'down';
    await raise('exchange.down_test', 'dept-9');
    await round();
    sec(10);
    await round();
    expect((await svc.sms.queueDepth()).queued).toBe(1);
    svc.sim!.mode = 'ok';
    sec(31);
    await round();
    const msgs = delivered().slice(before);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('dept-9');
    expect((await svc.sms.queueDepth()).queued).toBe(0);
  });

  it('its cursor is durable: a restarted engine neither repeats nor loses events', async () => {
    const fresh = new AlertEngine({ db: f.db, sms: svc.sms, audit: f.audit, now: () => f.clock.ms, log: () => undefined });
    expect((await fresh.tick()).events).toBe(0);
    await raise('exchange.after_restart', 'dept-10');
    expect((await fresh.tick()).events).toBe(1);
  });

  it('console routes: read access, SMS record with masked phones, Prometheus text, overview says what is unavailable', async () => {
    expect((await f.call('GET', '/admin/v1/alerting/alerts')).status).toBe(401);
    expect((await f.call('GET', '/admin/v1/alerting/alerts', { token: await tok('hotline') })).status).toBe(403);
    expect((await f.call('GET', '/admin/v1/alerting/alerts', { token: await tok('operator') })).status).toBe(200);
    const one = await f.call('GET', '/admin/v1/alerting/alerts?status=all&limit=1', { token: await tok('operator') });
    expect(one.status).toBe(200);
    expect(one.body.alerts).toHaveLength(1);
    for (const bad of ['0', '2001x', 'ten']) {
      const r = await f.call('GET', `/admin/v1/alerting/alerts?limit=${bad}`, { token: await tok('operator') });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'limit' });
    }
    const sms = await f.call('GET', '/admin/v1/alerting/sms', { token: await tok('auditor') });
    expect(sms.status).toBe(200);
    expect(sms.text).not.toContain('13912345678');
    expect(sms.text).not.toContain(ESC);
    expect(sms.body.messages[0].phonesMasked).toMatch(/\*\*\*\*/);
    const last = await f.call('GET', '/admin/v1/alerting/sms?limit=200', { token: await tok('auditor') }); // what the 短信记录 page asks
    expect(last.status).toBe(200);
    expect((await f.call('GET', '/admin/v1/alerting/sms?limit=1', { token: await tok('auditor') })).body.messages).toHaveLength(1);
    expect((await f.call('GET', '/admin/v1/alerting/sms?limit=-1', { token: await tok('auditor') })).body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'limit' });
    await svc.monitorOnce();
    const m = await f.call('GET', '/admin/v1/alerting/metrics', { token: await tok('admin') });
    expect(m.status).toBe(200);
    expect(m.text).toContain('hc_process_rss_bytes');
    expect(m.text).toContain('hc_sms_sent_total');
    expect(m.text).toMatch(/hc_monitor_unavailable\{group="database"\} 1/);
    // Prometheus with the static ALERT_METRICS_TOKEN: the scrape route takes only that token
    const scraped = await f.call('GET', '/admin/v1/alerting/metrics/scrape', { token: SCRAPE });
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain('hc_process_rss_bytes');
    expect(scraped.text).toContain('hc_sms_sent_total');
    for (const token of [undefined, `${SCRAPE}x`, SCRAPE.slice(0, -1), await tok('admin')]) {
      const r = await f.call('GET', '/admin/v1/alerting/metrics/scrape', token === undefined ? {} : { token });
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error: 'ALR_ERR_METRICS_TOKEN', zh: '监控指标抓取令牌缺失或错误' });
    }
    expect(metricsTokenMatches(null, SCRAPE)).toBe(false);
    expect(metricsTokenMatches(SCRAPE, null)).toBe(false);
    expect(bearerOf(`Bearer ${SCRAPE}`)).toBe(SCRAPE);
    expect(bearerOf(`Basic ${SCRAPE}`)).toBeNull();
    const o = await f.call('GET', '/admin/v1/alerting/overview', { token: await tok('operator') });
    expect(o.body.unavailable.database).toContain('不可用');
    const t = await f.call('POST', '/admin/v1/alerting/sms/test', { token: await tok('admin'), body: {} });
    expect(t.status).toBe(202);
  });
});
