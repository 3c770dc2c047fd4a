import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAdminConfig } from './config.js';
import { rid, startAdmin, type Fixture } from './admin-fixture.common.js';

/**
 * Issue 14 item 6: POST /v1/session behind a carrier-grade NAT. The tight
 * limit is per identity (whatever the address); the per-address one is a
 * flood ceiling large enough for thousands of phones behind one exit.
 * Addresses are varied with X-Forwarded-For from the trusted loopback proxy,
 * as nginx sends it in deploy/.
 */
function person(i: number): { idType: string; idNo: string; name: string } {
  return { idType: 'resident', idNo: rid(`51010419900101${String(i).padStart(3, '0')}`), name: '张三' };
}

function from(addr: string): Record<string, string> {
  return { 'x-forwarded-for': addr };
}

describe('the default limits let a carrier NAT address through', () => {
  let f: Fixture;
  beforeAll(async () => {
    const defaults = loadAdminConfig({});
    // the fixture raises the session limit for other files: back to the shipped defaults here
    f = await startAdmin({ accounts: false, config: { sessionRatePerMin: defaults.sessionRatePerMin, sessionIdentityRatePerMin: defaults.sessionIdentityRatePerMin } });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('200 different identities from one address all get sessions (the old default stopped at 60)', async () => {
    expect(f.config.sessionRatePerMin).toBe(6000);
    let ok = 0;
    for (let i = 0; i < 200; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, (_, j) => f.call('POST', '/v1/session', { body: person(i + j) })));
      for (const r of batch) {
        expect(r.status).toBe(200);
        expect(typeof r.body.token).toBe('string');
        ok++;
      }
    }
    expect(ok).toBe(200);
  });
});

describe('per-identity limit', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startAdmin({ accounts: false, config: { trustProxy: ['127.0.0.1'], sessionRatePerMin: 1000, sessionIdentityRatePerMin: 10 } });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('one identity past its bucket gets ADM_ERR_RATE_LIMITED with Retry-After, from any address; others are not affected', async () => {
    const p = person(900);
    for (let i = 0; i < 10; i++) {
      // spelled differently and from a different address each time: still one identity, one bucket
      const body = i % 2 === 0 ? p : { ...p, idType: '身份证', idNo: p.idNo.toLowerCase() };
      const r = await f.call('POST', '/v1/session', { body, headers: from(`203.0.113.${i + 1}`) });
      expect(r.status).toBe(200);
    }
    const r = await f.call('POST', '/v1/session', { body: p, headers: from('198.51.100.200') });
    expect(r.status).toBe(429);
    expect(r.body.error).toBe('ADM_ERR_RATE_LIMITED');
    expect(r.headers.get('retry-after')).toBe('6'); // 10 a minute: a token every 6 s
    expect(r.text).not.toContain(p.idNo);
    // a name guess is refused by the limit too, before the name is compared
    expect((await f.call('POST', '/v1/session', { body: { ...p, name: '李四' }, headers: from('198.51.100.201') })).body.error)
      .toBe('ADM_ERR_RATE_LIMITED');
    // another identity from the same address is not affected
    expect((await f.call('POST', '/v1/session', { body: person(901), headers: from('198.51.100.200') })).status).toBe(200);
    // a token comes back after Retry-After
    f.clock.ms += 6_000;
    expect((await f.call('POST', '/v1/session', { body: p, headers: from('198.51.100.200') })).status).toBe(200);
    for (const line of f.logLines) expect(line).not.toContain(p.idNo);
  });

  it('a phone login has its own bucket', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await f.call('POST', '/v1/session', { body: { phone: '13900001111' }, headers: from(`203.0.113.${i + 50}`) })).status).toBe(200);
    }
    const r = await f.call('POST', '/v1/session', { body: { phone: '+86 139 0000 1111' }, headers: from('203.0.113.99') });
    expect(r.status).toBe(429);
    expect(r.body.error).toBe('ADM_ERR_RATE_LIMITED');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('per-address ceiling', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startAdmin({ accounts: false, config: { trustProxy: ['127.0.0.1'], sessionRatePerMin: 5, sessionIdentityRatePerMin: 1000 } });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('still applies: the sixth call from one address within the minute is refused, another address is not', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await f.call('POST', '/v1/session', { body: person(100 + i), headers: from('198.51.100.7') })).status).toBe(200);
    }
    const r = await f.call('POST', '/v1/session', { body: person(105), headers: from('198.51.100.7') });
    expect(r.status).toBe(429);
    expect(r.body.error).toBe('ADM_ERR_RATE_LIMITED');
    expect(r.headers.get('retry-after')).toBe('12'); // 5 a minute
    expect((await f.call('POST', '/v1/session', { body: person(105), headers: from('198.51.100.8') })).status).toBe(200);
  });
});
