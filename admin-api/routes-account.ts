import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ADMIN_ROLES, type AdminRole, type AdminUser } from '../master/admin-users.js';
import type { Ctx } from './context.js';
import { principalOf } from './context.js';
import { EMPTY_BODY as EMPTY, ERROR_BODY } from './schemas.js';
import { ME, NO_CONTENT, USER_CREATED, USER_LIST, USER_ONE } from './response-schemas.js';

const USERNAME = { type: 'string', minLength: 1, maxLength: 64 } as const;
const USERNAME_PARAM = {
  type: 'object', additionalProperties: false, required: ['username'],
  properties: { username: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' } },
} as const;

/** An account as the API shows it (never the hash). */
export const USER_VIEW = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    role: { type: 'string', enum: [...ADMIN_ROLES] },
    regionPrefix: { type: 'string', description: "GB/T 2260 prefix; '' = whole province" },
    createdAt: { type: 'integer', description: 'unix seconds' },
    disabled: { type: 'boolean' },
    lockedUntil: { type: ['integer', 'null'], description: 'unix seconds while locked' },
    failedAttempts: { type: 'integer' },
  },
} as const;

function userView(u: AdminUser): Record<string, unknown> {
  return {
    username: u.username, role: u.role, regionPrefix: u.regionPrefix, createdAt: u.createdAt,
    disabled: u.disabled, lockedUntil: u.lockedUntil, failedAttempts: u.failedAttempts,
  };
}

/**
 * The attempted username as the audit log's actor of a failed login: an
 * operator needs it to see a guessing run. Something that is not a valid
 * username (a password typed into the wrong field, an ID or phone number) is
 * recorded only as '(invalid username)' — the audit log must not collect
 * secrets or identities by accident.
 */
function loginActor(username: string): string {
  const n = username.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9._-]{0,63}$/.test(n) && !/[0-9]{7}/.test(n) ? n : '(invalid username)';
}

/** A one-time password for a new account: 24 base64url characters (144 bits) mixing cases and digits. */
function newPassword(): string {
  for (;;) {
    const p = randomBytes(18).toString('base64url');
    if (/[a-z]/.test(p) && /[A-Z0-9]/.test(p)) return p;
  }
}

/**
 * Accounts: login/logout and, for the province admin, account management.
 *
 * POST /admin/v1/login → an opaque bearer token (admin-tokens.ts): short
 * absolute lifetime, idle timeout. Lockout after repeated failures is
 * master/admin-users.ts's (per account, in the database); the per-address
 * rate limit (LOGIN_RATE_PER_MIN) bounds guessing across accounts. Every
 * login attempt is audited with its outcome.
 */
export function registerAccountRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { users } = ctx.deps;

  app.post('/admin/v1/login', {
    config: { access: 'public', rate: 'login' },
    schema: {
      summary: 'Log in: username + password → short-lived bearer token',
      tags: ['accounts'],
      body: {
        type: 'object', additionalProperties: false, required: ['username', 'password'],
        properties: { username: USERNAME, password: { type: 'string', minLength: 1, maxLength: 256 } },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            token: { type: 'string' }, expiresAt: { type: 'integer' }, idleTimeoutSec: { type: 'integer' },
            username: { type: 'string' }, role: { type: 'string' }, regionPrefix: { type: 'string' },
          },
        },
        401: ERROR_BODY, 423: ERROR_BODY, 429: ERROR_BODY,
      },
    },
  }, async (req) => {
    const { username, password } = req.body as { username: string; password: string };
    const attempted = loginActor(username);
    let u: AdminUser;
    try {
      u = await users.verifyLogin(username, password);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      // The attempted name is what an operator needs to see a guessing run; it is no identity number.
      await ctx.audit(req, { actor: attempted, role: 'none', action: 'auth.login', outcome: code === 'MASTER_ERR_LOGIN_LOCKED' ? 'locked' : 'failed', details: { code } })
        .catch((e: unknown) => req.log.error({ err: e }, 'audit of a failed login failed'));
      throw err;
    }
    const t = ctx.tokens.issue({ username: u.username, role: u.role, regionPrefix: u.regionPrefix });
    req.principal = t.session;
    await ctx.audit(req, { action: 'auth.login', outcome: 'ok' });
    return {
      token: t.token, expiresAt: t.expiresAt, idleTimeoutSec: ctx.deps.config.adminIdleTimeoutSec,
      username: u.username, role: u.role, regionPrefix: u.regionPrefix,
    };
  });

  app.post('/admin/v1/logout', {
    config: { access: 'authenticated', rate: 'admin' },
    schema: { response: { 204: NO_CONTENT }, summary: 'End this bearer token', tags: ['accounts'], body: { type: 'object', additionalProperties: false, properties: {} } },
  }, async (req, reply) => {
    const h = req.headers.authorization ?? '';
    ctx.tokens.revoke(h.replace(/^Bearer\s+/i, '').trim());
    await ctx.audit(req, { action: 'auth.logout', outcome: 'ok' });
    return reply.code(204).send();
  });

  app.get('/admin/v1/me', {
    config: { access: 'authenticated', rate: 'admin' },
    schema: { summary: 'Who this bearer token belongs to', tags: ['accounts'], response: { 200: ME, 401: ERROR_BODY } },
  }, async (req) => {
    const p = principalOf(req);
    return { username: p.username, role: p.role, regionPrefix: p.regionPrefix, expiresAt: p.expiresAt };
  });

  app.get('/admin/v1/users', {
    config: { access: 'users.manage', rate: 'admin' },
    schema: { response: { 200: USER_LIST }, summary: 'List back-office accounts', tags: ['accounts'] },
  }, async () => ({ users: (await users.list()).map(userView) }));

  app.post('/admin/v1/users', {
    config: { access: 'users.manage', rate: 'admin' },
    schema: {
      response: { 201: USER_CREATED },
      summary: 'Create an account; answers its one-time password once',
      tags: ['accounts'],
      body: {
        type: 'object', additionalProperties: false, required: ['username', 'role'],
        properties: {
          username: USERNAME,
          role: { type: 'string', enum: [...ADMIN_ROLES] },
          regionPrefix: { type: 'string', pattern: '^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})?$' },
        },
      },
    },
  }, async (req, reply) => {
    const b = req.body as { username: string; role: AdminRole; regionPrefix?: string };
    const password = newPassword();
    const u = await users.create({ username: b.username, password, role: b.role, ...(b.regionPrefix === undefined ? {} : { regionPrefix: b.regionPrefix }) });
    await ctx.audit(req, { action: 'users.create', target: u.username, outcome: 'ok', details: { role: u.role, regionPrefix: u.regionPrefix } });
    return reply.code(201).send({ ...userView(u), password });
  });

  app.post('/admin/v1/users/:username/disable', {
    config: { access: 'users.manage', rate: 'admin' },
    schema: { response: { 200: USER_ONE }, summary: 'Disable an account and end its sessions', tags: ['accounts'], params: USERNAME_PARAM, body: { type: 'object', additionalProperties: false, properties: {} } },
  }, async (req) => {
    const { username } = req.params as { username: string };
    const u = await users.setDisabled(username, true);
    const ended = ctx.tokens.revokeUser(u.username);
    await ctx.audit(req, { action: 'users.disable', target: u.username, outcome: 'ok', details: { sessionsEnded: ended } });
    return userView(u);
  });

  app.post('/admin/v1/users/:username/enable', {
    config: { access: 'users.manage', rate: 'admin' },
    schema: { summary: 'Enable a disabled account again', tags: ['accounts'], params: USERNAME_PARAM, body: EMPTY, response: { 200: USER_VIEW, 404: ERROR_BODY } },
  }, async (req) => {
    const { username } = req.params as { username: string };
    const u = await users.setDisabled(username, false);
    await ctx.audit(req, { action: 'users.enable', target: u.username, outcome: 'ok' });
    return userView(u);
  });

  app.post('/admin/v1/users/:username/reset-password', {
    config: { access: 'users.manage', rate: 'admin' },
    schema: {
      summary: 'Reset the password: a new one-time password answered once; ends the lockout and every session of the account',
      tags: ['accounts'], params: USERNAME_PARAM, body: EMPTY,
      response: { 200: { ...USER_VIEW, properties: { ...USER_VIEW.properties, password: { type: 'string', description: 'one-time password, shown once' } } }, 404: ERROR_BODY },
    },
  }, async (req) => {
    const { username } = req.params as { username: string };
    const password = newPassword();
    await users.setPassword(username, password);
    const ended = ctx.tokens.revokeUser(username);
    await ctx.audit(req, { action: 'users.reset_password', target: username, outcome: 'ok', details: { sessionsEnded: ended } });
    const u = await users.get(username);
    return { ...(u === null ? {} : userView(u)), password };
  });

  app.post('/admin/v1/users/:username', {
    config: { access: 'users.manage', rate: 'admin' },
    schema: {
      summary: "Change an account's role or region (管辖地区); its sessions end so the new rights apply at once",
      tags: ['accounts'], params: USERNAME_PARAM,
      body: {
        type: 'object', additionalProperties: false,
        properties: {
          role: { type: 'string', enum: [...ADMIN_ROLES] },
          regionPrefix: { type: 'string', pattern: '^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})?$' },
        },
      },
      response: { 200: USER_VIEW, 404: ERROR_BODY, 409: ERROR_BODY },
    },
  }, async (req) => {
    const { username } = req.params as { username: string };
    const b = req.body as { role?: AdminRole; regionPrefix?: string };
    const before = await users.get(username);
    const u = await users.update(username, b);
    const ended = ctx.tokens.revokeUser(u.username);
    await ctx.audit(req, {
      action: 'users.update', target: u.username, outcome: 'ok',
      details: { from: { role: before?.role, regionPrefix: before?.regionPrefix }, to: { role: u.role, regionPrefix: u.regionPrefix }, sessionsEnded: ended },
    });
    return userView(u);
  });

  app.post('/admin/v1/users/:username/unlock', {
    config: { access: 'users.manage', rate: 'admin' },
    schema: { response: { 200: USER_ONE }, summary: 'End a login lockout early', tags: ['accounts'], params: USERNAME_PARAM, body: { type: 'object', additionalProperties: false, properties: {} } },
  }, async (req) => {
    const { username } = req.params as { username: string };
    await users.unlock(username);
    await ctx.audit(req, { action: 'users.unlock', target: username, outcome: 'ok' });
    const u = await users.get(username);
    return u === null ? {} : userView(u);
  });
}
