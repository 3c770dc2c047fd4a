import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySession } from '../core/session-token.js';
import { CHENGDU_ID, CHENGDU_NAME, LUZHOU_ID, LUZHOU_NAME, PHONE, rid, startAdmin, type Fixture } from './admin-fixture.common.js';

/**
 * Citizen sessions and codes over real HTTP: registration on first login,
 * query (masked per role), transcode → outbox delta + audit entry in one
 * transaction, clearing a manual change, bulk change with a second approver.
 */
let f: Fixture;
beforeAll(async () => {
  f = await startAdmin();
});
afterAll(async () => {
  await f?.close();
});

const now = (): number => Math.floor(f.clock.ms / 1000);

describe('POST /v1/session', () => {
  it('registers on first login (领码): a green code, its outbox delta, an audited registration; a token the edge accepts', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const commits = f.commits.n;
    const r = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } });
    expect(r.status).toBe(200);
    expect(r.body.registered).toBe(true);
    expect(r.body.expiresAt).toBe(now() + f.config.sessionTtlSec);
    // the masked number for the citizen page's card, never the number itself
    expect(r.body).toMatchObject({ idKind: 'resident', idMasked: '5101**********106X' });
    expect(JSON.stringify(r.body)).not.toContain(CHENGDU_ID);
    const claims = verifySession(f.sessionKey, r.body.token, now());
    const person = (await f.store.findPersonByCertificate('resident', CHENGDU_ID))!;
    expect(claims.uid.equals(person.uid)).toBe(true);
    expect(claims.expiresAt).toBe(r.body.expiresAt);
    const deltas = await f.store.readOutbox(seq0, 100);
    const code = deltas.find((d) => d.type === 'code')!;
    expect(code).toMatchObject({ type: 'code', record: { color: 'green', name: '张*丰' } });
    expect(Buffer.from((code as { uid: Uint8Array }).uid).equals(person.uid)).toBe(true);
    expect(f.commits.n).toBeGreaterThan(commits);
    const audit = (await f.audit.list({ action: 'person.register', order: 'desc', limit: 1 }))[0]!;
    expect(audit).toMatchObject({ actor: 'citizen', role: 'citizen', target: 'resident:5101**********106X', outcome: 'ok' });

    const again = await f.call('POST', '/v1/session', { body: { idType: '身份证', idNo: CHENGDU_ID.toLowerCase(), name: CHENGDU_NAME } });
    expect(again.status).toBe(200);
    expect(again.body.registered).toBe(false);
    expect(verifySession(f.sessionKey, again.body.token, now()).uid.equals(person.uid)).toBe(true);
    expect((await f.store.readOutbox(seq0, 100)).length).toBe(deltas.length); // nothing new to publish
  });

  it('accepts a phone alone', async () => {
    const r = await f.call('POST', '/v1/session', { body: { phone: `+86 ${PHONE}` } });
    expect(r.status).toBe(200);
    expect(r.body.registered).toBe(true);
    expect(r.body).toMatchObject({ idKind: 'phone', idMasked: `${PHONE.slice(0, 3)}****${PHONE.slice(7)}` });
    const p = await f.store.findPersonsByPhone(PHONE);
    expect(p).toHaveLength(1);
    expect(verifySession(f.sessionKey, r.body.token, now()).uid.equals(p[0]!.uid)).toBe(true);
  });

  // DESIGN §5: malformed identities → 400 with the reason; core's code passes through, naming the field
  const malformed: [string, Record<string, unknown>, string, string][] = [
    ['bad check digit', { idType: 'resident', idNo: '110105194912310021', name: '李四' }, 'CORE_ERR_ID_CHECK_DIGIT', 'idNo'],
    ['29 February 1900', { idType: 'resident', idNo: '510104190002291237', name: '李四' }, 'CORE_ERR_ID_BIRTH_DATE', 'idNo'],
    ['month 13', { idType: 'resident', idNo: '510104199013011238', name: '李四' }, 'CORE_ERR_ID_BIRTH_DATE', 'idNo'],
    ['birth date in the future', { idType: 'resident', idNo: '510104219901011231', name: '李四' }, 'CORE_ERR_ID_BIRTH_DATE', 'idNo'],
    ['16 characters', { idType: 'resident', idNo: '5101041990010112', name: '李四' }, 'CORE_ERR_ID_LENGTH', 'idNo'],
    ['letter in the body', { idType: 'resident', idNo: '51010419900101A234', name: '李四' }, 'CORE_ERR_ID_CHARS', 'idNo'],
    ['unknown certificate type', { idType: 'library_card', idNo: 'E12345678', name: '李四' }, 'CORE_ERR_ID_TYPE', 'idType'],
    ['passport without digits', { idType: 'passport', idNo: 'ABCDEFG', name: 'John Smith' }, 'CORE_ERR_CERT_FORMAT', 'idNo'],
    ['certificate without a name', { idType: 'resident', idNo: LUZHOU_ID }, 'CORE_ERR_NAME', 'name'],
    ['name with digits', { idType: 'resident', idNo: LUZHOU_ID, name: '李4' }, 'CORE_ERR_NAME', 'name'],
    ['landline', { phone: '02885551234' }, 'CORE_ERR_PHONE', 'phone'],
    ['phone too short', { phone: '1381234567' }, 'CORE_ERR_PHONE', 'phone'],
    ['foreign number', { phone: '+44 7700 900123' }, 'CORE_ERR_PHONE', 'phone'],
    ['nothing at all', {}, 'CORE_ERR_PERSON_KEY', 'idNo'],
    ['blank fields', { idNo: '  ', phone: '' }, 'CORE_ERR_PERSON_KEY', 'idNo'],
  ];
  for (const [name, body, code, field] of malformed) {
    it(`400 ${code}: ${name}`, async () => {
      const seq0 = await f.store.maxOutboxSeq();
      const r = await f.call('POST', '/v1/session', { body });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: code, field });
      expect(typeof r.body.message).toBe('string');
      expect(await f.store.maxOutboxSeq()).toBe(seq0);
    });
  }
  it('400 ADM_ERR_VALIDATION for a wrongly typed field', async () => {
    const r = await f.call('POST', '/v1/session', { body: { phone: 13812345678 } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'phone' });
  });
});

describe('code query', () => {
  beforeAll(async () => {
    expect((await f.call('POST', '/v1/session', { body: { idNo: LUZHOU_ID, name: LUZHOU_NAME, phone: '13900002222' } })).status).toBe(200);
    const p = (await f.store.findPersonByCertificate('resident', LUZHOU_ID))!;
    await f.codes.addFacts(p.id, [{ kind: 'risk_area_visit', at: now() - 3600, level: 'high', region: '510502', venue: 'V1' }], { source: 'cdc', sourceRef: 'file-7.csv' });
  });

  it('operator: identity in clear, code, facts with places, history; audited with a masked target', async () => {
    const r = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.operator, body: { idType: 'resident', idNo: LUZHOU_ID } });
    expect(r.status).toBe(200);
    expect(r.body.results).toHaveLength(1);
    const x = r.body.results[0];
    expect(x.person).toMatchObject({ idType: 'resident', idNo: LUZHOU_ID, phone: '13900002222', name: LUZHOU_NAME, nameMasked: '欧**娜', region: '510502', masked: false });
    expect(x.code).toMatchObject({ color: 'yellow', reason: expect.any(String) });
    expect(x.facts[0]).toMatchObject({ kind: 'risk_area_visit', level: 'high', region: '510502', venue: 'V1', source: 'cdc', sourceRef: 'file-7.csv' });
    expect(x.history.map((h: { color: string }) => h.color)).toEqual(['yellow', 'green']);
    const a = (await f.audit.list({ action: 'codes.query', order: 'desc', limit: 1 }))[0]!;
    expect(a).toMatchObject({ actor: 'operator', role: 'operator', outcome: 'ok', target: `resident:5105**********${LUZHOU_ID.slice(-4)}` });
    expect(a.details).toEqual({ personIds: [x.person.personId] });
  });

  it('analyst: masked identity, no places nor sources', async () => {
    const r = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.analyst, body: { idNo: LUZHOU_ID } });
    expect(r.status).toBe(200);
    const x = r.body.results[0];
    expect(x.person).toMatchObject({ idNo: `5105**********${LUZHOU_ID.slice(-4)}`, phone: '139****2222', name: '欧**娜', masked: true });
    expect(JSON.stringify(r.body)).not.toContain(LUZHOU_ID);
    expect(JSON.stringify(r.body)).not.toContain(LUZHOU_NAME);
    expect(x.facts[0]).toEqual({ id: expect.any(Number), kind: 'risk_area_visit', at: expect.any(Number), level: 'high', result: null, recordedAt: expect.any(Number) });
  });

  it('by phone: everyone registered with it; unknown → 404', async () => {
    await f.call('POST', '/v1/session', { body: { idNo: rid('51010420100101001'), name: '张小明', phone: PHONE } }); // a child with the parent's phone
    const r = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.admin, body: { phone: PHONE } });
    expect(r.status).toBe(200);
    expect(r.body.results).toHaveLength(2);
    expect(r.body.results[0].person.idType).toBeNull(); // the person keyed by the phone comes first
    const none = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.admin, body: { phone: '13700000000' } });
    expect(none.status).toBe(404);
    expect(none.body.error).toBe('ADM_ERR_NOT_FOUND');
  });

  it('malformed identity → 400 with core\'s code, and no audit entry (nothing was read)', async () => {
    const before = (await f.audit.list({ order: 'desc', limit: 1 }))[0]!.seq;
    const r = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.admin, body: { idNo: '110105194912310021' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('CORE_ERR_ID_CHECK_DIGIT');
    expect((await f.audit.list({ order: 'desc', limit: 1 }))[0]!.seq).toBe(before);
  });
});

describe('transcode (转码)', () => {
  it('changes the code: new record, outbox delta, audit entry with masked target, publisher kicked', async () => {
    const person = (await f.store.findPersonByCertificate('resident', CHENGDU_ID))!;
    const seq0 = await f.store.maxOutboxSeq();
    const commits = f.commits.n;
    const until = now() + 7 * 86_400;
    const r = await f.call('POST', '/admin/v1/codes/transcode', {
      token: f.tokens.operator, body: { idType: 'resident', idNo: CHENGDU_ID, color: 'red', reason: 'close_contact_manual', until },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ changed: true, overridden: true, code: { color: 'red', reason: 'close_contact_manual', until, name: '张*丰' } });
    expect(r.body.seq).toBe(seq0 + 1);
    const [d] = await f.store.readOutbox(seq0, 10);
    expect(d).toMatchObject({ seq: seq0 + 1, type: 'code', record: { color: 'red', reason: 'close_contact_manual', until } });
    expect(Buffer.from((d as { uid: Uint8Array }).uid).equals(person.uid)).toBe(true);
    expect(f.commits.n).toBe(commits + 1);
    const a = (await f.audit.list({ action: 'codes.transcode', order: 'desc', limit: 1 }))[0]!;
    expect(a).toMatchObject({ actor: 'operator', role: 'operator', outcome: 'ok', target: 'resident:5101**********106X', fromAddr: '127.0.0.1' });
    expect(a.details).toMatchObject({ personId: person.id, color: 'red', reason: 'close_contact_manual', until, seq: seq0 + 1, changed: true });
    const q = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.operator, body: { idNo: CHENGDU_ID } });
    expect(q.body.results[0].override).toMatchObject({ color: 'red', reason: 'close_contact_manual', actor: 'operator', active: true });
    expect(q.body.results[0].history[0]).toMatchObject({ color: 'red', actor: 'operator', prevColor: 'green' });
  });

  it('refuses an until in the past (400, nothing written, failure audited)', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const r = await f.call('POST', '/admin/v1/codes/transcode', { token: f.tokens.operator, body: { idNo: CHENGDU_ID, color: 'green', reason: 'x', until: now() - 1 } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'MASTER_ERR_INVALID', field: 'until' });
    expect(await f.store.maxOutboxSeq()).toBe(seq0);
    const a = (await f.audit.list({ action: 'codes.transcode', order: 'desc', limit: 1 }))[0]!;
    expect(a).toMatchObject({ outcome: 'failed', details: { code: 'MASTER_ERR_INVALID' } });
  });

  it('a reason that smuggles a phone number is refused by the audit log, and the change rolls back with it', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const r = await f.call('POST', '/admin/v1/codes/transcode', { token: f.tokens.operator, body: { idNo: CHENGDU_ID, color: 'yellow', reason: 'call 13912345678' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('MASTER_ERR_AUDIT_PII');
    expect(await f.store.maxOutboxSeq()).toBe(seq0);
    const p = (await f.store.findPersonByCertificate('resident', CHENGDU_ID))!;
    expect((await f.store.getCode(p.id))!.color).toBe('red');
  });

  it('unknown person → 404; a phone shared by several people → 409 ADM_ERR_AMBIGUOUS', async () => {
    const nobody = await f.call('POST', '/admin/v1/codes/transcode', { token: f.tokens.operator, body: { idNo: rid('51010419700101002'), color: 'red', reason: 'x' } });
    expect(nobody.status).toBe(404);
    const shared = await f.call('POST', '/admin/v1/codes/transcode', { token: f.tokens.operator, body: { phone: PHONE, color: 'red', reason: 'x' } });
    expect(shared.status).toBe(409);
    expect(shared.body.error).toBe('ADM_ERR_AMBIGUOUS');
  });

  it('clear hands the person back to the rules', async () => {
    const r = await f.call('POST', '/admin/v1/codes/clear', { token: f.tokens.operator, body: { idNo: CHENGDU_ID } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ changed: true, overridden: false, code: { color: 'green' } });
    expect((await f.audit.list({ action: 'codes.clear', order: 'desc', limit: 1 }))[0]).toMatchObject({ outcome: 'ok', actor: 'operator' });
  });
});

describe('bulk change with a second approver (GB/T 35273 7.1)', () => {
  const items = (): unknown[] => [{ idNo: CHENGDU_ID }, { idType: 'resident', idNo: LUZHOU_ID }, { idNo: CHENGDU_ID.toLowerCase() }];

  it('is pending until a DIFFERENT user approves; the requester approving gets 403', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const c = await f.call('POST', '/admin/v1/codes/bulk', { token: f.tokens.operator, body: { items: items(), color: 'red', reason: 'cluster_0527' } });
    expect(c.status).toBe(202);
    expect(c.body).toMatchObject({ status: 'pending', requestedBy: 'operator', count: 2, change: { color: 'red', reason: 'cluster_0527', until: null } });
    expect(c.body.targets).toEqual(['resident:5101**********106X', `resident:5105**********${LUZHOU_ID.slice(-4)}`]);
    expect(await f.store.maxOutboxSeq()).toBe(seq0); // nothing applied yet

    const self = await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/approve`, { token: f.tokens.operator });
    expect(self.status).toBe(403);
    expect(self.body.error).toBe('ADM_ERR_SAME_APPROVER');
    // the same user with a second session is still the same user
    const self2 = await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/approve`, { token: await f.login('operator') });
    expect(self2.status).toBe(403);
    expect(await f.store.maxOutboxSeq()).toBe(seq0);
    expect((await f.audit.list({ action: 'codes.bulk.approve', order: 'desc', limit: 1 }))[0]).toMatchObject({ actor: 'operator', outcome: 'denied' });

    const ok = await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/approve`, { token: f.tokens.operator2 });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'approved', applied: 2, changed: 2, failed: [] });
    const deltas = await f.store.readOutbox(seq0, 10);
    expect(deltas.filter((d) => d.type === 'code').map((d) => (d as { record: { color: string } }).record.color)).toEqual(['red', 'red']);
    const transcodes = await f.audit.list({ action: 'codes.transcode', order: 'desc', limit: 2 });
    expect(transcodes.every((e) => e.actor === 'operator2' && e.details.requestedBy === 'operator' && e.details.bulk === c.body.id)).toBe(true);
    expect((await f.audit.list({ action: 'codes.bulk.approve', order: 'desc', limit: 1 }))[0]).toMatchObject({ actor: 'operator2', outcome: 'ok' });

    // approved once: a second approval finds nothing pending
    const twice = await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/approve`, { token: f.tokens.admin });
    expect(twice.status).toBe(404);
  });

  it('can be rejected; a rejected request cannot be approved', async () => {
    const c = await f.call('POST', '/admin/v1/codes/bulk', { token: f.tokens.operator, body: { items: items(), color: 'green', reason: 'release' } });
    const list = await f.call('GET', '/admin/v1/codes/bulk', { token: f.tokens.operator2 });
    expect(list.body.requests.map((x: { id: string }) => x.id)).toContain(c.body.id);
    const rej = await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/reject`, { token: f.tokens.operator2 });
    expect(rej.status).toBe(200);
    expect(rej.body.status).toBe('rejected');
    expect((await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/approve`, { token: f.tokens.admin })).status).toBe(404);
  });

  it('expires after BULK_REQUEST_TTL_SEC', async () => {
    const c = await f.call('POST', '/admin/v1/codes/bulk', { token: f.tokens.operator, body: { items: items(), color: 'green', reason: 'release' } });
    f.clock.ms += (f.config.bulkRequestTtlSec + 1) * 1000;
    try {
      const a = await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/approve`, { token: await f.login('operator2') });
      expect(a.status).toBe(404);
    } finally {
      f.clock.ms -= (f.config.bulkRequestTtlSec + 1) * 1000;
    }
  });

  it('names the item that is malformed or unknown', async () => {
    const bad = await f.call('POST', '/admin/v1/codes/bulk', { token: f.tokens.operator, body: { items: [{ idNo: CHENGDU_ID }, { idNo: '110105194912310021' }], color: 'red', reason: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'CORE_ERR_ID_CHECK_DIGIT', field: 'items[1].idNo' });
    const unknown = await f.call('POST', '/admin/v1/codes/bulk', { token: f.tokens.operator, body: { items: [{ idNo: rid('51010419700101002') }], color: 'red', reason: 'x' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.field).toBe('items[0]');
  });
});

describe('POST /v1/session from the citizen page (CORS)', () => {
  const page = 'http://127.0.0.1:8080';
  it('answers the preflight and the call for a configured origin only', async () => {
    expect(f.config.corsOrigins).toContain(page);
    const pre = await f.call('OPTIONS', '/v1/session', {
      headers: { origin: page, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(page);
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type');
    const r = await f.call('POST', '/v1/session', { headers: { origin: page }, body: { phone: '13900001111' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe(page);

    const evil = await f.call('OPTIONS', '/v1/session', { headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const evilPost = await f.call('POST', '/v1/session', { headers: { origin: 'http://evil.example' }, body: { phone: '13900001112' } });
    expect(evilPost.headers.get('access-control-allow-origin')).toBeNull();
  });
});
