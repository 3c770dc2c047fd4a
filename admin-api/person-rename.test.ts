import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaWriter } from '../sync/replica-writer.js';
import { CHENGDU_ID, CHENGDU_NAME, startAdmin, type Fixture } from './admin-fixture.common.js';

/**
 * 依法改名 by an official (issue 15 item 7): POST /admin/v1/persons/rename.
 * The identity provider only vouches for the certificate, so a login with
 * another name is refused (session-name.test.ts); the register's name changes
 * here, audited with masked names, and the new masked name reaches the edges
 * as a code delta — applied here to a real LMDB replica the way every edge
 * applies it.
 */
let f: Fixture;
let tmp: string;
let uid: Buffer;
let personId: number;

const rename = (token: string, body: Record<string, unknown>) => f.call('POST', '/admin/v1/persons/rename', { token, body });
const session = (name: string) => f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: CHENGDU_ID, name } });

beforeAll(async () => {
  f = await startAdmin();
  tmp = mkdtempSync(join(tmpdir(), 'hc-rename-'));
  expect((await session(CHENGDU_NAME)).status).toBe(200);
  const p = (await f.store.findPersonByCertificate('resident', CHENGDU_ID))!;
  uid = Buffer.from(p.uid);
  personId = p.id;
});

afterAll(async () => {
  await f?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('POST /admin/v1/persons/rename', () => {
  it('renames: the masked name goes out as a code delta an edge replica applies; old name refused at login, new one accepted; audited masked', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const history0 = (await f.codes.history(personId)).length;
    const before = (await f.store.getCode(personId))!;
    const r = await rename(f.tokens.city_officer, { idType: 'resident', idNo: CHENGDU_ID, name: '李四丰', reason: '依法变更姓名（户籍证明）' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ personId, changed: true, seq: seq0 + 1, name: '李*丰' });

    const deltas = await f.store.readOutbox(seq0, 10);
    expect(deltas).toHaveLength(1);
    const d = deltas[0]!;
    expect(d.type).toBe('code');
    if (d.type !== 'code') return;
    expect(Buffer.from(d.uid).equals(uid)).toBe(true);
    expect(d.record).toMatchObject({ color: before.color, reason: before.reason, since: before.since, name: '李*丰', seq: seq0 + 1 });
    // the code itself did not change: no history row; the code row's seq is the delta's
    expect((await f.codes.history(personId)).length).toBe(history0);
    expect((await f.store.getCode(personId))!).toMatchObject({ name: '李*丰', seq: seq0 + 1, color: before.color });

    // an edge replica: everything so far, as the delta stream carries it
    const replica = ReplicaWriter.open({ dir: join(tmp, 'replica') });
    try {
      const all = await f.store.readOutbox(0, 10_000);
      replica.applyBatch({ from: 1, to: all[all.length - 1]!.seq, deltas: all });
      expect(replica.code(uid)).toMatchObject({ name: '李*丰', color: before.color, seq: seq0 + 1 });
    } finally {
      await replica.close();
    }

    const old = await session(CHENGDU_NAME);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('MASTER_ERR_NAME_MISMATCH');
    expect((await session('李四丰')).status).toBe(200);

    const e = (await f.audit.list({ action: 'persons.rename', order: 'desc', limit: 1 }))[0]!;
    expect(e).toMatchObject({ actor: 'city_officer', outcome: 'ok' });
    expect(e.details).toMatchObject({ personId, from: '张*丰', to: '李*丰', reason: '依法变更姓名（户籍证明）', changed: true, seq: seq0 + 1 });
    const trail = JSON.stringify(await f.audit.list({ order: 'desc', limit: 50 })) + f.logLines.join('\n');
    expect(trail).not.toContain('李四丰');
    expect(trail).not.toContain(CHENGDU_NAME);
  });

  it('the same name changes nothing; a new name with the same mask is stored without a delta', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const same = await rename(f.tokens.operator, { idType: 'resident', idNo: CHENGDU_ID, name: ' 李四丰 ', reason: '核对' });
    expect(same.body).toEqual({ personId, changed: false, seq: null, name: '李*丰' });
    const masked = await rename(f.tokens.operator, { idType: 'resident', idNo: CHENGDU_ID, name: '李五丰', reason: '依法变更姓名' });
    expect(masked.body).toEqual({ personId, changed: true, seq: null, name: '李*丰' });
    expect(await f.store.maxOutboxSeq()).toBe(seq0);
    expect((await session('李五丰')).status).toBe(200);
    expect((await session('李四丰')).status).toBe(401);
  });

  it('refuses out of region, without the permission, unknown people and bad input, each with its code in Chinese', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const other = await rename(f.tokens.city_officer_b, { idType: 'resident', idNo: CHENGDU_ID, name: '王五', reason: '改名' });
    expect(other.status).toBe(404);
    expect(other.body.error).toBe('ADM_ERR_NOT_FOUND');
    expect((await f.audit.list({ action: 'persons.rename', order: 'desc', limit: 1 }))[0]!.outcome).toBe('denied_scope');
    const analyst = await rename(f.tokens.analyst, { idType: 'resident', idNo: CHENGDU_ID, name: '王五', reason: '改名' });
    expect(analyst.status).toBe(403);
    expect(analyst.body.error).toBe('ADM_ERR_FORBIDDEN');
    const nobody = await rename(f.tokens.operator, { phone: '13900001111', name: '王五', reason: '改名' });
    expect(nobody.status).toBe(404);
    const badId = await rename(f.tokens.operator, { idType: 'resident', idNo: '510104198506121060', name: '王五', reason: '改名' });
    expect(badId.status).toBe(400);
    expect(badId.body.error).toBe('CORE_ERR_ID_CHECK_DIGIT');
    const empty = await rename(f.tokens.operator, { idType: 'resident', idNo: CHENGDU_ID, name: '', reason: '改名' });
    expect(empty.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'name' });
    expect(empty.body.zh).toMatch(/[\u4e00-\u9fff]/);
    const blank = await rename(f.tokens.operator, { idType: 'resident', idNo: CHENGDU_ID, name: '   ', reason: '改名' });
    expect(blank.status).toBe(400);
    const noReason = await rename(f.tokens.operator, { idType: 'resident', idNo: CHENGDU_ID, name: '王五' });
    expect(noReason.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'reason' });
    expect(await f.store.maxOutboxSeq()).toBe(seq0);
    expect((await session('李五丰')).status).toBe(200);
  });
});
