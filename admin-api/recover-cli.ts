import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ADMIN_CREDENTIALS_FILE, AdminUsers } from '../master/admin-users.js';
import { openPglite, openPostgres, type SqlClient } from '../master/sql-client.js';

/**
 * `npm run admin:recover [-- <username>] [-- --print]` — the way back for a
 * province whose only admin is locked out, disabled or has lost the
 * password (issue 15). Run on the master's machine, by whoever may read the
 * data directory (that is the trust boundary: they hold the database and its
 * secrets already).
 *
 *   - picks the account: the username given, else the first admin by name
 *     (active ones first); none at all → creates `admin`;
 *   - sets a fresh random 144-bit password, ends the lockout, re-enables it
 *     and makes it an admin of the whole province;
 *   - writes {"username","password"} to <HC_DATA_DIR>/admin-credentials.json
 *     with mode 0600 (written beside, fsynced, renamed into place) — or with
 *     --print writes it once to stdout and nowhere else.
 *
 *   DATABASE_URL  PostgreSQL master; otherwise the embedded PGlite master in
 *                 HC_PGLITE_DIR (default <HC_DATA_DIR>/master) — stop the
 *                 stack first: PGlite is one process only (MASTER_ERR_LOCKED).
 *
 * Exit 0 and one line naming the account and where the password went;
 * exit 1 with the reason on stderr. The audit log cannot record it (no
 * principal, and the chain key needs the secrets): the line says so, and the
 * next login of the recovered account is audited as usual.
 */
export async function runAdminRecover(
  argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void,
): Promise<number> {
  const print = argv.includes('--print');
  const named = argv.find((a) => !a.startsWith('--'));
  const dataDir = resolve((env.HC_DATA_DIR ?? '').trim() || './data');
  let db: SqlClient | undefined;
  try {
    const url = (env.DATABASE_URL ?? '').trim();
    if (url !== '') {
      db = await openPostgres(url, { max: 2 });
    } else {
      const dir = resolve((env.HC_PGLITE_DIR ?? '').trim() || join(dataDir, 'master'));
      if (!existsSync(dir)) {
        err(`admin:recover: no embedded master at ${dir} (set HC_DATA_DIR, HC_PGLITE_DIR or DATABASE_URL)`);
        return 1;
      }
      db = await openPglite(dir);
    }
    const table = await db.query<{ t: string | null }>("SELECT to_regclass('admin_users')::text AS t");
    if (table.rows[0]!.t === null) {
      err('admin:recover: this database has no accounts table (not a master, or never started)');
      return 1;
    }
    const users = new AdminUsers(db);
    let password: string;
    do password = randomBytes(18).toString('base64url');
    while (!/[a-z]/.test(password) || !/[A-Z0-9]/.test(password));
    let username = named?.trim().toLowerCase();
    if (username === undefined) {
      const admins = (await users.list()).filter((u) => u.role === 'admin').sort((a, b) => Number(a.disabled) - Number(b.disabled));
      username = admins[0]?.username;
    }
    if (username === undefined) {
      await users.create({ username: 'admin', password, role: 'admin' });
      username = 'admin';
    } else {
      const u = await users.get(username);
      if (u === null) {
        err(`admin:recover: no account named ${JSON.stringify(username)}`);
        return 1;
      }
      await users.setPassword(username, password);
      if (u.disabled) await users.setDisabled(username, false);
      if (u.role !== 'admin' || u.regionPrefix !== '') await users.update(username, { role: 'admin', regionPrefix: '' });
    }
    if (print) {
      out(JSON.stringify({ username, password }));
      err(`admin:recover: ${username} recovered; the password above is shown once and stored nowhere else`);
      return 0;
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, ADMIN_CREDENTIALS_FILE);
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, JSON.stringify({ username, password }, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    out(`admin:recover: ${username} recovered (unlocked, enabled, province admin); new password in ${path} (mode 0600). Log in, then delete the file.`);
    return 0;
  } catch (e) {
    err(`admin:recover: ${(e as Error).message}`);
    return 1;
  } finally {
    await db?.close().catch(() => undefined);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runAdminRecover(process.argv.slice(2), process.env, (l) => process.stdout.write(l + '\n'), (l) => process.stderr.write(l + '\n')).then((code) => {
    process.exitCode = code;
  });
}
