import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdminUsers, ADMIN_CREDENTIALS_FILE } from './admin-users.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';
import { codeOf, type ServicesContext } from './services-fixture.common.js';

/** Part of the master services suite (master/services.common.ts): admin users. */
export function describeUsers(ctx: ServicesContext): void {
  describe('admin users', () => {
    let db!: SqlClient; let store!: MasterStore; let dir!: string; let users!: AdminUsers;
    beforeAll(() => {
      ({ db, store, dir, users } = ctx.get());
    });
    const { clock } = ctx;
    it('ensureFirstAdmin writes one admin with a random password to a 0600 file, once', async () => {
      const dataDir = join(dir, 'data');
      const r = await users.ensureFirstAdmin(dataDir);
      expect(r).toEqual({ created: true, username: 'admin', path: join(dataDir, ADMIN_CREDENTIALS_FILE) });
      expect(statSync(r.path!).mode & 0o777).toBe(0o600);
      const cred = JSON.parse(readFileSync(r.path!, 'utf8')) as { username: string; password: string };
      expect(Object.keys(cred).sort()).toEqual(['password', 'username']);
      expect(cred.username).toBe('admin');
      expect(cred.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(await users.verifyLogin('admin', cred.password)).toMatchObject({ username: 'admin', role: 'admin', regionPrefix: '' });
      const stored = await db.query<{ password_hash: string }>("SELECT password_hash FROM admin_users WHERE username = 'admin'");
      expect(stored.rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(stored.rows[0]!.password_hash).not.toContain(cred.password);

      writeFileSync(r.path!, 'operator edited this');
      expect(await users.ensureFirstAdmin(dataDir)).toEqual({ created: false, username: null, path: null });
      expect(readFileSync(r.path!, 'utf8')).toBe('operator edited this');
    });

    it('creates accounts with roles and region scope, refusing bad input', async () => {
      const u = await users.create({ username: 'Officer.CD', password: 'correct horse battery', role: 'city_officer', regionPrefix: '5101' });
      expect(u).toMatchObject({ username: 'officer.cd', role: 'city_officer', regionPrefix: '5101', disabled: false, lockedUntil: null, failedAttempts: 0 });
      const cases: [Parameters<AdminUsers['create']>[0], string][] = [
        [{ username: '', password: 'correct horse battery', role: 'operator' }, 'username'],
        [{ username: 'a b', password: 'correct horse battery', role: 'operator' }, 'username'],
        [{ username: 'op1', password: 'short1A', role: 'operator' }, 'password'],
        [{ username: 'op1', password: 'alllowercaseletters', role: 'operator' }, 'password'],
        [{ username: 'op1', password: 'correct horse battery', role: 'root' as never }, 'role'],
        [{ username: 'op1', password: 'correct horse battery', role: 'city_officer' }, 'regionPrefix'],
        [{ username: 'op1', password: 'correct horse battery', role: 'city_officer', regionPrefix: '510' }, 'regionPrefix'],
      ];
      for (const [input, field] of cases) {
        const e = await codeOf(users.create(input));
        expect(e.code, field).toBe('MASTER_ERR_INVALID');
        expect(e.field).toBe(field);
      }
      expect((await codeOf(users.create({ username: 'officer.cd', password: 'correct horse battery', role: 'operator' }))).code).toBe('MASTER_ERR_USER_EXISTS');
      expect((await users.list()).map((x) => x.username)).toEqual(['admin', 'officer.cd']);
      expect(JSON.stringify(await users.list())).not.toContain('argon2');
    });

    it('locks an account after 5 wrong passwords for 15 minutes', async () => {
      await users.create({ username: 'op2', password: 'Right-Password-1', role: 'operator' });
      for (let i = 0; i < 4; i++) expect((await codeOf(users.verifyLogin('op2', 'wrong-password'))).code).toBe('MASTER_ERR_LOGIN_FAILED');
      expect((await users.get('op2'))!.failedAttempts).toBe(4);
      const fifth = await codeOf(users.verifyLogin('op2', 'wrong-password'));
      expect(fifth.code).toBe('MASTER_ERR_LOGIN_LOCKED');
      expect((await codeOf(users.verifyLogin('op2', 'Right-Password-1'))).code).toBe('MASTER_ERR_LOGIN_LOCKED');
      expect((await users.get('op2'))!.lockedUntil).toBe(clock.t + 15 * 60);
      clock.t += 15 * 60 - 1;
      expect((await codeOf(users.verifyLogin('op2', 'Right-Password-1'))).code).toBe('MASTER_ERR_LOGIN_LOCKED');
      clock.t += 1;
      expect(await users.verifyLogin('OP2', 'Right-Password-1')).toMatchObject({ username: 'op2', failedAttempts: 0, lockedUntil: null });
      // a success resets the count
      await codeOf(users.verifyLogin('op2', 'wrong'));
      await users.verifyLogin('op2', 'Right-Password-1');
      expect((await users.get('op2'))!.failedAttempts).toBe(0);
      // parallel guesses cannot slip past the limit
      const burst = await Promise.all(Array.from({ length: 8 }, () => codeOf(users.verifyLogin('op2', 'wrong'))));
      expect(burst.filter((e) => e.code === 'MASTER_ERR_LOGIN_LOCKED').length).toBeGreaterThanOrEqual(4);
      await users.unlock('op2');
      expect((await users.verifyLogin('op2', 'Right-Password-1')).username).toBe('op2');
    });

    it('answers unknown and disabled accounts like a wrong password; keeps one admin', async () => {
      expect((await codeOf(users.verifyLogin('nobody', 'whatever-password'))).code).toBe('MASTER_ERR_LOGIN_FAILED');
      expect((await codeOf(users.verifyLogin('bad name!', 'x'))).code).toBe('MASTER_ERR_LOGIN_FAILED');
      expect((await codeOf(users.verifyLogin('op2', 'x'.repeat(300)))).code).toBe('MASTER_ERR_LOGIN_FAILED');
      expect((await codeOf(users.verifyLogin(5 as never, 'x'))).code).toBe('MASTER_ERR_INVALID');
      expect(await users.setDisabled('op2', true)).toMatchObject({ disabled: true });
      expect((await codeOf(users.verifyLogin('op2', 'Right-Password-1'))).code).toBe('MASTER_ERR_LOGIN_FAILED');
      expect(await users.setDisabled('op2', false)).toMatchObject({ disabled: false });
      expect((await codeOf(users.setDisabled('admin', true))).code).toBe('MASTER_ERR_LAST_ADMIN');
      expect((await codeOf(users.setDisabled('ghost', true))).code).toBe('MASTER_ERR_USER_NOT_FOUND');
      expect((await codeOf(users.unlock('ghost'))).code).toBe('MASTER_ERR_USER_NOT_FOUND');
      await users.setPassword('op2', 'Another-Password-2');
      expect((await users.verifyLogin('op2', 'Another-Password-2')).username).toBe('op2');
    });

    it('re-hashes a password made with other argon2 parameters at login', async () => {
      const cheap = new AdminUsers(store, { hashOptions: { memoryCost: 8192, timeCost: 1 } });
      await cheap.create({ username: 'legacy', password: 'Legacy-Password-1', role: 'analyst' });
      const h0 = (await db.query<{ password_hash: string }>("SELECT password_hash FROM admin_users WHERE username = 'legacy'")).rows[0]!.password_hash;
      expect(h0).toContain('m=8192,t=1');
      await users.verifyLogin('legacy', 'Legacy-Password-1');
      const h1 = (await db.query<{ password_hash: string }>("SELECT password_hash FROM admin_users WHERE username = 'legacy'")).rows[0]!.password_hash;
      expect(h1).toContain('m=19456,t=2,p=1');
      expect((await users.verifyLogin('legacy', 'Legacy-Password-1')).role).toBe('analyst');
    });
  });
}
