import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHENGDU_ID, CHENGDU_NAME, LUZHOU_ID, LUZHOU_NAME, PHONE, startAdmin, type Fixture } from './admin-fixture.common.js';

/**
 * The audit trail over HTTP (list, verify, tampering detected) and the
 * promise that no certificate number, phone number, full name, password or
 * bearer token reaches a log line.
 */
let f: Fixture;
beforeAll(async () => {
  f = await startAdmin({ config: { logLevel: 'trace' } });
});
afterAll(async () => {
  await f?.close();
});

describe('logs carry no personal data', () => {
  it('a session issue, queries, a transcode, a bulk request and refused identities leave no identity in the log', async () => {
    const s1 = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name: CHENGDU_NAME, phone: PHONE } });
    expect(s1.status).toBe(200);
    const s2 = await f.call('POST', '/v1/session', { body: { idNo: LUZHOU_ID, name: LUZHOU_NAME } });
    expect(s2.status).toBe(200);
    expect((await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.operator, body: { idNo: CHENGDU_ID } })).status).toBe(200);
    expect((await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.analyst, body: { phone: PHONE } })).status).toBe(200);
    expect((await f.call('POST', '/admin/v1/codes/transcode', { token: f.tokens.operator, body: { idNo: CHENGDU_ID, color: 'red', reason: 'manual' } })).status).toBe(200);
    expect((await f.call('POST', '/admin/v1/codes/bulk', { token: f.tokens.operator, body: { items: [{ idNo: LUZHOU_ID }], color: 'yellow', reason: 'x' } })).status).toBe(202);
    // refused: out of scope, malformed (messages that echo input must not be logged), wrong password
    expect((await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.city_officer, body: { idNo: LUZHOU_ID } })).status).toBe(404);
    expect((await f.call('POST', '/v1/session', { body: { idNo: '510104199013011238', name: CHENGDU_NAME } })).status).toBe(400);
    expect((await f.call('POST', '/v1/session', { body: { idNo: CHENGDU_ID.slice(0, 17) + '1', name: CHENGDU_NAME } })).status).toBe(400);
    expect((await f.call('POST', '/admin/v1/login', { body: { username: 'operator', password: 'Secret-guess-777' } })).status).toBe(401);

    const log = f.logLines.join('');
    expect(f.logLines.length).toBeGreaterThan(20);
    // the log does record the requests and the refusals, by code only
    expect(log).toContain('"url":"/admin/v1/codes/transcode"');
    expect(log).toContain('"code":"CORE_ERR_ID_BIRTH_DATE"');
    for (const secret of [
      CHENGDU_ID, CHENGDU_ID.slice(0, 17), LUZHOU_ID, PHONE, CHENGDU_NAME, LUZHOU_NAME, '510104199013011238', '19901301',
      'Secret-guess-777', f.passwords.operator, f.tokens.operator, f.tokens.analyst, s1.body.token,
    ]) {
      expect(log).not.toContain(secret);
    }
  });

  it('redacts identity and credential fields should anything log a body or headers', () => {
    f.logLines.length = 0;
    f.app.log.info({ body: { idNo: CHENGDU_ID, phone: PHONE, name: CHENGDU_NAME, password: 'p' }, headers: { authorization: 'Bearer abc' } }, 'x');
    f.app.log.info({ idNo: CHENGDU_ID, items: [{ idNo: LUZHOU_ID }] }, 'y');
    const log = f.logLines.join('');
    expect(log).not.toContain(CHENGDU_ID);
    expect(log).not.toContain(PHONE);
    expect(log).not.toContain(CHENGDU_NAME);
    expect(log).not.toContain('Bearer abc');
    expect(log).toContain('[redacted]');
  });
});

describe('audit log', () => {
  it('records who, what, when, from where and the outcome, with masked identities', async () => {
    const r = await f.call('GET', '/admin/v1/audit?action=codes.transcode&order=desc&limit=1', { token: f.tokens.auditor });
    expect(r.status).toBe(200);
    const e = r.body.entries[0];
    expect(e).toMatchObject({ actor: 'operator', role: 'operator', action: 'codes.transcode', outcome: 'ok', fromAddr: '127.0.0.1', target: 'resident:5101**********106X' });
    expect(Date.parse(e.at)).toBeGreaterThan(0);
    const all = await f.call('GET', '/admin/v1/audit?limit=1000', { token: f.tokens.auditor });
    const text = JSON.stringify(all.body);
    for (const secret of [CHENGDU_ID, LUZHOU_ID, PHONE, CHENGDU_NAME, LUZHOU_NAME]) expect(text).not.toContain(secret);
    // reading the trail is itself on the trail
    const last = (await f.audit.list({ order: 'desc', limit: 1 }))[0]!;
    expect(last).toMatchObject({ actor: 'auditor', action: 'audit.read' });
  });

  it('pages: after/before/order', async () => {
    const a = await f.call('GET', '/admin/v1/audit?after=2&limit=3', { token: f.tokens.auditor });
    expect(a.body.entries.map((e: { seq: number }) => e.seq)).toEqual([3, 4, 5]);
    const d = await f.call('GET', '/admin/v1/audit?before=5&order=desc&limit=2', { token: f.tokens.auditor });
    expect(d.body.entries.map((e: { seq: number }) => e.seq)).toEqual([4, 3]);
    const bad = await f.call('GET', '/admin/v1/audit?limit=0', { token: f.tokens.auditor });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'MASTER_ERR_INVALID', field: 'limit' });
  });

  async function verify(): Promise<{ ok: boolean; entries: number; firstBadSeq?: number; problem?: string }> {
    const r = await f.call('POST', '/admin/v1/audit/verify', { token: f.tokens.auditor });
    expect(r.status).toBe(200);
    return r.body;
  }

  /** Tampering needs the append-only trigger off: what an attacker with database access would do. */
  async function tamper(sql: string, params: unknown[] = []): Promise<void> {
    await f.db.transaction(async (tx) => {
      await tx.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tx.query(sql, params);
      await tx.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
  }

  it('verifies the chain, then detects an edited, a deleted and an inserted row', async () => {
    const ok = await verify();
    expect(ok.ok).toBe(true);
    expect(ok.entries).toBeGreaterThan(10);

    const victim = (await f.audit.list({ action: 'codes.transcode', limit: 1 }))[0]!;
    // edited: the transcode "was" a green
    await tamper("UPDATE audit_log SET details = jsonb_set(details, '{color}', '\"green\"') WHERE seq = $1", [victim.seq]);
    const edited = await verify();
    expect(edited).toMatchObject({ ok: false, firstBadSeq: victim.seq, problem: 'hash' });
    expect((await f.call('POST', '/admin/v1/audit/verify', { token: f.tokens.admin })).body.ok).toBe(false);
    await tamper("UPDATE audit_log SET details = jsonb_set(details, '{color}', '\"red\"') WHERE seq = $1", [victim.seq]);
    expect((await verify()).ok).toBe(true);

    // deleted
    const row = (await f.db.query('SELECT * FROM audit_log WHERE seq = $1', [victim.seq])).rows[0] as Record<string, unknown>;
    await tamper('DELETE FROM audit_log WHERE seq = $1', [victim.seq]);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: victim.seq, problem: 'missing' });
    await tamper(
      `INSERT INTO audit_log (seq, at, actor, role, action, target_masked, from_addr, outcome, details, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)`,
      [row.seq, row.at, row.actor, row.role, row.action, row.target_masked, row.from_addr, row.outcome, JSON.stringify(row.details), row.prev_hash, row.hash],
    );
    expect((await verify()).ok).toBe(true);

    // inserted: a forged entry appended past the head
    const head = (await f.db.query<{ seq: number; hash: Buffer }>('SELECT seq, hash FROM audit_head')).rows[0]!;
    await tamper(
      `INSERT INTO audit_log (seq, at, actor, role, action, outcome, details, prev_hash, hash)
       VALUES ($1, now(), 'operator', 'operator', 'codes.transcode', 'ok', '{}', $2, decode(repeat('ab', 32), 'hex'))`,
      [head.seq + 1, head.hash],
    );
    const inserted = await verify();
    expect(inserted.ok).toBe(false);
    expect(inserted.problem).toBe('head');
    // the edited-row verdict is on the trail too
    const verdicts = await f.audit.list({ action: 'audit.verify' });
    expect(verdicts.map((e) => e.outcome)).toContain('tampered');
  });
});
