import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CREDENTIALS_FILE, AdminUsers } from '../master/admin-users.js';
import { loadOrCreateSecrets } from '../master/pii-crypto.js';
import { openPglite } from '../master/sql-client.js';
import { MasterStore } from '../master/store.js';
import { startAdmin, type Fixture } from './admin-fixture.common.js';
import { runAdminRecover } from './recover-cli.js';

/**
 * Account management the console's 账号与角色 page drives (issue 15):
 * enable, reset password, role and region changes, the last-admin guard —
 * and the recovery command for a locked-out only admin.
 */
let f: Fixture;
beforeAll(async () => {
  f = await startAdmin();
});
afterAll(async () => {
  await f?.close();
});

async function newAccount(role = 'operator'): Promise<string> {
  const username = `m${Math.random().toString(36).slice(2, 10)}`;
  const r = await f.call('POST', '/admin/v1/users', { token: f.tokens.admin, body: { username, role } });
  expect(r.status).toBe(201);
  return username;
}

describe('account management', () => {
  it('resets a password: the old one stops working, the new one is answered once, sessions end', async () => {
    const u = await newAccount();
    const r = await f.call('POST', `/admin/v1/users/${u}/reset-password`, { token: f.tokens.admin });
    expect(r.status).toBe(200);
    expect(r.body.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const login = await f.call('POST', '/admin/v1/login', { body: { username: u, password: r.body.password } });
    expect(login.status).toBe(200);
    const again = await f.call('POST', `/admin/v1/users/${u}/reset-password`, { token: f.tokens.admin });
    expect((await f.call('GET', '/admin/v1/me', { token: login.body.token })).status).toBe(401);
    expect((await f.call('POST', '/admin/v1/login', { body: { username: u, password: r.body.password } })).status).toBe(401);
    expect((await f.call('POST', '/admin/v1/login', { body: { username: u, password: again.body.password } })).status).toBe(200);
    const trail = await f.audit.list({ action: 'users.reset_password', order: 'desc', limit: 1 });
    expect(trail[0]).toMatchObject({ target: u, outcome: 'ok' });
    expect(JSON.stringify(trail[0])).not.toContain(again.body.password);
  });

  it('disables and enables again', async () => {
    const u = await newAccount();
    expect((await f.call('POST', `/admin/v1/users/${u}/disable`, { token: f.tokens.admin })).body.disabled).toBe(true);
    const r = await f.call('POST', `/admin/v1/users/${u}/enable`, { token: f.tokens.admin });
    expect(r.status).toBe(200);
    expect(r.body.disabled).toBe(false);
  });

  it('changes role and region; a city officer without a region is refused in Chinese', async () => {
    const u = await newAccount('operator');
    const r = await f.call('POST', `/admin/v1/users/${u}`, { token: f.tokens.admin, body: { role: 'city_officer', regionPrefix: '5105' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ role: 'city_officer', regionPrefix: '5105' });
    const bad = await f.call('POST', `/admin/v1/users/${u}`, { token: f.tokens.admin, body: { regionPrefix: '' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'MASTER_ERR_INVALID', field: 'regionPrefix' });
    expect(bad.body.zh).toMatch(/^管辖地区：/);
    const pattern = await f.call('POST', `/admin/v1/users/${u}`, { token: f.tokens.admin, body: { regionPrefix: '51x' } });
    expect(pattern.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', zh: '管辖地区：应为 2、4、6、9 或 12 位数字的行政区划代码前缀' });
  });

  it('refuses to demote the last active admin', async () => {
    const admins = (await f.users.list()).filter((u) => u.role === 'admin' && !u.disabled).map((u) => u.username);
    const keep = admins.includes('admin') ? 'admin' : admins[0]!;
    for (const other of admins.filter((a) => a !== keep)) {
      expect((await f.call('POST', `/admin/v1/users/${other}`, { token: f.tokens.admin, body: { role: 'operator' } })).status).toBe(200);
    }
    const r = await f.call('POST', `/admin/v1/users/${keep}`, { token: f.tokens.admin, body: { role: 'operator' } });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ error: 'MASTER_ERR_LAST_ADMIN', zh: '角色：不能停用最后一个有效的系统管理员账号' });
  });

  it('unknown account → 404 in Chinese', async () => {
    const r = await f.call('POST', '/admin/v1/users/nobody-here/enable', { token: f.tokens.admin });
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: 'MASTER_ERR_USER_NOT_FOUND', zh: '用户名：账号不存在' });
  });
});

describe('npm run admin:recover', () => {
  it('gives a locked-out only admin a fresh password in a 0600 file, or prints it once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hc-recover-'));
    try {
      const dir = join(dataDir, 'master');
      let db = await openPglite(dir);
      const store = new MasterStore(db, loadOrCreateSecrets(dataDir, {}));
      await store.migrate();
      const users = new AdminUsers(store, { hashOptions: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
      await users.create({ username: 'chief', password: 'Original-password-1', role: 'admin' });
      for (let i = 0; i < 5; i++) await users.verifyLogin('chief', `Wrong-${i}-password`).catch(() => undefined);
      await expect(users.verifyLogin('chief', 'Original-password-1')).rejects.toMatchObject({ code: 'MASTER_ERR_LOGIN_LOCKED' });
      await db.close();

      const out: string[] = [];
      const err: string[] = [];
      expect(await runAdminRecover([], { HC_DATA_DIR: dataDir }, (l) => out.push(l), (l) => err.push(l))).toBe(0);
      const file = join(dataDir, ADMIN_CREDENTIALS_FILE);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const creds = JSON.parse(readFileSync(file, 'utf8')) as { username: string; password: string };
      expect(creds.username).toBe('chief');
      expect(out.join('\n')).not.toContain(creds.password);

      const printed: string[] = [];
      expect(await runAdminRecover(['chief', '--print'], { HC_DATA_DIR: dataDir }, (l) => printed.push(l), () => undefined)).toBe(0);
      const once = JSON.parse(printed[0]!) as { username: string; password: string };
      expect(once.password).not.toBe(creds.password);

      db = await openPglite(dir);
      const after = new AdminUsers(db);
      expect((await after.verifyLogin('chief', once.password)).role).toBe('admin');
      await db.close();

      expect(await runAdminRecover(['nobody'], { HC_DATA_DIR: dataDir }, () => undefined, (l) => err.push(l))).toBe(1);
      expect(err.at(-1)).toContain('no account named');
      expect(await runAdminRecover([], { HC_DATA_DIR: join(dataDir, 'nope') }, () => undefined, (l) => err.push(l))).toBe(1);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
