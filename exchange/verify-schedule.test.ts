import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { hostOf } from './test-helpers.common.js';
import { nextSlot, parseSchedule } from './verify-schedule.js';
import { SCHEDULE_ACTOR, VerifyTasks } from './verify-tasks.js';

/**
 * Scheduled verification runs driven by the fixture's clock (no sleeping):
 * the slot arithmetic in China time, a due rule started exactly once by two
 * runners polling at the same instant (the second finds the slot taken),
 * missed slots run once, a busy rule skips its slot, validity ends the
 * schedule, the API's coded errors, and the audit entry of a scheduled start.
 */
const H = 3600_000;
/** 2026-12-08 07:30 China time (UTC+8) */
const T0 = Date.UTC(2026, 11, 7, 23, 30);

let f: Fixture;
let ex: ExchangeInstance;

function runner(): VerifyTasks {
  return new VerifyTasks(hostOf(f), ex.verify.rules, { pollMs: 50 });
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability] });
  ex = f.instances.exchange as unknown as ExchangeInstance;
  f.clock.ms = T0;
}, 60_000);

afterAll(async () => {
  await f?.close();
});

describe('slots', () => {
  it('daily at HH:mm China time, every N hours from when it was set', () => {
    const daily = parseSchedule({ kind: 'daily', at: '08:00' })!;
    expect(new Date(nextSlot(daily, T0, T0)).toISOString()).toBe('2026-12-08T00:00:00.000Z');
    // exactly at the slot: the next one is tomorrow's
    expect(new Date(nextSlot(daily, Date.UTC(2026, 11, 8, 0, 0), T0)).toISOString()).toBe('2026-12-09T00:00:00.000Z');
    // 23:30 China time is 15:30 UTC: the slot of 00:10 China time is the next China day
    expect(new Date(nextSlot(parseSchedule({ kind: 'daily', at: '00:10' })!, Date.UTC(2026, 11, 7, 15, 30), T0)).toISOString()).toBe('2026-12-07T16:10:00.000Z');
    const every = parseSchedule({ kind: 'every', hours: 6 })!;
    expect(nextSlot(every, T0, T0)).toBe(T0 + 6 * H);
    expect(nextSlot(every, T0 + 13 * H, T0)).toBe(T0 + 18 * H);
  });

  it('refuses malformed schedules with EXC_ERR_VERIFY_SCHEDULE', () => {
    for (const bad of [{ kind: 'daily', at: '24:00' }, { kind: 'daily', at: '8:00' }, { kind: 'every', hours: 0 }, { kind: 'every', hours: 169 },
      { kind: 'every', hours: 1.5 }, { kind: 'weekly' }, { kind: 'daily', at: '08:00', hours: 2 }, 'daily', [1]]) {
      expect(() => parseSchedule(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'EXC_ERR_VERIFY_SCHEDULE', field: 'schedule' }));
    }
    expect(parseSchedule(null)).toBeNull();
  });
});

describe('due runs', () => {
  it('two runners polling at the same instant start one task for the slot; missed slots run once; audited', async () => {
    const rule = await ex.verify.rules.create({ name: '每日八点核查', dataset: 'nat-result', windowDays: 1, schedule: { kind: 'daily', at: '08:00' } }, '', 'operator');
    expect(rule.nextRunAt).toBe(Date.UTC(2026, 11, 8, 0, 0) / 1000);
    const a = runner();
    const b = runner();
    f.clock.ms = T0 + 29 * 60_000; // 07:59
    expect(await a.runDue()).toEqual([]);

    f.clock.ms = T0 + 30 * 60_000 + 30_000; // 08:00:30
    const [ra, rb] = await Promise.all([a.runDue(), b.runDue()]);
    const started = [...ra, ...rb].filter((t) => t.ruleId === rule.id);
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ status: 'queued', createdBy: SCHEDULE_ACTOR, scheduledFor: rule.nextRunAt });
    expect((await ex.verify.rules.get(rule.id, '')).nextRunAt).toBe(Date.UTC(2026, 11, 9, 0, 0) / 1000);
    expect(await a.runDue()).toEqual([]);
    expect(await b.runDue()).toEqual([]);
    const log = (await ex.verify.tasks.runLog(started[0]!.id)).map((l) => l.message).join('\n');
    expect(log).toMatch(/定时执行（每天 08:00（北京时间））/);
    const audit = await f.audit.list({ action: 'exchange.verify.task.scheduled' });
    expect(audit.map((e) => e.target)).toEqual([`verify-task:${started[0]!.id}`]);
    expect(audit[0]).toMatchObject({ actor: SCHEDULE_ACTOR, outcome: 'queued' });

    // a slot while the previous task has not finished: skipped, noted in that task's log
    f.clock.ms = Date.UTC(2026, 11, 9, 0, 1);
    expect(await a.runDue()).toEqual([]);
    expect((await ex.verify.tasks.runLog(started[0]!.id)).at(-1)!.message).toMatch(/上一次任务尚未结束/);
    const r = runner();
    await r.startRunner();
    await r.idle();
    await r.stopRunner();
    expect((await ex.verify.tasks.get(started[0]!.id, '')).status).toBe('done');

    // the back office was down for three days: one run when it is back, the next slot after now
    f.clock.ms = Date.UTC(2026, 11, 12, 3, 0); // 12-12 11:00 China time
    const late = await a.runDue();
    expect(late.map((t) => t.ruleId)).toEqual([rule.id]);
    expect(late[0]!.scheduledFor).toBe(Date.UTC(2026, 11, 10, 0, 0) / 1000);
    expect((await ex.verify.rules.get(rule.id, '')).nextRunAt).toBe(Date.UTC(2026, 11, 13, 0, 0) / 1000);
    expect(await a.runDue()).toEqual([]);
  });

  it('the same slot cannot be inserted twice (unique per rule and slot)', async () => {
    const t = (await ex.verify.tasks.list('')).find((x) => x.scheduledFor !== null)!;
    await expect(f.db.query(
      `INSERT INTO exchange_verify_tasks (id, rule_id, rule, status, period_from, period_to, through_seq, created_by, created_at, scheduled_for)
       SELECT 'vt_000000000000', rule_id, rule, 'queued', period_from, period_to, through_seq, created_by, created_at, scheduled_for FROM exchange_verify_tasks WHERE id = $1`,
      [t.id],
    )).rejects.toThrow();
  });

  it('every N hours from when the schedule was set; validity ends the schedule', async () => {
    const now = f.clock.ms;
    const rule = await ex.verify.rules.create({ name: '六小时核查', dataset: 'risk-person', windowDays: 2, schedule: { kind: 'every', hours: 6 } }, '', 'operator');
    expect(rule.nextRunAt).toBe(Math.floor((now + 6 * H) / 1000));
    const short = await ex.verify.rules.create({
      name: '短期核查', dataset: 'nat-result', windowDays: 1, schedule: { kind: 'every', hours: 6 }, validUntil: Math.floor((now + 3 * H) / 1000),
    }, '', 'operator');
    expect(short.nextRunAt).toBeNull();
    const changed = await ex.verify.rules.update(rule.id, { name: '六小时核查', dataset: 'risk-person', windowDays: 2, schedule: null }, '');
    expect(changed.nextRunAt).toBeNull();
    f.clock.ms = now + 7 * H;
    expect((await runner().runDue()).filter((t) => t.ruleId === rule.id)).toEqual([]);
  });

  it('the API takes a schedule and answers bad ones with the coded error in Chinese', async () => {
    f.tokens.operator = await f.login('operator'); // the clock moved days ahead: a fresh session
    const ok = await f.call('POST', '/admin/v1/exchange/verify/rules', {
      token: f.tokens.operator, body: { name: '每日核查', dataset: 'nat-result', windowDays: 1, schedule: { kind: 'daily', at: '06:30' }, checkEdges: false },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.schedule).toEqual({ kind: 'daily', at: '06:30' });
    expect(typeof ok.body.nextRunAt).toBe('number');
    const bad = await f.call('POST', '/admin/v1/exchange/verify/rules', {
      token: f.tokens.operator, body: { name: '每日核查', dataset: 'nat-result', windowDays: 1, schedule: { kind: 'daily', at: '25:00' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'EXC_ERR_VERIFY_SCHEDULE', field: 'schedule' });
    expect(bad.body.zh).toMatch(/定时执行设置不合法/);
    const edges = await f.call('POST', '/admin/v1/exchange/verify/rules', {
      token: f.tokens.operator, body: { name: '每日核查', dataset: 'nat-result', checkEdges: 'yes' },
    });
    expect(edges.status).toBe(400);
  });
});
