import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ACTION_LABEL, DETAIL_LABEL, OUTCOME_LABEL } from '../admin-api/audit-labels.js';
import { rid, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { expandPattern } from './password-rules.js';
import { chinaTime, csv, NAT_HEADER, residentId, upload } from './test-helpers.common.js';
import { encryptZip } from './zip-archive.js';

/**
 * Issue 10 item 7: the audit log records every import, password-rule
 * change, export, return and dataset change — and the auditor reads each in
 * Chinese (action, outcome and every detail key), in the audit XLSX export
 * exactly as the console's audit page labels them (admin-api/audit-labels.ts).
 */
vi.setConfig({ testTimeout: 120_000 });
const HERE = fileURLToPath(new URL('.', import.meta.url));
const LATIN = /[A-Za-z]/;

let f: Fixture;
let inst: ExchangeInstance;
beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability], capabilityEnv: { exchange: { EXCHANGE_RETURN_POLL_MS: '0', EXCHANGE_INTAKE_POLL_MS: '0', EXCHANGE_FORWARD_POLL_MS: '0' } }, startCapabilities: true });
  inst = f.instances.exchange as unknown as ExchangeInstance;
}, 120_000);
afterAll(async () => {
  await f?.close();
});

/** GET read to the end: a streamed download is audited when its last row is sent. */
async function get(path: string, token: string): Promise<ArrayBuffer> {
  const r = await fetch(`${f.base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(r.status, path).toBe(200);
  return r.arrayBuffer();
}

describe('exchange audit entries in Chinese', () => {
  it('every audit action the exchange writes has a Chinese label', () => {
    const actions = new Set<string>();
    for (const file of readdirSync(HERE).filter((n) => n.endsWith('.ts') && !n.includes('.test.'))) {
      for (const m of readFileSync(`${HERE}${file}`, 'utf8').matchAll(/action: '(exchange\.[a-z_.]+)'/g)) actions.add(m[1]!);
    }
    expect(actions.size).toBeGreaterThanOrEqual(12);
    for (const a of actions) {
      expect(ACTION_LABEL[a], a).toBeDefined();
      expect(ACTION_LABEL[a]!).not.toMatch(/^exchange/);
    }
  });

  it('import, rejects export, password-rule change, dataset version, returns: recorded and labelled in the audit export', async () => {
    const at = chinaTime(f.clock.ms - 3600_000);
    const up = await upload(f, f.tokens.operator, {
      name: 'n.csv', data: csv([NAT_HEADER, `resident,${residentId(7)},欧阳娜娜,13900000007,${at},阴性,所`, `resident,${rid('51010419800101000')}x,李四,,${at},阴性,所`]),
    }, { dataset: 'nat-result', department: '省核酸检测平台' });
    expect(up.status).toBe(202);
    await inst.jobs.idle();
    const id = up.body.id as string;
    await get(`/admin/v1/imports/${id}/rejects.xlsx`, f.tokens.operator);
    expect((await f.call('PUT', `/admin/v1/exchange/password-rules/${encodeURIComponent('成都市疾控中心')}`, { token: f.tokens.admin, body: { pattern: 'CDJK{yyyyMMdd}' } })).status).toBe(200);
    const v1 = (await f.call('GET', '/admin/v1/exchange/datasets/nat-result/versions/1', { token: f.tokens.admin })).body.definition;
    expect((await f.call('POST', '/admin/v1/exchange/datasets', { token: f.tokens.admin, body: { ...v1, version: 2, description: '第二版' } })).status).toBe(201);
    await get(`/admin/v1/imports/${id}/return.xlsx?region=5101`, f.tokens.admin);
    expect((await f.call('PUT', '/admin/v1/exchange/return-recipients/cd', { token: f.tokens.admin, body: { name: '成都市卫生健康委员会', region: '5101' } })).status).toBe(200);
    const made = await inst.returns.produce({ batchId: id });
    expect(made).toHaveLength(1);
    const items = (await f.call('GET', '/admin/v1/exchange/return-items?recipient=cd', { token: f.tokens.admin })).body.items;
    await get(`/admin/v1/exchange/return-items/${items[0].id}/file.xlsx`, f.tokens.admin);
    expect((await f.call('PUT', '/admin/v1/exchange/return-recipients/cd/policy', { token: f.tokens.admin, body: { fields: { phone: 'hash' } } })).status).toBe(200);

    // an archive taken in, and one that cannot be opened (no password rule): both in the trail
    const dir = mkdtempSync(join(tmpdir(), 'hc-xaud-'));
    try {
      writeFileSync(join(dir, 'a.csv'), csv([NAT_HEADER, `resident,${residentId(8)},张三,,${at},阴性,所`]));
      await encryptZip([{ name: 'a.csv', path: join(dir, 'a.csv') }], join(dir, 'a.zip'), expandPattern('CDJK{yyyyMMdd}', f.clock.ms));
      expect((await inst.intake.take(join(dir, 'a.zip'), 'nat-result', '成都市疾控中心', 'a.zip')).status).toBe('done');
      expect((await inst.intake.take(join(dir, 'a.zip'), 'nat-result', '泸州市疾控中心', 'b.zip')).status).toBe('duplicate');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await inst.jobs.idle();

    // what the auditor exports
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(await get('/admin/v1/audit/export.xlsx', f.tokens.auditor));
    const ws = wb.worksheets[0]!;
    const rows: string[][] = [];
    ws.eachRow((r) => rows.push((r.values as unknown[]).slice(1).map((v) => (v === null || v === undefined ? '' : String(v)))));
    expect(rows[0]).toEqual(['序号', '时间（北京时间）', '操作人', '角色', '操作', '对象（脱敏）', '来源地址', '结果', '详情']);
    const byAction = (label: string): string[] => {
      const r = rows.find((x) => x[4] === label);
      expect(r, label).toBeDefined();
      return r!;
    };
    const wanted = {
      'exchange.import': '导入数据文件', 'exchange.rejects.export': '导出拒收记录', 'exchange.password_rule.set': '设置或轮换数据包密码规则',
      'exchange.dataset.add': '发布数据标准新版本', 'exchange.return': '下载批次返还数据', 'exchange.return.download': '下载返还数据',
      'exchange.return_policy.set': '修改返还脱敏策略', 'exchange.return_recipient.set': '设置返还对象',
    } as const;
    for (const [action, label] of Object.entries(wanted)) {
      expect(ACTION_LABEL[action]).toBe(label);
      const r = byAction(label);
      expect(LATIN.test(r[7]!), `${label} outcome ${r[7]}`).toBe(false);
      // every detail key is Chinese (values may be hashes, file names, numbers)
      const keys = r[8]!.split('；').map((kv) => kv.split('：')[0]!);
      for (const k of keys) expect(LATIN.test(k), `${label}: detail key ${k}`).toBe(false);
    }
    const archives = rows.filter((x) => x[4] === '接收加密数据包');
    expect(archives.map((x) => x[7]).sort()).toEqual(['成功', '重复（已跳过）']);
    for (const a of archives) {
      expect(a[2]).toBe('system:exchange-intake');
      for (const kv of a[8]!.split('；')) expect(LATIN.test(kv.split('：')[0]!), kv).toBe(false);
    }
    expect(byAction('导入数据文件')[7]).toBe(OUTCOME_LABEL.queued);
    expect(byAction('导入数据文件')[8]).toContain('报送单位：省核酸检测平台');
    expect(byAction('发布数据标准新版本')[8]).toBe('版本：2');
    expect(byAction('修改返还脱敏策略')[8]).toContain('手机号：哈希化');
    expect(DETAIL_LABEL.department).toBe('报送单位');
    // the password rule itself is never in the trail
    expect(rows.flat().join('\n')).not.toContain('CDJK');
  });
});

// The editor's read of one version (routes-standards.ts) shares this fixture.
describe('GET /admin/v1/exchange/datasets/:id/versions/:version', () => {
  it('answers the stored definition (time order and region lengths included); bad inputs are coded', async () => {
    const arrival = await f.call('GET', '/admin/v1/exchange/datasets/arrival/versions/1', { token: f.tokens.analyst });
    expect(arrival.status).toBe(200);
    expect(arrival.body.definition).toMatchObject({ id: 'arrival', version: 1, order: [['departAt', 'arriveAt']] });
    const carrier = await f.call('GET', '/admin/v1/exchange/datasets/carrier-stay/versions/1', { token: f.tokens.analyst });
    expect(carrier.body.definition.fields.find((x: { name: string }) => x.name === 'region').regionLengths).toEqual([4, 6]);
    const none = await f.call('GET', '/admin/v1/exchange/datasets/arrival/versions/99', { token: f.tokens.analyst });
    expect([none.status, none.body.error]).toEqual([400, 'EXC_ERR_DATASET_UNKNOWN']);
    const unknown = await f.call('GET', '/admin/v1/exchange/datasets/no-such/versions/1', { token: f.tokens.analyst });
    expect([unknown.status, unknown.body.error]).toEqual([400, 'EXC_ERR_DATASET_UNKNOWN']);
    for (const path of ['/admin/v1/exchange/datasets/Arrival/versions/1', '/admin/v1/exchange/datasets/arrival/versions/x1']) {
      const r = await f.call('GET', path, { token: f.tokens.analyst });
      expect([r.status, r.body.error], path).toEqual([400, 'ADM_ERR_VALIDATION']);
    }
    expect((await f.call('GET', '/admin/v1/exchange/datasets/arrival/versions/1', {})).status).toBe(401);
  });
});
