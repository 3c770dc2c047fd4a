import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import { CHENGDU_ID, CHENGDU_NAME, LUZHOU_ID, LUZHOU_NAME, startAdmin, type Account, type Fixture } from './admin-fixture.common.js';

/**
 * Authorisation of EVERY route: a table of route × role → expected status
 * (DESIGN §7, issue 5 item 7), checked over real HTTP. The table must cover
 * every path and method of the OpenAPI document, so a new route without a
 * row fails this file. Plus: anonymous and bad tokens, region scoping (404,
 * never a confirmation), mass assignment, unknown routes, malformed bodies.
 */
let f: Fixture;
let venueId: string;
let seq = 0;
const uniq = (): string => `${Date.now().toString(36)}${(seq++).toString(36)}`;

beforeAll(async () => {
  f = await startAdmin();
  for (const [idNo, name] of [[CHENGDU_ID, CHENGDU_NAME], [LUZHOU_ID, LUZHOU_NAME]]) {
    const r = await f.call('POST', '/v1/session', { body: { idType: 'resident', idNo, name } });
    expect(r.status).toBe(200);
  }
  const v = await f.call('POST', '/admin/v1/venues', { token: f.tokens.admin, body: { name: '春熙路商场', region: '510104' } });
  expect(v.status).toBe(201);
  venueId = v.body.id;
});
afterAll(async () => {
  await f?.close();
});

type Role = 'admin' | 'operator' | 'analyst' | 'city_officer' | 'auditor';
const ROLES: readonly Role[] = ['admin', 'operator', 'analyst', 'city_officer', 'auditor'];

interface Row {
  method: 'GET' | 'POST';
  /** OpenAPI path, e.g. /admin/v1/venues/{id} */
  route: string;
  /** the concrete URL (may prepare state first) */
  url: (role: Role) => Promise<string> | string;
  body?: (role: Role) => unknown;
  /** status per role that may call it; every other role gets 403 */
  ok: Partial<Record<Role, number>>;
  /** logs in afresh for this row (the call ends the session) */
  freshToken?: boolean;
}

const all = (s: number): Record<Role, number> => ({ admin: s, operator: s, analyst: s, city_officer: s, auditor: s });
const writers = (s: number): Partial<Record<Role, number>> => ({ admin: s, operator: s, city_officer: s });
const readers = (s: number): Partial<Record<Role, number>> => ({ admin: s, operator: s, analyst: s, city_officer: s });

async function bulkRequestId(): Promise<string> {
  const r = await f.call('POST', '/admin/v1/codes/bulk', {
    token: f.tokens.operator2, body: { items: [{ idNo: CHENGDU_ID }], color: 'yellow', reason: 'bulk_test' },
  });
  expect(r.status).toBe(202);
  return r.body.id;
}

async function uploadRules(): Promise<string> {
  const version = `t${uniq()}`;
  const r = await f.call('POST', '/admin/v1/rules', { token: f.tokens.admin, body: { ruleSet: { ...DEFAULT_RULE_SET, version } } });
  expect(r.status).toBe(201);
  return version;
}

async function stagedRiskImport(): Promise<string> {
  const r = await f.call('POST', '/admin/v1/risk-areas/import', {
    token: f.tokens.admin, body: [{ region: '510104', level: 'medium', since: Math.floor(f.clock.ms / 1000) - 60 }],
  });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function throwawayUser(): Promise<string> {
  const username = `u${uniq()}`;
  await f.users.create({ username, password: 'Throwaway-password-1', role: 'analyst' });
  return username;
}

const TABLE: Row[] = [
  { method: 'GET', route: '/admin/v1/me', url: () => '/admin/v1/me', ok: all(200) },
  { method: 'POST', route: '/admin/v1/logout', url: () => '/admin/v1/logout', ok: all(204), freshToken: true },
  { method: 'GET', route: '/admin/v1/users', url: () => '/admin/v1/users', ok: { admin: 200 } },
  { method: 'POST', route: '/admin/v1/users', url: () => '/admin/v1/users', body: () => ({ username: `n${uniq()}`, role: 'analyst' }), ok: { admin: 201 } },
  { method: 'POST', route: '/admin/v1/users/{username}/disable', url: async () => `/admin/v1/users/${await throwawayUser()}/disable`, ok: { admin: 200 } },
  { method: 'POST', route: '/admin/v1/users/{username}/unlock', url: async () => `/admin/v1/users/${await throwawayUser()}/unlock`, ok: { admin: 200 } },
  { method: 'GET', route: '/admin/v1/overview', url: () => '/admin/v1/overview', ok: all(200) },
  { method: 'GET', route: '/admin/v1/audit/export.xlsx', url: () => '/admin/v1/audit/export.xlsx?outcome=ok', ok: { admin: 200, auditor: 200 } },
  { method: 'POST', route: '/admin/v1/export/xlsx', url: () => '/admin/v1/export/xlsx', body: () => ({ title: '测试', columns: ['甲'], rows: [['乙']] }), ok: all(200) },
  { method: 'POST', route: '/admin/v1/users/{username}/enable', url: async () => `/admin/v1/users/${await throwawayUser()}/enable`, ok: { admin: 200 } },
  { method: 'POST', route: '/admin/v1/users/{username}/reset-password', url: async () => `/admin/v1/users/${await throwawayUser()}/reset-password`, ok: { admin: 200 } },
  { method: 'POST', route: '/admin/v1/users/{username}', url: async () => `/admin/v1/users/${await throwawayUser()}`, body: () => ({ regionPrefix: '5101' }), ok: { admin: 200 } },
  { method: 'POST', route: '/admin/v1/codes/query', url: () => '/admin/v1/codes/query', body: () => ({ idNo: CHENGDU_ID }), ok: readers(200) },
  {
    method: 'POST', route: '/admin/v1/codes/transcode', url: () => '/admin/v1/codes/transcode',
    body: () => ({ idNo: CHENGDU_ID, color: 'yellow', reason: 'authz_test' }), ok: writers(200),
  },
  { method: 'POST', route: '/admin/v1/codes/clear', url: () => '/admin/v1/codes/clear', body: () => ({ idNo: CHENGDU_ID }), ok: writers(200) },
  {
    method: 'POST', route: '/admin/v1/codes/bulk', url: () => '/admin/v1/codes/bulk',
    body: () => ({ items: [{ idNo: CHENGDU_ID }], color: 'yellow', reason: 'bulk' }), ok: writers(202),
  },
  { method: 'GET', route: '/admin/v1/codes/bulk', url: () => '/admin/v1/codes/bulk', ok: writers(200) },
  { method: 'POST', route: '/admin/v1/codes/bulk/{id}/approve', url: async () => `/admin/v1/codes/bulk/${await bulkRequestId()}/approve`, ok: writers(200) },
  { method: 'POST', route: '/admin/v1/codes/bulk/{id}/reject', url: async () => `/admin/v1/codes/bulk/${await bulkRequestId()}/reject`, ok: writers(200) },
  { method: 'GET', route: '/admin/v1/audit', url: () => '/admin/v1/audit?limit=5', ok: { admin: 200, auditor: 200 } },
  { method: 'POST', route: '/admin/v1/audit/verify', url: () => '/admin/v1/audit/verify', ok: { admin: 200, auditor: 200 } },
  { method: 'GET', route: '/admin/v1/rules', url: () => '/admin/v1/rules', ok: { admin: 200, operator: 200, analyst: 200 } },
  { method: 'GET', route: '/admin/v1/rules/{version}', url: () => `/admin/v1/rules/${DEFAULT_RULE_SET.version}`, ok: { admin: 200, operator: 200, analyst: 200 } },
  {
    method: 'POST', route: '/admin/v1/rules', url: () => '/admin/v1/rules',
    body: () => ({ ruleSet: { ...DEFAULT_RULE_SET, version: `u${uniq()}` } }), ok: { admin: 201 },
  },
  { method: 'POST', route: '/admin/v1/rules/{version}/dry-run', url: () => `/admin/v1/rules/${DEFAULT_RULE_SET.version}/dry-run`, ok: { admin: 200 } },
  {
    method: 'POST', route: '/admin/v1/rules/{version}/publish', url: async () => `/admin/v1/rules/${await uploadRules()}/publish`,
    body: () => ({ activeFrom: Math.floor(f.clock.ms / 1000) + 86_400 }), ok: { admin: 200 },
  },
  {
    method: 'POST', route: '/admin/v1/rules/rollback',
    url: async (role) => {
      if (role === 'admin') {
        const v = await uploadRules();
        expect((await f.call('POST', `/admin/v1/rules/${v}/publish`, { token: f.tokens.admin, body: {} })).status).toBe(200);
      }
      return '/admin/v1/rules/rollback';
    },
    ok: { admin: 200 },
  },
  { method: 'GET', route: '/admin/v1/risk-areas', url: () => '/admin/v1/risk-areas', ok: readers(200) },
  {
    method: 'POST', route: '/admin/v1/risk-areas/import', url: () => '/admin/v1/risk-areas/import',
    body: () => [{ region: '510105', level: 'high', since: 1_700_000_000 }], ok: { admin: 201 },
  },
  { method: 'POST', route: '/admin/v1/risk-areas/import/{id}/publish', url: async () => `/admin/v1/risk-areas/import/${await stagedRiskImport()}/publish`, ok: { admin: 200 } },
  { method: 'GET', route: '/admin/v1/venues', url: () => '/admin/v1/venues?q=%E6%98%A5', ok: readers(200) },
  { method: 'POST', route: '/admin/v1/venues', url: () => '/admin/v1/venues', body: () => ({ name: `场所${uniq()}`, region: '510104' }), ok: writers(201) },
  {
    method: 'POST', route: '/admin/v1/venues/import', url: () => '/admin/v1/venues/import',
    body: () => ({ venues: [{ name: `批量${uniq()}`, region: '510104', kind: 'entry', entryTestHours: 24 }] }), ok: writers(200),
  },
  { method: 'GET', route: '/admin/v1/venues/{id}', url: () => `/admin/v1/venues/${venueId}`, ok: readers(200) },
  { method: 'GET', route: '/admin/v1/venues/{id}/qr.png', url: () => `/admin/v1/venues/${venueId}/qr.png`, ok: readers(200) },
  { method: 'GET', route: '/admin/v1/venues/{id}/qr.svg', url: () => `/admin/v1/venues/${venueId}/qr.svg`, ok: readers(200) },
  {
    method: 'POST', route: '/admin/v1/venues/parse', url: () => '/admin/v1/venues/parse',
    body: () => ({ filename: 'v.csv', data: Buffer.from('场所名称,区划代码\n春熙路,510104\n').toString('base64') }), ok: writers(200),
  },
  { method: 'GET', route: '/admin/v1/venues/{id}/poster.pdf', url: () => `/admin/v1/venues/${venueId}/poster.pdf`, ok: readers(200) },
  { method: 'POST', route: '/admin/v1/venues/{id}', url: () => `/admin/v1/venues/${venueId}`, body: () => ({ name: '春熙路商场', region: '510104' }), ok: writers(200) },
  {
    method: 'POST', route: '/admin/v1/venues/{id}/disable',
    url: async () => `/admin/v1/venues/${(await f.call('POST', '/admin/v1/venues', { token: f.tokens.admin, body: { name: `停用${uniq()}`, region: '510104' } })).body.id}/disable`,
    ok: writers(200),
  },
  {
    method: 'POST', route: '/admin/v1/venues/{id}/enable',
    url: async () => {
      const id = (await f.call('POST', '/admin/v1/venues', { token: f.tokens.admin, body: { name: `启用${uniq()}`, region: '510104' } })).body.id as string;
      expect((await f.call('POST', `/admin/v1/venues/${id}/disable`, { token: f.tokens.admin })).status).toBe(200);
      return `/admin/v1/venues/${id}/enable`;
    },
    ok: writers(200),
  },
  // the registered name again: allowed or not, nothing changes for the other rows
  { method: 'POST', route: '/admin/v1/persons/rename', url: () => '/admin/v1/persons/rename', body: () => ({ idNo: CHENGDU_ID, name: CHENGDU_NAME, reason: '核对' }), ok: writers(200) },
];

/** Routes anyone may call (no token): tested in their own files; listed so the coverage check knows them. */
const PUBLIC = new Set(['POST /v1/session', 'POST /admin/v1/login', 'GET /v1/session/demo']);

describe('route × role table', () => {
  it('covers every route of the OpenAPI document', async () => {
    const doc = (await f.call('GET', '/admin/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    const covered = [...TABLE.map((r) => `${r.method} ${r.route}`), ...PUBLIC].sort();
    expect(covered).toEqual(documented);
  });

  for (const row of TABLE) {
    it(`${row.method} ${row.route}`, async () => {
      const got: Record<string, number> = {};
      const want: Record<string, number> = {};
      for (const role of ROLES) {
        const token = row.freshToken === true ? await f.login(role) : f.tokens[role as Account];
        const url = await row.url(role);
        const r = await f.call(row.method, url, { token, ...(row.body === undefined ? {} : { body: row.body(role) }) });
        got[role] = r.status;
        want[role] = row.ok[role] ?? 403;
        if (r.status === 403) expect(r.body).toMatchObject({ error: 'ADM_ERR_FORBIDDEN' });
        if (r.status !== want[role]) got[`${role}:body`] = r.text as unknown as number; // shows why in the diff
      }
      expect(got).toEqual(want);
      // anonymous and a forged token: 401 before anything else
      const url = await row.url('auditor');
      const anon = await f.call(row.method, url, row.body === undefined ? {} : { body: row.body('auditor') });
      expect(anon.status).toBe(401);
      expect(anon.body).toEqual({ error: 'ADM_ERR_UNAUTHENTICATED', message: 'missing, invalid or expired bearer token', zh: '登录已失效，请重新登录' });
      const forged = await f.call(row.method, url, { token: 'A'.repeat(43) });
      expect(forged.status).toBe(401);
    });
  }

  it('a refused attempt is itself audited', async () => {
    const before = (await f.audit.list({ action: 'access', order: 'desc', limit: 1 }))[0]?.seq ?? 0;
    expect((await f.call('GET', '/admin/v1/audit', { token: f.tokens.analyst })).status).toBe(403);
    const e = (await f.audit.list({ action: 'access', after: before }))[0]!;
    expect(e).toMatchObject({ actor: 'analyst', role: 'analyst', outcome: 'denied', fromAddr: '127.0.0.1' });
    expect(e.details).toEqual({ method: 'GET', route: '/admin/v1/audit' });
  });
});

describe('region scoping (a city officer sees only their city)', () => {
  it('answers 404 for a person of another city — the same answer as for nobody — and audits denied_scope', async () => {
    const other = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.city_officer, body: { idNo: LUZHOU_ID } });
    const nobody = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.city_officer, body: { idNo: '11010519491231002X' } });
    expect(other.status).toBe(404);
    expect(other.body).toEqual(nobody.body);
    expect(other.body.error).toBe('ADM_ERR_NOT_FOUND');
    const entries = await f.audit.list({ action: 'codes.query', actor: 'city_officer', order: 'desc', limit: 2 });
    expect(entries.map((e) => e.outcome)).toEqual(['not_found', 'denied_scope']);
    expect(entries[1]!.target).toBe('resident:5105**********' + LUZHOU_ID.slice(-4));
    // the other city's officer sees her
    expect((await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.city_officer_b, body: { idNo: LUZHOU_ID } })).status).toBe(200);
    expect((await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.city_officer_b, body: { idNo: CHENGDU_ID } })).status).toBe(404);
  });

  it('cannot change, bulk-request or approve for a person of another city', async () => {
    const before = await f.store.maxOutboxSeq();
    const t = await f.call('POST', '/admin/v1/codes/transcode', { token: f.tokens.city_officer, body: { idNo: LUZHOU_ID, color: 'red', reason: 'x' } });
    expect(t.status).toBe(404);
    const b = await f.call('POST', '/admin/v1/codes/bulk', {
      token: f.tokens.city_officer, body: { items: [{ idNo: CHENGDU_ID }, { idNo: LUZHOU_ID }], color: 'red', reason: 'x' },
    });
    expect(b.status).toBe(404);
    expect(b.body.field).toBe('items[1]');
    expect(await f.store.maxOutboxSeq()).toBe(before);
    // a request about a Luzhou person is invisible to the Chengdu officer, visible to Luzhou's
    const req = await f.call('POST', '/admin/v1/codes/bulk', { token: f.tokens.operator, body: { items: [{ idNo: LUZHOU_ID }], color: 'yellow', reason: 'x' } });
    expect(req.status).toBe(202);
    const list = await f.call('GET', '/admin/v1/codes/bulk', { token: f.tokens.city_officer });
    expect(list.body.requests.map((x: { id: string }) => x.id)).not.toContain(req.body.id);
    expect((await f.call('POST', `/admin/v1/codes/bulk/${req.body.id}/approve`, { token: f.tokens.city_officer })).status).toBe(404);
    expect((await f.call('POST', `/admin/v1/codes/bulk/${req.body.id}/approve`, { token: f.tokens.city_officer_b })).status).toBe(200);
  });

  it('venues: other regions are invisible, creating there is refused', async () => {
    const lz = await f.call('POST', '/admin/v1/venues', { token: f.tokens.admin, body: { name: '泸州春秋酒店', region: '510502' } });
    expect(lz.status).toBe(201);
    expect((await f.call('GET', `/admin/v1/venues/${lz.body.id}`, { token: f.tokens.city_officer })).status).toBe(404);
    expect((await f.call('GET', `/admin/v1/venues/${lz.body.id}/qr.png`, { token: f.tokens.city_officer })).status).toBe(404);
    const mine = await f.call('GET', '/admin/v1/venues?q=%E6%98%A5', { token: f.tokens.city_officer });
    expect(mine.body.venues.every((v: { region: string }) => v.region.startsWith('5101'))).toBe(true);
    expect(mine.body.venues.length).toBeGreaterThan(0);
    const asked = await f.call('GET', '/admin/v1/venues?q=%E6%98%A5&region=5105', { token: f.tokens.city_officer });
    expect(asked.body.venues).toEqual([]);
    const all = await f.call('GET', '/admin/v1/venues?q=%E6%98%A5', { token: f.tokens.admin });
    expect(all.body.venues.map((v: { region: string }) => v.region)).toEqual(expect.arrayContaining(['510104', '510502']));
    const c = await f.call('POST', '/admin/v1/venues', { token: f.tokens.city_officer, body: { name: 'x', region: '510502' } });
    expect(c.status).toBe(403);
    expect(c.body).toMatchObject({ error: 'ADM_ERR_FORBIDDEN', field: 'region' });
    const imp = await f.call('POST', '/admin/v1/venues/import', { token: f.tokens.city_officer, body: { venues: [{ id: lz.body.id, name: 'hijack', region: '510104' }] } });
    expect(imp.status).toBe(409);
    expect((await f.store.getVenue(lz.body.id))!.name).toBe('泸州春秋酒店');
  });
});

describe('mass assignment is refused, not ignored', () => {
  const cases: [string, string, Account, unknown, string][] = [
    ['transcode with an actor', '/admin/v1/codes/transcode', 'operator', { idNo: CHENGDU_ID, color: 'red', reason: 'x', actor: 'someone-else' }, 'actor'],
    ['transcode with a seq', '/admin/v1/codes/transcode', 'operator', { idNo: CHENGDU_ID, color: 'red', reason: 'x', seq: 1 }, 'seq'],
    ['query with a region', '/admin/v1/codes/query', 'city_officer', { idNo: LUZHOU_ID, regionPrefix: '' }, 'regionPrefix'],
    ['bulk item with a personId', '/admin/v1/codes/bulk', 'operator', { items: [{ idNo: CHENGDU_ID, personId: 2 }], color: 'red', reason: 'x' }, 'items[0].personId'],
    ['user with a password hash', '/admin/v1/users', 'admin', { username: 'mallory', role: 'analyst', passwordHash: 'x' }, 'passwordHash'],
    ['user with failedAttempts', '/admin/v1/users', 'admin', { username: 'mallory', role: 'analyst', failedAttempts: 0 }, 'failedAttempts'],
    ['venue with createdAt', '/admin/v1/venues', 'admin', { name: 'x', region: '510104', createdAt: 0 }, 'createdAt'],
    ['session with a region', '/v1/session', 'admin', { phone: '13900001111', region: '110101' }, 'region'],
    ['risk area with an id', '/admin/v1/risk-areas/import', 'admin', [{ region: '510104', level: 'high', since: 1, id: 3 }], '[0].id'],
    ['approve with a body', '/admin/v1/rules/rollback', 'admin', { force: true }, 'force'],
  ];
  for (const [name, url, who, body, field] of cases) {
    it(name, async () => {
      const r = await f.call('POST', url, { token: f.tokens[who], body });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field });
    });
  }
  it('a JSON number where an ID belongs is a type error, not a coerced string', async () => {
    const r = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.operator, raw: '{"idNo": 510104198506121060}' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'idNo' });
  });
});

describe('malformed requests and unknown routes', () => {
  it('unknown route → 404 JSON', async () => {
    const r = await f.call('GET', '/admin/v1/nope', { token: f.tokens.admin });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'ADM_ERR_NOT_FOUND', message: 'not found: no such route', zh: '请求的内容不存在' });
    expect((await f.call('DELETE', '/admin/v1/codes/query')).status).toBe(404);
  });
  it('broken JSON → 400 ADM_ERR_BAD_JSON', async () => {
    const r = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.operator, raw: '{"idNo": ' });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('ADM_ERR_BAD_JSON');
  });
  it('another media type → 415', async () => {
    const r = await f.call('POST', '/admin/v1/codes/query', { token: f.tokens.operator, raw: 'idNo=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(415);
    expect(r.body.error).toBe('ADM_ERR_UNSUPPORTED_MEDIA');
  });
  it('a body over the limit → 413', async () => {
    const r = await f.call('POST', '/admin/v1/venues/import', { token: f.tokens.admin, raw: JSON.stringify({ venues: [{ name: 'x'.repeat(5_000_000), region: '510104' }] }) });
    expect(r.status).toBe(413);
    expect(r.body.error).toBe('ADM_ERR_PAYLOAD_TOO_LARGE');
  });
  it('a bad query parameter → 400 naming it', async () => {
    const r = await f.call('GET', '/admin/v1/venues?q=a&limit=abc', { token: f.tokens.admin });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'limit' });
    const u = await f.call('GET', '/admin/v1/venues?q=a&evil=1', { token: f.tokens.admin });
    expect(u.body).toMatchObject({ error: 'ADM_ERR_VALIDATION', field: 'evil' });
  });
  it('answers are never cached', async () => {
    const r = await f.call('GET', '/admin/v1/me', { token: f.tokens.admin });
    expect(r.headers.get('cache-control')).toBe('no-store');
  });
});

describe('OpenAPI document', () => {
  it('is valid JSON (OpenAPI 3.0) listing the routes, with the bearer scheme on protected ones', async () => {
    const r = await f.call('GET', '/admin/openapi.json');
    expect(r.status).toBe(200);
    const doc = JSON.parse(r.text) as {
      openapi: string; paths: Record<string, Record<string, { security?: unknown; description?: string; requestBody?: unknown }>>;
      components: { securitySchemes: unknown };
    };
    expect(doc.openapi).toBe('3.0.3');
    expect(doc.components.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });
    for (const p of ['/v1/session', '/admin/v1/login', '/admin/v1/codes/transcode', '/admin/v1/audit', '/admin/v1/audit/verify']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    expect(doc.paths['/admin/v1/codes/transcode']!.post!.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/admin/v1/codes/transcode']!.post!.description).toContain('codes.write');
    expect(doc.paths['/v1/session']!.post!.security).toBeUndefined();
    expect(doc.paths['/v1/session']!.post!.requestBody).toBeDefined();
  });
});
