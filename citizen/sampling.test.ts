import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, LUZHOU_ID, LUZHOU_NAME, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { base45Decode, base45Encode } from '../core/base45.js';
import { CITIZEN } from './capability.js';
import { loadCitizenConfig } from './config.js';
import { loadOrCreateSamplingKey, publicInfo, verifySamplingQr } from './sampling-qr.js';
import { Sampling } from './sampling.js';

/**
 * 入川即检 登记 end to end: entry scan → notice on the code → registration
 * → signed QR verifiable offline with the published key → a site scans it
 * → the result arrives as an imported nucleic_acid fact → the rules clear
 * the notice. Bad QRs (tampered, expired, scanned twice) are refused.
 */
let f: Fixture;
let token: string;
let personId: number;

async function citizen(method: string, path: string) {
  return f.call(method, path, { headers: { authorization: `Bearer ${token}` }, ...(method === 'POST' ? { body: {} } : {}) });
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [CITIZEN] });
  token = (await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } })).body.token;
  const p = (await f.store.findPersonByCertificate('resident', CHENGDU_ID))!;
  personId = p.id;
  await f.store.upsertVenue({ id: 'V-ENTRY-T2', name: '双流国际机场 T2 入川卡口', region: '510116', kind: 'entry', entryTestHours: 24 });
  await f.codes.recordEntryScan(p.uid, 'V-ENTRY-T2', Math.floor(f.clock.ms / 1000) - 60);
});
afterAll(async () => {
  await f?.close();
});

describe('sampling registration', () => {
  let qr = '';
  let regId = 0;

  it('the entry notice is on the code; registering gives a signed QR that verifies offline with the published key', async () => {
    const st = await citizen('GET', '/citizen/v1/sampling');
    expect(st.body.entryNotice).toMatchObject({ kind: 'entry_test' });
    const r = await citizen('POST', '/citizen/v1/sampling');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'registered', statusZh: '已登记，待采样' });
    expect(r.body.qr).toMatch(/^CS1:[0-9A-Z $%*+\-./:]+$/);
    qr = r.body.qr;
    regId = r.body.id;
    // one QR at a time
    expect((await citizen('POST', '/citizen/v1/sampling')).body.id).toBe(regId);
    const keys = (await f.call('GET', '/citizen/v1/sampling/keys')).body.keys;
    expect(keys[0]).toMatchObject({ kid: expect.any(Number), alg: 'Ed25519' });
    const claims = verifySamplingQr(qr, keys, Math.floor(f.clock.ms / 1000));
    expect(claims.registrationId).toBe(regId);
    expect(() => verifySamplingQr(qr, keys, claims.expiresAt)).toThrow(expect.objectContaining({ code: 'CIT_ERR_QR_INVALID' }));
    expect(statSync(join(f.dataDir, 'citizen', 'sampling-key.json')).mode & 0o777).toBe(0o600);
  });

  it('a tampered or foreign QR → 400 CIT_ERR_QR_INVALID; a role without venues.write → 403', async () => {
    const raw = base45Decode(qr.slice(4));
    raw[8] = raw[8]! ^ 1; // another registration id
    const tampered = 'CS1:' + base45Encode(raw);
    for (const bad of [tampered, 'CS1:ABC', 'TF1:xyz', qr.slice(0, -2)]) {
      const r = await f.call('POST', '/admin/v1/sampling/scan', { token: f.tokens.operator, body: { qr: bad, site: '锦江区核酸采样点 3 号' } });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('CIT_ERR_QR_INVALID');
    }
    expect((await f.call('POST', '/admin/v1/sampling/scan', { token: f.tokens.hotline, body: { qr, site: 'x' } })).status).toBe(403);
  });

  it('the site scans once (twice → 409); the imported negative result clears the entry notice by the rules', async () => {
    const s = await f.call('POST', '/admin/v1/sampling/scan', { token: f.tokens.operator, body: { qr, site: '锦江区核酸采样点 3 号' } });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ id: regId, status: 'sampled', statusZh: '已采样，等待结果', nameMasked: '张*丰' });
    const again = await f.call('POST', '/admin/v1/sampling/scan', { token: f.tokens.operator, body: { qr, site: '锦江区核酸采样点 3 号' } });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('CIT_ERR_SAMPLING_STATE');
    const audit = await f.audit.list({ limit: 10, order: 'desc' });
    expect(audit.filter((e) => e.action === 'sampling.scan').map((e) => e.outcome)).toEqual(expect.arrayContaining(['ok', 'refused']));

    // the lab's result through the imports (exchange writes exactly this)
    await f.codes.addFacts(personId, [{ kind: 'nucleic_acid', at: s.body.sampledAt, result: 'negative' }], { source: 'import:nat-result', sourceRef: 'b7:12' });
    const st = await citizen('GET', '/citizen/v1/sampling');
    expect(st.body.entryNotice).toBeNull();
    expect(st.body.registrations[0]).toMatchObject({ id: regId, status: 'negative', statusZh: '结果阴性', qr: null });
    expect((await f.store.getCode(personId))!.color).toBe('green');
    const list = await f.call('GET', '/admin/v1/sampling?status=sampled', { token: f.tokens.city_officer });
    expect(list.body.registrations[0]).toMatchObject({ id: regId, site: '锦江区核酸采样点 3 号', status: 'negative' });
    expect(list.body.registrations[0].personId).toBeUndefined();
  });
});

describe('several masters', () => {
  it('a QR signed by one master is scanned on another: every master\'s public key is published', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cit-master-b-'));
    try {
      const host = {
        db: f.db, store: f.store, codes: f.codes, rules: f.rules, audit: f.audit, users: f.users, secrets: f.secrets, dataDir: dir,
        mode: 'embedded' as const, nowMs: () => f.clock.ms, log: () => undefined, committed: () => undefined,
      };
      const b = new Sampling(host, loadCitizenConfig({}, { dataDir: dir, mode: 'embedded' }));
      await b.init();
      const keys = (await f.call('GET', '/citizen/v1/sampling/keys')).body.keys;
      expect(keys).toHaveLength(2);
      const luzhou = (await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: LUZHOU_ID, name: LUZHOU_NAME } })).body.token;
      const reg = await f.call('POST', '/citizen/v1/sampling', { headers: { authorization: `Bearer ${luzhou}` }, body: {} });
      const scanned = await b.scan(reg.body.qr, '泸州 1 号采样点', 'operator');
      expect(scanned).toMatchObject({ id: reg.body.id, status: 'sampled' });
      // and B's own QR verifies with the published set
      const p = (await f.store.findPersonByCertificate('resident', LUZHOU_ID))!;
      f.clock.ms += 1000;
      const own = await b.register(p);
      expect(verifySamplingQr(own.qr, keys, Math.floor(f.clock.ms / 1000)).kid).toBe(b.key.kid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sampling key custody', () => {
  it('SM2 on request; kept across restarts; a key file readable by others is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cit-key-'));
    try {
      const k = loadOrCreateSamplingKey(dir, 'SM2', 1_800_000_000);
      expect(k.alg).toBe('SM2');
      expect(loadOrCreateSamplingKey(dir, 'Ed25519', 1_800_000_000).publicKey).toBe(k.publicKey);
      expect(publicInfo(k)).not.toHaveProperty('privateKey');
      chmodSync(join(dir, 'citizen', 'sampling-key.json'), 0o644);
      expect(() => loadOrCreateSamplingKey(dir, 'SM2', 1_800_000_000)).toThrow(expect.objectContaining({ code: 'CIT_ERR_CONFIG' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
