import { existsSync } from 'node:fs';
import ExcelJS from 'exceljs';
import PDFDocument from 'pdfkit';
import { chinaTime } from '../core/china-time.js';
import { maskIdNo, maskName, maskPhone } from '../core/identity.js';
import { regionName } from '../core/regions.js';
import type { PiiCrypto } from '../master/pii-crypto.js';
import type { SqlClient } from '../master/sql-client.js';
import { ExchangeError } from './errors.js';
import {
  CERT_TYPE_ZH, CODE_SOURCE_ZH, COLOR_ZH, FACT_KIND_ZH, MISMATCH_KIND_HINT, MISMATCH_KIND_ZH, reasonZh, TASK_STATUS_ZH,
} from './verify-labels.js';
import { describeSchedule } from './verify-schedule.js';
import { MISMATCH_KINDS, type MismatchKind, type VerifyTask } from './verify-tasks.js';

/**
 * Reports of the assignment verification: per task (problems first, then
 * what was compared and the counts, mismatches by certificate type, then
 * the mismatching persons) and statistics over time by rule; as JSON for
 * the console and as XLSX and PDF downloads, all in Chinese, China time,
 * regions by name.
 *
 * Identities are decrypted from persons only here, for the reader, and
 * masked for roles that see masked data (admin-api/roles.ts seesMasked) —
 * the caller decides `masked`. The PDF embeds WenQuanYi Micro Hei (Debian
 * fonts-wqy-microhei, as the venue poster and the log audit report do);
 * without a CJK font a PDF would print boxes, so a missing font is an error,
 * not a silent fallback.
 */
export const REPORT_FONT = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';
/** mismatching persons listed in a PDF (the XLSX has all of them) */
const PDF_ROWS = 300;

export interface ReportRow {
  personId: number;
  kind: MismatchKind;
  kindZh: string;
  idType: string;
  idNo: string;
  name: string;
  phone: string;
  region: string;
  expected: string;
  assigned: string;
  distributed: string;
  reason: string;
  fact: string;
  factAt: string;
  detail: string;
}

export interface TaskReport {
  generatedAt: string;
  masked: boolean;
  task: {
    id: string; ruleName: string; dataset: string; codeSource: string; checkDistribution: boolean; period: string; region: string;
    status: string; throughSeq: number; startedAt: string; finishedAt: string; rerunOf: string | null;
    /** rule-set version in force the expectations were read from */
    ruleVersion: string; checkEdges: boolean; edges: string; edgePending: number; schedule: string; scheduled: boolean;
  };
  problems: { kind: MismatchKind; zh: string; hint: string; count: number }[];
  counts: VerifyTask['counts'];
  byKind: Record<MismatchKind, number>;
  byCertType: { certType: string; counts: Record<MismatchKind, number>; total: number }[];
  rowsTotal: number;
  rows: ReportRow[];
}

interface MismatchDbRow {
  person_id: string | number; kind: MismatchKind; expected: string | null; assigned: string | null; distributed: string | null;
  reason: string | null; fact_kind: string | null; fact_at: Date | null; detail: string; uid: Buffer; cert_type: string | null;
  cert_enc: Buffer | null; phone_enc: Buffer | null; name_enc: Buffer | null; name_masked: string; region: string | null;
}

const KIND_ORDER = `CASE m.kind WHEN 'expected_not_assigned' THEN 0 WHEN 'assigned_without_basis' THEN 1 WHEN 'assigned_not_distributed' THEN 2 ELSE 3 END`;

function zeroKinds(): Record<MismatchKind, number> {
  return { expected_not_assigned: 0, assigned_without_basis: 0, assigned_not_distributed: 0, edge_not_applied: 0 };
}

function periodText(from: number, to: number): string {
  return `${chinaTime(from * 1000)} 至 ${chinaTime(to * 1000)}`;
}

/** The mismatching persons of a task (optionally one kind), identities masked or not, problems in the order of the report. */
export async function mismatchRows(
  db: SqlClient, crypto: PiiCrypto, taskId: string, opts: { kind?: MismatchKind; offset: number; limit: number; masked: boolean },
): Promise<{ total: number; rows: ReportRow[] }> {
  const n = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM exchange_verify_mismatches m WHERE m.task_id = $1 AND ($2::text IS NULL OR m.kind = $2)', [taskId, opts.kind ?? null],
  );
  const r = await db.query<MismatchDbRow>(
    `SELECT m.person_id, m.kind, m.expected, m.assigned, m.distributed, m.reason, m.fact_kind, m.fact_at, m.detail,
            p.uid, p.cert_type, p.cert_enc, p.phone_enc, p.name_enc, p.name_masked, p.region
       FROM exchange_verify_mismatches m JOIN persons p ON p.id = m.person_id
      WHERE m.task_id = $1 AND ($2::text IS NULL OR m.kind = $2)
      ORDER BY ${KIND_ORDER}, m.person_id LIMIT $3 OFFSET $4`,
    [taskId, opts.kind ?? null, opts.limit, opts.offset],
  );
  const rows = r.rows.map((x): ReportRow => {
    const uid = Buffer.from(x.uid);
    const cert = x.cert_enc === null ? '' : crypto.decrypt('cert', uid, Buffer.from(x.cert_enc));
    const phone = x.phone_enc === null ? '' : crypto.decrypt('phone', uid, Buffer.from(x.phone_enc));
    const name = x.name_enc === null ? null : crypto.decrypt('name', uid, Buffer.from(x.name_enc));
    return {
      personId: Number(x.person_id), kind: x.kind, kindZh: MISMATCH_KIND_ZH[x.kind] ?? '',
      idType: CERT_TYPE_ZH[x.cert_type ?? ''] ?? '', idNo: cert === '' ? '' : opts.masked ? maskIdNo(cert) : cert,
      name: name === null || opts.masked ? (name === null ? x.name_masked : maskName(name)) : name,
      phone: phone === '' ? '' : opts.masked ? maskPhone(phone) : phone,
      region: x.region === null ? '' : regionName(x.region),
      expected: x.expected === null ? '' : COLOR_ZH[x.expected] ?? '', assigned: x.assigned === null ? '无' : COLOR_ZH[x.assigned] ?? '',
      distributed: x.distributed === null ? '' : COLOR_ZH[x.distributed] ?? '', reason: x.reason === null ? '' : reasonZh(x.reason),
      fact: x.fact_kind === null ? '' : FACT_KIND_ZH[x.fact_kind] ?? '', factAt: x.fact_at === null ? '' : chinaTime(new Date(x.fact_at).getTime()),
      detail: x.detail,
    };
  });
  return { total: n.rows[0]!.n, rows };
}

export async function taskReport(
  db: SqlClient, crypto: PiiCrypto, t: VerifyTask, opts: { masked: boolean; rowLimit: number; nowMs: number },
): Promise<TaskReport> {
  const k = await db.query<{ kind: MismatchKind; cert_type: string | null; n: number }>(
    `SELECT m.kind, p.cert_type, count(*)::int AS n FROM exchange_verify_mismatches m JOIN persons p ON p.id = m.person_id
      WHERE m.task_id = $1 GROUP BY 1, 2`, [t.id],
  );
  const byKind = zeroKinds();
  const byCert = new Map<string, Record<MismatchKind, number>>();
  for (const x of k.rows) {
    byKind[x.kind] += x.n;
    const key = CERT_TYPE_ZH[x.cert_type ?? ''] ?? '';
    const c = byCert.get(key) ?? zeroKinds();
    c[x.kind] += x.n;
    byCert.set(key, c);
  }
  const problems = MISMATCH_KINDS.filter((kind) => byKind[kind] > 0)
    .map((kind) => ({ kind, zh: MISMATCH_KIND_ZH[kind]!, hint: MISMATCH_KIND_HINT[kind]!, count: byKind[kind] }))
    .sort((a, b) => b.count - a.count);
  const list = await mismatchRows(db, crypto, t.id, { offset: 0, limit: opts.rowLimit, masked: opts.masked });
  return {
    generatedAt: chinaTime(opts.nowMs, true),
    masked: opts.masked,
    task: {
      id: t.id, ruleName: t.ruleName, dataset: t.dataset, codeSource: CODE_SOURCE_ZH[t.rule.codeSource] ?? '', checkDistribution: t.rule.checkDistribution,
      period: periodText(t.periodFrom, t.periodTo), region: t.region === '' ? '全省' : regionName(t.region), status: TASK_STATUS_ZH[t.status] ?? '',
      throughSeq: t.throughSeq, startedAt: t.startedAt === null ? '' : chinaTime(t.startedAt * 1000), finishedAt: t.finishedAt === null ? '' : chinaTime(t.finishedAt * 1000),
      rerunOf: t.rerunOf,
      ruleVersion: t.ruleVersion ?? '', checkEdges: t.rule.checkEdges === true,
      edges: (t.edges ?? []).map((e) => `${e.name}（开始时已应用至序号 ${e.appliedSeq}）`).join('、'), edgePending: t.edgePending,
      schedule: describeSchedule(t.rule.schedule ?? null), scheduled: t.scheduledFor !== null,
    },
    problems,
    counts: t.counts,
    byKind,
    byCertType: [...byCert].map(([certType, counts]) => ({ certType, counts, total: MISMATCH_KINDS.reduce((s, x) => s + counts[x], 0) })).sort((a, b) => b.total - a.total),
    rowsTotal: list.total,
    rows: list.rows,
  };
}

// ---------------------------------------------------------------------------
// Statistics over time, by rule
// ---------------------------------------------------------------------------

export interface StatsDay {
  ruleId: string; ruleName: string; day: string; tasks: number; checked: number; mismatches: number; byKind: Record<MismatchKind, number>;
}

export interface VerifyStats {
  generatedAt: string;
  days: StatsDay[];
}

/** Finished tasks per rule and China day (of the finish): persons checked, mismatches and mismatches by kind. */
export async function verifyStats(db: SqlClient, opts: { scope: string; ruleId?: string; sinceMs: number; nowMs: number }): Promise<VerifyStats> {
  const base = `FROM exchange_verify_tasks t WHERE t.status = 'done' AND t.finished_at >= $1 AND ($2::text IS NULL OR t.rule_id = $2)
    AND ($3 = '' OR t.region LIKE $3 || '%')`;
  const args = [new Date(opts.sinceMs), opts.ruleId ?? null, opts.scope];
  const day = "to_char(t.finished_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')";
  const totals = await db.query<{ rule_id: string; name: string; day: string; tasks: number; checked: number; mismatches: number }>(
    `SELECT t.rule_id, max(t.rule->>'name') AS name, ${day} AS day, count(*)::int AS tasks, sum(t.checked)::int AS checked, sum(t.mismatches)::int AS mismatches
       ${base} GROUP BY 1, 3 ORDER BY 1, 3`, args,
  );
  const kinds = await db.query<{ rule_id: string; day: string; kind: MismatchKind; n: number }>(
    `SELECT t.rule_id, ${day} AS day, m.kind, count(*)::int AS n
       ${base.replace('FROM exchange_verify_tasks t', 'FROM exchange_verify_tasks t JOIN exchange_verify_mismatches m ON m.task_id = t.id')} GROUP BY 1, 2, 3`, args,
  );
  return {
    generatedAt: chinaTime(opts.nowMs, true),
    days: totals.rows.map((x) => {
      const byKind = zeroKinds();
      for (const k of kinds.rows) if (k.rule_id === x.rule_id && k.day === x.day) byKind[k.kind] = k.n;
      return { ruleId: x.rule_id, ruleName: x.name, day: x.day, tasks: x.tasks, checked: x.checked, mismatches: x.mismatches, byKind };
    }),
  };
}

// ---------------------------------------------------------------------------
// XLSX
// ---------------------------------------------------------------------------

function bold(ws: ExcelJS.Worksheet): void {
  ws.getRow(1).font = { bold: true };
}

export async function taskReportXlsx(r: TaskReport): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const p = wb.addWorksheet('问题摘要');
  p.columns = [{ header: '问题', key: 'zh', width: 28 }, { header: '人数', key: 'count', width: 10 }, { header: '说明', key: 'hint', width: 60 }];
  if (r.problems.length === 0) p.addRow({ zh: '未发现不一致', count: 0, hint: '' });
  r.problems.forEach((x) => p.addRow(x));
  const o = wb.addWorksheet('核查概况');
  o.columns = [{ header: '项目', key: 'k', width: 24 }, { header: '内容', key: 'v', width: 60 }];
  const c = r.counts;
  ([
    ['核查规则', r.task.ruleName], ['数据集', r.task.dataset], ['赋码规则版本（现行）', r.task.ruleVersion],
    ['比对对象', `${r.task.codeSource}${r.task.checkDistribution ? '、下发数据' : ''}${r.task.checkEdges ? '、边缘节点实际数据' : ''}`],
    ['边缘节点副本', r.task.edges], ['节点尚未应用的变更（人）', String(r.task.edgePending)], ['执行方式', r.task.scheduled ? `定时执行（${r.task.schedule}）` : '手动执行'],
    ['核查时段（北京时间）', r.task.period], ['范围', r.task.region], ['任务状态', r.task.status], ['下发序号截至', String(r.task.throughSeq)],
    ['开始时间', r.task.startedAt], ['结束时间', r.task.finishedAt], ['核查人数', String(c.checked)], ['比对事实条数', String(c.facts)],
    ['应赋码人数', String(c.expected)], ['已赋码人数（本数据集原因）', String(c.assigned)], ['一致人数', String(c.consistent)], ['不一致条数', String(c.mismatches)],
    ['生成时间（北京时间）', r.generatedAt], ['身份信息', r.masked ? '已脱敏' : '未脱敏（按账号权限）'],
  ] as const).forEach(([k, v]) => o.addRow({ k, v }));
  const t = wb.addWorksheet('按证件类型');
  t.columns = [
    { header: '证件类型', key: 'certType', width: 26 }, ...MISMATCH_KINDS.map((k) => ({ header: MISMATCH_KIND_ZH[k]!, key: k, width: 22 })),
    { header: '合计', key: 'total', width: 10 },
  ];
  r.byCertType.forEach((x) => t.addRow({ certType: x.certType, ...x.counts, total: x.total }));
  const d = wb.addWorksheet('不一致明细');
  d.columns = [
    { header: '问题类型', key: 'kindZh', width: 22 }, { header: '证件类型', key: 'idType', width: 20 }, { header: '证件号码', key: 'idNo', width: 22 },
    { header: '姓名', key: 'name', width: 12 }, { header: '手机号', key: 'phone', width: 14 }, { header: '所在地区', key: 'region', width: 20 },
    { header: '应赋码', key: 'expected', width: 10 }, { header: '已赋码', key: 'assigned', width: 10 }, { header: '已下发/节点实际', key: 'distributed', width: 14 },
    { header: '赋码原因', key: 'reason', width: 16 }, { header: '依据事实', key: 'fact', width: 14 }, { header: '事实时间', key: 'factAt', width: 18 },
    { header: '说明', key: 'detail', width: 30 },
  ];
  r.rows.forEach((x) => d.addRow(x));
  for (const ws of [p, o, t, d]) bold(ws);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

export async function statsXlsx(s: VerifyStats): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('核查统计');
  ws.columns = [
    { header: '核查规则', key: 'ruleName', width: 24 }, { header: '日期（北京时间）', key: 'day', width: 16 }, { header: '任务数', key: 'tasks', width: 10 },
    { header: '核查人数', key: 'checked', width: 12 }, { header: '不一致条数', key: 'mismatches', width: 12 },
    ...MISMATCH_KINDS.map((k) => ({ header: MISMATCH_KIND_ZH[k]!, key: k, width: 22 })),
  ];
  s.days.forEach((x) => ws.addRow({ ...x, ...x.byKind }));
  bold(ws);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

// ---------------------------------------------------------------------------
// PDF
// ---------------------------------------------------------------------------

function pdf(fontPath: string, draw: (doc: PDFKit.PDFDocument) => void): Promise<Buffer> {
  if (!existsSync(fontPath)) throw new ExchangeError('EXC_ERR_CONFIG', `report font ${fontPath} not found (install fonts-wqy-microhei)`);
  return new Promise((res, rej) => {
    const doc = new PDFDocument({ size: 'A4', margin: 40, info: { Title: '赋码数据核查', Producer: 'health-code exchange' } });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => res(Buffer.concat(chunks)));
    doc.on('error', rej);
    if (fontPath.endsWith('.ttc')) doc.registerFont('cjk', fontPath, 'WenQuanYiMicroHei');
    else doc.registerFont('cjk', fontPath);
    doc.font('cjk');
    try {
      draw(doc);
    } catch (err) {
      rej(err as Error);
    }
    doc.end();
  });
}

export function taskReportPdf(r: TaskReport, fontPath = REPORT_FONT): Promise<Buffer> {
  return pdf(fontPath, (doc) => {
    doc.fontSize(18).text('赋码数据核查报告');
    doc.fontSize(9).fillColor('#4b5563').text(`规则：${r.task.ruleName}　任务：${r.task.id}　生成时间：${r.generatedAt}（北京时间）${r.masked ? '　身份信息已脱敏' : ''}`);
    doc.moveDown(0.6).fillColor('#111827').fontSize(13).text('一、发现的问题');
    doc.fontSize(10);
    if (r.problems.length === 0) doc.fillColor('#15803d').text('未发现不一致。');
    for (const x of r.problems) {
      doc.fillColor('#b91c1c').text(`■ ${x.zh}：${x.count} 人`, { continued: true }).fillColor('#374151').text(`　${x.hint}`);
    }
    doc.fillColor('#111827').moveDown(0.6).fontSize(13).text('二、核查内容与结果').fontSize(10);
    const c = r.counts;
    doc.text(`数据集：${r.task.dataset}；赋码规则版本（现行）：${r.task.ruleVersion}；比对对象：${r.task.codeSource}${r.task.checkDistribution ? `、下发数据（下发序号截至 ${r.task.throughSeq}）` : ''}${r.task.checkEdges ? `、边缘节点实际数据（${r.task.edges}；尚未应用 ${r.task.edgePending} 人）` : ''}`);
    doc.text(`核查时段：${r.task.period}（北京时间）；范围：${r.task.region}；状态：${r.task.status}`);
    doc.text(`核查 ${c.checked} 人，比对事实 ${c.facts} 条，应赋码 ${c.expected} 人，本数据集原因已赋码 ${c.assigned} 人，一致 ${c.consistent} 人，不一致 ${c.mismatches} 条。`);
    doc.moveDown(0.6).fontSize(13).text('三、按证件类型统计').fontSize(10);
    if (r.byCertType.length === 0) doc.text('无');
    for (const x of r.byCertType) doc.text(`${x.certType}：${MISMATCH_KINDS.map((k) => `${MISMATCH_KIND_ZH[k]} ${x.counts[k]}`).join('，')}；合计 ${x.total}`);
    doc.moveDown(0.6).fontSize(13).text(`四、不一致明细${r.rowsTotal > Math.min(r.rows.length, PDF_ROWS) ? `（前 ${Math.min(r.rows.length, PDF_ROWS)} 条，共 ${r.rowsTotal} 条，完整明细见 XLSX）` : ''}`).fontSize(8.5);
    if (r.rows.length === 0) doc.fontSize(10).text('无');
    for (const x of r.rows.slice(0, PDF_ROWS)) {
      const colors = [x.expected && `应${x.expected}`, `已赋${x.assigned}`, x.distributed && `${x.kind === 'edge_not_applied' ? '节点实际' : '已下发'}${x.distributed}`].filter(Boolean).join('，');
      const fact = x.fact === '' ? '' : `；依据：${x.fact} ${x.factAt}`;
      doc.text(`【${x.kindZh}】${x.idType} ${x.idNo} ${x.name} ${x.phone} ${x.region}；${colors}${x.reason === '' ? '' : `（${x.reason}）`}${fact}；${x.detail}`);
    }
  });
}

export function statsPdf(s: VerifyStats, fontPath = REPORT_FONT): Promise<Buffer> {
  return pdf(fontPath, (doc) => {
    doc.fontSize(18).text('赋码数据核查统计');
    doc.fontSize(9).fillColor('#4b5563').text(`生成时间：${s.generatedAt}（北京时间）`).fillColor('#111827').moveDown(0.6);
    if (s.days.length === 0) doc.fontSize(10).text('统计期内没有已完成的核查任务。');
    const rules = [...new Set(s.days.map((d) => d.ruleId))];
    const max = Math.max(1, ...s.days.map((d) => d.mismatches));
    for (const id of rules) {
      const days = s.days.filter((d) => d.ruleId === id);
      doc.fontSize(13).text(days[0]!.ruleName).fontSize(9);
      for (const d of days) {
        const y = doc.y;
        doc.text(d.day, 40, y, { width: 70 });
        doc.rect(112, y + 2, Math.max(1, (d.mismatches / max) * 200), 7).fill(d.mismatches > 0 ? '#dc2626' : '#16a34a').fillColor('#111827');
        doc.text(`任务 ${d.tasks}，核查 ${d.checked} 人，不一致 ${d.mismatches}（${MISMATCH_KINDS.map((k) => `${MISMATCH_KIND_ZH[k]} ${d.byKind[k]}`).join('，')}）`, 320, y, { width: 235 });
        doc.moveDown(0.3);
      }
      doc.x = 40;
      doc.moveDown(0.5);
    }
  });
}
