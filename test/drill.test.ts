import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chinaDate } from '../core/china-time.js';
import { runDrill, type DrillOutcome } from '../alerting/drill-run.js';
import { summaryLine } from '../alerting/drill-report.js';
import { pickScenarios } from '../alerting/drill-scenarios.js';

/**
 * `npm run drill`, short: the real stack in separate processes (its own
 * redis-server on a private port, a PGlite master, two edges — dist/main.js
 * as operators run it), the SMS gateway simulator as the on-call phone, and
 * the two fast scenarios (login flood, mass transcode). What the report says
 * is asserted, not how fast: times vary with the machine's load.
 */
const dir = mkdtempSync(join(tmpdir(), 'hc-drill-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('emergency drill (short)', () => {
  let out: DrillOutcome;

  it('runs login-flood and mass-transcode against a live stack; both alerts reach the gateway; the service keeps answering', async () => {
    out = await runDrill({
      dir: join(dir, 'stack'),
      reportsDir: join(dir, 'reports'),
      scenarios: pickScenarios('login-flood,mass-transcode'),
      edges: 2,
      demoPeople: 200,
      log: () => undefined,
    });
    const r = out.report;
    expect(r.scenarios.map((s) => [s.id, s.passed, s.failures])).toEqual([['login-flood', true, []], ['mass-transcode', true, []]]);
    for (const s of r.scenarios) {
      expect(s.detectSec).not.toBeNull();
      expect(s.recoverSec).not.toBeNull();
      expect(s.probes.display.total).toBeGreaterThan(0);
      expect(s.probes.display.ok).toBe(s.probes.display.total);
      expect(s.probes.scan.ok).toBe(s.probes.scan.total);
    }
    expect(r.scenarios[0]!.alerts[0]!.smsText).toContain('后台登录失败');
    expect(r.scenarios[1]!.alerts[0]!.smsText).toContain('人工转码或批量变更');
    expect(summaryLine(r)).toMatch(/^drill: 2\/2 scenarios passed, detect p50 \d+\.\ds max \d+\.\ds, recover max \d+\.\ds$/);
  }, 600_000);

  it('writes the report as Markdown and PDF: Chinese, China time, timeline, SMS received, no phone numbers', () => {
    const md = readFileSync(out.written.markdown, 'utf8');
    expect(md.startsWith('# 安全应急演练报告\n')).toBe(true);
    expect(md).toContain('- 结果：2/2 个场景通过');
    expect(md).toMatch(/\| 后台登录洪泛 \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| 1\/1 条收到 \| \d+\.\d 秒 \| \d+\.\d 秒 \| 亮码 (\d+)\/\1 成功，扫码 (\d+)\/\2 成功 \| 通过 \|/);
    expect(md).toMatch(/\| 大批量人工转码 \| .* \| 通过 \|/);
    expect(md).toContain('同一账号人工转码 55 人为红码，应答：HTTP 200 × 55');
    expect(md).toContain('从 60 个地址尝试登录后台 60 次，应答：HTTP 401 × 60');
    expect(md).toContain('【健康码告警】[严重]严重事件 新增');
    expect(md).toContain('无：每个场景的告警均按期到达');
    // every timestamp is China time, today in China (or the day the drill began there)
    expect(md).toContain(`| ${chinaDate(out.report.startedMs)} `);
    expect(md).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:/);
    // the on-call phone and the probe person's phone never appear
    expect(md).not.toMatch(/1[3-9]\d{9}/);
    expect(out.written.pdf).not.toBeNull();
    expect(existsSync(out.written.pdf!)).toBe(true);
    expect(readFileSync(out.written.pdf!).subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });

  it('a stack that does not come up is still a report: every scenario failed, saying why and where the log is', async () => {
    // HC_DEMO_PEOPLE=-1 is refused by the master's configuration (exit 2): a start failure the drill did not cause itself
    const broken = await runDrill({
      dir: join(dir, 'broken'),
      reportsDir: join(dir, 'reports-broken'),
      scenarios: pickScenarios('login-flood'),
      demoPeople: -1,
      log: () => undefined,
    });
    expect(broken.report.scenarios).toHaveLength(1);
    const s = broken.report.scenarios[0]!;
    expect(s.passed).toBe(false);
    expect(s.failures[0]).toMatch(/^被演练系统未能启动，场景未执行：master: exited with 2 before it was ready \(log: .*master\.log\)$/);
    const md = readFileSync(broken.written.markdown, 'utf8');
    expect(md).toContain('- 结果：0/1 个场景通过');
    expect(md).toContain('- 后台登录洪泛：被演练系统未能启动');
    expect(summaryLine(broken.report)).toBe('drill: 0/1 scenarios passed, detect p50 n/a max n/a, recover max n/a');
  }, 300_000);
});
