import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rid, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { residentId } from './test-helpers.common.js';

/**
 * The verification API over HTTP with the capability's own runner: rules,
 * tasks, report (problems first), drill-down, statistics, exports as XLSX
 * (parsed back) and PDF (embedded CJK font), masking by role, region scoping,
 * audit of exports, and every bad input with its code.
 */
let f: Fixture;
let ex: ExchangeInstance;
const B_ID = residentId(9102);
const B_PHONE = '13900009102';
const nowS = (): number => Math.floor(f.clock.ms / 1000);

async function rawPositive(pid: number, at: number): Promise<void> {
  await f.db.query("INSERT INTO facts (person_id, kind, at, source, result) VALUES ($1, 'nucleic_acid', to_timestamp($2), 'import:nat-result', 'positive')", [pid, at]);
}

async function fetchBytes(path: string, token: string): Promise<{ status: number; type: string; body: Buffer }> {
  const res = await fetch(f.base + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: Buffer.from(await res.arrayBuffer()) };
}

async function finished(id: string, token = f.tokens.operator): Promise<any> {
  await ex.verify.tasks.idle();
  const r = await f.call('GET', `/admin/v1/exchange/verify/tasks/${id}`, { token });
  expect(r.status).toBe(200);
  return r.body;
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability], startCapabilities: true });
  ex = f.instances.exchange as unknown as ExchangeInstance;
  const hourAgo = nowS() - 3600;
  const a = await f.codes.register({ idType: 'resident', idNo: residentId(9101), name: '周一', phone: '13900009101' });
  await f.codes.addFacts(a.personId, [{ kind: 'nucleic_acid', at: hourAgo, result: 'positive' }], 'import:nat-result');
  const b = await f.codes.register({ idType: 'resident', idNo: B_ID, name: '欧阳娜娜', phone: B_PHONE });
  await rawPositive(b.personId, hourAgo);
  const c = await f.codes.register({ idType: 'resident', idNo: rid('51050219900101789'), name: '吴三', phone: '13900009103' });
  await rawPositive(c.personId, hourAgo);
}, 60_000);

afterAll(async () => {
  await f?.close();
});

describe('rules and tasks over HTTP', () => {
  let ruleId: string;
  let taskId: string;

  it('creates a rule, runs a task in the background, and answers its state with the run log', async () => {
    const r = await f.call('POST', '/admin/v1/exchange/verify/rules', { token: f.tokens.operator, body: { name: '每日核酸阳性赋码核查', dataset: 'nat-result', windowDays: 1 } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: '每日核酸阳性赋码核查', dataset: 'nat-result', codeSource: 'current', checkDistribution: true, windowDays: 1 });
    ruleId = r.body.id;
    const t = await f.call('POST', `/admin/v1/exchange/verify/rules/${ruleId}/tasks`, { token: f.tokens.operator, body: {} });
    expect(t.status).toBe(202);
    taskId = t.body.id;
    const done = await finished(taskId);
    expect(done).toMatchObject({ status: 'done', progress: 1, counts: { checked: 3, expected: 3, consistent: 1, mismatches: 2 } });
    expect(done.log.map((l: any) => l.message).join('\n')).toMatch(/任务完成/);
    const list = await f.call('GET', `/admin/v1/exchange/verify/tasks?rule=${ruleId}`, { token: f.tokens.operator });
    expect(list.body.tasks.map((x: any) => x.id)).toEqual([taskId]);
    const audit = await f.audit.list({ limit: 50, order: 'desc' });
    expect(audit.some((e) => e.action === 'exchange.verify.task.start' && e.target === `verify-task:${taskId}`)).toBe(true);
  });

  it('reports the problems first, by certificate type, with drill-down; identities masked for the analyst only', async () => {
    const r = await f.call('GET', `/admin/v1/exchange/verify/tasks/${taskId}/report`, { token: f.tokens.operator });
    expect(r.status).toBe(200);
    expect(r.body.problems).toEqual([{ kind: 'expected_not_assigned', zh: '应赋码未赋码', hint: expect.stringMatching(/应赋红/), count: 2 }]);
    expect(r.body.byCertType).toEqual([{ certType: '居民身份证', counts: { expected_not_assigned: 2, assigned_without_basis: 0, assigned_not_distributed: 0, edge_not_applied: 0 }, total: 2 }]);
    expect(r.body.masked).toBe(false);
    const full = r.body.rows.find((x: any) => x.phone === B_PHONE);
    expect(full).toMatchObject({ idNo: B_ID, name: '欧阳娜娜', expected: '红码', assigned: '绿码', fact: '核酸检测阳性', region: expect.stringMatching(/成都/) });

    const m = await f.call('GET', `/admin/v1/exchange/verify/tasks/${taskId}/mismatches?kind=expected_not_assigned&limit=1&offset=1`, { token: f.tokens.analyst });
    expect(m.status).toBe(200);
    expect(m.body).toMatchObject({ total: 2, offset: 1, masked: true });
    expect(m.body.rows).toHaveLength(1);
    const a = await f.call('GET', `/admin/v1/exchange/verify/tasks/${taskId}/mismatches`, { token: f.tokens.analyst });
    const masked = a.body.rows.find((x: any) => x.phone === '139****9102');
    expect(masked).toMatchObject({ idNo: `${B_ID.slice(0, 4)}**********${B_ID.slice(14)}`, name: '欧**娜' });
    expect(a.text).not.toContain(B_ID);
    expect(a.text).not.toContain(B_PHONE);
  });

  it('exports the report as XLSX (parsed back) and PDF with the embedded CJK font; both audited', async () => {
    const x = await fetchBytes(`/admin/v1/exchange/verify/tasks/${taskId}/report.xlsx`, f.tokens.analyst);
    expect(x.status).toBe(200);
    expect(x.type).toMatch(/spreadsheetml/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(x.body as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['问题摘要', '核查概况', '按证件类型', '不一致明细']);
    const problems = wb.getWorksheet('问题摘要')!;
    expect(problems.getRow(2).values).toEqual([undefined, '应赋码未赋码', 2, expect.stringMatching(/应赋红/)]);
    const rows = wb.getWorksheet('不一致明细')!;
    expect(rows.rowCount).toBe(3);
    expect(rows.getRow(1).getCell(3).value).toBe('证件号码');
    const ids = [rows.getRow(2).getCell(3).value, rows.getRow(3).getCell(3).value].map(String);
    for (const id of ids) expect(id).toMatch(/^\d{4}\*{10}[\dX]{4}$/);

    const p = await fetchBytes(`/admin/v1/exchange/verify/tasks/${taskId}/report.pdf`, f.tokens.operator);
    expect(p.status).toBe(200);
    expect(p.type).toBe('application/pdf');
    expect(p.body.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const text = p.body.toString('latin1');
    expect(text).toMatch(/\/BaseFont \/[A-Z]{6}\+WenQuanYi/);
    expect(text).toMatch(/\/FontFile2/);
    expect(text).toMatch(/\/ToUnicode/); // text a viewer can search and copy

    const audit = await f.audit.list({ limit: 50, order: 'desc' });
    const exports = audit.filter((e) => e.action === 'exchange.verify.export' && e.target === `verify-task:${taskId}`);
    expect(exports.map((e) => (e.details as { what: string }).what).sort()).toEqual(['report.pdf', 'report.xlsx']);
  });

  it('statistics by rule over time, as JSON, XLSX and PDF', async () => {
    const again = await f.call('POST', `/admin/v1/exchange/verify/tasks/${taskId}/rerun`, { token: f.tokens.operator });
    expect(again.status).toBe(202);
    expect(again.body.rerunOf).toBe(taskId);
    await finished(again.body.id);
    const s = await f.call('GET', `/admin/v1/exchange/verify/stats?rule=${ruleId}&days=7`, { token: f.tokens.analyst });
    expect(s.status).toBe(200);
    expect(s.body.days).toEqual([{
      ruleId, ruleName: '每日核酸阳性赋码核查', day: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), tasks: 2, checked: 6, mismatches: 4,
      byKind: { expected_not_assigned: 4, assigned_without_basis: 0, assigned_not_distributed: 0, edge_not_applied: 0 },
    }]);
    const x = await fetchBytes(`/admin/v1/exchange/verify/stats.xlsx?rule=${ruleId}`, f.tokens.operator);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(x.body as unknown as ArrayBuffer);
    const ws = wb.getWorksheet('核查统计')!;
    expect(ws.getRow(2).getCell(1).value).toBe('每日核酸阳性赋码核查');
    expect(ws.getRow(2).getCell(4).value).toBe(6);
    const p = await fetchBytes('/admin/v1/exchange/verify/stats.pdf', f.tokens.operator);
    expect(p.body.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(p.body.toString('latin1')).toMatch(/\/BaseFont \/[A-Z]{6}\+WenQuanYi/);
    const audit = await f.audit.list({ limit: 50, order: 'desc' });
    expect(audit.filter((e) => e.action === 'exchange.verify.export' && String((e.details as { what: string }).what).startsWith('stats.')).length).toBe(2);
  });

  it("scopes a city officer to its region's rules, tasks and persons", async () => {
    const r = await f.call('POST', '/admin/v1/exchange/verify/rules', { token: f.tokens.city_officer_b, body: { name: '泸州核查', dataset: 'nat-result', windowDays: 1 } });
    expect(r.status).toBe(201);
    const t = await f.call('POST', `/admin/v1/exchange/verify/rules/${r.body.id}/tasks`, { token: f.tokens.city_officer_b });
    expect(t.status).toBe(202);
    expect((await finished(t.body.id, f.tokens.city_officer_b)).counts).toMatchObject({ checked: 1, mismatches: 1 });
    const rep = await f.call('GET', `/admin/v1/exchange/verify/tasks/${t.body.id}/report`, { token: f.tokens.city_officer_b });
    expect(rep.body.task.region).toBe('四川省泸州市');
    const rules = await f.call('GET', '/admin/v1/exchange/verify/rules', { token: f.tokens.city_officer_b });
    expect(rules.body.rules.map((x: any) => x.id)).toEqual([r.body.id]);
    const other = await f.call('GET', `/admin/v1/exchange/verify/tasks/${taskId}/report`, { token: f.tokens.city_officer_b });
    expect(other.status).toBe(404);
    expect(other.body.error).toBe('EXC_ERR_VERIFY_TASK_NOT_FOUND');
    const otherRule = await f.call('POST', `/admin/v1/exchange/verify/rules/${ruleId}/tasks`, { token: f.tokens.city_officer });
    expect(otherRule.status).toBe(404);
    expect(otherRule.body.error).toBe('EXC_ERR_VERIFY_RULE_NOT_FOUND');
  });
});

describe('bad input', () => {
  const post = (body: unknown, token = f.tokens.operator) => f.call('POST', '/admin/v1/exchange/verify/rules', { token, body });

  it('refuses bad rules with their codes', async () => {
    const cases: [unknown, number, string, string?][] = [
      [{ name: '未知', dataset: 'no-such', windowDays: 1 }, 400, 'EXC_ERR_DATASET_UNKNOWN', 'dataset'],
      [{ name: '疫苗', dataset: 'vaccination', windowDays: 1 }, 400, 'EXC_ERR_VERIFY_DATASET', 'dataset'],
      [{ name: '颠倒', dataset: 'nat-result', periodFrom: nowS() - 3600, periodTo: nowS() - 7200 }, 400, 'EXC_ERR_VERIFY_PERIOD', 'periodFrom'],
      [{ name: '未来', dataset: 'nat-result', periodFrom: nowS() + 3600, periodTo: nowS() + 7200 }, 400, 'EXC_ERR_VERIFY_PERIOD', 'periodFrom'],
      [{ name: '过长', dataset: 'nat-result', periodFrom: nowS() - 400 * 86_400, periodTo: nowS() }, 400, 'EXC_ERR_VERIFY_PERIOD', 'periodTo'],
      [{ name: '一端', dataset: 'nat-result', periodFrom: nowS() - 3600 }, 400, 'EXC_ERR_VERIFY_RULE_INVALID', 'periodTo'],
      [{ name: '', dataset: 'nat-result', windowDays: 1 }, 400, 'EXC_ERR_VERIFY_RULE_INVALID', 'name'],
      [{ name: '窗口', dataset: 'nat-result', windowDays: 0 }, 400, 'EXC_ERR_VERIFY_RULE_INVALID', 'windowDays'],
      [{ name: '来源', dataset: 'nat-result', codeSource: 'edge' }, 400, 'EXC_ERR_VERIFY_RULE_INVALID', 'codeSource'],
      [{ name: '有效期', dataset: 'nat-result', validFrom: nowS(), validUntil: nowS() - 1 }, 400, 'EXC_ERR_VERIFY_RULE_INVALID', 'validUntil'],
    ];
    for (const [body, status, code, field] of cases) {
      const r = await post(body);
      expect([JSON.stringify(body), r.status, r.body.error, r.body.field]).toEqual([JSON.stringify(body), status, code, field]);
    }
    expect((await post({ name: '分析员', dataset: 'nat-result' }, f.tokens.analyst)).status).toBe(403);
  });

  it('refuses a task from an expired rule, an inverted task period, unknown ids and wrong states', async () => {
    const r = await post({ name: '已过期', dataset: 'nat-result', windowDays: 1, validFrom: nowS() - 7200, validUntil: nowS() - 3600 });
    expect(r.status).toBe(201);
    const t = await f.call('POST', `/admin/v1/exchange/verify/rules/${r.body.id}/tasks`, { token: f.tokens.operator, body: {} });
    expect([t.status, t.body.error]).toEqual([409, 'EXC_ERR_VERIFY_RULE_EXPIRED']);
    expect(t.body.zh ?? t.body.message).toBeTruthy();

    const ok = await post({ name: '有效', dataset: 'nat-result', windowDays: 1 });
    const inv = await f.call('POST', `/admin/v1/exchange/verify/rules/${ok.body.id}/tasks`, { token: f.tokens.operator, body: { periodFrom: nowS() - 10, periodTo: nowS() - 20 } });
    expect([inv.status, inv.body.error]).toEqual([400, 'EXC_ERR_VERIFY_PERIOD']);
    const half = await f.call('POST', `/admin/v1/exchange/verify/rules/${ok.body.id}/tasks`, { token: f.tokens.operator, body: { periodFrom: nowS() - 10 } });
    expect([half.status, half.body.error]).toEqual([400, 'EXC_ERR_VERIFY_PERIOD']);

    const missingRule = await f.call('POST', '/admin/v1/exchange/verify/rules/vr_000000000000/tasks', { token: f.tokens.operator, body: {} });
    expect([missingRule.status, missingRule.body.error]).toEqual([404, 'EXC_ERR_VERIFY_RULE_NOT_FOUND']);
    const missingTask = await f.call('GET', '/admin/v1/exchange/verify/tasks/vt_000000000000/report.pdf', { token: f.tokens.operator });
    expect([missingTask.status, missingTask.body.error]).toEqual([404, 'EXC_ERR_VERIFY_TASK_NOT_FOUND']);
    const badId = await f.call('GET', '/admin/v1/exchange/verify/tasks/..%2Fetc/report', { token: f.tokens.operator });
    expect(badId.status).toBe(400);

    const run = await f.call('POST', `/admin/v1/exchange/verify/rules/${ok.body.id}/tasks`, { token: f.tokens.operator, body: {} });
    await finished(run.body.id);
    const stop = await f.call('POST', `/admin/v1/exchange/verify/tasks/${run.body.id}/stop`, { token: f.tokens.operator });
    expect([stop.status, stop.body.error]).toEqual([409, 'EXC_ERR_VERIFY_TASK_STATE']);
    const resume = await f.call('POST', `/admin/v1/exchange/verify/tasks/${run.body.id}/resume`, { token: f.tokens.operator });
    expect([resume.status, resume.body.error]).toEqual([409, 'EXC_ERR_VERIFY_TASK_STATE']);

    // the rule expires afterwards: its tasks cannot be re-run
    const upd = await f.call('PUT', `/admin/v1/exchange/verify/rules/${ok.body.id}`, {
      token: f.tokens.operator, body: { name: '有效', dataset: 'nat-result', windowDays: 1, validFrom: nowS() - 7200, validUntil: nowS() - 60 },
    });
    expect(upd.status).toBe(200);
    const rerun = await f.call('POST', `/admin/v1/exchange/verify/tasks/${run.body.id}/rerun`, { token: f.tokens.operator });
    expect([rerun.status, rerun.body.error]).toEqual([409, 'EXC_ERR_VERIFY_RULE_EXPIRED']);
  });
});
