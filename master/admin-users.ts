import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hash, parseOptions, verify, type Algorithm, type Options } from '@node-rs/argon2';
import { chinaTime } from '../core/china-time.js';
import { MasterError } from './errors.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';

/**
 * Back-office accounts (DESIGN §5, §7; issue: accounts and roles).
 *
 * - Passwords: argon2id (RFC 9106) PHC strings from @node-rs/argon2 with the
 *   OWASP Password Storage Cheat Sheet's first configuration, m = 19 MiB,
 *   t = 2, p = 1 (≈ 13 ms to hash here). A login with a hash made under
 *   other parameters re-hashes it (parseOptions), so raising them later
 *   upgrades accounts as people log in.
 * - Lockout: `maxAttempts` (5) wrong passwords in a row lock the account
 *   for `lockoutMs` (15 min), counted atomically in one UPDATE so parallel
 *   guesses cannot slip past the limit; the attempt that reaches the limit
 *   already answers LOCKED; a success resets the count. While locked the
 *   password is not even checked.
 * - Unknown, disabled and wrong-password logins all answer
 *   MASTER_ERR_LOGIN_FAILED after the same argon2 work (a dummy hash for
 *   unknown names): the answer and its timing do not tell whether a
 *   username exists. (LOCKED does tell, after 5 attempts — the operator
 *   needs to know; admin-api's rate limit bounds the probing.)
 * - Roles: admin (province), operator (changes codes), analyst (read-only,
 *   masked), city_officer (only people whose region starts with
 *   regionPrefix, a GB/T 2260 prefix: 2 province, 4 city, 6 county, 9 or 12
 *   digits street), auditor (audit log only), security (安全管理员: log
 *   audit and alerting), hotline (热线坐席: appeals and the knowledge base,
 *   codes masked). Enforcement is admin-api's;
 *   this file stores and checks the values.
 * - First start: ensureFirstAdmin writes one admin with a random password
 *   to <dataDir>/admin-credentials.json, mode 0600. No fixed default
 *   password exists anywhere.
 */
export type AdminRole = 'admin' | 'operator' | 'analyst' | 'city_officer' | 'auditor' | 'security' | 'hotline';
export const ADMIN_ROLES: readonly AdminRole[] = Object.freeze(['admin', 'operator', 'analyst', 'city_officer', 'auditor', 'security', 'hotline']);

export interface AdminUser {
  readonly username: string;
  readonly role: AdminRole;
  /** '' = whole province */
  readonly regionPrefix: string;
  /** unix seconds */
  readonly createdAt: number;
  readonly disabled: boolean;
  /** unix seconds while locked, else null */
  readonly lockedUntil: number | null;
  readonly failedAttempts: number;
}

export interface NewAdminUser {
  readonly username: string;
  readonly password: string;
  readonly role: AdminRole;
  /** required for city_officer; '' (province) otherwise by default */
  readonly regionPrefix?: string;
}

export interface AdminUsersOptions {
  /** clock, unix ms (default: the store's, else Date.now) */
  readonly now?: () => number;
  /** wrong passwords in a row before the lock (default 5) */
  readonly maxAttempts?: number;
  /** lock duration (default 15 min) */
  readonly lockoutMs?: number;
  /** argon2id cost (default OWASP: memoryCost 19456 KiB, timeCost 2, parallelism 1) */
  readonly hashOptions?: Pick<Options, 'memoryCost' | 'timeCost' | 'parallelism'>;
}

export interface FirstAdminResult {
  /** false when an active admin already existed: nothing was written */
  readonly created: boolean;
  readonly username: string | null;
  /** the credentials file, when created */
  readonly path: string | null;
}

export const ADMIN_CREDENTIALS_FILE = 'admin-credentials.json';

/** Algorithm.Argon2id: the package's const enum is not a runtime object under isolated transpilers, so its value. */
const ARGON2ID = 2 as Algorithm;
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const REGION_PREFIX = /^(?:[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$/;
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 256;
/** pg_advisory_xact_lock key for ensureFirstAdmin: ASCII "hcadmin1". */
const FIRST_ADMIN_LOCK = '7521962886599110193';

function bad(field: string, detail: string): MasterError {
  return new MasterError('MASTER_ERR_INVALID', detail, field);
}

function normUsername(u: unknown): string {
  if (typeof u !== 'string') throw bad('username', 'must be a string');
  const n = u.trim().toLowerCase();
  if (!USERNAME.test(n)) throw bad('username', '1–64 of a-z 0-9 . _ -, starting with a letter or digit');
  return n;
}

/**
 * GB/T 22239-2019 8.1.4.1 asks for password complexity: 12–256 characters
 * with at least two of lower case, upper case, digits, other. Passphrases
 * ("correct horse battery staple": letters and spaces) pass.
 */
function checkPassword(p: unknown): string {
  if (typeof p !== 'string' || p.length < MIN_PASSWORD || p.length > MAX_PASSWORD) {
    throw bad('password', `must be ${MIN_PASSWORD}–${MAX_PASSWORD} characters`);
  }
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(p)).length;
  if (classes < 2) throw bad('password', 'must mix at least two of: lower case, upper case, digits, other characters');
  return p;
}

interface Row {
  username: string;
  password_hash: string;
  role: AdminRole;
  region_prefix: string;
  failed_attempts: number;
  locked_until: Date | null;
  created_at: Date;
  disabled_at: Date | null;
}

const COLUMNS = 'username, password_hash, role, region_prefix, failed_attempts, locked_until, created_at, disabled_at';

function toUser(r: Row, nowMs: number): AdminUser {
  const locked = r.locked_until !== null && r.locked_until.getTime() > nowMs;
  return {
    username: r.username,
    role: r.role,
    regionPrefix: r.region_prefix,
    createdAt: Math.floor(r.created_at.getTime() / 1000),
    disabled: r.disabled_at !== null,
    lockedUntil: locked ? Math.floor(r.locked_until!.getTime() / 1000) : null,
    failedAttempts: r.failed_attempts,
  };
}

export class AdminUsers {
  readonly db: SqlClient;
  private readonly now: () => number;
  private readonly maxAttempts: number;
  private readonly lockoutMs: number;
  private readonly hashOptions: Options;
  private dummy: Promise<string> | null = null;

  /** `new AdminUsers(storeOrDb, {now?, maxAttempts?, lockoutMs?, hashOptions?})` */
  constructor(storeOrDb: MasterStore | SqlClient, opts: AdminUsersOptions = {}) {
    const store = storeOrDb instanceof MasterStore ? storeOrDb : null;
    this.db = store === null ? (storeOrDb as SqlClient) : store.db;
    this.now = opts.now ?? (store === null ? Date.now : () => store.nowMs());
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.lockoutMs = opts.lockoutMs ?? 15 * 60_000;
    if (!Number.isSafeInteger(this.maxAttempts) || this.maxAttempts < 1) throw bad('maxAttempts', 'must be a positive integer');
    if (!Number.isSafeInteger(this.lockoutMs) || this.lockoutMs < 1) throw bad('lockoutMs', 'must be a positive integer');
    this.hashOptions = { memoryCost: 19_456, timeCost: 2, parallelism: 1, ...opts.hashOptions, algorithm: ARGON2ID };
  }

  private hashPassword(password: string): Promise<string> {
    return hash(password, this.hashOptions);
  }

  /** A hash of nobody's password, made once: unknown usernames cost the same argon2 work as known ones. */
  private dummyHash(): Promise<string> {
    if (this.dummy === null) this.dummy = this.hashPassword(randomBytes(24).toString('base64url'));
    return this.dummy;
  }

  private needsRehash(phc: string): boolean {
    try {
      const o = parseOptions(phc);
      return o.algorithm !== ARGON2ID || o.memoryCost !== this.hashOptions.memoryCost ||
        o.timeCost !== this.hashOptions.timeCost || o.parallelism !== this.hashOptions.parallelism;
    } catch {
      return true;
    }
  }

  private async row(username: string, db: SqlClient = this.db): Promise<Row | null> {
    const r = await db.query<Row>(`SELECT ${COLUMNS} FROM admin_users WHERE username = $1`, [username]);
    return r.rows[0] ?? null;
  }

  /**
   * `create({username, password, role, regionPrefix?}) → AdminUser`
   * MASTER_ERR_INVALID naming the field (username, password, role,
   * regionPrefix); MASTER_ERR_USER_EXISTS when the name is taken.
   */
  async create(u: NewAdminUser, db: SqlClient = this.db): Promise<AdminUser> {
    if (typeof u !== 'object' || u === null) throw bad('user', 'must be an object');
    const username = normUsername(u.username);
    const password = checkPassword(u.password);
    if (!ADMIN_ROLES.includes(u.role)) throw bad('role', `must be one of ${ADMIN_ROLES.join(', ')}`);
    const prefix = u.regionPrefix ?? '';
    if (typeof prefix !== 'string' || (prefix !== '' && !REGION_PREFIX.test(prefix))) {
      throw bad('regionPrefix', 'must be a GB/T 2260 prefix of 2, 4, 6, 9 or 12 digits');
    }
    if (u.role === 'city_officer' && prefix === '') throw bad('regionPrefix', 'a city officer needs the region prefix of their city');
    const phc = await this.hashPassword(password);
    const r = await db.query<Row>(
      `INSERT INTO admin_users (username, password_hash, role, region_prefix, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (username) DO NOTHING RETURNING ${COLUMNS}`,
      [username, phc, u.role, prefix, new Date(this.now())],
    );
    if (r.rows.length === 0) throw new MasterError('MASTER_ERR_USER_EXISTS', username, 'username');
    return toUser(r.rows[0]!, this.now());
  }

  /**
   * `verifyLogin(username, password) → AdminUser`
   * MASTER_ERR_LOGIN_FAILED (401) for an unknown, disabled or wrong
   * login; MASTER_ERR_LOGIN_LOCKED (423) while locked (see the header).
   */
  async verifyLogin(username: string, password: string): Promise<AdminUser> {
    if (typeof username !== 'string' || typeof password !== 'string') throw bad('username', 'username and password must be strings');
    if (password.length > MAX_PASSWORD) throw new MasterError('MASTER_ERR_LOGIN_FAILED'); // never hash unbounded input
    const name = username.trim().toLowerCase();
    const row = USERNAME.test(name) ? await this.row(name) : null;
    const nowMs = this.now();
    if (row === null || row.disabled_at !== null) {
      await verify(await this.dummyHash(), password);
      throw new MasterError('MASTER_ERR_LOGIN_FAILED');
    }
    if (row.locked_until !== null && row.locked_until.getTime() > nowMs) {
      throw new MasterError('MASTER_ERR_LOGIN_LOCKED', `until ${row.locked_until.toISOString()}`, undefined, `请于北京时间 ${chinaTime(row.locked_until.getTime())} 后再试`);
    }
    let ok = false;
    try {
      ok = await verify(row.password_hash, password);
    } catch {
      ok = false; // a malformed stored hash never logs anyone in
    }
    if (!ok) {
      const r = await this.db.query<{ locked_until: Date | null; failed_attempts: number }>(
        `UPDATE admin_users SET
           locked_until    = CASE WHEN failed_attempts + 1 >= $2 THEN $3 ELSE locked_until END,
           failed_attempts = CASE WHEN failed_attempts + 1 >= $2 THEN 0 ELSE failed_attempts + 1 END
         WHERE username = $1 RETURNING locked_until, failed_attempts`,
        [name, this.maxAttempts, new Date(nowMs + this.lockoutMs)],
      );
      const after = r.rows[0];
      if (after !== undefined && after.locked_until !== null && after.locked_until.getTime() > nowMs) {
        throw new MasterError('MASTER_ERR_LOGIN_LOCKED', `until ${after.locked_until.toISOString()}`, undefined, `请于北京时间 ${chinaTime(after.locked_until.getTime())} 后再试`);
      }
      throw new MasterError('MASTER_ERR_LOGIN_FAILED');
    }
    const rehash = this.needsRehash(row.password_hash) ? await this.hashPassword(password) : null;
    const r = await this.db.query<Row>(
      `UPDATE admin_users SET failed_attempts = 0, locked_until = NULL, password_hash = COALESCE($2, password_hash)
        WHERE username = $1 RETURNING ${COLUMNS}`,
      [name, rehash],
    );
    return toUser(r.rows[0]!, nowMs);
  }

  /** `get(username) → AdminUser | null` */
  async get(username: string): Promise<AdminUser | null> {
    const r = await this.row(normUsername(username));
    return r === null ? null : toUser(r, this.now());
  }

  /** `list() → AdminUser[]` — by username; never the hashes. */
  async list(): Promise<AdminUser[]> {
    const r = await this.db.query<Row>(`SELECT ${COLUMNS} FROM admin_users ORDER BY username`);
    const now = this.now();
    return r.rows.map((x) => toUser(x, now));
  }

  /**
   * `setDisabled(username, disabled) → AdminUser`
   * MASTER_ERR_USER_NOT_FOUND; MASTER_ERR_LAST_ADMIN when it would leave no
   * active admin (nobody could manage accounts any more).
   */
  async setDisabled(username: string, disabled: boolean): Promise<AdminUser> {
    const name = normUsername(username);
    if (typeof disabled !== 'boolean') throw bad('disabled', 'must be a boolean');
    return this.db.transaction(async (tx) => {
      // serialise admin changes so two admins cannot disable each other at once
      await tx.query(`SELECT pg_advisory_xact_lock(${FIRST_ADMIN_LOCK})`);
      const row = await this.row(name, tx);
      if (row === null) throw new MasterError('MASTER_ERR_USER_NOT_FOUND', name, 'username');
      if (disabled && row.role === 'admin' && row.disabled_at === null) {
        const others = await tx.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM admin_users WHERE role = 'admin' AND disabled_at IS NULL AND username <> $1",
          [name],
        );
        if (others.rows[0]!.n === 0) throw new MasterError('MASTER_ERR_LAST_ADMIN', name, 'username');
      }
      const r = await tx.query<Row>(
        `UPDATE admin_users SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, $3) ELSE NULL END
          WHERE username = $1 RETURNING ${COLUMNS}`,
        [name, disabled, new Date(this.now())],
      );
      return toUser(r.rows[0]!, this.now());
    });
  }

  /**
   * `update(username, {role?, regionPrefix?}) → AdminUser` — an admin
   * changes an account's role or region. MASTER_ERR_LAST_ADMIN when it would
   * demote the last active admin; a city officer keeps a region.
   */
  async update(username: string, change: { role?: AdminRole; regionPrefix?: string }): Promise<AdminUser> {
    const name = normUsername(username);
    if (change.role !== undefined && !ADMIN_ROLES.includes(change.role)) throw bad('role', `must be one of ${ADMIN_ROLES.join(', ')}`);
    const p = change.regionPrefix;
    if (p !== undefined && (typeof p !== 'string' || (p !== '' && !REGION_PREFIX.test(p)))) {
      throw bad('regionPrefix', 'must be a GB/T 2260 prefix of 2, 4, 6, 9 or 12 digits');
    }
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${FIRST_ADMIN_LOCK})`);
      const row = await this.row(name, tx);
      if (row === null) throw new MasterError('MASTER_ERR_USER_NOT_FOUND', name, 'username');
      const role = change.role ?? (row.role as AdminRole);
      const prefix = p ?? row.region_prefix;
      if (role === 'city_officer' && prefix === '') throw bad('regionPrefix', 'a city officer needs the region prefix of their city');
      if (row.role === 'admin' && role !== 'admin' && row.disabled_at === null) {
        const others = await tx.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM admin_users WHERE role = 'admin' AND disabled_at IS NULL AND username <> $1",
          [name],
        );
        if (others.rows[0]!.n === 0) throw new MasterError('MASTER_ERR_LAST_ADMIN', name, 'role');
      }
      const r = await tx.query<Row>(
        `UPDATE admin_users SET role = $2, region_prefix = $3 WHERE username = $1 RETURNING ${COLUMNS}`,
        [name, role, prefix],
      );
      return toUser(r.rows[0]!, this.now());
    });
  }

  /** `setPassword(username, password)` — also clears a lock. MASTER_ERR_USER_NOT_FOUND / MASTER_ERR_INVALID. */
  async setPassword(username: string, password: string): Promise<void> {
    const name = normUsername(username);
    const phc = await this.hashPassword(checkPassword(password));
    const r = await this.db.query(
      'UPDATE admin_users SET password_hash = $2, failed_attempts = 0, locked_until = NULL WHERE username = $1 RETURNING username',
      [name, phc],
    );
    if (r.rows.length === 0) throw new MasterError('MASTER_ERR_USER_NOT_FOUND', name, 'username');
  }

  /** `unlock(username)` — ends a lockout early (an admin's action). */
  async unlock(username: string): Promise<void> {
    const name = normUsername(username);
    const r = await this.db.query(
      'UPDATE admin_users SET failed_attempts = 0, locked_until = NULL WHERE username = $1 RETURNING username',
      [name],
    );
    if (r.rows.length === 0) throw new MasterError('MASTER_ERR_USER_NOT_FOUND', name, 'username');
  }

  /**
   * `ensureFirstAdmin(dataDir) → {created, username, path}`
   *
   * When no active admin exists: creates one ('admin', or 'admin-xxxx' if
   * that name is taken by a disabled or demoted account) with a random
   * 144-bit password, written to <dataDir>/admin-credentials.json as
   * {"username", "password"} with mode 0600. The file is written to a
   * temporary name first and moved into place only after the account
   * committed, so there is never an account whose password went nowhere.
   * Several processes at once: an advisory lock lets one create it.
   */
  async ensureFirstAdmin(dataDir: string): Promise<FirstAdminResult> {
    if (typeof dataDir !== 'string' || dataDir === '') throw bad('dataDir', 'must be a directory path');
    const quick = await this.db.query("SELECT 1 FROM admin_users WHERE role = 'admin' AND disabled_at IS NULL LIMIT 1");
    if (quick.rows.length > 0) return { created: false, username: null, path: null };
    let password: string;
    do password = randomBytes(18).toString('base64url'); // 24 characters
    while (!/[a-z]/.test(password) || !/[A-Z0-9]/.test(password));
    const phc = await this.hashPassword(password);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, ADMIN_CREDENTIALS_FILE);
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const write = (username: string): void => {
      const fd = openSync(tmp, 'wx', 0o600); // O_EXCL: a fresh file; the umask can only remove bits
      try {
        fchmodSync(fd, 0o600);
        writeSync(fd, JSON.stringify({ username, password }, null, 2) + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    };
    let username: string | null;
    try {
      username = await this.db.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(${FIRST_ADMIN_LOCK})`);
        const again = await tx.query("SELECT 1 FROM admin_users WHERE role = 'admin' AND disabled_at IS NULL LIMIT 1");
        if (again.rows.length > 0) return null;
        let name = 'admin';
        if ((await this.row(name, tx)) !== null) name = `admin-${randomBytes(2).toString('hex')}`;
        write(name);
        await tx.query(
          "INSERT INTO admin_users (username, password_hash, role, region_prefix, created_at) VALUES ($1, $2, 'admin', '', $3)",
          [name, phc, new Date(this.now())],
        );
        return name;
      });
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // not written
      }
      throw err;
    }
    if (username === null) return { created: false, username: null, path: null };
    renameSync(tmp, path);
    return { created: true, username, path };
  }
}
