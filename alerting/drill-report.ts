import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import PDFDocument from 'pdfkit';
import { chinaTime } from '../core/china-time.js';

/**
 * The drill report (演练报告): what an emergency drill must leave behind for
 * the security officer and the auditor — when each fault was injected,
 * which alerts reached the on-call phone and how fast, whether citizens
 * kept getting answers, how long recovery took, and what failed. Markdown
 * for the repository / wiki, PDF (with the CJK font embedded, as the
 * venue poster and the log-audit report do) for the file.
 *
 * Pure: takes the runner's observations, writes files; every time in China
 * time. SMS texts are as the gateway received them (alert texts are
 * scrubbed of ID numbers and mobiles by the engine); phones never appear.
 */
export interface TimelineEntry {
  readonly atMs: number;
  /** scenario id, null for the drill itself */
  readonly scenario: string | null;
  /** Chinese */
  readonly event: string;
}

export interface ProbeTally {
  ok: number;
  total: number;
}

export interface ProbeCounts {
  readonly display: ProbeTally;
  readonly scan: ProbeTally;
  /** the first few failures, Chinese */
  readonly failures: string[];
}

export interface AlertObservation {
  readonly ruleId: string;
  readonly ruleName: string;
  readonly kind: string | null;
  readonly firedMs: number | null;
  readonly smsAtMs: number | null;
  readonly smsText: string | null;
  readonly resolvedMs: number | null;
  /** the "[已恢复]" SMS at the gateway, for alerts that resolved */
  readonly resolveSmsAtMs: number | null;
}

export interface ScenarioResult {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly injectedMs: number;
  readonly restoreStartMs: number | null;
  readonly recoveredMs: number | null;
  readonly alerts: readonly AlertObservation[];
  /** fault → the last expected alert's SMS at the gateway (null: not every expected alert came) */
  readonly detectSec: number | null;
  /** restore started → every recovery check passed (null: did not recover in time) */
  readonly recoverSec: number | null;
  readonly probes: ProbeCounts;
  readonly passed: boolean;
  /** Chinese, one per failed check */
  readonly failures: readonly string[];
}

export interface DrillSms {
  readonly atMs: number;
  readonly text: string;
}

export interface DrillReport {
  readonly startedMs: number;
  readonly finishedMs: number;
  /** Chinese, one line: what was drilled (processes, data) */
  readonly stack: string;
  readonly scenarios: readonly ScenarioResult[];
  readonly timeline: readonly TimelineEntry[];
  readonly sms: readonly DrillSms[];
}

export interface DrillSummary {
  readonly passed: number;
  readonly total: number;
  readonly detectP50Sec: number | null;
  readonly detectMaxSec: number | null;
  readonly recoverMaxSec: number | null;
}

function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function summarise(r: DrillReport): DrillSummary {
  const detect = r.scenarios.map((s) => s.detectSec).filter((x): x is number => x !== null);
  const recover = r.scenarios.map((s) => s.recoverSec).filter((x): x is number => x !== null);
  return {
    passed: r.scenarios.filter((s) => s.passed).length,
    total: r.scenarios.length,
    detectP50Sec: percentile(detect, 50),
    detectMaxSec: detect.length === 0 ? null : Math.max(...detect),
    recoverMaxSec: recover.length === 0 ? null : Math.max(...recover),
  };
}

const sec = (x: number | null): string => (x === null ? '—' : `${x.toFixed(1)} 秒`);
const secEn = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(1)}s`);

/** The last line `npm run drill` prints. */
export function summaryLine(r: DrillReport): string {
  const s = summarise(r);
  return `drill: ${s.passed}/${s.total} scenarios passed, detect p50 ${secEn(s.detectP50Sec)} max ${secEn(s.detectMaxSec)}, recover max ${secEn(s.recoverMaxSec)}`;
}

const t = (ms: number | null): string => (ms === null ? '—' : chinaTime(ms, true));
const cell = (s: string): string => s.replace(/\|/g, '｜').replace(/\n/g, ' ');

function probeText(p: ProbeCounts): string {
  return `亮码 ${p.display.ok}/${p.display.total} 成功，扫码 ${p.scan.ok}/${p.scan.total} 成功`;
}

export function reportMarkdown(r: DrillReport): string {
  const s = summarise(r);
  const L: string[] = [];
  L.push('# 安全应急演练报告', '');
  L.push(`- 演练时间：${t(r.startedMs)} 至 ${t(r.finishedMs)}（北京时间）`);
  L.push(`- 演练对象：${r.stack}`);
  L.push(`- 结果：${s.passed}/${s.total} 个场景通过；发现告警用时中位数 ${sec(s.detectP50Sec)}、最长 ${sec(s.detectMaxSec)}；恢复用时最长 ${sec(s.recoverMaxSec)}`);
  L.push('');
  L.push('## 场景一览', '');
  L.push('| 场景 | 注入故障 | 告警短信 | 发现用时 | 恢复用时 | 服务可用性 | 结论 |');
  L.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const x of r.scenarios) {
    const got = x.alerts.filter((a) => a.smsAtMs !== null).length;
    L.push(`| ${cell(x.name)} | ${t(x.injectedMs)} | ${got}/${x.alerts.length} 条收到 | ${sec(x.detectSec)} | ${sec(x.recoverSec)} | ${probeText(x.probes)} | ${x.passed ? '通过' : '未通过'} |`);
  }
  L.push('');
  for (const x of r.scenarios) {
    L.push(`## ${x.name}（${x.id}）`, '');
    L.push(x.description, '');
    L.push(`- 注入故障：${t(x.injectedMs)}`);
    L.push(`- 开始恢复：${t(x.restoreStartMs)}`);
    L.push(`- 恢复完成：${t(x.recoveredMs)}（用时 ${sec(x.recoverSec)}）`);
    L.push(`- 服务可用性：${probeText(x.probes)}`);
    L.push('');
    L.push('| 期望告警 | 告警触发 | 短信到达网关 | 告警恢复 | 恢复短信 |');
    L.push('| --- | --- | --- | --- | --- |');
    for (const a of x.alerts) {
      L.push(`| ${cell(a.ruleName)}${a.kind === null ? '' : `（${cell(a.kind)}）`} | ${t(a.firedMs)} | ${t(a.smsAtMs)} | ${t(a.resolvedMs)} | ${t(a.resolveSmsAtMs)} |`);
    }
    L.push('');
    for (const a of x.alerts) if (a.smsText !== null) L.push(`> 短信：${cell(a.smsText)}`, '');
    if (x.failures.length > 0) {
      L.push('未通过的检查：', '');
      for (const f of x.failures) L.push(`- ${f}`);
      L.push('');
    }
    if (x.probes.failures.length > 0) {
      L.push('失败的探测（最多前 5 条）：', '');
      for (const f of x.probes.failures.slice(0, 5)) L.push(`- ${cell(f)}`);
      L.push('');
    }
  }
  L.push('## 时间线（北京时间）', '');
  L.push('| 时间 | 场景 | 事件 |');
  L.push('| --- | --- | --- |');
  for (const e of r.timeline) L.push(`| ${t(e.atMs)} | ${e.scenario ?? '演练'} | ${cell(e.event)} |`);
  L.push('');
  L.push('## 收到的告警短信（短信网关）', '');
  if (r.sms.length === 0) L.push('（无）');
  for (const m of r.sms) L.push(`- ${t(m.atMs)}　${cell(m.text)}`);
  L.push('');
  const failed = r.scenarios.filter((x) => !x.passed);
  L.push('## 发现的问题', '');
  if (failed.length === 0) L.push('无：每个场景的告警均按期到达，服务持续应答，并在时限内恢复。');
  for (const x of failed) for (const f of x.failures) L.push(`- ${x.name}：${f}`);
  L.push('');
  return L.join('\n');
}

/** WenQuanYi Micro Hei (Debian fonts-wqy-microhei), as admin-api/venue-poster.ts and logaudit/report.ts; DRILL_PDF_FONT overrides. */
export const DRILL_PDF_FONT = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';

export function reportPdf(r: DrillReport, fontPath = DRILL_PDF_FONT): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 48, info: { Title: '安全应急演练报告', Author: 'healthcode drill' } });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    if (fontPath.endsWith('.ttc')) doc.registerFont('cjk', fontPath, 'WenQuanYiMicroHei');
    else doc.registerFont('cjk', fontPath);
    doc.font('cjk');
    const s = summarise(r);
    doc.fontSize(20).text('安全应急演练报告');
    doc.moveDown(0.5).fontSize(10);
    doc.text(`演练时间：${t(r.startedMs)} 至 ${t(r.finishedMs)}（北京时间）`);
    doc.text(`演练对象：${r.stack}`);
    doc.text(`结果：${s.passed}/${s.total} 个场景通过；发现告警用时中位数 ${sec(s.detectP50Sec)}、最长 ${sec(s.detectMaxSec)}；恢复用时最长 ${sec(s.recoverMaxSec)}`);
    for (const x of r.scenarios) {
      doc.moveDown().fontSize(14).fillColor(x.passed ? '#166534' : '#b91c1c').text(`${x.name}（${x.id}）：${x.passed ? '通过' : '未通过'}`);
      doc.fillColor('#111827').fontSize(10).text(x.description);
      doc.text(`注入故障 ${t(x.injectedMs)}；开始恢复 ${t(x.restoreStartMs)}；恢复完成 ${t(x.recoveredMs)}`);
      doc.text(`发现用时 ${sec(x.detectSec)}；恢复用时 ${sec(x.recoverSec)}；${probeText(x.probes)}`);
      for (const a of x.alerts) {
        doc.text(`期望告警「${a.ruleName}」${a.kind === null ? '' : `（${a.kind}）`}：触发 ${t(a.firedMs)}，短信到达 ${t(a.smsAtMs)}，恢复 ${t(a.resolvedMs)}，恢复短信 ${t(a.resolveSmsAtMs)}`);
        if (a.smsText !== null) doc.fillColor('#4b5563').text(`短信：${a.smsText}`).fillColor('#111827');
      }
      for (const f of x.failures) doc.fillColor('#b91c1c').text(`未通过：${f}`).fillColor('#111827');
    }
    doc.moveDown().fontSize(14).text('时间线（北京时间）');
    doc.fontSize(9);
    for (const e of r.timeline) doc.text(`${t(e.atMs)}　[${e.scenario ?? '演练'}]　${e.event}`);
    doc.moveDown().fontSize(14).text('收到的告警短信');
    doc.fontSize(9);
    if (r.sms.length === 0) doc.text('（无）');
    for (const m of r.sms) doc.text(`${t(m.atMs)}　${m.text}`);
    doc.end();
  });
}

export interface WrittenReport {
  readonly markdown: string;
  /** null when the CJK font is missing (then `pdfSkipped` says why) */
  readonly pdf: string | null;
  readonly pdfSkipped: string | null;
}

/** Writes drill-<China time>.md and .pdf into `dir`; returns the paths. */
export async function writeDrillReport(r: DrillReport, dir: string, fontPath = DRILL_PDF_FONT): Promise<WrittenReport> {
  mkdirSync(dir, { recursive: true });
  const stamp = chinaTime(r.startedMs, true).replace(/[-: ]/g, '').replace(/^(\d{8})/, '$1-');
  const base = join(dir, `drill-${stamp}`);
  const markdown = `${base}.md`;
  writeFileSync(markdown, reportMarkdown(r));
  if (!existsSync(fontPath)) return { markdown, pdf: null, pdfSkipped: `中文字体 ${fontPath} 不存在（安装 fonts-wqy-microhei 或设置 DRILL_PDF_FONT）：未生成 PDF` };
  const pdf = `${base}.pdf`;
  writeFileSync(pdf, await reportPdf(r, fontPath));
  return { markdown, pdf, pdfSkipped: null };
}
