import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chinaTime } from '../core/china-time.js';
import { demoResidentId, demoVenues } from '../demo-data.js';
import { validateScenario, WATCHDOG_EXPECT, type DrillAction, type DrillScenario } from './drill-scenarios.js';
import { writeDrillReport, type AlertObservation, type DrillReport, type ProbeCounts, type ScenarioResult, type TimelineEntry, type WrittenReport } from './drill-report.js';
import { DrillStack } from './drill-stack.js';
import { startGatewaySim, type GatewaySim } from './gateway-sim.js';

/**
 * The drill runner: starts the stack (drill-stack.ts) with the SMS gateway
 * simulator as the on-call phone, then for each scenario
 *
 *   inject fault ──▶ wait for every expected alert's SMS at the gateway (time to detect)
 *        │                      probes: display + scan on every edge the drill has not
 *        ▼                      itself taken down, every 500 ms, the whole time
 *   restore ──▶ recovery checks: every edge /readyz, a fresh change visible on every
 *               edge, the expected alerts resolved where the scenario says so (time to recover)
 *
 * and writes the report (drill-report.ts). Time to detect is measured where
 * the on-call person sees it — the SMS accepted by the gateway — not where
 * the engine decided: a drill tests the whole path.
 */
export interface DrillOptions {
  /** working directory of the drilled stack (data, process logs) */
  readonly dir: string;
  readonly reportsDir: string;
  readonly scenarios: readonly DrillScenario[];
  readonly edges?: number;
  readonly demoPeople?: number;
  /** the master's alerting periods for the drill (engine tick, monitor and detector sampling) */
  readonly tickMs?: number;
  readonly monitorIntervalMs?: number;
  readonly anomalyIntervalMs?: number;
  readonly fontPath?: string;
  readonly log?: (line: string) => void;
}

export interface DrillOutcome {
  readonly report: DrillReport;
  readonly written: WrittenReport;
}

interface HttpAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly error?: string;
}

async function call(method: string, url: string, opts: { body?: unknown; token?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  try {
    const r = await fetch(url, {
      method, headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    const text = await r.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON (a proxy page): the status says enough
    }
    return { status: r.status, body };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { status: 0, body: {}, error: cause ?? (err as Error).name };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const PROBE_PHONE = '13900000001';
const MARKER_PHONE = '13900000002';
const ON_CALL = '13800138000';
/** demo residents 1…n are the mass-change subjects (0 is the README's example person) */
const subject = (i: number): string => demoResidentId(i + 1);

interface FoundAlert {
  id: number;
  ruleId: string;
  kind: string;
  summary: string;
  status: string;
  startedMs: number;
  firedMs: number | null;
  resolvedMs: number | null;
}

class Drill {
  readonly timeline: TimelineEntry[] = [];
  stack!: DrillStack;
  sim: GatewaySim | undefined;
  private adminToken: string | null = null;
  private probeToken = '';
  private markerToken = '';
  private markerColor: 'green' | 'yellow' = 'green';
  private ruleNames = new Map<string, string>();
  /** why the alert list could not be read last time (the master down, …), for the report */
  private lastAlertsError: string | null = null;
  private readonly venue = demoVenues(2)[1]!.id;
  private readonly log: (line: string) => void;

  constructor(private readonly o: DrillOptions) {
    this.log = o.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  note(scenario: string | null, event: string): void {
    this.timeline.push({ atMs: Date.now(), scenario, event });
    this.log(`drill: ${scenario === null ? '' : `[${scenario}] `}${event}`);
  }

  // ── the back office, as an operator would use it ─────────────────────────

  private async admin(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.adminToken === null) {
        const cred = JSON.parse(readFileSync(join(this.o.dir, 'master', 'admin-credentials.json'), 'utf8')) as { username: string; password: string };
        const r = await call('POST', `${this.stack.adminUrl}/admin/v1/login`, { body: cred });
        if (r.status !== 200) return r;
        this.adminToken = r.body.token as string;
      }
      const r = await call(method, `${this.stack.adminUrl}${path}`, { token: this.adminToken, ...(body === undefined ? {} : { body }) });
      if (r.status !== 401) return r;
      this.adminToken = null; // expired, or the master restarted with new sessions: log in again
    }
    return { status: 401, body: {} };
  }

  private async session(phone: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const r = await call('POST', `${this.stack.adminUrl}/v1/session`, { body: { phone } });
      if (r.status === 200) return r.body.token as string;
      await sleep(200);
    }
    throw new Error(`no session for the drill's probe person (master ${this.stack.adminUrl})`);
  }

  // ── setup ────────────────────────────────────────────────────────────────

  async start(): Promise<void> {
    const key = randomBytes(32).toString('hex');
    this.sim = await startGatewaySim({ key });
    this.note(null, `短信网关模拟器启动：${this.sim.url}`);
    const edges = this.o.edges ?? 2;
    this.stack = await DrillStack.start({
      dir: this.o.dir,
      edges,
      demoPeople: this.o.demoPeople ?? 300,
      smsGatewayUrl: this.sim.url,
      smsGatewayKey: key,
      alertPhones: ON_CALL,
      masterEnv: {
        ALERT_TICK_MS: String(this.o.tickMs ?? 500),
        ALERT_MONITOR_INTERVAL_MS: String(this.o.monitorIntervalMs ?? 2000),
        ALERT_ANOMALY_INTERVAL_MS: String(this.o.anomalyIntervalMs ?? 3000),
      },
      // the master-outage scenario's pager: the engine dies with the master
      edgeWatchdog: { forSec: 10, intervalMs: 500 },
      log: this.log,
    });
    this.note(null, `被演练系统就绪：Redis、主节点（PGlite）、${edges} 个边缘节点，各为独立进程`);
    const rules = await this.admin('GET', '/admin/v1/alerting/rules');
    if (rules.status !== 200) throw new Error(`alert rules not readable: HTTP ${rules.status}`);
    for (const r of rules.body.rules as { id: string; name: string }[]) this.ruleNames.set(r.id, r.name);
    for (const s of this.o.scenarios) validateScenario(s, edges, [...this.ruleNames.keys()]);
    this.ruleNames.set(WATCHDOG_EXPECT, '主节点无应答（看门狗）');
    this.probeToken = await this.session(PROBE_PHONE);
    this.markerToken = await this.session(MARKER_PHONE);
    const ok = await this.recovered([], false, Date.now() + 120_000);
    if (!ok.ok) throw new Error(`the stack is not healthy before the drill: ${ok.why}`);
    this.note(null, '演练前检查通过：每个边缘节点就绪，变更可到达每个边缘节点');
  }

  // ── faults and restores ──────────────────────────────────────────────────

  private async act(scenario: string, a: DrillAction): Promise<void> {
    switch (a.do) {
      case 'kill-edge':
        await this.stack.killEdge(a.edge);
        this.note(scenario, `强制结束边缘节点 ${a.edge + 1}（SIGKILL）`);
        return;
      case 'start-edge':
        this.note(scenario, `重启边缘节点 ${a.edge + 1}`);
        await this.stack.startEdge(a.edge);
        this.note(scenario, `边缘节点 ${a.edge + 1} 进程就绪`);
        return;
      case 'stop-redis':
        await this.stack.stopRedis();
        this.note(scenario, '停止 Redis（SIGTERM）');
        return;
      case 'start-redis':
        await this.stack.startRedis();
        this.note(scenario, '重新启动 Redis');
        return;
      case 'kill-master':
        await this.stack.killMaster();
        this.note(scenario, '强制结束主节点（SIGKILL）');
        return;
      case 'start-master':
        this.note(scenario, '重启主节点');
        await this.stack.startMaster();
        this.adminToken = null;
        this.note(scenario, '主节点就绪');
        return;
      case 'login-flood': {
        const tally = new Map<number, number>();
        for (let i = 0; i < a.attempts; i++) {
          // TEST-NET-2 / TEST-NET-3 addresses (RFC 5737): many guessers, one or two tries each
          const ip = i % 2 === 0 ? `198.51.100.${(i % 250) + 1}` : `203.0.113.${(i % 250) + 1}`;
          const r = await call('POST', `${this.stack.adminUrl}/admin/v1/login`, {
            body: { username: `drill-guess-${i}`, password: `Wrong-password-${i}` },
            headers: { 'x-forwarded-for': ip },
          });
          tally.set(r.status, (tally.get(r.status) ?? 0) + 1);
        }
        this.note(scenario, `从 ${Math.min(a.attempts, 500)} 个地址尝试登录后台 ${a.attempts} 次，应答：${[...tally].map(([s, n]) => `HTTP ${s} × ${n}`).join('，')}`);
        return;
      }
      case 'mass-transcode':
      case 'mass-clear': {
        const tally = new Map<number, number>();
        for (let i = 0; i < a.people; i++) {
          const ref = { idType: 'resident', idNo: subject(i) };
          const r = a.do === 'mass-transcode'
            ? await this.admin('POST', '/admin/v1/codes/transcode', { ...ref, color: a.color, reason: 'drill' })
            : await this.admin('POST', '/admin/v1/codes/clear', ref);
          tally.set(r.status, (tally.get(r.status) ?? 0) + 1);
        }
        const what = a.do === 'mass-transcode' ? `同一账号人工转码 ${a.people} 人为${{ red: '红', yellow: '黄', green: '绿' }[a.color]}码` : `解除 ${a.people} 人的人工转码`;
        this.note(scenario, `${what}，应答：${[...tally].map(([s, n]) => `HTTP ${s} × ${n}`).join('，')}`);
        return;
      }
      case 'change': {
        const r = await this.markerChange();
        this.note(scenario, `故障期间转码一人（变更须在恢复后到达边缘）：HTTP ${r}`);
        return;
      }
    }
  }

  private async markerChange(): Promise<number> {
    this.markerColor = this.markerColor === 'green' ? 'yellow' : 'green';
    const r = await this.admin('POST', '/admin/v1/codes/transcode', { phone: MARKER_PHONE, color: this.markerColor, reason: 'drill_marker' });
    return r.status;
  }

  // ── probes ───────────────────────────────────────────────────────────────

  private startProbes(): { stop: () => Promise<ProbeCounts> } {
    const counts: ProbeCounts = { display: { ok: 0, total: 0 }, scan: { ok: 0, total: 0 }, failures: [] };
    let running = true;
    const loop = (async () => {
      while (running) {
        const live = this.stack.edgePorts.map((_, i) => i).filter((i) => this.stack.edgeRunning(i));
        await Promise.all(live.map(async (i) => {
          const url = this.stack.edgeUrl(i);
          const d = await call('GET', `${url}/v1/code`, { token: this.probeToken, timeoutMs: 3000 });
          counts.display.total++;
          if (d.status === 200 && typeof d.body.color === 'string') counts.display.ok++;
          // an edge killed while the request was in flight is the drill's own doing, not a failure
          else if (this.stack.edgeRunning(i)) counts.failures.push(`${chinaTime(Date.now(), true)} 边缘节点 ${i + 1} 亮码：${d.status === 0 ? d.error : `HTTP ${d.status}`}`);
          const s = await call('POST', `${url}/v1/scan`, { token: this.probeToken, body: { venue: this.venue }, timeoutMs: 3000 });
          counts.scan.total++;
          if (s.status === 200) counts.scan.ok++;
          else if (this.stack.edgeRunning(i)) counts.failures.push(`${chinaTime(Date.now(), true)} 边缘节点 ${i + 1} 扫码：${s.status === 0 ? s.error : `HTTP ${s.status}`}`);
        }));
        await sleep(500);
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return counts;
      },
    };
  }

  // ── detection and recovery ───────────────────────────────────────────────

  private async alerts(): Promise<FoundAlert[] | null> {
    const r = await this.admin('GET', '/admin/v1/alerting/alerts?status=all');
    if (r.status !== 200) {
      this.lastAlertsError = r.status === 0 ? (r.error ?? 'no answer') : `HTTP ${r.status} ${String(r.body.error ?? '')}`;
      return null;
    }
    this.lastAlertsError = null;
    return r.body.alerts as FoundAlert[];
  }

  /** The watchdog's pages at the gateway as alerts (ids `mw-…`, resolve `mw-…-ok`): the master that would list them is what is down. */
  private withWatchdog(list: readonly FoundAlert[] | null): FoundAlert[] {
    const delivered = this.sim?.delivered ?? [];
    const pages = delivered.filter((d) => d.id.startsWith('mw-') && !d.id.endsWith('-ok'));
    return [
      ...(list ?? []),
      ...pages.map((d, i) => {
        const ok = delivered.find((x) => x.id === `${d.id}-ok`);
        return { id: -(i + 1), ruleId: WATCHDOG_EXPECT, kind: '', summary: d.text, status: ok === undefined ? 'firing' : 'resolved', startedMs: d.atMs, firedMs: d.atMs, resolvedMs: ok?.atMs ?? null };
      }),
    ];
  }

  private match(list: readonly FoundAlert[], e: { ruleId: string; kind?: string }, since: number): FoundAlert | undefined {
    // a condition that began with the fault (metric alerts start pending a sample after it)
    return list.find((a) => a.ruleId === e.ruleId && (e.kind === undefined || a.kind === e.kind) && a.startedMs >= since - 5000 && a.firedMs !== null);
  }

  /** The SMS that told the on-call about this alert: its rule's "新增" message carrying the alert's summary (one rule's groups share a name). */
  private smsFor(a: FoundAlert): { atMs: number; text: string } | undefined {
    if (a.ruleId === WATCHDOG_EXPECT) return { atMs: a.firedMs!, text: a.summary };
    const name = this.ruleNames.get(a.ruleId) ?? a.ruleId;
    const head = a.summary.slice(0, 24);
    return (this.sim?.delivered ?? []).find((d) => d.atMs >= (a.firedMs ?? 0) && d.text.includes(`${name} 新增`) && d.text.includes(head));
  }

  /** The "[已恢复]" message for this alert, once it resolved. */
  private resolveSmsFor(a: FoundAlert): { atMs: number; text: string } | undefined {
    if (a.ruleId === WATCHDOG_EXPECT) return (this.sim?.delivered ?? []).find((d) => d.text.startsWith('[已恢复]主节点恢复应答') && d.atMs >= (a.firedMs ?? 0));
    const name = this.ruleNames.get(a.ruleId) ?? a.ruleId;
    const head = a.summary.slice(0, 24);
    return (this.sim?.delivered ?? []).find((d) => d.atMs >= (a.firedMs ?? 0) && d.text.includes(`[已恢复]${name}`) && d.text.includes(head));
  }

  private async recovered(expected: readonly { ruleId: string; kind?: string }[], alertsResolve: boolean, deadline: number, since = 0): Promise<{ ok: boolean; why: string }> {
    let why = '';
    // 1. every edge ready
    for (;;) {
      const bad: string[] = [];
      for (let i = 0; i < this.stack.edgePorts.length; i++) {
        const r = await call('GET', `${this.stack.edgeUrl(i)}/readyz`, { timeoutMs: 2000 });
        if (r.status !== 200) bad.push(`边缘节点 ${i + 1} 未就绪（${r.status === 0 ? r.error : `HTTP ${r.status}`}）`);
      }
      if (bad.length === 0) break;
      why = bad.join('；');
      if (Date.now() > deadline) return { ok: false, why };
      await sleep(500);
    }
    // 2. a fresh change reaches every edge (the whole master → Redis → edge path works again)
    let status = 0;
    while ((status = await this.markerChange()) !== 200) {
      // the admin-api may still be coming back: flip back and try again
      this.markerColor = this.markerColor === 'green' ? 'yellow' : 'green';
      why = `主节点转码失败（HTTP ${status}）`;
      if (Date.now() > deadline) return { ok: false, why };
      await sleep(500);
    }
    for (let i = 0; i < this.stack.edgePorts.length; i++) {
      for (;;) {
        const r = await call('GET', `${this.stack.edgeUrl(i)}/v1/code`, { token: this.markerToken, timeoutMs: 2000 });
        if (r.status === 200 && r.body.color === this.markerColor) break;
        why = `变更未到达边缘节点 ${i + 1}`;
        if (Date.now() > deadline) return { ok: false, why };
        await sleep(250);
      }
    }
    // 3. the alerts the fault raised are resolved again (metric conditions cleared)
    if (alertsResolve) {
      for (;;) {
        const master = await this.alerts();
        const list = master === null ? null : this.withWatchdog(master);
        const open = list === null ? expected : expected.filter((e) => {
          const a = this.match(list, e, since);
          return a === undefined || a.resolvedMs === null;
        });
        if (open.length === 0) break;
        why = `告警未恢复：${open.map((e) => this.ruleNames.get(e.ruleId) ?? e.ruleId).join('、')}`;
        if (Date.now() > deadline) return { ok: false, why };
        await sleep(500);
      }
    }
    return { ok: true, why: '' };
  }

  /** One scenario; an exception (an edge that does not come back, the master gone) is a failed scenario in the report, not a lost drill. */
  async scenario(s: DrillScenario): Promise<ScenarioResult> {
    const t0 = Date.now();
    try {
      return await this.runScenario(s);
    } catch (err) {
      const why = `演练中断：${(err as Error).message}`;
      this.note(s.id, why);
      const probes = this.activeProbes === null ? { display: { ok: 0, total: 0 }, scan: { ok: 0, total: 0 }, failures: [] } : await this.activeProbes.stop();
      this.activeProbes = null;
      return notRun(s, t0, why, probes);
    }
  }

  private activeProbes: { stop: () => Promise<ProbeCounts> } | null = null;

  private async runScenario(s: DrillScenario): Promise<ScenarioResult> {
    this.note(s.id, `开始场景：${s.name}`);
    const probes = this.startProbes();
    this.activeProbes = probes;
    await sleep(1000); // a few probes before the fault: the baseline answers
    const injectedMs = Date.now();
    for (const a of s.inject) await this.act(s.id, a);
    const failures: string[] = [];

    // detection: every expected alert fired and its SMS at the gateway
    const found = new Map<number, { alert: FoundAlert; sms: { atMs: number; text: string } | undefined }>();
    const detectDeadline = injectedMs + s.detectTimeoutSec * 1000;
    while (found.size < s.expect.length || [...found.values()].some((f) => f.sms === undefined)) {
      const master = await this.alerts();
      const list = this.withWatchdog(master);
      {
        s.expect.forEach((e, i) => {
          const a = this.match(list, e, injectedMs);
          if (a === undefined) return;
          const prev = found.get(i);
          if (prev === undefined) this.note(s.id, `告警触发：${this.ruleNames.get(e.ruleId) ?? e.ruleId}${e.kind === undefined ? '' : `（${e.kind}）`}`);
          const sms = prev?.sms ?? this.smsFor(a);
          if (sms !== undefined && prev?.sms === undefined) this.note(s.id, `告警短信到达网关：${sms.text}`);
          found.set(i, { alert: a, sms });
        });
      }
      if (Date.now() > detectDeadline) break;
      await sleep(500);
    }
    s.expect.forEach((e, i) => {
      const f = found.get(i);
      const name = this.ruleNames.get(e.ruleId) ?? e.ruleId;
      if (f === undefined) failures.push(`${s.detectTimeoutSec} 秒内未触发告警「${name}」${this.lastAlertsError === null ? '' : `（告警列表读取失败：${this.lastAlertsError}）`}`);
      else if (f.sms === undefined) failures.push(`告警「${name}」已触发，但 ${s.detectTimeoutSec} 秒内短信未到达网关`);
    });
    if (failures.length > 0) this.note(s.id, `发现检查未通过：${failures.join('；')}`);

    // restore and recovery
    const restoreStartMs = Date.now();
    for (const a of s.restore) await this.act(s.id, a);
    if (s.restore.length === 0) this.note(s.id, '无需恢复操作（故障为一次性行为），检查服务状态');
    const rec = await this.recovered(s.expect, s.alertsResolve, restoreStartMs + s.recoverTimeoutSec * 1000, injectedMs);
    const recoveredMs = rec.ok ? Date.now() : null;
    if (rec.ok) this.note(s.id, '恢复检查通过：每个边缘节点就绪，新变更已到达每个边缘节点' + (s.alertsResolve ? '，告警已恢复' : ''));
    else {
      failures.push(`${s.recoverTimeoutSec} 秒内未恢复：${rec.why}`);
      this.note(s.id, `恢复检查未通过：${rec.why}`);
    }
    const counts = await probes.stop();
    this.activeProbes = null;
    if (counts.display.ok < counts.display.total) failures.push(`故障期间亮码失败 ${counts.display.total - counts.display.ok} 次（共 ${counts.display.total} 次）`);
    if (counts.scan.ok < counts.scan.total) failures.push(`故障期间扫码失败 ${counts.scan.total - counts.scan.ok} 次（共 ${counts.scan.total} 次）`);

    // the resolve message follows the resolve by a tick: give it a few seconds before reading the final state
    if (rec.ok && s.alertsResolve) {
      const end = Date.now() + 10_000;
      while (Date.now() < end && [...found.values()].some((f) => this.resolveSmsFor(f.alert) === undefined)) await sleep(250);
    }
    const finalList = this.withWatchdog(await this.alerts());
    const alerts: AlertObservation[] = s.expect.map((e, i) => {
      const f = found.get(i);
      const now = f === undefined ? undefined : finalList.find((a) => a.id === f.alert.id) ?? f.alert;
      return {
        ruleId: e.ruleId,
        ruleName: this.ruleNames.get(e.ruleId) ?? e.ruleId,
        kind: e.kind ?? null,
        firedMs: now?.firedMs ?? null,
        smsAtMs: f?.sms?.atMs ?? null,
        smsText: f?.sms?.text ?? null,
        resolvedMs: now?.resolvedMs ?? null,
        resolveSmsAtMs: now === undefined || now.resolvedMs === null ? null : this.resolveSmsFor(now)?.atMs ?? null,
      };
    });
    if (s.expect.some((e) => e.ruleId === WATCHDOG_EXPECT)) {
      // several edges watch one master: the on-call phone must get one page per outage, not one per edge
      const pages = (this.sim?.delivered ?? []).filter((d) => d.id.startsWith('mw-') && !d.id.endsWith('-ok') && d.atMs >= injectedMs).length;
      if (pages > 1) failures.push(`看门狗就同一次主节点宕机发出 ${pages} 条告警短信（应为 1 条）`);
    }
    const smsTimes = alerts.map((a) => a.smsAtMs);
    const detectSec = smsTimes.every((x): x is number => x !== null) ? (Math.max(...smsTimes) - injectedMs) / 1000 : null;
    const result: ScenarioResult = {
      id: s.id,
      name: s.name,
      description: s.description,
      injectedMs,
      restoreStartMs,
      recoveredMs,
      alerts,
      detectSec,
      recoverSec: recoveredMs === null ? null : (recoveredMs - restoreStartMs) / 1000,
      probes: counts,
      passed: failures.length === 0,
      failures,
    };
    this.note(s.id, `场景结束：${result.passed ? '通过' : '未通过'}`);
    return result;
  }

  async close(): Promise<void> {
    await this.stack?.close();
    await this.sim?.close();
  }
}

function notRun(s: DrillScenario, atMs: number, why: string, probes: ProbeCounts): ScenarioResult {
  return {
    id: s.id, name: s.name, description: s.description,
    injectedMs: atMs, restoreStartMs: null, recoveredMs: null,
    alerts: s.expect.map((e) => ({ ruleId: e.ruleId, ruleName: e.ruleId, kind: e.kind ?? null, firedMs: null, smsAtMs: null, smsText: null, resolvedMs: null, resolveSmsAtMs: null })),
    detectSec: null, recoverSec: null, probes, passed: false, failures: [why],
  };
}

/** Runs the scenarios against a freshly started stack and writes the report (Markdown + PDF). */
export async function runDrill(o: DrillOptions): Promise<DrillOutcome> {
  const d = new Drill(o);
  const startedMs = Date.now();
  const results: ScenarioResult[] = [];
  try {
    await d.start();
    for (const s of o.scenarios) results.push(await d.scenario(s));
  } catch (err) {
    // the stack did not come up: the report still says so, scenario by scenario
    const why = `被演练系统未能启动，场景未执行：${(err as Error).message}`;
    d.note(null, why);
    for (const s of o.scenarios) results.push(notRun(s, Date.now(), why, { display: { ok: 0, total: 0 }, scan: { ok: 0, total: 0 }, failures: [] }));
  } finally {
    await d.close();
  }
  d.note(null, '演练结束，被演练系统已停止');
  const edges = o.edges ?? 2;
  const report: DrillReport = {
    startedMs,
    finishedMs: Date.now(),
    stack: `集群模式，各部件独立进程：Redis（演练专用端口）、主节点（PGlite，演示数据 ${o.demoPeople ?? 300} 人）、${edges} 个边缘节点；短信网关为模拟器；告警引擎周期 ${o.tickMs ?? 500} 毫秒，监控采样 ${(o.monitorIntervalMs ?? 2000) / 1000} 秒，行为检测 ${(o.anomalyIntervalMs ?? 3000) / 1000} 秒`,
    scenarios: results,
    timeline: d.timeline,
    sms: (d.sim?.delivered ?? []).map((m) => ({ atMs: m.atMs, text: m.text })),
  };
  const written = await writeDrillReport(report, o.reportsDir, o.fontPath);
  return { report, written };
}
