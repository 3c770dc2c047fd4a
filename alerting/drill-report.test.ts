import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DRILL_PDF_FONT, reportMarkdown, reportPdf, summarise, summaryLine, writeDrillReport, type DrillReport, type ScenarioResult } from './drill-report.js';
import { BUILTIN_SCENARIOS, pickScenarios, validateScenario, type DrillScenario } from './drill-scenarios.js';
import { loadDrillConfig } from './drill.js';
import { AlertingError } from './errors.js';

/** The drill's report writer and scenario validation, on fixed observations (no stack). */
const T0 = Date.UTC(2026, 11, 7, 6, 0, 0); // 14:00:00 China time
const s = (sec: number): number => T0 + sec * 1000;

function scenario(over: Partial<ScenarioResult>): ScenarioResult {
  return {
    id: 'edge-kill', name: '边缘节点宕机', description: '强制结束一个边缘节点进程。',
    injectedMs: s(60), restoreStartMs: s(120), recoveredMs: s(130),
    alerts: [{ ruleId: 'edge-down', ruleName: '边缘节点不可达', kind: null, firedMs: s(95), smsAtMs: s(105), smsText: '【健康码告警】[严重]边缘节点不可达 新增1条告警', resolvedMs: s(128), resolveSmsAtMs: s(129) }],
    detectSec: 45, recoverSec: 10,
    probes: { display: { ok: 100, total: 100 }, scan: { ok: 100, total: 100 }, failures: [] },
    passed: true, failures: [],
    ...over,
  };
}

const report: DrillReport = {
  startedMs: T0,
  finishedMs: s(600),
  stack: '集群模式，各部件独立进程',
  scenarios: [
    scenario({}),
    scenario({ id: 'redis-stop', name: 'Redis 停止', detectSec: 20, recoverSec: 30 }),
    scenario({
      id: 'login-flood', name: '后台登录洪泛', detectSec: null, recoverSec: 5, passed: false,
      alerts: [{ ruleId: 'events-critical', ruleName: '严重事件', kind: 'auth.login_flood', firedMs: null, smsAtMs: null, smsText: null, resolvedMs: null, resolveSmsAtMs: null }],
      failures: ['90 秒内未触发告警「严重事件」'],
      probes: { display: { ok: 9, total: 10 }, scan: { ok: 10, total: 10 }, failures: ['边缘节点 2 亮码：HTTP 503 | 不可用'] },
    }),
  ],
  timeline: [
    { atMs: s(0), scenario: null, event: '被演练系统就绪' },
    { atMs: s(60), scenario: 'edge-kill', event: '强制结束边缘节点 1（SIGKILL）' },
  ],
  sms: [{ atMs: s(105), text: '【健康码告警】[严重]边缘节点不可达 新增1条告警' }],
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('drill report', () => {
  it('summarises pass count, detection p50/max over the detected scenarios, recovery max', () => {
    expect(summarise(report)).toEqual({ passed: 2, total: 3, detectP50Sec: 20, detectMaxSec: 45, recoverMaxSec: 30 });
    expect(summaryLine(report)).toBe('drill: 2/3 scenarios passed, detect p50 20.0s max 45.0s, recover max 30.0s');
    expect(summaryLine({ ...report, scenarios: [] })).toBe('drill: 0/0 scenarios passed, detect p50 n/a max n/a, recover max n/a');
  });

  it('Markdown: Chinese, China time, every scenario, the timeline, the SMS, and what failed', () => {
    const md = reportMarkdown(report);
    expect(md.split('\n')[0]).toBe('# 安全应急演练报告');
    expect(md).toContain('- 演练时间：2026-12-07 14:00:00 至 2026-12-07 14:10:00（北京时间）');
    expect(md).toContain('- 结果：2/3 个场景通过；发现告警用时中位数 20.0 秒、最长 45.0 秒；恢复用时最长 30.0 秒');
    expect(md).toContain('| 边缘节点宕机 | 2026-12-07 14:01:00 | 1/1 条收到 | 45.0 秒 | 10.0 秒 | 亮码 100/100 成功，扫码 100/100 成功 | 通过 |');
    expect(md).toContain('| 后台登录洪泛 | 2026-12-07 14:01:00 | 0/1 条收到 | — | 5.0 秒 | 亮码 9/10 成功，扫码 10/10 成功 | 未通过 |');
    expect(md).toContain('| 边缘节点不可达 | 2026-12-07 14:01:35 | 2026-12-07 14:01:45 | 2026-12-07 14:02:08 | 2026-12-07 14:02:09 |');
    expect(md).toContain('| 严重事件（auth.login_flood） | — | — | — | — |');
    expect(md).toContain('| 2026-12-07 14:01:00 | edge-kill | 强制结束边缘节点 1（SIGKILL） |');
    expect(md).toContain('| 2026-12-07 14:00:00 | 演练 | 被演练系统就绪 |');
    expect(md).toContain('- 2026-12-07 14:01:45　【健康码告警】[严重]边缘节点不可达 新增1条告警');
    expect(md).toContain('## 发现的问题\n\n- 后台登录洪泛：90 秒内未触发告警「严重事件」');
    // a probe failure's pipe does not break the table
    expect(md).toContain('- 边缘节点 2 亮码：HTTP 503 ｜ 不可用');
    // no UTC / ISO timestamps leak into what the officer reads
    expect(md).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:/);
  });

  it('a clean drill says so', () => {
    const md = reportMarkdown({ ...report, scenarios: [scenario({})], sms: [] });
    expect(md).toContain('无：每个场景的告警均按期到达，服务持续应答，并在时限内恢复。');
    expect(md).toContain('## 收到的告警短信（短信网关）\n\n（无）');
  });

  it('PDF: a real PDF with the CJK font embedded', async () => {
    const pdf = await reportPdf(report);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.toString('latin1')).toContain('WenQuanYi');
    expect(pdf.length).toBeGreaterThan(5000);
  });

  it('writes drill-<China time>.md and .pdf; without the font only Markdown, saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hc-drill-report-'));
    dirs.push(dir);
    const w = await writeDrillReport(report, dir);
    expect(w.markdown).toBe(join(dir, 'drill-20261207-140000.md'));
    expect(w.pdf).toBe(join(dir, 'drill-20261207-140000.pdf'));
    expect(readFileSync(w.markdown, 'utf8')).toBe(reportMarkdown(report));
    expect(existsSync(w.pdf!)).toBe(true);
    const dir2 = mkdtempSync(join(tmpdir(), 'hc-drill-report-'));
    dirs.push(dir2);
    const none = await writeDrillReport(report, dir2, join(dir2, 'no-such-font.ttf'));
    expect(none.pdf).toBeNull();
    expect(none.pdfSkipped).toContain('中文字体');
    expect(existsSync(none.markdown)).toBe(true);
    expect(DRILL_PDF_FONT).toMatch(/wqy/);
  });
});

describe('drill scenarios', () => {
  const rules = ['edge-down', 'publish-stalled', 'events-critical'];
  const code = (fn: () => unknown): { code: string; field: string | undefined } => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(AlertingError);
      return { code: (err as AlertingError).code, field: (err as AlertingError).field };
    }
    throw new Error('no error');
  };

  it('the built-in scenarios are valid against the built-in rules', () => {
    for (const x of BUILTIN_SCENARIOS) expect(validateScenario(x, 2, rules)).toBe(x);
    expect(BUILTIN_SCENARIOS.map((x) => x.id)).toEqual(['edge-kill', 'redis-stop', 'login-flood', 'mass-transcode', 'master-outage']);
  });

  it('bad scenarios are refused with ALR_ERR_DRILL_SCENARIO naming the part', () => {
    const base = BUILTIN_SCENARIOS[0]!;
    const bad = (over: Record<string, unknown>): { code: string; field: string | undefined } =>
      code(() => validateScenario({ ...base, ...over } as unknown as DrillScenario, 2, rules));
    expect(bad({ id: 'Edge Kill' })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'id' });
    expect(bad({ name: 'edge kill' })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'name' });
    expect(bad({ inject: [] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'inject' });
    expect(bad({ inject: 'kill' })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'inject' });
    expect(bad({ inject: [{ do: 'format-disk' }] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'inject[0].do' });
    expect(bad({ inject: [{ do: 'kill-edge', edge: 2 }] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'inject[0].edge' });
    expect(bad({ restore: [{ do: 'start-edge', edge: 5 }] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'restore[0].edge' });
    expect(bad({ inject: [{ do: 'login-flood', attempts: 0 }] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'inject[0].attempts' });
    expect(bad({ inject: [{ do: 'mass-transcode', people: 5, color: 'blue' }] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'inject[0].color' });
    expect(bad({ inject: [{ do: 'mass-transcode', people: 0, color: 'red' }] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'inject[0].people' });
    expect(bad({ restore: [{ do: 'mass-clear', people: -1 }] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'restore[0].people' });
    expect(bad({ expect: [] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'expect' });
    expect(bad({ expect: [{ ruleId: 'no-such-rule' }] })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'expect[0].ruleId' });
    expect(bad({ detectTimeoutSec: 0 })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'detectTimeoutSec' });
    expect(bad({ recoverTimeoutSec: 7200 })).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'recoverTimeoutSec' });
  });

  it('DRILL_SCENARIOS picks by id, in the order given; unknown ids are refused', () => {
    expect(pickScenarios(undefined).length).toBe(BUILTIN_SCENARIOS.length);
    expect(pickScenarios(' ').length).toBe(BUILTIN_SCENARIOS.length);
    expect(pickScenarios('mass-transcode, edge-kill').map((x) => x.id)).toEqual(['mass-transcode', 'edge-kill']);
    expect(code(() => pickScenarios('edge-kill,meteor'))).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'DRILL_SCENARIOS' });
    expect(code(() => pickScenarios(','))).toEqual({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'DRILL_SCENARIOS' });
  });
});

describe('npm run drill configuration', () => {
  it('defaults: all scenarios, two edges, the drill periods, ./reports/drill', () => {
    const c = loadDrillConfig({});
    expect(c.scenarios.map((x) => x.id)).toEqual(BUILTIN_SCENARIOS.map((x) => x.id));
    expect(c).toMatchObject({ edges: 2, demoPeople: 300, keep: false, monitorIntervalMs: 2000, anomalyIntervalMs: 3000, tickMs: 500, fontPath: DRILL_PDF_FONT });
    expect(c.reportsDir).toBe(join(process.cwd(), 'reports', 'drill'));
    expect(loadDrillConfig({ DRILL_MONITOR_INTERVAL_MS: '15000', DRILL_KEEP: '1', DRILL_EDGES: '3' })).toMatchObject({ monitorIntervalMs: 15000, keep: true, edges: 3 });
  });

  it('a bad DRILL_* value is ALR_ERR_CONFIG naming the variable', () => {
    const bad = (env: Record<string, string>, field: string): void => {
      expect(() => loadDrillConfig(env)).toThrow(expect.objectContaining({ code: 'ALR_ERR_CONFIG', field }));
    };
    bad({ DRILL_EDGES: '1' }, 'DRILL_EDGES'); // one edge cannot be killed while another answers
    bad({ DRILL_EDGES: 'two' }, 'DRILL_EDGES');
    bad({ DRILL_DEMO_PEOPLE: '10' }, 'DRILL_DEMO_PEOPLE');
    bad({ DRILL_MONITOR_INTERVAL_MS: '5' }, 'DRILL_MONITOR_INTERVAL_MS');
    bad({ DRILL_ANOMALY_INTERVAL_MS: '-1' }, 'DRILL_ANOMALY_INTERVAL_MS');
    bad({ DRILL_TICK_MS: '1.5' }, 'DRILL_TICK_MS');
    bad({ DRILL_KEEP: 'yes' }, 'DRILL_KEEP');
    expect(() => loadDrillConfig({ DRILL_SCENARIOS: 'meteor' })).toThrow(expect.objectContaining({ code: 'ALR_ERR_DRILL_SCENARIO', field: 'DRILL_SCENARIOS' }));
  });
});
