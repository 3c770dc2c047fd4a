import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskName } from '../core/identity.js';
import { verifySession } from '../core/session-token.js';
import { rid, startAdmin, type Fixture } from './admin-fixture.common.js';

/**
 * Issue 15 item 7: the identity provider vouches that the citizen holds the
 * certificate; it is not trusted to rename the person. A login with the right
 * certificate and another name is refused (MASTER_ERR_NAME_MISMATCH), changes
 * nothing, publishes nothing, and costs a token of the per-address limit.
 */
let f: Fixture;
beforeAll(async () => {
  f = await startAdmin({ accounts: false });
});
afterAll(async () => {
  await f?.close();
});

const ID = rid('51010419900307432'); // Chengdu 武侯区 resident
const NAME = '王小明';

async function stored(idType: string, idNo: string): Promise<{ name: string | null; masked: string; phone: string | null }> {
  const p = (await f.store.findPersonByCertificate(idType, idNo))!;
  const r = f.store.revealPerson(p);
  return { name: r.name, masked: p.nameMasked, phone: r.phone };
}

describe('POST /v1/session: the name must match the registered one', () => {
  it('a new person is registered with the name given', async () => {
    const r = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: ID, name: NAME } });
    expect(r.status).toBe(200);
    expect(r.body.registered).toBe(true);
    expect(await stored('resident', ID)).toEqual({ name: NAME, masked: maskName(NAME), phone: null });
  });

  it('right ID + wrong name → MASTER_ERR_NAME_MISMATCH in Chinese; stored name, phone and outbox unchanged; stored name not revealed', async () => {
    const seq0 = await f.store.maxOutboxSeq();
    const commits = f.commits.n;
    const r = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo: ID, name: '王小红', phone: '13900003333' } });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'MASTER_ERR_NAME_MISMATCH' });
    expect(r.body.zh).toMatch(/姓名与该证件登记的姓名不一致/);
    expect(r.body.token).toBeUndefined();
    for (const leak of [NAME, maskName(NAME), '王小红', ID]) expect(r.text).not.toContain(leak);
    expect(await stored('resident', ID)).toEqual({ name: NAME, masked: maskName(NAME), phone: null });
    expect(await f.store.findPersonsByPhone('13900003333')).toEqual([]); // the phone given with it was not kept either
    expect(await f.store.maxOutboxSeq()).toBe(seq0);
    expect(f.commits.n).toBe(commits);
    for (const line of f.logLines) expect(line).not.toContain('王小红');
  });

  it('right ID + right name, written with full-width letters, ideographic spaces, lower-case x → a session for the same person', async () => {
    const person = (await f.store.findPersonByCertificate('resident', ID))!;
    const seq0 = await f.store.maxOutboxSeq();
    for (const name of [NAME, ' 王 小明 ', '王\u3000小\u3000明']) {
      const r = await f.call('POST', '/v1/session', { body: { idType: '身份证', idNo: ID.toLowerCase(), name } });
      expect(r.status).toBe(200);
      expect(r.body.registered).toBe(false);
      expect(verifySession(f.sessionKey, r.body.token, Math.floor(f.clock.ms / 1000)).uid.equals(person.uid)).toBe(true);
    }
    expect(await stored('resident', ID)).toEqual({ name: NAME, masked: maskName(NAME), phone: null });
    expect(await f.store.maxOutboxSeq()).toBe(seq0);
  });

  it('Latin names compare without case and width; another name is refused', async () => {
    const body = { idType: 'passport', idNo: 'E12345678', name: 'John Smith' };
    expect((await f.call('POST', '/v1/session', { body })).body.registered).toBe(true);
    for (const name of ['JOHN SMITH', 'ｊｏｈｎ\u3000ｓｍｉｔｈ']) {
      const r = await f.call('POST', '/v1/session', { body: { ...body, name } });
      expect(r.status).toBe(200);
      expect(r.body.registered).toBe(false);
    }
    const bad = await f.call('POST', '/v1/session', { body: { ...body, name: 'Jane Smith' } });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('MASTER_ERR_NAME_MISMATCH');
    expect((await stored('passport', 'E12345678')).name).toBe('John Smith');
  });
});

describe('CodeService.register (the master side of the login)', () => {
  it('two first logins racing with different names: one registers, the other is refused; the first name stays', async () => {
    const id = rid('51010420000101321');
    const rs = await Promise.allSettled([f.codes.register({ idNo: id, name: '赵一' }), f.codes.register({ idNo: id, name: '钱二' })]);
    expect(rs.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = rs.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason.code).toBe('MASTER_ERR_NAME_MISMATCH');
    const winner = rs[0]!.status === 'fulfilled' ? '赵一' : '钱二';
    expect((await stored('resident', id)).name).toBe(winner);
  });

  it('a person a department registered without a name gets the name of their first login', async () => {
    const id = rid('51010419700505111');
    await f.store.upsertPerson({ idNo: id });
    const r = await f.call('POST', '/v1/session', { body: { idNo: id, name: '孙三' } });
    expect(r.status).toBe(200);
    expect((await stored('resident', id)).name).toBe('孙三');
  });
});

describe('name mismatches count toward the per-address session limit', () => {
  let g: Fixture;
  beforeAll(async () => {
    g = await startAdmin({ accounts: false, config: { sessionRatePerMin: 3 } });
  });
  afterAll(async () => {
    await g?.close();
  });

  it('guessing names runs into 429, and the guesses changed nothing', async () => {
    const id = rid('51050219880808123');
    expect((await g.call('POST', '/v1/session', { body: { idNo: id, name: '李雷' } })).status).toBe(200);
    expect((await g.call('POST', '/v1/session', { body: { idNo: id, name: '韩梅梅' } })).body.error).toBe('MASTER_ERR_NAME_MISMATCH');
    expect((await g.call('POST', '/v1/session', { body: { idNo: id, name: '李蕾' } })).body.error).toBe('MASTER_ERR_NAME_MISMATCH');
    const limited = await g.call('POST', '/v1/session', { body: { idNo: id, name: '李雷' } });
    expect(limited.status).toBe(429);
    const p = (await g.store.findPersonByCertificate('resident', id))!;
    expect(g.store.revealPerson(p).name).toBe('李雷');
  });
});
