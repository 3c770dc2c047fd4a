import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySession } from '../../core/session-token.js';
import { CHENGDU_ID, CHENGDU_NAME, LUZHOU_ID, LUZHOU_NAME, startAdmin, type Fixture } from '../../admin-api/admin-fixture.common.js';
import type { SqlClient } from '../../master/sql-client.js';
import { useThrowAwaySchema } from './pg-env.js';

// admin-api's main flow on a real PostgreSQL (15+), over real HTTP: session
// issue and registration, query, transcode → outbox, bulk change with a
// second approver, region scoping, rules, audit verify and tamper detection.
// A fresh schema per run, dropped afterwards. Unreachable database → FAIL
// (cluster tests never skip).
const schema = useThrowAwaySchema('t');
let db: SqlClient | undefined;
let f: Fixture;

beforeAll(async () => {
  db = await schema.open(10);
  f = await startAdmin({ db });
});

// runs before the schema's own afterAll (hooks unwind in reverse order)
afterAll(async () => {
  await f?.close();
  await db?.close();
});

describe('admin-api on PostgreSQL', () => {
  it('runs on PostgreSQL', () => {
    expect(f.db.kind).toBe('postgres');
  });

  it('issues sessions (registering on first login) and refuses malformed identities', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const r = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME } });
    expect(r.status).toBe(200);
    expect(r.body.registered).toBe(true);
    const p = (await f.store.findPersonByCertificate('resident', CHENGDU_ID))!;
    expect(verifySession(f.sessionKey, r.body.token, Math.floor(f.clock.ms / 1000)).uid.equals(p.uid)).toBe(true);
    expect((await f.store.readOutbox(seq0, 10)).some((d) => d.type === 'code')).toBe(true);
    expect((await f.call('POST', '/v1/session', { body: { idNo: LUZHOU_ID, name: LUZHOU_NAME } })).status).toBe(200);
    const bad = await f.call('POST', '/v1/session', { body: { idNo: '110105194912310021', name: '李四' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('CORE_ERR_ID_CHECK_DIGIT');
  });

  it('queries (scoped), transcodes with an outbox delta and an audit entry', async () => {
    const q = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.operator, body: { idNo: CHENGDU_ID } });
    expect(q.status).toBe(200);
    expect(q.body.results[0].person).toMatchObject({ idNo: CHENGDU_ID, name: CHENGDU_NAME });
    expect((await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.city_officer, body: { idNo: LUZHOU_ID } })).status).toBe(404);

    const seq0 = await f.store.maxOutboxSeq();
    const t = await f.call('POST', '/admin/v1/codes/transcode', { token: f.tokens.operator, body: { idNo: CHENGDU_ID, color: 'red', reason: 'manual' } });
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({ changed: true, seq: seq0 + 1, code: { color: 'red' } });
    expect((await f.store.readOutbox(seq0, 10))[0]).toMatchObject({ type: 'code', record: { color: 'red', reason: 'manual' } });
    expect((await f.audit.list({ action: 'codes.transcode', order: 'desc', limit: 1 }))[0]).toMatchObject({ actor: 'operator', target: 'resident:5101**********106X', outcome: 'ok' });
  });

  it('bulk change needs a second approver', async () => {
    const c = await f.call('POST', '/admin/v1/codes/bulk', { token: f.tokens.operator, body: { items: [{ idNo: CHENGDU_ID }, { idNo: LUZHOU_ID }], color: 'yellow', reason: 'cluster' } });
    expect(c.status).toBe(202);
    expect((await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/approve`, { token: f.tokens.operator })).status).toBe(403);
    const ok = await f.call('POST', `/admin/v1/codes/bulk/${c.body.id}/approve`, { token: f.tokens.operator2 });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ applied: 2, failed: [] });
  });

  it('publishes and rolls back rules', async () => {
    const up = await f.call('POST', '/admin/v1/rules', {
      token: f.tokens.admin, body: { ruleSet: { version: 'pg-1', params: {}, rules: [{ id: 'all', when: true, color: 'red', reason: 'drill' }] } },
    });
    expect(up.status).toBe(201);
    expect((await f.call('POST', '/admin/v1/rules/pg-1/dry-run', { token: f.tokens.admin })).body.evaluated).toBe(2);
    expect((await f.call('POST', '/admin/v1/rules/pg-1/publish', { token: f.tokens.admin, body: {} })).status).toBe(200);
    expect((await f.call('POST', '/admin/v1/rules/rollback', { token: f.tokens.admin })).status).toBe(200);
  });

  it('creates a venue and serves its QR code; imports risk areas', async () => {
    const v = await f.call('POST', '/admin/v1/venues', { token: f.tokens.operator, body: { name: '宽窄巷子', region: '510105' } });
    expect(v.status).toBe(201);
    expect((await f.call('GET', `/admin/v1/venues/${v.body.id}/qr.png`, { token: f.tokens.analyst })).status).toBe(200);
    expect((await f.call('GET', '/admin/v1/venues?q=%E5%AE%BD%E7%AA%84', { token: f.tokens.analyst })).body.venues).toHaveLength(1);
    const i = await f.call('POST', '/admin/v1/risk-areas/import', { token: f.tokens.admin, body: [{ region: '510104', level: 'high', since: 1_700_000_000 }] });
    expect((await f.call('POST', `/admin/v1/risk-areas/import/${i.body.id}/publish`, { token: f.tokens.admin })).body.added).toBe(1);
  });

  it('verifies the audit chain and detects an edited row', async () => {
    const ok = await f.call('POST', '/admin/v1/audit/verify', { token: f.tokens.auditor });
    expect(ok.body.ok).toBe(true);
    const victim = (await f.audit.list({ action: 'codes.transcode', limit: 1 }))[0]!;
    await f.db.transaction(async (tx) => {
      await tx.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tx.query("UPDATE audit_log SET outcome = 'denied' WHERE seq = $1", [victim.seq]);
      await tx.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
    const bad = await f.call('POST', '/admin/v1/audit/verify', { token: f.tokens.auditor });
    expect(bad.body).toMatchObject({ ok: false, firstBadSeq: victim.seq, problem: 'hash' });
  });
});
