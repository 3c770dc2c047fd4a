import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rid, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { launchChromium } from '../bench/chromium.js';
import { exchangeCapability } from './capability.js';
import { chinaTime, csv, NAT_HEADER_ZH, residentId } from './test-helpers.common.js';
import { buildConsole, startConsoleFront, type ConsoleFront } from '../test/console-front.js';

/**
 * The exchange's 数据导入, 数据标准 and 加密数据包 console pages in headless
 * Chromium against a real back office (PGlite master, the exchange
 * capability running its import jobs): the provincial admin uploads a small
 * 核酸检测结果 CSV with one bad row, watches the batch reach 已完成 with its
 * counts, downloads the rejected rows as XLSX (Chinese headers, the bad row,
 * the reason in Chinese), publishes the next version of the standard in the
 * editor (a refusal from the server first, in Chinese with the field named;
 * the diff before saving), sees the conformance by rule, and sets a
 * department's archive password rule. No raw error code and no English
 * word reaches the officer. Built and served as returns-console.test.ts does.
 */
vi.setConfig({ testTimeout: 180_000 });

let f: Fixture;
let browser: Browser;
let tmp: string;
let front: ConsoleFront | undefined;
let base: string;

beforeAll(async () => {
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'hc-xcon-'));
  const consoleDir = join(tmp, 'console');
  buildConsole(consoleDir);
  f = await startAdmin({ capabilities: [exchangeCapability], capabilityEnv: { exchange: { EXCHANGE_RETURN_POLL_MS: '0', EXCHANGE_INTAKE_POLL_MS: '0', EXCHANGE_FORWARD_POLL_MS: '0' } }, startCapabilities: true });

  // the load balancer's part: /console/ from the build, the rest to admin-api
  front = await startConsoleFront(consoleDir, f.base);
  base = front.origin;
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await front?.close();
  await f?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function newPage(): Promise<Page & { problems: string[] }> {
  const ctx = await browser.newContext({ acceptDownloads: true });
  const page = (await ctx.newPage()) as Page & { problems: string[] };
  page.setDefaultTimeout(60_000);
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  return page;
}

/**
 * The visible text an officer reads, minus what is meant to be Latin:
 * the standards' own column names and ids (shown as such), file names and
 * formats, the account name. What is left must hold no raw code and no English word.
 */
async function latinShown(page: Page, allowed: readonly string[]): Promise<string[]> {
  // a string: the test's tsconfig has no DOM types
  const text = await page.evaluate<string>(`(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
      const el = n.parentElement;
      if (el === null || el.closest('.mono, script, style, option, svg') !== null || !el.checkVisibility()) continue;
      out.push(n.textContent ?? '');
    }
    return out.join('\\n');
  })()`);
  expect(text).not.toMatch(/[A-Z]{2,}_ERR_/);
  const ok = new Set(allowed);
  // a whole token, digits included: a batch id may start with a digit and must match `allowed` whole
  return (text.match(/[A-Za-z0-9_.-]*[A-Za-z][A-Za-z0-9_.-]*/g) ?? []).filter((w) => w.length >= 3 && !ok.has(w));
}

const ALLOWED = ['CSV', 'XLSX', 'UTF-8', 'GB18030', 'SFTP', 'ZIP', 'ISO', 'YYYY-MM-DD', 'yyyyMMdd', 'admin', 'nat-result.csv', 'CDJK', 'AES-256', 'ZipCrypto',
  // the intake folder's path, as typed on the server
  'intake'];

describe('数据交换 console', () => {
  it('import with a bad row → 已完成, counts, rejects XLSX; a new standard version in the editor; password rule', async () => {
    const defs = (await f.call('GET', '/admin/v1/exchange/datasets', { token: f.tokens.admin })).body.datasets as { id: string; fields: { name: string }[] }[];
    const allowed = [...ALLOWED, ...defs.map((d) => d.id), ...defs.flatMap((d) => d.fields.map((x) => x.name))];
    const page = await newPage();
    await page.goto(`${base}/console/`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', f.passwords.admin);
    await page.click('form[aria-label="登录"] button[type=submit]');
    await page.waitForSelector('[data-testid=whoami]');

    // 数据导入: two good rows and one with a wrong check digit, Chinese headers
    const at = chinaTime(f.clock.ms - 3600_000);
    const bad = `${rid('51010419800101001').slice(0, 17)}${rid('51010419800101001').endsWith('1') ? '2' : '1'}`;
    const body = csv([NAT_HEADER_ZH, `居民身份证,${residentId(11)},欧阳娜娜,13900000011,${at},阴性,成都市第一人民医院`,
      `居民身份证,${bad},李四,13900000012,${at},阳性,成都市第一人民医院`, `居民身份证,${residentId(13)},王五,,${at},阴性,成都市第一人民医院`]);
    await page.click('a[data-page=exchange-imports]');
    await page.waitForSelector('form[aria-label="上传数据文件"]');
    await page.selectOption('form[aria-label="上传数据文件"] select[name=dataset]', 'nat-result');
    await page.fill('form[aria-label="上传数据文件"] input[name=department]', '成都市疾控中心');
    await page.setInputFiles('form[aria-label="上传数据文件"] input[name=file]', { name: 'nat-result.csv', mimeType: 'text/csv', buffer: Buffer.from(body) });
    await page.click('form[aria-label="上传数据文件"] button[type=submit]');
    await page.waitForSelector('[data-status=done]:has-text("已完成")');
    expect(await page.textContent('[role=progressbar][aria-valuenow="100"]')).toContain('核查完成 100%');
    expect(await page.textContent('body')).toContain('共 3 行，受理 2 行，拒收 1 行');
    const errRow = await page.textContent('[data-testid=batch-errors] tbody tr');
    expect(errRow).toContain('证件号码');
    expect(errRow).toMatch(/校验位/);
    // the batch number is shown as it is (an identifier, not a word)
    allowed.push(...(await f.call('GET', '/admin/v1/imports', { token: f.tokens.admin })).body.batches.map((b: { id: string }) => b.id));
    expect(await latinShown(page, allowed)).toEqual([]);

    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("下载拒收记录（XLSX）")')]);
    expect(dl.suggestedFilename()).toMatch(/^拒收记录-.*\.xlsx$/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(new Uint8Array(readFileSync((await dl.path())!)).buffer);
    const ws = wb.worksheets[0]!;
    expect(ws.getRow(1).values).toEqual([undefined, '行号', '错误原因', ...NAT_HEADER_ZH.split(',')]);
    expect(ws.rowCount).toBe(2);
    expect(ws.getRow(2).getCell(1).value).toBe(3);
    expect(String(ws.getRow(2).getCell(2).value)).toMatch(/校验位/);
    expect(String(ws.getRow(2).getCell(2).value)).not.toMatch(/[A-Za-z]{3,}/);
    expect(ws.getRow(2).getCell(4).value).toBe(bad);
    expect(ws.getRow(2).getCell(5).value).toBe('李四');

    // 数据标准: conformance by rule, then the next version in the editor
    await page.click('a[data-page=exchange-standards]');
    await page.waitForSelector('[data-testid=conformance-rule-chart] canvas');
    expect(await page.textContent('tr[data-rule=EXC_ERR_ID_CHECK_DIGIT]')).toMatch(/校验位/);
    await page.click('button:has-text("编辑并发布新版本")');
    const form = 'form[aria-label="数据标准新版本"]';
    await page.waitForSelector(`${form} tr[data-field-row="6"]`);
    expect(await page.inputValue(`${form} tr[data-field-row="4"] select[name=field-type]`)).toBe('datetime');
    expect(await page.inputValue(`${form} tr[data-field-row="5"] select[name=field-type]`)).toBe('enum');
    expect(await page.$eval(`${form} tr[data-field-row="5"] select[name=field-table]`, (s) => (s as unknown as { selectedOptions: { textContent: string | null }[] }).selectedOptions[0]?.textContent)).toContain('检测结果');
    // a column name the server refuses: its refusal in Chinese, naming the field
    await page.fill(`${form} tr[data-field-row="6"] input[name=field-name]`, '检测机构');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector('[data-testid=dataset-diff]');
    await page.click('button:has-text("确认发布第 2 版")');
    await page.waitForSelector('.msg-error');
    expect(await page.textContent('.msg-error')).toContain('数据标准定义不合法：第 7 个字段「检测机构」的字段名');
    expect(await latinShown(page, allowed)).toEqual([]);
    // fixed; one optional field taken from the data elements (接种单位), one header renamed
    await page.fill(`${form} tr[data-field-row="6"] input[name=field-name]`, 'lab');
    await page.fill(`${form} tr[data-field-row="6"] input[name=field-zh]`, '检测机构名称');
    await page.click('summary:has-text("数据元")');
    await page.click('[data-testid=data-elements] tr[data-element=site] button:has-text("加入")');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector('[data-testid=dataset-diff]');
    const diff = await page.textContent('[data-testid=dataset-diff]');
    expect(diff).toContain('与第 1 版相比');
    expect(diff).toContain('新增字段「接种单位」');
    expect(diff).toContain('字段「检测机构名称」的中文表头');
    expect(diff).not.toContain('删除字段');
    await page.click('button:has-text("确认发布第 2 版")');
    await page.waitForSelector('text=已发布核酸检测结果第 2 版');
    const v2 = (await f.call('GET', '/admin/v1/exchange/datasets/nat-result/versions/2', { token: f.tokens.admin })).body.definition;
    expect(v2.fields.map((x: { name: string }) => x.name)).toEqual(['idType', 'idNo', 'name', 'phone', 'sampledAt', 'result', 'lab', 'site']);
    expect(v2.fields[6].zh).toBe('检测机构名称');
    expect(v2.fields[5].values).toMatchObject({ 阴性: 'negative', 阳性: 'positive' });
    expect(v2).toMatchObject({ key: ['idType', 'idNo', 'sampledAt'], notFuture: ['sampledAt'] });
    const audit = (await f.call('GET', '/admin/v1/audit?order=desc&limit=50', { token: f.tokens.auditor })).body;
    expect(JSON.stringify(audit)).toContain('exchange.dataset.add');

    // 码表: a new code table, then a brand-new standard whose result field references it
    allowed.push('antigen-result');
    await page.click('button:has-text("新建码表")');
    const tf = 'form[aria-label="码表"]';
    await page.fill(`${tf} input[name=table-id]`, 'antigen-result');
    await page.fill(`${tf} input[name=table-name]`, '抗原检测结果');
    await page.fill(`${tf} textarea[name=table-entries]`, 'negative,阴性,阴\npositive,阳性,阳');
    await page.click(`${tf} button[type=submit]`);
    await page.waitForSelector('text=已发布码表「抗原检测结果」第 1 版，共 2 项');
    expect(await page.textContent('[data-testid=registered-code-tables] tr[data-table=antigen-result]')).toContain('positive→阳性（阳）');
    await page.click('button:has-text("新建数据标准")');
    const nf = 'form[aria-label="新建数据标准"]';
    await page.waitForSelector(`${nf} tr[data-field-row="3"]`);
    await page.fill(`${nf} input[name=dataset-id]`, 'Antigen_Result');
    await page.fill(`${nf} input[name=dataset-name]`, '抗原检测结果');
    await page.click(`${nf} button:has-text("添加字段")`);
    await page.fill(`${nf} tr[data-field-row="4"] input[name=field-name]`, 'sampledAt');
    await page.fill(`${nf} tr[data-field-row="4"] input[name=field-zh]`, '检测时间');
    await page.selectOption(`${nf} tr[data-field-row="4"] select[name=field-type]`, 'datetime');
    await page.check(`${nf} tr[data-field-row="4"] input[name=field-required]`);
    await page.check(`${nf} tr[data-field-row="4"] input[name=field-not-future]`);
    await page.check(`${nf} tr[data-field-row="4"] input[name=field-key]`);
    await page.click(`${nf} button:has-text("添加字段")`);
    await page.fill(`${nf} tr[data-field-row="5"] input[name=field-name]`, 'result');
    await page.fill(`${nf} tr[data-field-row="5"] input[name=field-zh]`, '抗原结果');
    await page.selectOption(`${nf} tr[data-field-row="5"] select[name=field-type]`, 'enum');
    await page.check(`${nf} tr[data-field-row="5"] input[name=field-required]`);
    await page.selectOption(`${nf} tr[data-field-row="5"] select[name=field-table]`, 'ct:antigen-result');
    // an id with upper case and _: the server's refusal in Chinese
    await page.click(`${nf} button[type=submit]`);
    await page.waitForSelector('[data-testid=dataset-diff]');
    await page.click('button:has-text("确认新建数据标准")');
    await page.waitForSelector('.msg-error:has-text("数据集标识不合法")');
    expect(await page.textContent('.msg-error')).toContain('标识不符合要求');
    await page.fill(`${nf} input[name=dataset-id]`, 'antigen-result');
    await page.click(`${nf} button[type=submit]`);
    await page.waitForSelector('[data-testid=dataset-diff]');
    await page.click('button:has-text("确认新建数据标准")');
    await page.waitForSelector('text=已新建数据标准「抗原检测结果」（第 1 版）');
    // the new standard is shown with the code table its result field was published with
    expect(await page.textContent('[data-code-table=antigen-result]')).toContain('码表「抗原检测结果」第 1 版');
    expect(await latinShown(page, allowed)).toEqual([]);
    const created = (await f.call('GET', '/admin/v1/exchange/datasets/antigen-result/versions/1', { token: f.tokens.admin })).body.definition;
    expect(created).toMatchObject({ target: 'nat-result', key: ['idType', 'idNo', 'sampledAt'], notFuture: ['sampledAt'] });
    expect(created.fields[5]).toMatchObject({ name: 'result', codeTable: 'antigen-result', codeTableVersion: 1, values: { 阳: 'positive' } });

    // 加密数据包: set a department's password rule; shown masked only
    await page.click('a[data-page=exchange-archives]');
    const rule = 'form[aria-label="设置密码规则"]';
    await page.waitForSelector(rule);
    await page.fill(`${rule} input:not([type=password])`, '成都市疾控中心');
    await page.fill(`${rule} input[type=password]`, 'SCJK2026{yyyyMMdd}');
    await page.click(`${rule} button[type=submit]`);
    await page.waitForSelector('text=已保存 成都市疾控中心 的密码规则（第 1 版）');
    expect(await page.textContent('body')).not.toContain('SCJK2026');
    expect(await page.textContent('body')).toContain('S*******{yyyyMMdd}');
    expect(await latinShown(page, allowed)).toEqual([]);
    // the failed requests are the refused version and the refused new id above (Chromium logs every 4xx)
    expect(page.problems).toEqual(Array(2).fill('console: Failed to load resource: the server responded with a status of 400 (Bad Request)'));
    await page.context().close();
  });
});
