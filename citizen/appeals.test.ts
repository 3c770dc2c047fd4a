import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, LUZHOU_ID, LUZHOU_NAME, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { alertEventsAfter } from '../master/alert-events.js';
import { CITIZEN, type CitizenInstance } from './capability.js';

/**
 * 我要申诉 end to end over HTTP: a citizen with the page's session token
 * files, the order is routed to the person's region, officials accept /
 * reply / close (every view audited), the citizen sees the reply, SLA
 * overdue orders are flagged and alerted, statistics; and the bad-input
 * paths (markup, oversized photo, flood, wrong type) change nothing.
 */
let f: Fixture;
let cit: CitizenInstance;
let chengdu: string; // citizen session tokens
let luzhou: string;
const CONTACT = '13900001111';
// smallest valid PNG header + a few bytes
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('IHDR-photo-bytes-of-a-report')]);

async function session(body: Record<string, string>): Promise<string> {
  const r = await f.call('POST', '/v1/session', { body });
  expect(r.status).toBe(200);
  return r.body.token as string;
}

async function count(): Promise<number> {
  const r = await f.db.query<{ n: string | number }>('SELECT count(*) AS n FROM cit_appeals');
  return Number(r.rows[0]!.n);
}

function photoFiles(): string[] {
  return readdirSync(join(f.dataDir, 'citizen', 'photos'));
}

/** after the pinned clock moved: fresh back-office and citizen sessions */
async function relogin(): Promise<void> {
  for (const a of ['operator', 'city_officer', 'city_officer_b', 'hotline'] as const) f.tokens[a] = await f.login(a);
  chengdu = await session({ idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME });
  luzhou = await session({ idType: 'resident', idNo: LUZHOU_ID, name: LUZHOU_NAME });
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [CITIZEN], capabilityEnv: { citizen: { CITIZEN_APPEALS_PER_DAY: '3', CITIZEN_APPEAL_SLA_HOURS: 'code_wrong=24' } } });
  cit = f.instances.citizen as unknown as CitizenInstance;
  chengdu = await session({ idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME });
  luzhou = await session({ idType: 'resident', idNo: LUZHOU_ID, name: LUZHOU_NAME });
});
afterAll(async () => {
  await f?.close();
});

describe('filing (citizen page)', () => {
  it('needs the citizen session: none or a forged one → 401 CIT_ERR_SESSION', async () => {
    const a = await f.call('POST', '/citizen/v1/appeals', { body: { type: 'code_wrong', text: '我的码不对' } });
    expect(a.status).toBe(401);
    expect(a.body).toMatchObject({ error: 'CIT_ERR_SESSION', zh: '登录已失效，请重新登录' });
    const b = await f.call('GET', '/citizen/v1/appeals', { headers: { authorization: `Bearer ${'A'.repeat(50)}` } });
    expect(b.body.error).toBe('CIT_ERR_SESSION');
  });

  it('files with photo and contact: photo encrypted (0600), contact only hashed/encrypted, nothing in the log', async () => {
    const r = await f.call('POST', '/citizen/v1/appeals', {
      headers: { authorization: `Bearer ${chengdu}` },
      body: { type: 'code_wrong', text: '我一直在家，健康码却变成了黄码。\n请核实。', contact: CONTACT, photo: PNG.toString('base64') },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ type: 'code_wrong', typeZh: '健康码颜色有误', status: 'open', statusZh: '待受理', hasPhoto: true });
    expect(r.body.dueAt - r.body.createdAt).toBe(24 * 3600_000);
    const row = await f.db.query<{ region: string; contact_hash: Buffer; contact_enc: Buffer; photo_file: string }>(
      'SELECT region, contact_hash, contact_enc, photo_file FROM cit_appeals WHERE id = $1', [r.body.id],
    );
    expect(row.rows[0]!.region).toBe(CHENGDU_ID.slice(0, 6));
    expect(Buffer.from(row.rows[0]!.contact_enc).toString('latin1')).not.toContain(CONTACT);
    const file = join(f.dataDir, 'citizen', 'photos', row.rows[0]!.photo_file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(file).includes(Buffer.from('photo-bytes'))).toBe(false);
    expect(f.logLines.join('\n')).not.toContain(CONTACT);
    const mine = await f.call('GET', '/citizen/v1/appeals', { headers: { authorization: `Bearer ${chengdu}` } });
    expect(mine.body.appeals).toHaveLength(1);
  });

  it('script in the text → 400 CIT_ERR_TEXT_MARKUP, nothing stored', async () => {
    const before = await count();
    for (const text of ['<script>alert(1)</script>', '点这里 <img src=x onerror=alert(1)>', '<a href="javascript:alert(1)">x</a>']) {
      const r = await f.call('POST', '/citizen/v1/appeals', { headers: { authorization: `Bearer ${chengdu}` }, body: { type: 'other', text } });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'CIT_ERR_TEXT_MARKUP', field: 'text' });
    }
    expect(await count()).toBe(before);
  });

  it('oversized photo → 413 CIT_ERR_PHOTO_TOO_LARGE; not an image → 415 CIT_ERR_PHOTO_TYPE; nothing stored, no file left', async () => {
    const before = await count();
    const files = photoFiles().length;
    const big = Buffer.concat([PNG, Buffer.alloc(2 * 1024 * 1024 + 1 - PNG.length, 7)]);
    const r = await f.call('POST', '/citizen/v1/appeals', {
      headers: { authorization: `Bearer ${chengdu}` }, body: { type: 'other', text: '附照片', photo: big.toString('base64') },
    });
    expect(r.status).toBe(413);
    expect(r.body.error).toBe('CIT_ERR_PHOTO_TOO_LARGE');
    const t = await f.call('POST', '/citizen/v1/appeals', {
      headers: { authorization: `Bearer ${chengdu}` }, body: { type: 'other', text: '附照片', photo: Buffer.from('<svg onload=alert(1)>').toString('base64') },
    });
    expect(t.status).toBe(415);
    expect(t.body.error).toBe('CIT_ERR_PHOTO_TYPE');
    const bad = await f.call('POST', '/citizen/v1/appeals', { headers: { authorization: `Bearer ${chengdu}` }, body: { type: 'nope', text: 'x' } });
    expect(bad.status).toBe(400);
    expect(await count()).toBe(before);
    expect(photoFiles().length).toBe(files);
  });

  it('a flood from one identity → 429 CIT_ERR_APPEAL_FLOOD after 3 a day, the refused one changes nothing (its photo removed)', async () => {
    const h = { authorization: `Bearer ${chengdu}` };
    for (let i = 0; i < 2; i++) {
      expect((await f.call('POST', '/citizen/v1/appeals', { headers: h, body: { type: 'test_result', text: `第${i}次：核酸结果没有更新` } })).status).toBe(200);
    }
    const before = await count();
    const files = photoFiles().length;
    const r = await f.call('POST', '/citizen/v1/appeals', { headers: h, body: { type: 'other', text: '再来一次', photo: PNG.toString('base64') } });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ error: 'CIT_ERR_APPEAL_FLOOD', zh: expect.stringContaining('频繁') });
    expect(await count()).toBe(before);
    expect(photoFiles().length).toBe(files);
    // another person is not affected
    expect((await f.call('POST', '/citizen/v1/appeals', { headers: { authorization: `Bearer ${luzhou}` }, body: { type: 'travel_wrong', text: '行程卡显示去过武汉，但我没有去过' } })).status).toBe(200);
  });
});

describe('work orders (officials)', () => {
  it('the routes are in the OpenAPI document', async () => {
    const r = await f.call('GET', '/admin/openapi.json');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(['/citizen/v1/appeals', '/admin/v1/appeals/{id}', '/citizen/v1/kb', '/admin/v1/sampling/scan']));
  });

  it('are routed to the person\'s region: the Chengdu officer sees Chengdu\'s, Luzhou\'s does not; out-of-region view → 403 and audited', async () => {
    const cd = await f.call('GET', '/admin/v1/appeals', { token: f.tokens.city_officer });
    expect(cd.status).toBe(200);
    expect(cd.body.appeals.length).toBe(3);
    expect(cd.body.appeals.every((a: { region: string; regionZh: string }) => a.region.startsWith('5101') && a.regionZh.startsWith('四川省成都市'))).toBe(true);
    const lz = await f.call('GET', '/admin/v1/appeals', { token: f.tokens.city_officer_b });
    expect(lz.body.appeals.length).toBe(1);
    const denied = await f.call('GET', `/admin/v1/appeals/${cd.body.appeals[0].id}`, { token: f.tokens.city_officer_b });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toBe('CIT_ERR_OUT_OF_REGION');
    expect((await f.call('GET', '/admin/v1/appeals', { token: f.tokens.analyst })).status).toBe(403);
    const audit = await f.audit.list({ limit: 20, order: 'desc' });
    expect(audit.some((e) => e.action === 'appeal.view' && e.outcome === 'denied_scope' && e.actor === 'city_officer_b')).toBe(true);
    expect(audit.some((e) => e.action === 'appeal.list' && e.actor === 'city_officer')).toBe(true);
  });

  it('accept → reply → close, the citizen sees state and reply; every official view audited; contact masked for the hotline', async () => {
    const list = await f.call('GET', '/admin/v1/appeals?type=code_wrong', { token: f.tokens.city_officer });
    const id = list.body.appeals[0].id as number;
    const d = await f.call('GET', `/admin/v1/appeals/${id}`, { token: f.tokens.city_officer });
    expect(d.status).toBe(200);
    expect(d.body.contact).toBe(CONTACT);
    expect(d.body.person.code.color).toBe('green');
    expect(d.body.person.history.length).toBeGreaterThan(0);
    expect(d.body.events.map((e: { action: string }) => e.action)).toEqual(['filed']);
    const h = await f.call('GET', `/admin/v1/appeals/${id}`, { token: f.tokens.hotline });
    expect(h.body.contact).toBe('139****1111');
    const photo = await f.call('GET', `/admin/v1/appeals/${id}/photo`, { token: f.tokens.city_officer });
    expect(photo.status).toBe(200);
    expect(photo.headers.get('content-type')).toBe('image/png');
    const views = (await f.audit.list({ limit: 20, order: 'desc' })).filter((e) => (e.action === 'appeal.view' || e.action === 'appeal.photo') && e.target === `appeal:${id}` && e.outcome === 'ok');
    expect(views.map((e) => e.actor).sort()).toEqual(['city_officer', 'city_officer', 'hotline']);

    // closing before a reply to the citizen is refused
    expect((await f.call('POST', `/admin/v1/appeals/${id}/close`, { token: f.tokens.city_officer, body: { resolution: 'corrected' } })).body.error).toBe('CIT_ERR_APPEAL_STATE');
    expect((await f.call('POST', `/admin/v1/appeals/${id}/accept`, { token: f.tokens.city_officer, body: {} })).body.status).toBe('accepted');
    expect((await f.call('POST', `/admin/v1/appeals/${id}/accept`, { token: f.tokens.city_officer, body: {} })).status).toBe(409);
    const bad = await f.call('POST', `/admin/v1/appeals/${id}/reply`, { token: f.tokens.city_officer, body: { reply: '<b>已处理</b>' } });
    expect(bad.body.error).toBe('CIT_ERR_TEXT_MARKUP');
    // handle: change the code from the order (转码), audited with the order
    const tc = await f.call('POST', `/admin/v1/appeals/${id}/transcode`, { token: f.tokens.city_officer, body: { color: 'green', reason: 'appeal_corrected' } });
    expect(tc.status).toBe(200);
    expect((await f.call('POST', `/admin/v1/appeals/${id}/transcode`, { token: f.tokens.hotline, body: { color: 'green', reason: 'x' } })).status).toBe(403);
    f.clock.ms += 2 * 3600_000;
    await relogin();
    expect((await f.call('POST', `/admin/v1/appeals/${id}/reply`, { token: f.tokens.city_officer, body: { reply: '经核实，已为您更正为绿码。' } })).body.status).toBe('replied');
    // the citizen who left a call-back number gets an SMS that there is an answer
    const sms = await cit.travel.pendingSms();
    expect(sms).toEqual([expect.objectContaining({ phone: CONTACT, text: expect.stringContaining(`工单 ${id}）已有答复`) })]);
    const closed = await f.call('POST', `/admin/v1/appeals/${id}/close`, { token: f.tokens.city_officer, body: { resolution: 'corrected' } });
    expect(closed.body).toMatchObject({ status: 'closed', statusZh: '已办结', resolutionZh: '已更正' });

    const mine = await f.call('GET', `/citizen/v1/appeals/${id}`, { headers: { authorization: `Bearer ${chengdu}` } });
    expect(mine.body).toMatchObject({ status: 'closed', reply: '经核实，已为您更正为绿码。', resolutionZh: '已更正' });
    // someone else's order is not found for another citizen
    expect((await f.call('GET', `/citizen/v1/appeals/${id}`, { headers: { authorization: `Bearer ${luzhou}` } })).status).toBe(404);
    const actions = (await f.audit.list({ limit: 30, order: 'desc' })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['appeal.accept', 'appeal.reply', 'appeal.close', 'codes.transcode']));
  });

  it('a hotline seat files on a caller\'s behalf (by certificate); unknown caller → 404', async () => {
    const r = await f.call('POST', '/admin/v1/appeals', {
      token: f.tokens.hotline, body: { idType: 'resident', idNo: LUZHOU_ID, type: 'info_wrong', text: '来电人反映姓名登记错误', contact: '13700002222' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ channel: 'hotline', filedBy: 'hotline', regionZh: expect.stringContaining('泸州市') });
    const mine = await f.call('GET', '/citizen/v1/appeals', { headers: { authorization: `Bearer ${luzhou}` } });
    expect(mine.body.appeals.some((a: { channel: string }) => a.channel === 'hotline')).toBe(true);
    // the seat looks up the caller's orders (identity in the body, audited)
    const look = await f.call('POST', '/admin/v1/appeals/lookup', { token: f.tokens.hotline, body: { idType: 'resident', idNo: LUZHOU_ID } });
    expect(look.status).toBe(200);
    expect(look.body.name).toBe('欧**娜');
    expect(look.body.appeals.map((a: { typeZh: string }) => a.typeZh).sort()).toEqual(['个人信息有误', '行程信息有误']);
    expect((await f.call('POST', '/admin/v1/appeals/lookup', { token: f.tokens.hotline, body: { phone: '13600003333' } })).body.error).toBe('CIT_ERR_PERSON_NOT_FOUND');
    expect((await f.call('POST', '/admin/v1/appeals/lookup', { token: f.tokens.city_officer, body: { idType: 'resident', idNo: LUZHOU_ID } })).status).toBe(404);
    expect((await f.audit.list({ limit: 5, order: 'desc' })).some((e) => e.action === 'appeal.lookup' && e.actor === 'hotline' && e.outcome === 'ok')).toBe(true);
    const none = await f.call('POST', '/admin/v1/appeals', { token: f.tokens.hotline, body: { phone: '13600003333', type: 'other', text: '咨询' } });
    expect(none.status).toBe(404);
    expect(none.body.error).toBe('CIT_ERR_PERSON_NOT_FOUND');
  });

  it('overdue by the type\'s SLA: flagged and alerted once, with region and no personal data', async () => {
    const before = await alertEventsAfter(f.db, 0);
    const last = before.length === 0 ? 0 : before[before.length - 1]!.id;
    f.clock.ms += 25 * 3600_000; // past code_wrong/test_result 24 h; travel_wrong 48 h and info_wrong 72 h not yet
    await relogin();
    const n = await cit.sweepOverdue();
    expect(n).toBe(2); // the two open test_result orders (the code_wrong one is closed)
    expect(await cit.sweepOverdue()).toBe(0);
    const ev = await alertEventsAfter(f.db, last);
    expect(ev).toHaveLength(2);
    expect(ev[0]).toMatchObject({ source: 'citizen', kind: 'citizen.appeal_overdue', severity: 'warning', region: CHENGDU_ID.slice(0, 6) });
    expect(ev[0]!.summary).toMatch(/超时未办结（核酸结果未更新，四川省成都市/);
    expect(JSON.stringify(ev)).not.toContain(CONTACT);
    const od = await f.call('GET', '/admin/v1/appeals?overdue=true', { token: f.tokens.operator });
    expect(od.body.appeals).toHaveLength(2);
  });

  it('a closed order\'s photo is deleted after CITIZEN_PHOTO_DAYS (default 180); the order keeps that it had one', async () => {
    const files = photoFiles().length;
    expect(await cit.appeals.purgePhotos()).toBe(0);
    f.clock.ms += 181 * 86_400_000;
    expect(await cit.appeals.purgePhotos()).toBe(1);
    expect(photoFiles().length).toBe(files - 1);
    f.clock.ms -= 181 * 86_400_000;
    await relogin();
    const closed = (await f.call('GET', '/admin/v1/appeals?status=closed', { token: f.tokens.operator })).body.appeals[0];
    expect(closed.hasPhoto).toBe(true);
    const photo = await f.call('GET', `/admin/v1/appeals/${closed.id}/photo`, { token: f.tokens.operator });
    expect(photo.status).toBe(404);
  });

  it('statistics by type, region (by name) and time to close, scoped to the region', async () => {
    const s = await f.call('GET', '/admin/v1/appeals-stats', { token: f.tokens.operator });
    expect(s.status).toBe(200);
    expect(s.body.total).toBe(5);
    const cw = s.body.byType.find((x: { type: string }) => x.type === 'code_wrong');
    expect(cw).toMatchObject({ typeZh: '健康码颜色有误', closed: 1, avgHoursToClose: 2 });
    expect(s.body.byRegion.map((x: { regionZh: string }) => x.regionZh).sort()).toEqual(['四川省成都市', '四川省泸州市']);
    expect(s.body.closeHours).toMatchObject({ n: 1, p50: 2 });
    expect(s.body.perDay).toHaveLength(14);
    const cd = await f.call('GET', '/admin/v1/appeals-stats', { token: f.tokens.city_officer });
    expect(cd.body.total).toBe(3);
  });
});
