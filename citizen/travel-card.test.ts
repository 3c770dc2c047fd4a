import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import { CITIZEN, type CitizenInstance } from './capability.js';

/**
 * 行程卡: SMS code (hash kept, outbox sealed, rate limited, wrong / locked),
 * 14 China days of carrier stays by city name, risk cities marked, and a
 * stay in a risk city recorded once as a risk_area_visit fact → yellow code.
 * carrier_stays rows are inserted directly (the exchange capability writes them).
 */
let f: Fixture;
let token: string;
const PHONE = '13911112222';
const DAY = 86_400_000;

function chinaDay(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
}

async function citizen(path: string, body: unknown) {
  return f.call('POST', path, { headers: { authorization: `Bearer ${token}` }, body });
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [CITIZEN] });
  const s = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } });
  token = s.body.token;
  const hash = new PiiCrypto(f.secrets).lookupHash(`P:${PHONE}`);
  const now = f.clock.ms;
  const rows: [string, number][] = [['5101', 0], ['5101', 1], ['5101', 2], ['4201', 5], ['420102', 6], ['3101', 20]];
  for (const [region, ago] of rows) {
    await f.db.query("INSERT INTO carrier_stays (phone_hash, carrier, region, day, source, source_ref) VALUES ($1, 'cmcc', $2, $3::date, 'import:carrier', $4)",
      [hash, region, chinaDay(now - ago * DAY), `b1:${ago}`]);
  }
  await f.db.query("INSERT INTO risk_areas (region, level, since) VALUES ('420102001', 'high', now()), ('510104', 'low', now())");
});
afterAll(async () => {
  await f?.close();
});

describe('travel card', () => {
  it('needs the session; a malformed phone → CIT_ERR_INVALID', async () => {
    expect((await f.call('POST', '/citizen/v1/travel-card/code', { body: { phone: PHONE } })).body.error).toBe('CIT_ERR_SESSION');
    expect((await citizen('/citizen/v1/travel-card/code', { phone: '12345' })).body).toMatchObject({ error: 'CIT_ERR_INVALID', field: 'phone' });
  });

  it('wrong code → 400 CIT_ERR_CODE_WRONG and nothing changes; the right one shows 14 days of cities with the risk city marked', async () => {
    const sent = await citizen('/citizen/v1/travel-card/code', { phone: PHONE });
    expect(sent.status).toBe(200);
    expect(sent.body.devCode).toMatch(/^[0-9]{6}$/);
    // the stored code is a keyed hash; the outbox entry is sealed
    const stored = await f.db.query<{ code_hash: Buffer }>('SELECT code_hash FROM cit_sms_codes');
    expect(Buffer.from(stored.rows[0]!.code_hash).toString('latin1')).not.toContain(sent.body.devCode);
    const out = await f.db.query<{ phone_enc: Buffer; text_enc: Buffer }>('SELECT phone_enc, text_enc FROM cit_sms_outbox');
    expect(out.rows).toHaveLength(1);
    expect(Buffer.from(out.rows[0]!.phone_enc).toString('latin1')).not.toContain(PHONE);
    expect(Buffer.from(out.rows[0]!.text_enc).toString('latin1')).not.toContain(sent.body.devCode);
    // the sender's view: opened for sending, then marked
    const cards = (f.instances.citizen as unknown as CitizenInstance).travel;
    const pending = await cards.pendingSms();
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ phone: PHONE, text: expect.stringContaining(sent.body.devCode) });
    expect(await cards.markSmsSent([pending[0]!.id])).toBe(1);
    expect(await cards.pendingSms()).toHaveLength(0);
    // a second code within the minute
    expect((await citizen('/citizen/v1/travel-card/code', { phone: PHONE })).body.error).toBe('CIT_ERR_SMS_RATE');

    const wrongCode = sent.body.devCode === '000000' ? '111111' : '000000';
    const w = await citizen('/citizen/v1/travel-card', { phone: PHONE, code: wrongCode });
    expect(w.status).toBe(400);
    expect(w.body).toMatchObject({ error: 'CIT_ERR_CODE_WRONG', zh: '验证码错误或已过期' });
    const person = (await f.store.findPersonByCertificate('resident', CHENGDU_ID))!;
    expect(await f.codes.facts(person.id)).toHaveLength(0);

    const card = await citizen('/citizen/v1/travel-card', { phone: PHONE, code: sent.body.devCode });
    expect(card.status).toBe(200);
    expect(card.body.phoneMasked).toBe('139****2222');
    expect(card.body.stays.map((s: { cityZh: string }) => s.cityZh)).toEqual(['成都市', '武汉市', '江岸区']);
    const wuhan = card.body.stays.find((s: { region: string }) => s.region === '4201');
    expect(wuhan).toMatchObject({ regionZh: '湖北省武汉市', risk: 'high', riskZh: '高风险', days: 1 });
    // a low-risk area is not marked; the stay 20 days ago is outside the window
    expect(card.body.stays.find((s: { region: string }) => s.region === '5101')).toMatchObject({ risk: null, days: 3 });
    expect(card.body.stays.some((s: { region: string }) => s.region === '3101')).toBe(false);
    expect(card.body.anyRisk).toBe(true);
    expect(card.body.factsAdded).toBe(2);
    // the rule fact turned the code yellow (arrived from a risk area)
    const facts = await f.codes.facts(person.id);
    expect(facts.map((x) => [x.kind, x.level, x.source])).toEqual([
      ['risk_area_visit', 'high', 'citizen:travel-card'], ['risk_area_visit', 'high', 'citizen:travel-card'],
    ]);
    expect((await f.store.getCode(person.id))!.color).toBe('yellow');
    // the code is used up
    expect((await citizen('/citizen/v1/travel-card', { phone: PHONE, code: sent.body.devCode })).body.error).toBe('CIT_ERR_CODE_WRONG');
    expect(f.logLines.join('\n')).not.toContain(PHONE);
    const audit = await f.audit.list({ limit: 5, order: 'desc' });
    expect(audit.find((e) => e.action === 'travel_card.view')).toMatchObject({ target: '139****2222', outcome: 'ok' });
  });

  it('a second view adds no fact twice; five wrong codes lock the code (CIT_ERR_CODE_LOCKED)', async () => {
    f.clock.ms += 61_000;
    const s = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } });
    token = s.body.token;
    const sent = await citizen('/citizen/v1/travel-card/code', { phone: PHONE });
    const again = await citizen('/citizen/v1/travel-card', { phone: PHONE, code: sent.body.devCode });
    expect(again.body.factsAdded).toBe(0);
    f.clock.ms += 61_000;
    const next = await citizen('/citizen/v1/travel-card/code', { phone: PHONE });
    const wrong = next.body.devCode === '000000' ? '111111' : '000000';
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) codes.push((await citizen('/citizen/v1/travel-card', { phone: PHONE, code: wrong })).body.error);
    expect(codes).toEqual(['CIT_ERR_CODE_WRONG', 'CIT_ERR_CODE_WRONG', 'CIT_ERR_CODE_WRONG', 'CIT_ERR_CODE_WRONG', 'CIT_ERR_CODE_LOCKED']);
    const locked = await citizen('/citizen/v1/travel-card', { phone: PHONE, code: next.body.devCode });
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe('CIT_ERR_CODE_LOCKED');
  });

  it('codes and sent messages are deleted after a day', async () => {
    const cards = (f.instances.citizen as unknown as CitizenInstance).travel;
    const n = async (t: string): Promise<number> => Number((await f.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]!.n);
    expect(await n('cit_sms_codes')).toBe(3);
    await cards.markSmsSent((await cards.pendingSms()).map((m) => m.id));
    f.clock.ms += 25 * 3600_000;
    expect(await cards.purge()).toBe(6);
    expect(await n('cit_sms_codes')).toBe(0);
    expect(await n('cit_sms_outbox')).toBe(0);
  });
});
