import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { logauditCapability } from './capability.js';
import type { LogAuditService } from './service.js';

/** The back office's own audit log fed into the log audit system through the view of migration 4. */
let f: Fixture;
let svc: LogAuditService;
beforeAll(async () => {
  f = await startAdmin({ capabilities: [logauditCapability], capabilityEnv: { logaudit: { LOGAUDIT_DB_POLL: 'logaudit_audit_feed:seq:line:healthcode-audit' } }, startCapabilities: true });
  svc = (f.instances.logaudit as unknown as { service: LogAuditService }).service;
});
afterAll(async () => { await f?.close(); });

describe('audit log feed', () => {
  it('back office audit entries become searchable, decoded log events', async () => {
    await f.call('GET', '/admin/v1/logaudit/catalog', { token: f.tokens.security }); // any call; the logins already wrote audit entries
    await f.call('GET', '/admin/v1/logaudit/search?q=x', { token: f.tokens.security }); // audited: logaudit.search
    await svc.poller!.poll();
    await svc.engine!.idle();
    const r = await f.call('GET', '/admin/v1/logaudit/search?q=event.dataset:healthcode%20user.name:security&limit=50', { token: f.tokens.auditor });
    expect(r.status).toBe(200);
    const actions = r.body.events.map((e: Record<string, unknown>) => e['event.action']);
    expect(actions).toContain('logaudit.search');
    expect(r.body.events[0]).toMatchObject({ 'event.dataset': 'healthcode', 'log.syslog.appname': 'healthcode-audit', 'log.file.path': 'logaudit_audit_feed' });
  });
});
