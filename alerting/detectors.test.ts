import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, LUZHOU_ID, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { alertEventsAfter } from '../master/alert-events.js';
import { alertingCapability, type AlertingInstance } from './alerting-capability.js';
import { median, robustZ } from './detectors.js';
import type { AlertingService } from './service.js';

/**
 * Red/yellow anomalies from code_history and operator behaviour from
 * audit_log, on a real master; the findings go through alert_events and the
 * engine like every capability's.
 */
let f: Fixture;
let svc: AlertingService;
let chengdu: number;
let luzhou: number;
const DAY = 86_400_000;

beforeAll(async () => {
  f = await startAdmin({ capabilities: [alertingCapability], capabilityEnv: { alerting: { ALERT_PHONES: '13912345678' } } });
  svc = (f.instances.alerting as AlertingInstance).service;
  chengdu = (await f.store.upsertPerson({ idType: 'resident', idNo: CHENGDU_ID, name: '张三丰' })).personId;
  luzhou = (await f.store.upsertPerson({ idType: 'resident', idNo: LUZHOU_ID, name: '欧阳娜娜' })).personId;
  // the audit cursor starts at the head on the first run: history is not news
  await svc.detectors.run();
});
afterAll(async () => {
  await f?.close();
});

async function history(personId: number, atMs: number, color: 'red' | 'yellow', ruleVersion: string, actor: string, n: number): Promise<void> {
  await f.db.query(
    `INSERT INTO code_history (person_id, at, prev_color, color, reason, since, rule_version, actor, seq)
     SELECT $1, to_timestamp($2::double precision / 1000), 'green', $3, '测试', to_timestamp($2::double precision / 1000), $4, $5, 1 FROM generate_series(1, $6)`,
    [personId, atMs, color, ruleVersion, actor, n],
  );
}

describe('robust statistics', () => {
  it('median and MAD-based z shrug off one outlier day', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBe(0);
    const r = robustZ(60, [3, 4, 3, 2, 500, 3, 4]);
    expect(r.median).toBe(3);
    expect(r.z).toBeGreaterThan(20);
    expect(robustZ(4, [3, 4, 3, 2, 500, 3, 4]).z).toBeLessThan(1);
  });
});

describe('red/yellow anomalies', () => {
  it('flags a surge of red codes by total, rule version, source and city — not the steady yellow', async () => {
    const now = f.clock.ms;
    for (let d = 1; d <= 14; d++) {
      await history(luzhou, now - d * DAY - 30 * 60_000, 'yellow', 'v1', 'system:rules', 3);
      await history(chengdu, now - d * DAY - 20 * 60_000, 'red', 'v1', 'system:rules', d === 5 ? 80 : 2);
    }
    await history(luzhou, now - 10 * 60_000, 'yellow', 'v1', 'system:rules', 3);
    await history(chengdu, now - 10 * 60_000, 'red', 'v9', 'system:rules', 60);
    const found = await svc.detectors.codeAnomalies(now);
    const keys = found.map((e) => e.key).sort();
    expect(keys).toEqual(['city:5101:red', 'rule:v9:red', 'source:system:rules:red', 'total:all:red']);
    const city = found.find((e) => e.key === 'city:5101:red')!;
    expect(city.summary).toContain('成都');
    expect(city.region).toBe('5101');
    expect(found.find((e) => e.key === 'rule:v9:red')!.kind).toBe('anomaly.rule_version');
    // the one outbreak day in the baseline (80) does not mask today's surge: the median is 2
    expect(found.find((e) => e.key === 'total:all:red')!.details).toMatchObject({ count: 60, median: 2 });
  });
});

describe('operator behaviour and data leaks', () => {
  async function actions(actor: string, role: string, action: string, n: number, details: Record<string, unknown> = {}): Promise<void> {
    for (let i = 0; i < n; i++) await f.audit.append({ actor, role, action, target: `person:${i}`, outcome: 'ok', details });
  }

  it('≥ 50 manual transcodes by one operator in 10 minutes raise a critical alert and an SMS; 49 do not', async () => {
    await actions('operator', 'operator', 'codes.transcode', 49);
    expect(await svc.detectors.massChanges(f.clock.ms)).toEqual([]);
    await actions('operator', 'operator', 'codes.transcode', 1);
    const found = await svc.detectors.massChanges(f.clock.ms);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'operator.mass_change', severity: 'critical', key: 'operator' });
    expect(found[0]!.summary).toContain('50次');
    // through the engine to the phone
    const before = svc.sim!.delivered.length;
    await svc.detectors.run();
    await svc.engine.tick();
    f.clock.ms += 10_000;
    await svc.engine.tick();
    await svc.sms.flush();
    const texts = svc.sim!.delivered.slice(before).map((m) => m.text).join('\n');
    expect(texts).toContain('账号 operator 在10分钟内人工转码或批量变更50次');
    // the window slides: ten minutes later it is over
    expect(await svc.detectors.massChanges(f.clock.ms + 11 * 60_000)).toEqual([]);
  });

  it('30 failed back-office logins in 5 minutes over many names are a login flood (critical); 29 are not; the names stay out', async () => {
    const lastId = (await alertEventsAfter(f.db, 0, 100000)).at(-1)?.id ?? 0;
    // a guesser types phone numbers as user names: they must not reach the SMS
    const fail = async (i: number): Promise<void> => {
      const r = await f.call('POST', '/admin/v1/login', { body: { username: i % 2 === 0 ? `1391234${String(5000 + i)}` : `guess${i}`, password: 'Wrong-password-1' } });
      expect(r.status).toBe(401);
    };
    for (let i = 0; i < 29; i++) await fail(i);
    expect(await svc.detectors.loginFlood(f.clock.ms)).toEqual([]);
    await fail(29);
    const found = await svc.detectors.loginFlood(f.clock.ms);
    expect(found).toHaveLength(1);
    // the audit already records a number-like name as '(invalid username)': 15 guesses by name + that one label
    expect(found[0]).toMatchObject({ kind: 'auth.login_flood', severity: 'critical', key: 'admin-login', details: { count: 30, accounts: 16 } });
    expect(found[0]!.summary).toBe('5分钟内后台登录失败30次，涉及16个账号名（阈值30次）');
    await svc.detectors.run();
    const raised = (await alertEventsAfter(f.db, lastId, 100000)).filter((e) => e.kind === 'auth.login_flood');
    expect(raised).toHaveLength(1);
    expect(JSON.stringify(raised[0])).not.toMatch(/1391234/);
    // five minutes later the window has passed
    expect(await svc.detectors.loginFlood(f.clock.ms + 6 * 60_000)).toEqual([]);
  });

  it('an account querying far above its own history is flagged; a light user is not', async () => {
    await actions('analyst', 'analyst', 'codes.query', 60);
    await actions('hotline', 'hotline', 'codes.query', 5);
    const found = await svc.detectors.volumes(f.clock.ms + 1000);
    expect(found.map((e) => e.key)).toEqual(['analyst']);
    expect(found[0]!.kind).toBe('operator.volume');
  });

  it('queries at odd hours (03:00 China time) are raised once per account and night', async () => {
    const saved = f.clock.ms;
    const d = new Date(f.clock.ms + 8 * 3_600_000);
    f.clock.ms = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 3, 10) - 8 * 3_600_000 + DAY;
    const lastId = (await alertEventsAfter(f.db, 0, 100000)).at(-1)?.id ?? 0;
    await actions('city_officer', 'city_officer', 'codes.query', 2);
    await svc.detectors.run();
    await actions('city_officer', 'city_officer', 'codes.query', 1);
    await svc.detectors.run();
    // only this account's: when the suite itself runs between 00:00 and 06:00 China time, the
    // earlier tests' queries are odd-hours operations too and rightly raised for their accounts
    const odd = (await alertEventsAfter(f.db, lastId, 100000)).filter((e) => e.kind === 'operator.odd_hours' && e.key === 'city_officer');
    expect(odd).toHaveLength(1);
    expect(odd[0]!.summary).toContain('凌晨3点');
    f.clock.ms = saved;
  });

  it('an export of unmasked identities is a critical leak alert', async () => {
    const lastId = (await alertEventsAfter(f.db, 0, 100000)).at(-1)?.id ?? 0;
    await actions('operator2', 'operator', 'exchange.export', 1, { identities: true, rows: 1200 });
    await actions('operator2', 'operator', 'exchange.export', 1, { masked: true, rows: 10 });
    await svc.detectors.run();
    const leaks = (await alertEventsAfter(f.db, lastId, 100000)).filter((e) => e.kind === 'leak.identity_export');
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ severity: 'critical', source: 'alerting' });
  });
});
