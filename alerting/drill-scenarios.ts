import { AlertingError } from './errors.js';

/**
 * Drill scenarios as data (安全应急演练): each says what fault to inject,
 * which alert rule(s) must then reach the on-call phone, how to restore,
 * and how long detection and recovery may take. The runner (drill-run.ts)
 * probes displays and scans on the edges the whole time, so every
 * scenario also checks that citizens kept getting answers.
 *
 * The built-in list is what `npm run drill` runs; DRILL_SCENARIOS picks a
 * subset by id. A province adds its own scenarios in the same shape.
 */
export type DrillAction =
  | { readonly do: 'kill-edge'; readonly edge: number }
  | { readonly do: 'start-edge'; readonly edge: number }
  | { readonly do: 'stop-redis' }
  | { readonly do: 'start-redis' }
  | { readonly do: 'kill-master' }
  | { readonly do: 'start-master' }
  /** failed back-office logins with made-up names from many client addresses (a distributed guessing run) */
  | { readonly do: 'login-flood'; readonly attempts: number }
  /** manual code changes (转码) of demo residents by one account */
  | { readonly do: 'mass-transcode'; readonly people: number; readonly color: 'green' | 'yellow' | 'red' }
  /** ends those manual changes (解除人工转码): the rules decide the codes again */
  | { readonly do: 'mass-clear'; readonly people: number }
  /** one change that must travel to the edges (what a stalled publisher leaves waiting) */
  | { readonly do: 'change' };

export interface ExpectedAlert {
  readonly ruleId: string;
  /** for event rules: the event kind that must be behind the alert */
  readonly kind?: string;
}

export interface DrillScenario {
  readonly id: string;
  /** Chinese, what the report shows */
  readonly name: string;
  readonly description: string;
  readonly inject: readonly DrillAction[];
  readonly expect: readonly ExpectedAlert[];
  readonly restore: readonly DrillAction[];
  /** recovery also waits for the expected alerts to be resolved (metric rules: the condition cleared) */
  readonly alertsResolve: boolean;
  readonly detectTimeoutSec: number;
  readonly recoverTimeoutSec: number;
}

/**
 * The expectation "the master watchdog paged" (master-watchdog.ts): not a
 * rule of the master's engine — that engine dies with the master — but the
 * watchdog SMS the edges send straight to the gateway.
 */
export const WATCHDOG_EXPECT = 'master-watchdog';

export const BUILTIN_SCENARIOS: readonly DrillScenario[] = [
  {
    id: 'edge-kill',
    name: '边缘节点宕机',
    description: '强制结束（SIGKILL）一个边缘节点进程；其余边缘节点须继续亮码、扫码；监控发现节点不可达并发短信；重启后恢复。',
    inject: [{ do: 'kill-edge', edge: 0 }],
    expect: [{ ruleId: 'edge-down' }],
    restore: [{ do: 'start-edge', edge: 0 }],
    alertsResolve: true,
    detectTimeoutSec: 120,
    recoverTimeoutSec: 120,
  },
  {
    id: 'redis-stop',
    name: 'Redis 停止',
    description: '停止变更流所在的 Redis，并在停止期间做一次转码；边缘节点须凭本地副本继续亮码、扫码（扫码暂存本地）；发布停滞告警须发出；Redis 恢复后变更须到达每个边缘节点。',
    inject: [{ do: 'stop-redis' }, { do: 'change' }],
    expect: [{ ruleId: 'publish-stalled' }],
    restore: [{ do: 'start-redis' }],
    alertsResolve: true,
    detectTimeoutSec: 150,
    recoverTimeoutSec: 150,
  },
  {
    id: 'login-flood',
    name: '后台登录洪泛',
    description: '从大量不同地址以编造的账号名尝试登录后台（分布式猜密码）；登录失败激增告警须发出；后台与边缘须继续应答。',
    inject: [{ do: 'login-flood', attempts: 60 }],
    expect: [{ ruleId: 'events-critical', kind: 'auth.login_flood' }],
    restore: [],
    alertsResolve: false,
    detectTimeoutSec: 90,
    recoverTimeoutSec: 60,
  },
  {
    id: 'mass-transcode',
    name: '大批量人工转码',
    description: '同一账号在短时间内把 55 人转为红码（疑似误操作或账号被盗用）；操作行为告警须发出；随后解除这些人工转码（由规则重新判定），并确认变更到达每个边缘节点。',
    inject: [{ do: 'mass-transcode', people: 55, color: 'red' }],
    expect: [{ ruleId: 'events-critical', kind: 'operator.mass_change' }],
    restore: [{ do: 'mass-clear', people: 55 }],
    alertsResolve: false,
    detectTimeoutSec: 90,
    recoverTimeoutSec: 120,
  },
  {
    id: 'master-outage',
    name: '主节点宕机',
    description: '强制结束（SIGKILL）主节点进程，告警引擎随之停止；边缘节点须凭本地副本继续亮码、扫码；边缘节点上的看门狗须发出且只发出一条告警短信；主节点重启后须发出恢复短信，变更须到达每个边缘节点。',
    inject: [{ do: 'kill-master' }],
    expect: [{ ruleId: WATCHDOG_EXPECT }],
    restore: [{ do: 'start-master' }],
    alertsResolve: true,
    detectTimeoutSec: 90,
    recoverTimeoutSec: 180,
  },
];

const ACTIONS = new Set(['kill-edge', 'start-edge', 'stop-redis', 'start-redis', 'kill-master', 'start-master', 'login-flood', 'mass-transcode', 'mass-clear', 'change']);

function bad(field: string, why: string): never {
  throw new AlertingError('ALR_ERR_DRILL_SCENARIO', why, field);
}

function checkActions(list: unknown, field: string, edges: number): void {
  if (!Array.isArray(list)) bad(field, 'must be a list of actions');
  for (const [i, a] of (list as Record<string, unknown>[]).entries()) {
    const f = `${field}[${i}]`;
    if (typeof a !== 'object' || a === null || typeof a.do !== 'string' || !ACTIONS.has(a.do)) bad(`${f}.do`, `must be one of ${[...ACTIONS].join(', ')}`);
    if ((a.do === 'kill-edge' || a.do === 'start-edge') && (!Number.isInteger(a.edge) || (a.edge as number) < 0 || (a.edge as number) >= edges)) {
      bad(`${f}.edge`, `must be an edge index 0..${edges - 1}`);
    }
    if (a.do === 'login-flood' && (!Number.isInteger(a.attempts) || (a.attempts as number) < 1 || (a.attempts as number) > 10_000)) bad(`${f}.attempts`, 'must be 1..10000');
    if (a.do === 'mass-clear' && (!Number.isInteger(a.people) || (a.people as number) < 1 || (a.people as number) > 10_000)) bad(`${f}.people`, 'must be 1..10000');
    if (a.do === 'mass-transcode') {
      if (!Number.isInteger(a.people) || (a.people as number) < 1 || (a.people as number) > 10_000) bad(`${f}.people`, 'must be 1..10000');
      if (!['green', 'yellow', 'red'].includes(a.color as string)) bad(`${f}.color`, 'must be green, yellow or red');
    }
  }
}

/** Checks a scenario against the stack it will run on (edge count) and the rule ids the master has. */
export function validateScenario(s: DrillScenario, edges: number, ruleIds: readonly string[] | null = null): DrillScenario {
  if (typeof s.id !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(s.id)) bad('id', 'must be a lower-case kebab-case id');
  if (typeof s.name !== 'string' || !/[\u4e00-\u9fff]/.test(s.name)) bad('name', 'must be a Chinese name (the report shows it)');
  checkActions(s.inject, 'inject', edges);
  if (s.inject.length === 0) bad('inject', 'must inject at least one fault');
  checkActions(s.restore, 'restore', edges);
  if (!Array.isArray(s.expect) || s.expect.length === 0) bad('expect', 'must name at least one expected alert rule');
  for (const [i, e] of s.expect.entries()) {
    if (typeof e.ruleId !== 'string' || e.ruleId === '') bad(`expect[${i}].ruleId`, 'must be a rule id');
    if (ruleIds !== null && e.ruleId !== WATCHDOG_EXPECT && !ruleIds.includes(e.ruleId)) bad(`expect[${i}].ruleId`, `no rule ${JSON.stringify(e.ruleId)} on the master`);
  }
  for (const k of ['detectTimeoutSec', 'recoverTimeoutSec'] as const) {
    if (!Number.isFinite(s[k]) || s[k] < 1 || s[k] > 3600) bad(k, 'must be 1..3600 seconds');
  }
  return s;
}

/** DRILL_SCENARIOS=edge-kill,mass-transcode → those scenarios in that order; unset → all built-ins. */
export function pickScenarios(spec: string | undefined, all: readonly DrillScenario[] = BUILTIN_SCENARIOS): DrillScenario[] {
  if (spec === undefined || spec.trim() === '') return [...all];
  const out: DrillScenario[] = [];
  for (const id of spec.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const s = all.find((x) => x.id === id);
    if (s === undefined) bad('DRILL_SCENARIOS', `no scenario ${JSON.stringify(id)} (known: ${all.map((x) => x.id).join(', ')})`);
    out.push(s);
  }
  if (out.length === 0) bad('DRILL_SCENARIOS', 'names no scenario');
  return out;
}
