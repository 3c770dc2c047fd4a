import { createSocket } from 'node:dgram';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { alertEventsAfter } from '../master/alert-events.js';
import { logauditCapability } from './capability.js';
import type { LogAuditService } from './service.js';

/**
 * The capability in the back office: real UDP intake → store → Sigma
 * correlation → alert_events (raiseAlertEvent, source 'logaudit'), and the
 * /admin/v1/logaudit routes behind the shell's roles and audit.
 */
let f: Fixture;
let svc: LogAuditService;

beforeAll(async () => {
  f = await startAdmin({ capabilities: [logauditCapability], capabilityEnv: { logaudit: { LOGAUDIT_UDP: '127.0.0.1:0', LOGAUDIT_TCP: '[::1]:0' } }, startCapabilities: true });
  svc = (f.instances.logaudit as unknown as { service: LogAuditService }).service;
});
afterAll(async () => {
  await f?.close();
});

function send(lines: string[]): Promise<void> {
  const s = createSocket('udp4');
  return new Promise((res) => {
    let left = lines.length;
    for (const l of lines) s.send(Buffer.from(l), svc.ports.udp[0]!, '127.0.0.1', () => { if (--left === 0) { s.close(); res(); } });
  });
}

async function waitStored(n: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (svc.engine!.counters.stored < n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await svc.engine!.idle();
}

describe('logaudit capability', () => {
  it('catalog counts what is shipped: ≥ 200 device types, ≥ 100 rules, ≥ 90 fields; roles without logaudit.read get 403', async () => {
    const r = await f.call('GET', '/admin/v1/logaudit/catalog', { token: f.tokens.security });
    expect(r.status).toBe(200);
    expect(r.body.deviceTypes).toBeGreaterThanOrEqual(200);
    expect(r.body.rules).toBeGreaterThanOrEqual(100);
    expect(r.body.fields).toBeGreaterThanOrEqual(90);
    expect(Object.keys(r.body).sort()).toEqual(['deviceTypes', 'fields', 'rules']);
    const d = await f.call('GET', '/admin/v1/logaudit/catalog?detail=true', { token: f.tokens.auditor });
    expect(d.body.families.flatMap((x: { types: unknown[] }) => x.types)).toHaveLength(r.body.deviceTypes);
    expect((await f.call('GET', '/admin/v1/logaudit/catalog')).status).toBe(401);
    expect((await f.call('GET', '/admin/v1/logaudit/catalog', { token: f.tokens.operator })).status).toBe(403);
    expect((await f.call('GET', '/admin/v1/logaudit/catalog', { token: f.tokens.city_officer })).status).toBe(403);
  });

  it('a brute force over real UDP is stored, searchable, and raises one alert into alert_events', async () => {
    const before = await alertEventsAfter(f.db, 0);
    const lines = Array.from({ length: 8 }, (_, i) => `<38>1 - web-07 sshd ${100 + i} - - Failed password for root from 203.0.113.66 port ${4000 + i} ssh2`);
    await send(lines);
    await waitStored(8);
    const after = (await alertEventsAfter(f.db, before.length ? before[before.length - 1]!.id : 0)).filter((a) => a.source === 'logaudit');
    const bf = after.filter((a) => a.details.rule === 'la-linux-ssh-bruteforce');
    expect(bf).toHaveLength(1);
    expect(bf[0]).toMatchObject({ kind: 'logaudit.rule', severity: 'critical' });
    expect(bf[0]!.summary).toMatch(/SSH 暴力破解.*203\.0\.113\.66/);

    const s = await f.call('GET', '/admin/v1/logaudit/search?q=source.ip:203.0.113.66%20event.action:ssh-login-failed&limit=5', { token: f.tokens.security });
    expect(s.status).toBe(200);
    expect(s.body.events).toHaveLength(5);
    expect(s.body.truncated).toBe(true);
    expect(s.body.events[0]['host.name']).toBe('web-07');
    const ft = await f.call('GET', `/admin/v1/logaudit/search?q=${encodeURIComponent('"Failed password" -source.port:4000')}`, { token: f.tokens.auditor });
    expect(ft.body.events).toHaveLength(7);
    const audit = await f.audit.list({ limit: 5, order: 'desc' });
    expect(audit.some((e) => e.action === 'logaudit.search' && e.actor === 'auditor')).toBe(true);
  });

  it('bad queries and ranges are refused with their codes', async () => {
    const bad = await f.call('GET', '/admin/v1/logaudit/search?q=no.such.field:1', { token: f.tokens.security });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('LOG_ERR_QUERY');
    expect((await f.call('GET', '/admin/v1/logaudit/search?q=%22open', { token: f.tokens.security })).body.error).toBe('LOG_ERR_QUERY');
    expect((await f.call('GET', '/admin/v1/logaudit/search?from=yesterday', { token: f.tokens.security })).body.error).toBe('LOG_ERR_RANGE');
    expect((await f.call('GET', '/admin/v1/logaudit/search?from=2026-12-07T00:00:00Z&to=2026-12-01T00:00:00Z', { token: f.tokens.security })).body.error).toBe('LOG_ERR_RANGE');
    expect((await f.call('GET', '/admin/v1/logaudit/search?from=2020-01-01T00:00:00Z&to=2026-12-01T00:00:00Z', { token: f.tokens.security })).body.error).toBe('LOG_ERR_RANGE');
  });

  it('saved queries: create, conflict, refuse one that does not parse, list, delete; the auditor may only read', async () => {
    const c = await f.call('POST', '/admin/v1/logaudit/saved-queries', { token: f.tokens.security, body: { name: 'SSH 失败', query: 'event.action:ssh-login-failed', rangeHours: 24 } });
    expect(c.status).toBe(200);
    expect((await f.call('POST', '/admin/v1/logaudit/saved-queries', { token: f.tokens.security, body: { name: 'SSH 失败', query: 'x' } })).body.error).toBe('LOG_ERR_CONFLICT');
    expect((await f.call('POST', '/admin/v1/logaudit/saved-queries', { token: f.tokens.security, body: { name: '坏的', query: 'bogus.field:1' } })).body.error).toBe('LOG_ERR_QUERY');
    expect((await f.call('POST', '/admin/v1/logaudit/saved-queries', { token: f.tokens.auditor, body: { name: 'x', query: 'x' } })).status).toBe(403);
    const l = await f.call('GET', '/admin/v1/logaudit/saved-queries', { token: f.tokens.auditor });
    expect(l.body.queries.map((q: { name: string }) => q.name)).toEqual(['SSH 失败']);
    expect((await f.call('DELETE', `/admin/v1/logaudit/saved-queries/${c.body.id}`, { token: f.tokens.security })).status).toBe(200);
    expect((await f.call('DELETE', `/admin/v1/logaudit/saved-queries/${c.body.id}`, { token: f.tokens.security })).body.error).toBe('LOG_ERR_NOT_FOUND');
  });

  it('assets: devices seen, named by the security team, silent ones detected and alerted', async () => {
    const a = await f.call('GET', '/admin/v1/logaudit/assets', { token: f.tokens.security });
    const dev = a.body.assets.find((x: { ip: string }) => x.ip === '127.0.0.1');
    expect(dev).toMatchObject({ hostName: 'web-07', dataset: 'linux.sshd', silent: false });
    expect(dev.events).toBeGreaterThanOrEqual(8);
    const p = await f.call('PUT', '/admin/v1/logaudit/assets/127.0.0.1', { token: f.tokens.security, body: { name: '门户 Web 服务器', owner: '运维一组', region: '5101' } });
    expect(p.status).toBe(200);
    expect((await f.call('PUT', '/admin/v1/logaudit/assets/10.99.99.99', { token: f.tokens.security, body: { name: 'x' } })).body.error).toBe('LOG_ERR_NOT_FOUND');
    // two hours of silence, then the check the engine's tick runs (the clock itself stays: sessions would expire)
    const silent = svc.engine!.checkSilent(f.clock.ms + 2 * 3_600_000);
    expect(silent.map((s) => s.ip)).toContain('127.0.0.1');
    await svc.engine!.idle();
    const s = await f.call('GET', '/admin/v1/logaudit/assets?silent=true', { token: f.tokens.security });
    expect(s.body.assets.find((x: { ip: string }) => x.ip === '127.0.0.1')).toMatchObject({ silent: true, name: '门户 Web 服务器', owner: '运维一组' });
    const al = (await alertEventsAfter(f.db, 0)).filter((x) => x.kind === 'logaudit.device_silent');
    expect(al).toHaveLength(1);
    expect(al[0]!.summary).toMatch(/web-07.*未发送日志/);
  });

  it('health, stats and verify', async () => {
    const h = await f.call('GET', '/admin/v1/logaudit/health', { token: f.tokens.auditor });
    expect(h.body.counters.stored).toBeGreaterThanOrEqual(8);
    expect(h.body.ports.udp).toHaveLength(1);
    expect(h.body.ports.tcp).toHaveLength(1);
    const st = await f.call('GET', '/admin/v1/logaudit/stats?days=7', { token: f.tokens.auditor });
    expect(st.body.days.reduce((n: number, d: { events: number }) => n + d.events, 0)).toBeGreaterThanOrEqual(8);
    expect(st.body.rules.some((r: { rule: string }) => r.rule === 'la-linux-ssh-bruteforce')).toBe(true);
    const x = await fetch(`${f.base}/admin/v1/logaudit/report.xlsx?days=7`, { headers: { authorization: `Bearer ${f.tokens.auditor}` } });
    expect(x.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await x.arrayBuffer()) as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['每日入库', '设备', '规则告警']);
    const names: string[] = [];
    wb.getWorksheet('规则告警')!.eachRow((row, i) => { if (i > 1) names.push(String(row.getCell(1).value)); });
    expect(names).toContain('SSH 暴力破解');
    const pdf = await fetch(`${f.base}/admin/v1/logaudit/report.pdf`, { headers: { authorization: `Bearer ${f.tokens.auditor}` } });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
    expect((await f.call('GET', '/admin/v1/logaudit/report.doc', { token: f.tokens.auditor })).status).toBe(400);
    const v = await f.call('POST', '/admin/v1/logaudit/verify', { token: f.tokens.auditor, body: {} });
    expect(v.body).toMatchObject({ ok: true });
    expect(v.body.events).toBeGreaterThanOrEqual(8);
  });

  it('the daily report is written once the configured China time has passed, once, and is listed and downloadable', async () => {
    const reports = svc.reports!;
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const tomorrow0 = Date.parse(`${today}T00:00:00+08:00`) + 86_400_000;
    expect(await reports.runDue(tomorrow0 + 30 * 60_000)).toBeNull(); // 00:30, the default time is 01:00
    expect(await reports.runDue(tomorrow0 + 65 * 60_000)).toBe(today);
    expect(await reports.runDue(tomorrow0 + 70 * 60_000)).toBeNull(); // already written
    const l = await f.call('GET', '/admin/v1/logaudit/reports', { token: f.tokens.auditor });
    expect(l.body.at).toBe('01:00');
    expect(l.body.reports.map((r: { name: string }) => r.name)).toEqual([`${today}.pdf`, `${today}.xlsx`]);
    const x = await fetch(`${f.base}/admin/v1/logaudit/reports/${today}.xlsx`, { headers: { authorization: `Bearer ${f.tokens.auditor}` } });
    expect(x.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await x.arrayBuffer()) as unknown as ArrayBuffer);
    const days: unknown[] = [];
    wb.getWorksheet('每日入库')!.eachRow((row, i) => { if (i > 1) days.push(row.getCell(1).value); });
    expect(days).toEqual([today]);
    const names: string[] = [];
    wb.getWorksheet('规则告警')!.eachRow((row, i) => { if (i > 1) names.push(String(row.getCell(1).value)); });
    expect(names).toContain('SSH 暴力破解');
    const pdf = await fetch(`${f.base}/admin/v1/logaudit/reports/${today}.pdf`, { headers: { authorization: `Bearer ${f.tokens.auditor}` } });
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
    const missing = await f.call('GET', '/admin/v1/logaudit/reports/2000-01-01.pdf', { token: f.tokens.auditor });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('LOG_ERR_NOT_FOUND');
    expect((await f.call('GET', '/admin/v1/logaudit/reports/..%2Fkeys%2Fmanifest-ed25519.pem', { token: f.tokens.auditor })).status).toBe(404);
    expect((await f.call('GET', '/admin/v1/logaudit/reports', { token: f.tokens.operator })).status).toBe(403);
  });
});
