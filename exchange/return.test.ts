import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rid, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { alertEventsAfter } from '../master/alert-events.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { loadExchangeConfig } from './config.js';
import { expandPattern } from './password-rules.js';
import { makeSshd, type Sshd } from './sshd-server.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import { ReturnLedger } from './return-ledger.js';
import { chinaTime, csv, hostOf, NAT_HEADER, residentId, upload } from './test-helpers.common.js';
import { extractZip } from './zip-archive.js';

/**
 * Masked data return (智能数据返还) end to end, on a real master (PGlite) and
 * a real OpenSSH server: recipients and their versioned masking policies,
 * returns made once per batch and recipient, pushed over SFTP exactly once
 * (server down, then up), downloaded with every download recorded and
 * audited, the to-do list, the overdue alert, the monitoring, the
 * departments' uploads, and region scoping throughout.
 */
let f: Fixture;
let inst: ExchangeInstance;
let sshd: Sshd;

beforeAll(async () => {
  sshd = await makeSshd();
  await sshd.start();
  f = await startAdmin({
    capabilities: [exchangeCapability],
    capabilityEnv: {
      exchange: {
        EXCHANGE_INTAKE_POLL_MS: '0', EXCHANGE_FORWARD_POLL_MS: '0', EXCHANGE_RETURN_POLL_MS: '0', EXCHANGE_SFTP_TIMEOUT_MS: '3000',
        EXCHANGE_FORWARD_MAX_ATTEMPTS: '3', EXCHANGE_CHUNK_ROWS: '50',
      },
    },
    startCapabilities: true,
  });
  inst = f.instances.exchange as unknown as ExchangeInstance;
}, 60_000);
afterAll(async () => {
  await f?.close();
  await sshd?.stop();
});

const ago = (h: number): string => chinaTime(f.clock.ms - h * 3600_000);
const CD1 = residentId(31);
const CD2 = residentId(32);
const LZ = rid('51050219900101131');
const PHONE_CD = '13900000031';
const PHONE_LZ = '13900000033';

async function uploadDone(token: string, department: string, lines: string[], dataset = 'nat-result'): Promise<string> {
  const r = await upload(f, token, { name: 'ret.csv', data: csv(lines) }, { dataset, department });
  expect(r.status).toBe(202);
  await inst.jobs.idle();
  return r.body.id as string;
}

async function items(token = f.tokens.admin, q = ''): Promise<any[]> {
  const r = await f.call('GET', `/admin/v1/exchange/return-items${q}`, { token });
  expect(r.status).toBe(200);
  return r.body.items;
}

async function download(token: string, id: string, format: 'csv' | 'xlsx'): Promise<{ status: number; bytes: Buffer; sha: string | null; body: any }> {
  const res = await fetch(`${f.base}/admin/v1/exchange/return-items/${id}/file.${format}`, { headers: { authorization: `Bearer ${token}` } });
  const bytes = Buffer.from(await res.arrayBuffer());
  const body = (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(bytes.toString('utf8')) : null;
  return { status: res.status, bytes, sha: res.headers.get('x-content-sha256'), body };
}

function parseCsv(b: Buffer): string[][] {
  const text = b.toString('utf8');
  expect(text.startsWith('\ufeff')).toBe(true);
  return text.slice(1).split('\r\n').filter((l) => l !== '').map((l) => l.split(','));
}

describe('configuration', () => {
  it('EXCHANGE_RETURN_POLL_MS: default 5 s, 0 = on demand only, anything else refused with its code', () => {
    expect(loadExchangeConfig({}, { dataDir: '/x' }).returnPollMs).toBe(5000);
    expect(loadExchangeConfig({ EXCHANGE_RETURN_POLL_MS: '0' }, { dataDir: '/x' }).returnPollMs).toBe(0);
    for (const bad of ['-1', 'soon', '1.5', '3600001']) {
      expect(() => loadExchangeConfig({ EXCHANGE_RETURN_POLL_MS: bad }, { dataDir: '/x' })).toThrow(expect.objectContaining({ code: 'EXC_ERR_CONFIG', field: 'EXCHANGE_RETURN_POLL_MS' }));
    }
  });
});

describe('return recipients and masking policies', () => {
  it('bad input is refused with its code; only exchange.secrets sets them; policies are versioned with a safe default', async () => {
    const fwd = await f.call('PUT', '/admin/v1/exchange/recipients/sj-5101', {
      token: f.tokens.admin,
      body: { name: '成都市大数据中心', host: '127.0.0.1', port: sshd.port, username: sshd.username, remoteDir: sshd.remoteDir, datasets: [], privateKey: sshd.privateKey, zipPattern: 'SJ{yyyyMMdd}' },
    });
    expect(fwd.status).toBe(200);
    const path = '/admin/v1/exchange/return-recipients';
    const cd = { name: '成都市卫生健康委员会', region: '5101', datasets: ['nat-result'], sftpRecipient: 'sj-5101', dueHours: 24 };
    expect((await f.call('PUT', `${path}/cd`, { token: f.tokens.operator, body: cd })).status).toBe(403);
    expect((await f.call('PUT', `${path}/cd`, { token: f.tokens.city_officer, body: cd })).status).toBe(403);
    for (const [body, field, id] of [
      [{ ...cd, region: '5199' }, 'region', 'cd'], [{ ...cd, region: 'abc' }, 'region', 'cd'], [{ ...cd, sftpRecipient: 'nope' }, 'sftpRecipient', 'cd'],
      [{ ...cd, datasets: ['no-such'] }, 'datasets', 'cd'], [{ ...cd, dueHours: 0 }, 'dueHours', 'cd'], [{ ...cd, name: ' ' }, 'name', 'cd'], [cd, 'id', 'Bad_Id'],
    ] as const) {
      const r = await f.call('PUT', `${path}/${id}`, { token: f.tokens.admin, body });
      expect([r.status, r.body.error, r.body.field]).toEqual([400, 'EXC_ERR_RETURN_RECIPIENT', field]);
    }
    expect((await f.call('PUT', `${path}/cd`, { token: f.tokens.admin, body: cd })).status).toBe(200);
    expect((await f.call('PUT', `${path}/lz`, { token: f.tokens.admin, body: { name: '泸州市卫生健康委员会', region: '5105' } })).status).toBe(200);

    const def = await f.call('GET', `${path}/cd/policy`, { token: f.tokens.operator });
    expect(def.body.current).toEqual({ version: 0, policy: { idType: 'keep', idNo: 'mask', name: 'mask', phone: 'mask', region: 'keep', kind: 'keep', at: 'keep', result: 'keep' } });
    for (const [body, field] of [
      [{ fields: { idNo: 'encrypt' } }, 'fields.idNo'], [{ fields: { result: 'mask' } }, 'fields.result'], [{ fields: { salary: 'keep' } }, 'fields.salary'],
      [{ fields: 'keep' }, 'fields'], [{ policy: {} }, 'policy'],
      [{ fields: Object.fromEntries(['idType', 'idNo', 'name', 'phone', 'region', 'kind', 'at', 'result'].map((c) => [c, 'drop'])) }, 'fields'],
    ] as const) {
      const r = await f.call('PUT', `${path}/cd/policy`, { token: f.tokens.admin, body });
      expect([r.status, r.body.error, r.body.field]).toEqual([400, 'EXC_ERR_RETURN_POLICY', field]);
    }
    expect((await f.call('PUT', `${path}/cd/policy`, { token: f.tokens.city_officer, body: { fields: { phone: 'keep' } } })).status).toBe(403);
    expect((await f.call('PUT', `${path}/cd/policy`, { token: f.tokens.admin, body: { fields: { phone: 'keep' } } })).body.version).toBe(1);
    const v2 = await f.call('PUT', `${path}/cd/policy`, { token: f.tokens.admin, body: { fields: { phone: 'keep', name: 'hash', result: 'drop' } } });
    expect(v2.body).toMatchObject({ id: 'cd', version: 2, policy: { phone: 'keep', name: 'hash', result: 'drop', idNo: 'mask' } });
    const got = await f.call('GET', `${path}/cd/policy`, { token: f.tokens.city_officer });
    expect(got.body.versions.map((v: any) => v.version)).toEqual([2, 1]);
    expect(got.body.current.version).toBe(2);

    // region scoping: Luzhou's officer does not see Chengdu's recipient
    const other = await f.call('GET', `${path}/cd/policy`, { token: f.tokens.city_officer_b });
    expect([other.status, other.body.error]).toEqual([404, 'EXC_ERR_RETURN_RECIPIENT_NOT_FOUND']);
    expect((await f.call('GET', path, { token: f.tokens.city_officer })).body.recipients.map((r: any) => [r.id, r.regionName, r.policyVersion])).toEqual([['cd', '四川省成都市', 2]]);
    const audit = await f.audit.list({ limit: 50, order: 'desc' });
    expect(audit.filter((e) => e.action === 'exchange.return_policy.set').length).toBe(2);
  });
});

describe('returns', () => {
  let batch: string;
  let cdItem: any;
  let lzItem: any;

  it('are made once per batch and recipient, each masked by its own recipient\'s policy', async () => {
    await sshd.stop(); // Chengdu's SFTP server is down for now (its push is tested below)
    batch = await uploadDone(f.tokens.operator, '省核酸检测平台', [
      NAT_HEADER,
      `resident,${CD1},欧阳娜娜,${PHONE_CD},${ago(2)},阳性,所`,
      `resident,${LZ},李四光,${PHONE_LZ},${ago(2)},阴性,所`,
      `resident,${CD2},王五,,${ago(2)},阴性,所`,
    ]);
    // two makers at once (two masters' passes): each (recipient, batch) is claimed once
    const other = new ReturnLedger(hostOf(f), new PiiCrypto(f.secrets));
    const [a, b] = await Promise.all([inst.returns.produce(), other.produce()]);
    expect(a.length + b.length).toBe(2);
    expect((await f.call('POST', '/admin/v1/exchange/return-items/produce', { token: f.tokens.operator, body: {} })).body.made).toEqual([]);
    await inst.returnPusher.pass(); // the background pass makes nothing more (and tries the push: the server is down)
    const all = await items(f.tokens.admin, `?batch=${batch}`);
    expect(all).toHaveLength(2);
    cdItem = all.find((x) => x.recipientId === 'cd');
    lzItem = all.find((x) => x.recipientId === 'lz');
    expect(cdItem).toMatchObject({ rows: 2, policyVersion: 2, region: '5101', state: 'waiting', overdue: false, downloads: 0, push: { status: 'pending', attempts: 1 } });
    expect(lzItem).toMatchObject({ rows: 1, policyVersion: 0, region: '5105', state: 'waiting', push: { status: 'none' } });
    expect(cdItem.sha256).toMatch(/^[0-9a-f]{64}$/);

    // Luzhou (default policy): phone masked. Chengdu (its policy): phone kept, name a pseudonym, result dropped.
    const lz = await download(f.tokens.city_officer_b, lzItem.id, 'csv');
    expect(lz.status).toBe(200);
    const lzRows = parseCsv(lz.bytes);
    expect(lzRows[0]).toEqual(['行号', '证件类型', '证件号码', '姓名', '手机号', '所在地区', '事项', '时间', '结果']);
    expect(lzRows[1]).toEqual(['3', '居民身份证', `${LZ.slice(0, 4)}**********${LZ.slice(14)}`, '李*光', '139****0033', expect.stringContaining('泸州市'), '核酸检测', ago(2), '阴性']);
    expect(lz.bytes.toString('utf8')).not.toContain(PHONE_LZ);
    const cd = await download(f.tokens.city_officer, cdItem.id, 'csv');
    const cdRows = parseCsv(cd.bytes);
    expect(cdRows[0]).toEqual(['行号', '证件类型', '证件号码', '姓名', '手机号', '所在地区', '事项', '时间']);
    expect(cdRows[1]).toEqual(['2', '居民身份证', `${CD1.slice(0, 4)}**********${CD1.slice(14)}`, expect.stringMatching(/^[0-9A-F]{16}$/), PHONE_CD, expect.stringContaining('成都市'), '核酸检测', ago(2)]);
    expect(cdRows.map((r) => r[0])).toEqual(['行号', '2', '4']);
    expect(cd.bytes.toString('utf8')).not.toContain('欧阳娜娜');
    expect(createHash('sha256').update(cd.bytes).digest('hex')).toBe(cdItem.sha256);
    expect(cd.sha).toBe(cdItem.sha256);
  });

  it('a download is recorded and audited every time; a re-download is the same bytes and visible', async () => {
    const again = await download(f.tokens.city_officer, cdItem.id, 'csv');
    expect(createHash('sha256').update(again.bytes).digest('hex')).toBe(cdItem.sha256);
    const x = await download(f.tokens.operator, cdItem.id, 'xlsx');
    expect(x.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(x.bytes as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    expect(ws.rowCount).toBe(3);
    expect(ws.getRow(2).getCell(5).value).toBe(PHONE_CD);
    const one = await f.call('GET', `/admin/v1/exchange/return-items/${cdItem.id}`, { token: f.tokens.city_officer });
    expect(one.body).toMatchObject({ downloads: 3, state: 'taken' });
    expect(one.body.takes.map((t: any) => [t.how, t.actor])).toEqual([['csv', 'city_officer'], ['csv', 'city_officer'], ['xlsx', 'operator']]);
    const audit = (await f.audit.list({ limit: 100, order: 'asc' })).filter((e) => e.action === 'exchange.return.download' && e.target === `return:${cdItem.id}`);
    expect(audit.map((e) => [e.actor, (e.details as any).format, (e.details as any).downloadNo])).toEqual([['city_officer', 'csv', 1], ['city_officer', 'csv', 2], ['operator', 'xlsx', 3]]);
    expect(JSON.stringify(audit)).not.toContain(PHONE_CD);
  });

  it('another city can neither see, download nor acknowledge a return (404); analysts cannot download (403)', async () => {
    for (const [method, p] of [['GET', ''], ['GET', '/file.csv'], ['GET', '/file.xlsx'], ['POST', '/ack']] as const) {
      const r = await f.call(method, `/admin/v1/exchange/return-items/${lzItem.id}${p}`, { token: f.tokens.city_officer, ...(method === 'POST' ? { body: {} } : {}) });
      expect([r.status, r.body.error]).toEqual([404, 'EXC_ERR_RETURN_NOT_FOUND']);
    }
    expect((await items(f.tokens.city_officer)).every((x) => x.region.startsWith('5101'))).toBe(true);
    expect((await items(f.tokens.city_officer_b)).map((x) => x.recipientId)).toEqual(['lz']);
    expect((await f.call('GET', `/admin/v1/exchange/return-items/${cdItem.id}/file.csv`, { token: f.tokens.analyst })).status).toBe(403);
    const bad = await f.call('GET', '/admin/v1/exchange/return-items/short', { token: f.tokens.admin });
    expect(bad.status).toBe(400);
    const none = await f.call('GET', '/admin/v1/exchange/return-items/AAAAAAAAAAAA', { token: f.tokens.admin });
    expect([none.status, none.body.error]).toEqual([404, 'EXC_ERR_RETURN_NOT_FOUND']);
    const alien = await f.call('POST', '/admin/v1/exchange/return-items/produce', { token: f.tokens.city_officer_b, body: { batch } });
    expect([alien.status, alien.body.error]).toEqual([404, 'EXC_ERR_BATCH_NOT_FOUND']);
  });

  it('is pushed over SFTP exactly once: pending while the server is down, sent once when it is back, never twice', async () => {
    const before = readdirSync(sshd.remoteDir);
    let it1 = (await f.call('GET', `/admin/v1/exchange/return-items/${cdItem.id}`, { token: f.tokens.admin })).body;
    expect(it1.push).toMatchObject({ status: 'pending', attempts: 1 });
    expect(it1.push.error).toMatch(/^EXC_ERR_SFTP/);
    await inst.returnPusher.pushDue(); // backing off: not tried again yet
    expect((await f.call('GET', `/admin/v1/exchange/return-items/${cdItem.id}`, { token: f.tokens.admin })).body.push.attempts).toBe(1);
    await sshd.start();
    f.clock.ms += 60_000;
    await inst.returnPusher.pushDue();
    it1 = (await f.call('GET', `/admin/v1/exchange/return-items/${cdItem.id}`, { token: f.tokens.admin })).body;
    expect(it1.push).toMatchObject({ status: 'sent', attempts: 2, error: null });
    const after = readdirSync(sshd.remoteDir).filter((n) => !before.includes(n));
    expect(after).toEqual([cdItem.remoteName]);
    // the recipient opens it with its own password of the day: the same CSV as the download
    const out = join(f.dataDir, 'recv-return');
    mkdirSync(out, { recursive: true });
    const z = await extractZip(join(sshd.remoteDir, cdItem.remoteName), out, [expandPattern('SJ{yyyyMMdd}', f.clock.ms)]);
    expect(createHash('sha256').update(readFileSync(z.files[0]!.path)).digest('hex')).toBe(cdItem.sha256);

    // the master died after the rename and before recording it: the next pass finds it there and sends nothing
    await f.db.query("UPDATE exchange_return_items SET push_status = 'pending', push_next_at = $2 WHERE id = $1", [cdItem.id, new Date(f.clock.ms - 3600_000)]);
    await inst.returnPusher.pushDue();
    expect(readdirSync(sshd.remoteDir).filter((n) => !before.includes(n))).toEqual([cdItem.remoteName]);
    const takes = (await f.call('GET', `/admin/v1/exchange/return-items/${cdItem.id}`, { token: f.tokens.admin })).body.takes.filter((t: any) => t.how === 'push');
    expect(takes.map((t: any) => t.actor)).toEqual(['sftp:sj-5101', 'sftp:sj-5101:already-there']);
    expect((await f.audit.list({ limit: 100, order: 'desc' })).some((e) => e.action === 'exchange.return.push' && e.target === `return:${cdItem.id}`)).toBe(true);
  }, 60_000);

  it('to-do list: not acknowledged, overdue highlighted and alerted once; 签收 takes it off', async () => {
    const todo = await f.call('GET', '/admin/v1/exchange/return-todo', { token: f.tokens.admin });
    expect(todo.body).toMatchObject({ total: 2, overdue: 0 });
    f.clock.ms += 25 * 3600_000;
    // a day later the sessions have idled out: log in again
    for (const a of ['admin', 'operator', 'analyst', 'city_officer', 'city_officer_b'] as const) f.tokens[a] = await f.login(a);
    const late = await f.call('GET', '/admin/v1/exchange/return-todo', { token: f.tokens.admin });
    expect(late.body).toMatchObject({ total: 2, overdue: 2 });
    const cdTodo = await f.call('GET', '/admin/v1/exchange/return-todo', { token: f.tokens.city_officer });
    expect(cdTodo.body.items.map((x: any) => [x.recipientId, x.overdue])).toEqual([['cd', true]]);

    const mark = (await alertEventsAfter(f.db, 0)).length;
    expect(await inst.returns.checkOverdue()).toBe(2);
    expect(await inst.returns.checkOverdue()).toBe(0);
    const ev = (await alertEventsAfter(f.db, 0)).slice(mark);
    expect(ev.map((e) => [e.kind, e.key, e.region]).sort()).toEqual([
      ['exchange.return_overdue', 'return-recipient:cd', '5101'], ['exchange.return_overdue', 'return-recipient:lz', '5105'],
    ]);
    expect(ev[0]!.summary).toMatch(/未签收/);
    expect(JSON.stringify(ev)).not.toContain(PHONE_CD);

    const ack = await f.call('POST', `/admin/v1/exchange/return-items/${cdItem.id}/ack`, { token: f.tokens.city_officer, body: {} });
    expect(ack.body).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'city_officer', overdue: false });
    const again = await f.call('POST', `/admin/v1/exchange/return-items/${cdItem.id}/ack`, { token: f.tokens.city_officer, body: {} });
    expect(again.body.acknowledgedAt).toBe(ack.body.acknowledgedAt);
    expect((await f.call('GET', '/admin/v1/exchange/return-todo', { token: f.tokens.admin })).body.items.map((x: any) => x.recipientId)).toEqual(['lz']);
  });

  it('monitoring: per recipient and day; batches not yet returned are counted as missing until the pass makes them', async () => {
    const s = await f.call('GET', '/admin/v1/exchange/return-stats', { token: f.tokens.admin });
    const byId = Object.fromEntries(s.body.days.map((d: any) => [d.recipientId, d]));
    expect(byId.cd).toMatchObject({ recipientName: '成都市卫生健康委员会', returns: 1, rows: 2, pushed: 1, downloaded: 1, redownloaded: 1, acknowledged: 1, overdue: 0 });
    expect(byId.lz).toMatchObject({ returns: 1, rows: 1, pushed: 0, downloaded: 1, redownloaded: 0, acknowledged: 0, overdue: 1 });
    expect(s.body.missing).toEqual([]);
    const b2 = await uploadDone(f.tokens.operator, '省核酸检测平台', [NAT_HEADER, `resident,${residentId(34)},赵六,,${ago(1)},阴性,所`]);
    const stay = await uploadDone(f.tokens.operator, '移动', ['手机号,运营商,逗留城市,日期', `13900000035,移动,5101,${ago(30).slice(0, 10)}`], 'carrier-stay');
    const m = await f.call('GET', '/admin/v1/exchange/return-stats', { token: f.tokens.admin });
    // cd takes nat-result only; lz takes every dataset
    expect(m.body.missing).toEqual([{ recipientId: 'cd', batches: 1 }, { recipientId: 'lz', batches: 2 }]);
    expect((await f.call('GET', '/admin/v1/exchange/return-stats', { token: f.tokens.city_officer })).body.missing).toEqual([{ recipientId: 'cd', batches: 1 }]);
    await inst.returnPusher.pass();
    expect((await f.call('GET', '/admin/v1/exchange/return-stats', { token: f.tokens.admin })).body.missing).toEqual([]);
    // the carrier stays concern no person: recorded as an empty return, not on the to-do list, nothing to download
    const empty = (await items(f.tokens.admin, `?batch=${stay}`));
    expect(empty.map((x) => [x.recipientId, x.rows, x.state])).toEqual([['lz', 0, 'empty']]);
    const dl = await download(f.tokens.admin, empty[0].id, 'csv');
    expect([dl.status, dl.body.error]).toEqual([409, 'EXC_ERR_RETURN_EMPTY']);
    expect((await items(f.tokens.admin, `?batch=${b2}`)).map((x) => [x.recipientId, x.rows]).sort()).toEqual([['cd', 1], ['lz', 0]]);
    expect((await f.call('GET', '/admin/v1/exchange/return-todo', { token: f.tokens.admin })).body.items.every((x: any) => x.rows > 0)).toBe(true);
  });
});

describe('departments', () => {
  it('a department recipient gets the returns of its own uploads; 数据上报 shows each department\'s uploads and rejects, scoped by region', async () => {
    expect((await f.call('PUT', '/admin/v1/exchange/return-recipients/sjk', { token: f.tokens.admin, body: { name: '省疾控中心', region: '', department: '省疾控中心' } })).status).toBe(200);
    const own = await uploadDone(f.tokens.operator, '省疾控中心', [NAT_HEADER, `resident,${residentId(41)},钱七,,${ago(1)},阴性,所`, `resident,bad,钱八,,${ago(1)},阴性,所`]);
    const other = await uploadDone(f.tokens.operator, '某医院', [NAT_HEADER, `resident,${residentId(42)},孙九,,${ago(1)},阴性,所`]);
    const mine = await uploadDone(f.tokens.city_officer, '成都市疾控中心', [NAT_HEADER, `resident,${residentId(43)},周十,,${ago(1)},阴性,所`]);
    await inst.returnPusher.pass();
    const sjk = await items(f.tokens.admin, '?recipient=sjk');
    expect(sjk.map((x) => [x.batchId, x.rows, x.department])).toEqual([[own, 1, '省疾控中心']]);
    expect((await items(f.tokens.admin, `?batch=${other}`)).map((x) => x.recipientId).sort()).toEqual(['cd', 'lz']);
    // a provincial return is not a city's business
    expect((await items(f.tokens.city_officer)).some((x) => x.recipientId === 'sjk')).toBe(false);

    const up = await f.call('GET', '/admin/v1/exchange/uploads', { token: f.tokens.operator });
    const dept = up.body.departments.find((d: any) => d.department === '省疾控中心');
    expect(dept).toMatchObject({ batches: 1, rows: 2, accepted: 1, rejected: 1, failed: 0, byRule: { EXC_ERR_ID_INVALID: 1 } });
    expect(dept.recent[0]).toMatchObject({ id: own, status: 'done', rows: { total: 2, accepted: 1, rejected: 1 } });
    const one = await f.call('GET', `/admin/v1/exchange/uploads?department=${encodeURIComponent('某医院')}`, { token: f.tokens.operator });
    expect(one.body.departments.map((d: any) => d.department)).toEqual(['某医院']);
    const city = await f.call('GET', '/admin/v1/exchange/uploads', { token: f.tokens.city_officer });
    expect(city.body.departments.map((d: any) => [d.department, d.recent.map((b: any) => b.id)])).toEqual([['成都市疾控中心', [mine]]]);
    const bad = await f.call('GET', '/admin/v1/exchange/uploads?days=abc', { token: f.tokens.operator });
    expect(bad.status).toBe(400);
  });
});
