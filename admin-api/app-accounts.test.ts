import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chinaTime } from '../core/china-time.js';
import { ADMIN_CREDENTIALS_FILE } from '../master/admin-users.js';
import { startAdmin, type Fixture } from './admin-fixture.common.js';

/**
 * Accounts over real HTTP: login, lockout, idle and absolute timeouts,
 * logout, disabling, account creation, the first admin's credentials file,
 * and the per-address rate limits on login and session issue.
 */
let f: Fixture;
beforeAll(async () => {
  f = await startAdmin();
});
afterAll(async () => {
  await f?.close();
});

describe('login', () => {
  it('answers a bearer token with its lifetime; the token works, and is audited', async () => {
    const r = await f.call('POST', '/admin/v1/login', { body: { username: 'operator', password: f.passwords.operator } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ username: 'operator', role: 'operator', regionPrefix: '', idleTimeoutSec: f.config.adminIdleTimeoutSec });
    expect(r.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.body.expiresAt).toBe(Math.floor(f.clock.ms / 1000) + f.config.adminTokenTtlSec);
    const me = await f.call('GET', '/admin/v1/me', { token: r.body.token });
    expect(me.body).toMatchObject({ username: 'operator', role: 'operator' });
    expect((await f.audit.list({ action: 'auth.login', actor: 'operator', order: 'desc', limit: 1 }))[0]!.outcome).toBe('ok');
  });

  it('one answer for an unknown user and a wrong password', async () => {
    const unknown = await f.call('POST', '/admin/v1/login', { body: { username: 'nobody', password: 'Whatever-123456' } });
    const wrong = await f.call('POST', '/admin/v1/login', { body: { username: 'analyst', password: 'Whatever-123456' } });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(unknown.body.error).toBe('MASTER_ERR_LOGIN_FAILED');
  });

  it('locks the account after 5 wrong passwords — even the right one is refused — until the lockout ends', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await f.call('POST', '/admin/v1/login', { body: { username: 'auditor', password: `Wrong-password-${i}` } })).status);
    expect(codes).toEqual([401, 401, 401, 401, 423]);
    const right = await f.call('POST', '/admin/v1/login', { body: { username: 'auditor', password: f.passwords.auditor } });
    expect(right.status).toBe(423);
    expect(right.body.error).toBe('MASTER_ERR_LOGIN_LOCKED');
    // what the official reads: Chinese, the end of the lockout in China time (UTC+8)
    expect(right.body.zh).toBe(`连续登录失败次数过多，账号已被锁定：请于北京时间 ${chinaTime(f.clock.ms + 15 * 60_000)} 后再试`);
    const trail = await f.audit.list({ action: 'auth.login', actor: 'auditor', order: 'desc', limit: 2 });
    expect(trail.map((e) => e.outcome)).toEqual(['locked', 'locked']);
    f.clock.ms += 15 * 60_000 + 1000;
    const later = await f.call('POST', '/admin/v1/login', { body: { username: 'auditor', password: f.passwords.auditor } });
    expect(later.status).toBe(200);
  });

  it('an admin can end a lockout early', async () => {
    for (let i = 0; i < 5; i++) await f.call('POST', '/admin/v1/login', { body: { username: 'analyst', password: `Wrong-password-${i}` } });
    expect((await f.call('POST', '/admin/v1/login', { body: { username: 'analyst', password: f.passwords.analyst } })).status).toBe(423);
    expect((await f.call('POST', '/admin/v1/users/analyst/unlock', { token: await f.login('admin') })).status).toBe(200);
    expect((await f.call('POST', '/admin/v1/login', { body: { username: 'analyst', password: f.passwords.analyst } })).status).toBe(200);
  });

  it('never records a mistyped identity or password as the actor', async () => {
    await f.call('POST', '/admin/v1/login', { body: { username: '13812345678', password: 'x' } });
    await f.call('POST', '/admin/v1/login', { body: { username: 'P@ss word!', password: 'x' } });
    const trail = await f.audit.list({ action: 'auth.login', order: 'desc', limit: 2 });
    expect(trail.map((e) => e.actor)).toEqual(['(invalid username)', '(invalid username)']);
  });
});

describe('bearer token lifetime', () => {
  it('dies after the idle timeout', async () => {
    const t = await f.login('analyst');
    f.clock.ms += (f.config.adminIdleTimeoutSec - 1) * 1000;
    expect((await f.call('GET', '/admin/v1/me', { token: t })).status).toBe(200);
    f.clock.ms += f.config.adminIdleTimeoutSec * 1000;
    const r = await f.call('GET', '/admin/v1/me', { token: t });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('ADM_ERR_UNAUTHENTICATED');
  });

  it('dies after its absolute lifetime even when used', async () => {
    const t = await f.login('analyst');
    const step = (f.config.adminIdleTimeoutSec - 1) * 1000;
    const end = f.clock.ms + f.config.adminTokenTtlSec * 1000;
    while (f.clock.ms + step < end) {
      f.clock.ms += step;
      expect((await f.call('GET', '/admin/v1/me', { token: t })).status).toBe(200);
    }
    f.clock.ms = end;
    expect((await f.call('GET', '/admin/v1/me', { token: t })).status).toBe(401);
  });

  it('dies on logout', async () => {
    const t = await f.login('analyst');
    expect((await f.call('POST', '/admin/v1/logout', { token: t })).status).toBe(204);
    expect((await f.call('GET', '/admin/v1/me', { token: t })).status).toBe(401);
  });

  it('dies when the account is disabled', async () => {
    const admin = await f.login('admin');
    const created = await f.call('POST', '/admin/v1/users', { token: admin, body: { username: 'temp_officer', role: 'city_officer', regionPrefix: '5101' } });
    expect(created.status).toBe(201);
    const t = await f.call('POST', '/admin/v1/login', { body: { username: 'temp_officer', password: created.body.password } });
    expect(t.status).toBe(200);
    const d = await f.call('POST', '/admin/v1/users/temp_officer/disable', { token: admin });
    expect(d.status).toBe(200);
    expect(d.body.disabled).toBe(true);
    expect((await f.call('GET', '/admin/v1/me', { token: t.body.token })).status).toBe(401);
    expect((await f.call('POST', '/admin/v1/login', { body: { username: 'temp_officer', password: created.body.password } })).status).toBe(401);
  });
});

describe('accounts', () => {
  it('creates an account with a generated one-time password (answered once, never stored in clear)', async () => {
    const admin = await f.login('admin');
    const r = await f.call('POST', '/admin/v1/users', { token: admin, body: { username: 'new_analyst', role: 'analyst' } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ username: 'new_analyst', role: 'analyst', regionPrefix: '', disabled: false });
    expect(r.body.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const list = await f.call('GET', '/admin/v1/users', { token: admin });
    expect(JSON.stringify(list.body)).not.toContain(r.body.password);
    expect(list.body.users.map((u: { username: string }) => u.username)).toContain('new_analyst');
    const login = await f.call('POST', '/admin/v1/login', { body: { username: 'new_analyst', password: r.body.password } });
    expect(login.status).toBe(200);
    expect((await f.audit.list({ action: 'users.create', order: 'desc', limit: 1 }))[0]).toMatchObject({ target: 'new_analyst', outcome: 'ok' });
  });

  it('refuses a city officer without a region, a duplicate name, an unknown role', async () => {
    const admin = await f.login('admin');
    const noRegion = await f.call('POST', '/admin/v1/users', { token: admin, body: { username: 'x_officer', role: 'city_officer' } });
    expect(noRegion.status).toBe(400);
    expect(noRegion.body).toMatchObject({ error: 'MASTER_ERR_INVALID', field: 'regionPrefix' });
    const dup = await f.call('POST', '/admin/v1/users', { token: admin, body: { username: 'operator', role: 'operator' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toBe('MASTER_ERR_USER_EXISTS');
    const role = await f.call('POST', '/admin/v1/users', { token: admin, body: { username: 'y', role: 'superuser' } });
    expect(role.status).toBe(400);
    expect(role.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'role' });
  });
});

describe('first start and rate limits (a fresh master)', () => {
  let g: Fixture;
  beforeAll(async () => {
    g = await startAdmin({ accounts: false, config: { loginRatePerMin: 3, sessionRatePerMin: 3 } });
  });
  afterAll(async () => {
    await g?.close();
  });

  it('creates the first admin with a random password in <data dir>/admin-credentials.json, mode 0600, that logs in', async () => {
    const r = await g.users.ensureFirstAdmin(g.dataDir);
    expect(r.created).toBe(true);
    const path = `${g.dataDir}/${ADMIN_CREDENTIALS_FILE}`;
    expect(r.path).toBe(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const creds = JSON.parse(readFileSync(path, 'utf8')) as { username: string; password: string };
    expect(Object.keys(creds).sort()).toEqual(['password', 'username']);
    expect(creds.password.length).toBeGreaterThanOrEqual(20);
    const login = await g.call('POST', '/admin/v1/login', { body: creds });
    expect(login.status).toBe(200);
    expect(login.body.role).toBe('admin');
    expect((await g.users.ensureFirstAdmin(g.dataDir)).created).toBe(false);
  });

  it('limits logins per client address: 429 with Retry-After; another address is not affected', async () => {
    // one token was spent by the previous test
    expect((await g.call('POST', '/admin/v1/login', { body: { username: 'admin', password: 'Wrong-password-1' } })).status).toBe(401);
    expect((await g.call('POST', '/admin/v1/login', { body: { username: 'admin', password: 'Wrong-password-2' } })).status).toBe(401);
    const limited = await g.call('POST', '/admin/v1/login', { body: { username: 'admin', password: 'Wrong-password-3' } });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('ADM_ERR_RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBe(20); // 3 a minute: one token every 20 s
    // 127.0.0.2 is another client (Linux routes all of 127/8 to loopback)
    const status = await new Promise<number>((resolve, reject) => {
      const rq = httpRequest(`${g.base}/admin/v1/login`, {
        method: 'POST', localAddress: '127.0.0.2', headers: { 'content-type': 'application/json' },
      }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      rq.on('error', reject);
      rq.end(JSON.stringify({ username: 'admin', password: 'Wrong-password-4' }));
    });
    expect(status).toBe(401);
    g.clock.ms += 20_000;
    expect((await g.call('POST', '/admin/v1/login', { body: { username: 'admin', password: 'Wrong-password-5' } })).status).toBe(401);
  });

  it('limits session issue per client address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await g.call('POST', '/v1/session', { body: { phone: `1390000000${i}` } })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // refused before anything was registered
    expect(await g.store.findPersonsByPhone('13900000003')).toEqual([]);
  });
});
