import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { startGatewaySim, type GatewaySim } from '../alerting/gateway-sim.js';
import type { CapabilityHost, CapabilityInstance } from '../admin-api/capability.js';
import { CITIZEN, type CitizenInstance } from './capability.js';
import { loadCitizenConfig } from './config.js';
import { CitizenSmsSender } from './sms-sender.js';

/**
 * The citizen SMS sender against the real gateway simulator
 * (alerting/gateway-sim.ts, a real HTTP server checking signatures and ids):
 * a requested code reaches the gateway exactly once, signed, and opens the
 * card; down / 500 / garbage are retried with back-off and still deliver
 * once; an expired code is not texted late; no log line carries the phone
 * or the code.
 */
const KEY = randomBytes(32).toString('hex');
let f: Fixture;
let sim: GatewaySim;
let token: string;
let cit: CitizenInstance;

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function requestCode(phone: string) {
  return f.call('POST', '/citizen/v1/travel-card/code', { headers: { authorization: `Bearer ${token}` }, body: { phone } });
}

async function outbox(): Promise<{ id: number; sent: boolean; failed: boolean; last_error: string | null }[]> {
  const r = await f.db.query<{ id: string | number; sent_at: Date | null; failed_at: Date | null; last_error: string | null }>(
    'SELECT id, sent_at, failed_at, last_error FROM cit_sms_outbox ORDER BY id',
  );
  return r.rows.map((x) => ({ id: Number(x.id), sent: x.sent_at !== null, failed: x.failed_at !== null, last_error: x.last_error }));
}

function ownSender(logs: string[]): CitizenSmsSender {
  return new CitizenSmsSender(cit.travel, {
    url: sim.url, key: KEY, timeoutMs: 2000, pollMs: 10, backoffBaseMs: 20, maxBackoffMs: 100,
    log: (l) => logs.push(l), nowMs: () => f.clock.ms,
  });
}

beforeAll(async () => {
  sim = await startGatewaySim({ key: KEY });
  f = await startAdmin({
    capabilities: [CITIZEN],
    capabilityEnv: { citizen: { SMS_GATEWAY_URL: sim.url, SMS_GATEWAY_KEY: KEY, CITIZEN_SMS_POLL_MS: '20' } },
    startCapabilities: true,
  });
  cit = f.instances.citizen as unknown as CitizenInstance;
  const s = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } });
  token = s.body.token;
});
afterAll(async () => {
  await f?.close();
  await sim?.close();
});

describe('citizen SMS sender', () => {
  it('a requested code reaches the gateway exactly once, signed, with the code; the code opens the card', async () => {
    const phone = '13911110001';
    const r = await requestCode(phone);
    expect(r.status).toBe(200);
    // a configured gateway: the code goes by SMS only, never in the answer
    expect(r.body.devCode).toBeUndefined();
    await until('the message at the gateway', () => sim.delivered.length === 1);
    await until('the outbox row marked sent', async () => (await outbox()).every((x) => x.sent));
    // more polls happen; still one message (the simulator only accepts a valid signature)
    await new Promise((res) => setTimeout(res, 150));
    expect(sim.delivered).toHaveLength(1);
    expect(sim.requests).toBe(1);
    const m = sim.delivered[0]!;
    expect(m.phones).toEqual([phone]);
    expect(m.id).toMatch(/^cit-\d+-[0-9a-z]+$/);
    const code = /验证码为 ([0-9]{6})/.exec(m.text)?.[1];
    expect(code).toMatch(/^[0-9]{6}$/);
    const card = await f.call('POST', '/citizen/v1/travel-card', { headers: { authorization: `Bearer ${token}` }, body: { phone, code } });
    expect(card.status).toBe(200);
    expect(card.body.phoneMasked).toBe('139****0001');
  });

  it('gateway down, then 500, then back → retried with back-off, delivered once, marked sent', async () => {
    await cit.sms!.stop(); // this test drives its own sender with a short back-off
    const logs: string[] = [];
    const sender = ownSender(logs);
    const phone = '13911110002';
    sim.mode = 'down';
    const before = sim.requests;
    expect((await requestCode(phone)).status).toBe(200);
    const row = (await outbox()).at(-1)!;
    sender.start();
    try {
      // counted at the client: a request the simulator counted may still be answered after a mode switch
      await until('two failures while down', () => sender.counters.failures >= 2);
      expect(sim.requests - before).toBeGreaterThanOrEqual(2);
      expect((await outbox()).at(-1)).toMatchObject({ id: row.id, sent: false, failed: false });
      sim.mode = 'error500';
      await until('two 500 answers', () => sender.counters.failures >= 4);
      expect((await outbox()).at(-1)!.sent).toBe(false);
      sim.mode = 'ok';
      await until('delivered', async () => (await outbox()).at(-1)!.sent);
    } finally {
      await sender.stop();
    }
    const mine = sim.delivered.filter((d) => d.phones[0] === phone);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.text).toContain('行程卡验证码');
    expect(sender.counters.failures).toBeGreaterThanOrEqual(4);
    expect(sender.counters.sent).toBe(1);
    // masked logging: the failure is logged, the phone and the code are not
    expect(logs.some((l) => l.includes('SMS gateway failed'))).toBe(true);
    const code = /([0-9]{6})/.exec(mine[0]!.text)![1]!;
    for (const l of logs) {
      expect(l).not.toContain(phone);
      expect(l).not.toContain(code);
    }
  });

  it('garbage answers → retried with the same id; the gateway sends once (duplicate), then marked sent', async () => {
    const logs: string[] = [];
    const sender = ownSender(logs);
    const phone = '13911110003';
    sim.mode = 'garbage';
    const before = sim.requests;
    expect((await requestCode(phone)).status).toBe(200);
    sender.start();
    try {
      await until('three garbage answers', () => sim.requests - before >= 3);
      expect((await outbox()).at(-1)!.sent).toBe(false);
      sim.mode = 'ok';
      await until('marked sent', async () => (await outbox()).at(-1)!.sent);
    } finally {
      await sender.stop();
    }
    expect(sim.delivered.filter((d) => d.phones[0] === phone)).toHaveLength(1);
    expect(sender.counters.duplicates).toBe(1);
    expect(logs.join('\n')).toContain('garbage answer');
    for (const l of logs) expect(l).not.toContain(phone);
  });

  it('a code that expired while the gateway was down is closed as expired, not texted late; a wrong key is never accepted', async () => {
    const phone = '13911110004';
    expect((await requestCode(phone)).status).toBe(200);
    const logs: string[] = [];
    const wrongKey = new CitizenSmsSender(cit.travel, {
      url: sim.url, key: randomBytes(32).toString('hex'), timeoutMs: 2000, pollMs: 10, log: (l) => logs.push(l), nowMs: () => f.clock.ms,
    });
    const n = sim.delivered.length;
    expect(await wrongKey.flush()).toMatchObject({ sent: 0, failed: 1 });
    expect(logs.join('\n')).toContain('ALR_ERR_GATEWAY_SIGNATURE');
    expect(sim.delivered).toHaveLength(n);
    f.clock.ms += 6 * 60_000;
    const sender = ownSender([]);
    expect(await sender.flush()).toMatchObject({ sent: 0, expired: 1 });
    expect((await outbox()).at(-1)).toMatchObject({ sent: false, failed: true, last_error: 'expired before the gateway took it' });
    expect(sim.delivered).toHaveLength(n);
    expect(await cit.travel.pendingSms()).toHaveLength(0);
  });

  it('a cluster without SMS_GATEWAY_URL starts, and says loudly (naming the variable) that nothing is sent, also while messages wait', async () => {
    const logs: string[] = [];
    const host: CapabilityHost = {
      db: f.db, store: f.store, codes: f.codes, rules: f.rules, audit: f.audit, users: f.users, secrets: f.secrets, dataDir: f.dataDir,
      mode: 'cluster', nowMs: () => f.clock.ms, log: (l) => logs.push(l), committed: () => undefined,
    };
    const inst = (await CITIZEN.create(host, loadCitizenConfig({}, { dataDir: f.dataDir, mode: 'cluster' }))) as CitizenInstance & CapabilityInstance;
    expect(inst.sms).toBeNull();
    await inst.start?.();
    try {
      expect(logs.some((l) => l.includes('ERROR SMS_GATEWAY_URL is not set'))).toBe(true);
      // the capability's own sender was stopped in the second test: this message stays queued
      const phone = '13911110005';
      f.clock.ms += 61 * 60_000; // past the hourly per-person limit of the earlier codes
      const s = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } });
      token = s.body.token;
      expect((await requestCode(phone)).status).toBe(200);
      await inst.sweepOverdue();
      expect(logs.some((l) => /ERROR 1 citizen SMS .* SMS_GATEWAY_URL is not set/.test(l))).toBe(true);
      for (const l of logs) expect(l).not.toContain(phone);
    } finally {
      await inst.stop?.();
    }
  });
});
