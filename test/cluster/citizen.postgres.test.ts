import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, startAdmin, type Fixture } from '../../admin-api/admin-fixture.common.js';
import { CITIZEN, type CitizenInstance } from '../../citizen/capability.js';
import { seedKnowledgeBase } from '../../citizen/kb-seed.js';
import { PiiCrypto } from '../../master/pii-crypto.js';
import { openPostgres, type SqlClient } from '../../master/sql-client.js';

/**
 * The citizen capability (issue 16) on real PostgreSQL: its migrations, and
 * one pass through each service — the node-postgres driver returns bigint
 * and numeric as strings where PGlite gives numbers, which is what this
 * catches. The full behaviour is tested on PGlite in citizen/*.test.ts.
 */
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `t_${randomBytes(6).toString('hex')}`;
let admin: SqlClient | undefined;
let db: SqlClient | undefined;
let f: Fixture;
let token: string;

beforeAll(async () => {
  try {
    admin = await openPostgres(url, { max: 1 });
    await admin.query(`CREATE SCHEMA ${schema}`);
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${url.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}). Start it or set DATABASE_URL; cluster tests never skip.`, { cause: err });
  }
  db = await openPostgres(url, { searchPath: schema, max: 10 });
  // a cluster has no development SMS code unless asked for (CITIZEN_SMS_DEV_CODE)
  f = await startAdmin({ db, capabilities: [CITIZEN], capabilityEnv: { citizen: { CITIZEN_SMS_DEV_CODE: '1' } } });
  token = (await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } })).body.token;
});

afterAll(async () => {
  await f?.close();
  await db?.close();
  if (admin !== undefined) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  }
});

describe('citizen services on PostgreSQL', () => {
  it('appeals: file, flood guard, work the order, statistics with numbers', async () => {
    expect(f.db.kind).toBe('postgres');
    const h = { authorization: `Bearer ${token}` };
    const a = await f.call('POST', '/citizen/v1/appeals', { headers: h, body: { type: 'code_wrong', text: '码不对', contact: '13900001111' } });
    expect(a.status).toBe(200);
    expect(typeof a.body.id).toBe('number');
    for (let i = 0; i < 2; i++) await f.call('POST', '/citizen/v1/appeals', { headers: h, body: { type: 'other', text: `第${i}次` } });
    expect((await f.call('POST', '/citizen/v1/appeals', { headers: h, body: { type: 'other', text: '再来' } })).body.error).toBe('CIT_ERR_APPEAL_FLOOD');
    for (const [step, body] of [['accept', {}], ['reply', { reply: '已核实' }], ['close', { resolution: 'explained' }]] as const) {
      expect((await f.call('POST', `/admin/v1/appeals/${a.body.id}/${step}`, { token: f.tokens.operator, body })).status).toBe(200);
    }
    const s = await f.call('GET', '/admin/v1/appeals-stats', { token: f.tokens.operator });
    expect(s.body.total).toBe(3);
    expect(s.body.closeHours.n).toBe(1);
    expect(typeof s.body.byType[0].total).toBe('number');
    const d = await f.call('GET', `/admin/v1/appeals/${a.body.id}`, { token: f.tokens.operator });
    expect(d.body.contact).toBe('13900001111');
    f.clock.ms += 80 * 3600_000;
    expect(await (f.instances.citizen as unknown as CitizenInstance).sweepOverdue()).toBe(2);
    f.clock.ms -= 80 * 3600_000;
  });

  it('knowledge base, travel card and sampling', async () => {
    const cit = f.instances.citizen as unknown as CitizenInstance;
    expect(await seedKnowledgeBase(cit.kb)).toBeGreaterThan(3);
    const hits = await cit.kb.search('健康码变黄');
    expect(hits[0]!.title).toBe('为什么我的健康码变黄了');
    expect(typeof hits[0]!.score).toBe('number');

    const phone = '13911112222';
    const hash = new PiiCrypto(f.secrets).lookupHash(`P:${phone}`);
    await f.db.query("INSERT INTO carrier_stays (phone_hash, carrier, region, day, source) VALUES ($1, 'cmcc', '4201', (now() AT TIME ZONE 'Asia/Shanghai')::date, 'import:carrier')", [hash]);
    await f.db.query("INSERT INTO risk_areas (region, level, since) VALUES ('420102', 'high', now())");
    const h = { authorization: `Bearer ${token}` };
    const code = await f.call('POST', '/citizen/v1/travel-card/code', { headers: h, body: { phone } });
    const card = await f.call('POST', '/citizen/v1/travel-card', { headers: h, body: { phone, code: code.body.devCode } });
    expect(card.body.stays[0]).toMatchObject({ region: '4201', risk: 'high' });
    expect(card.body.factsAdded).toBe(1);

    const reg = await f.call('POST', '/citizen/v1/sampling', { headers: h, body: {} });
    const scan = await f.call('POST', '/admin/v1/sampling/scan', { token: f.tokens.operator, body: { qr: reg.body.qr, site: '采样点' } });
    expect(scan.body).toMatchObject({ id: reg.body.id, status: 'sampled' });
    expect(typeof scan.body.sampledAt).toBe('number');
  });
});
