import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { issueSession } from '../core/session-token.js';
import { exchangeCapability, type ExchangeInstance } from '../exchange/capability.js';
import { chinaTime, csv, NAT_HEADER, residentId, upload } from '../exchange/test-helpers.common.js';
import { CITIZEN } from './capability.js';

/**
 * GET /citizen/v1/health-status (issue 15 item 8): the card's 核酸 and 疫苗
 * lines, from department files imported through the real exchange pipeline
 * (nat-result → facts, vaccination → exchange_vaccinations). Scoped to the
 * session's person; no identity in the URL or the answer.
 */
let f: Fixture;
const ORIGIN = 'http://citizen-page.example';
const A = { id: residentId(4101), name: '钱多多' };
const B = { id: residentId(4102), name: '孙小美' };
const sessions: Record<string, string> = {};

const ago = (h: number): string => chinaTime(f.clock.ms - h * 3600_000);
const secAgo = (h: number): number => Math.floor((f.clock.ms - h * 3600_000) / 1000);

async function imported(dataset: string, lines: string[]): Promise<void> {
  const r = await upload(f, f.tokens.operator, { name: `${dataset}.csv`, data: csv(lines) }, { dataset, department: '测试' });
  expect(r.status).toBe(202);
  await (f.instances.exchange as unknown as ExchangeInstance).jobs.idle();
  const done = await f.call('GET', `/admin/v1/imports/${r.body.id}`, { token: f.tokens.operator });
  expect(done.body).toMatchObject({ status: 'done', rows: { rejected: 0 } });
}

async function status(token: string | null, path = '/citizen/v1/health-status', headers: Record<string, string> = {}) {
  return f.call('GET', path, { headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers } });
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [CITIZEN, exchangeCapability], startCapabilities: true, config: { corsOrigins: [ORIGIN] } });
  for (const [k, p] of Object.entries({ A, B })) {
    const r = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: p.id, name: p.name } });
    expect(r.status).toBe(200);
    sessions[k] = r.body.token as string;
  }
}, 60_000);

afterAll(async () => {
  await f?.close();
});

describe('GET /citizen/v1/health-status', () => {
  it('answers null for both while nothing is on record', async () => {
    const r = await status(sessions.A!);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ nat: null, vaccination: null });
    expect(r.headers.get('cache-control')).toBe('no-store') // the back office's default for every answer but the public help list;
  });

  it('answers the latest nucleic-acid result and the doses imported for the session\'s person only', async () => {
    await imported('nat-result', [
      NAT_HEADER,
      `resident,${A.id},${A.name},,${ago(72)},阳性,成都检测所`,
      `resident,${A.id},${A.name},,${ago(20)},阴性,成都检测所`,
      `resident,${B.id},${B.name},,${ago(5)},阳性,华西检测所`,
    ]);
    await imported('vaccination', [
      '证件类型,证件号码,姓名,手机号,接种时间,剂次,疫苗名称,接种单位',
      `居民身份证,${A.id},${A.name},,${ago(24 * 300)},第一剂,新冠病毒灭活疫苗,锦江区社区卫生服务中心`,
      `居民身份证,${A.id},${A.name},,${ago(24 * 270)},第二剂,新冠病毒灭活疫苗,锦江区社区卫生服务中心`,
      `居民身份证,${A.id},${A.name},,${ago(24 * 90)},加强针,新冠病毒灭活疫苗,锦江区社区卫生服务中心`,
    ]);
    const a = await status(sessions.A!);
    expect(a.status).toBe(200);
    // chinaTime keeps seconds: compare to the second
    expect(a.body).toEqual({ nat: { result: 'negative', sampledAt: secAgo(20) }, vaccination: { doses: 3, lastAt: secAgo(24 * 90) } });
    const b = await status(sessions.B!);
    expect(b.body).toEqual({ nat: { result: 'positive', sampledAt: secAgo(5) }, vaccination: null });
    // another person's certificate in the URL changes nothing: the session alone says whose
    const c = await status(sessions.A!, `/citizen/v1/health-status?idType=resident&idNo=${B.id}`);
    expect(c.body).toEqual(a.body);
    // nothing identifying in the answer
    for (const r of [a, b]) {
      for (const p of [A, B]) {
        expect(r.text).not.toContain(p.id);
        expect(r.text).not.toContain(p.id.slice(-6));
        expect(r.text).not.toContain(p.name);
        expect(r.text).not.toContain(p.name.slice(0, 1));
      }
      expect(r.text).not.toMatch(/检测所|疫苗名称|卫生服务中心/); // lab and site stay on the master
    }
  });

  it('refuses a missing, forged, expired or unregistered session with CIT_ERR_SESSION in Chinese', async () => {
    const forged = sessions.A!.slice(0, -2) + (sessions.A!.endsWith('AA') ? 'BB' : 'AA');
    const expired = issueSession(f.sessionKey, Buffer.alloc(16, 7), Math.floor(f.clock.ms / 1000) - 1);
    const nobody = issueSession(f.sessionKey, Buffer.alloc(16, 7), Math.floor(f.clock.ms / 1000) + 600);
    for (const t of [null, forged, expired, nobody, 'not a token']) {
      const r = await status(t);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error: 'CIT_ERR_SESSION', zh: '登录已失效，请重新登录' });
    }
  });

  it('answers CORS for the citizen page origin only', async () => {
    const ok = await status(sessions.A!, undefined, { origin: ORIGIN });
    expect(ok.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const other = await status(sessions.A!, undefined, { origin: 'http://elsewhere.example' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never writes the certificate number or the name into the log', () => {
    const log = f.logLines.join('\n');
    expect(log).toContain('/citizen/v1/health-status');
    for (const p of [A, B]) {
      expect(log).not.toContain(p.name);
    }
    for (const l of log.split('\n').filter((x) => x.includes('health-status'))) expect(l).not.toContain(A.id);
  });
});
