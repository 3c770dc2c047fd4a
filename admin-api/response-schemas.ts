/**
 * Success answers as /admin/openapi.json documents them (issue 15 item 5:
 * "every operation's success response with a schema"). Every object is open
 * (`additionalProperties: true`): Fastify serialises a 2xx answer through
 * its schema, and a documentation schema must never drop a field the
 * clients read. Types are declared where the value's type is fixed;
 * nullable fields say so.
 */
const OPEN = { additionalProperties: true } as const;
const INT = { type: 'integer' } as const;
const STR = { type: 'string' } as const;
const BOOL = { type: 'boolean' } as const;
const NINT = { type: ['integer', 'null'] } as const;
const NSTR = { type: ['string', 'null'] } as const;
const ANY = {} as const;

export const NO_CONTENT = { type: 'null', description: 'No Content' } as const;

export const ME = {
  type: 'object', ...OPEN, description: 'the account behind this token',
  properties: { username: STR, role: STR, regionPrefix: STR, expiresAt: { ...INT, description: 'unix seconds' } },
} as const;

export const LOGIN = {
  type: 'object', ...OPEN,
  properties: {
    token: { ...STR, description: 'Authorization: Bearer <token>' }, expiresAt: { ...INT, description: 'unix seconds' },
    idleTimeoutSec: INT, username: STR, role: STR, regionPrefix: STR,
  },
} as const;

const USER = {
  type: 'object', ...OPEN,
  properties: {
    username: STR, role: STR, regionPrefix: { ...STR, description: "GB/T 2260 prefix; '' = whole province" },
    createdAt: INT, disabled: BOOL, lockedUntil: NINT, failedAttempts: INT,
  },
} as const;

export const USER_LIST = { type: 'object', ...OPEN, properties: { users: { type: 'array', items: USER } } } as const;
export const USER_CREATED = { ...USER, properties: { ...USER.properties, password: { ...STR, description: 'one-time password, shown once' } } } as const;
export const USER_ONE = { ...USER, description: 'the account (empty when it vanished meanwhile)' } as const;

const CODE = {
  type: ['object', 'null'], ...OPEN,
  properties: {
    color: STR, reason: STR, since: NINT, until: NINT, notices: { type: 'array', items: { type: 'object', ...OPEN } },
    name: NSTR, ruleVersion: NSTR, seq: INT, nextEvalAt: NINT,
  },
} as const;

const PERSON = {
  type: 'object', ...OPEN, description: 'identities masked for masked roles',
  properties: {
    personId: INT, uid: STR, idType: NSTR, idNo: NSTR, phone: NSTR, name: STR, nameMasked: STR, region: NSTR,
    registeredAt: INT, masked: BOOL,
  },
} as const;

export const CODE_QUERY = {
  type: 'object', ...OPEN,
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object', ...OPEN,
        properties: {
          person: PERSON, code: CODE,
          override: { type: ['object', 'null'], ...OPEN, description: 'the manual change in force, if any' },
          facts: { type: 'array', items: { type: 'object', ...OPEN } },
          history: { type: 'array', items: { type: 'object', ...OPEN } },
        },
      },
    },
  },
} as const;

export const CODE_CHANGE = {
  type: 'object', ...OPEN,
  properties: {
    personId: INT, changed: BOOL, seq: NINT, overridden: BOOL, ruleVersion: NSTR, nextEvalAt: NINT,
    code: { type: 'object', ...OPEN, description: 'the code record now in force' },
  },
} as const;

const BULK = {
  type: 'object', ...OPEN,
  properties: {
    id: STR, status: { ...STR, description: 'pending, approved, rejected' }, requestedBy: STR, createdAt: INT, expiresAt: INT,
    change: { type: 'object', ...OPEN, properties: { color: STR, reason: STR, until: NINT } },
    count: INT, targets: { type: 'array', items: STR, description: 'masked identities (first 200)' },
  },
} as const;

export const BULK_ONE = BULK;
export const BULK_LIST = { type: 'object', ...OPEN, properties: { requests: { type: 'array', items: BULK } } } as const;
export const BULK_APPLIED = {
  ...BULK,
  properties: {
    ...BULK.properties, applied: INT, changed: INT,
    failed: { type: 'array', items: { type: 'object', ...OPEN, properties: { index: INT, error: STR } } },
  },
} as const;

const RULE_VERSION = { type: 'object', ...OPEN, properties: { version: STR, active: BOOL } } as const;

export const RULES = {
  type: 'object', ...OPEN,
  properties: {
    active: { type: 'object', ...OPEN, properties: { version: STR, activeFrom: INT } },
    versions: { type: 'array', items: RULE_VERSION },
    publications: { type: 'array', items: { type: 'object', ...OPEN, properties: { version: STR, action: STR, activeFrom: INT, actor: STR, at: INT, seq: INT } } },
  },
} as const;

export const RULE_ONE = { type: 'object', ...OPEN, properties: { version: STR, ruleSet: { type: 'object', ...OPEN, description: 'core/rule-set.ts' } } } as const;
export const DRY_RUN = {
  type: 'object', ...OPEN, description: 'how many codes the version would change, by colour and reason',
  properties: { version: STR, evaluated: INT, changed: INT },
} as const;
export const RULE_PUBLISHED = { type: 'object', ...OPEN, properties: { version: STR, activeFrom: INT, seq: ANY } } as const;

export const RISK_AREAS = {
  type: 'object', ...OPEN,
  properties: { areas: { type: 'array', items: { type: 'object', ...OPEN, properties: { region: STR, level: STR, since: INT } } } },
} as const;
export const RISK_STAGED = {
  type: 'object', ...OPEN,
  properties: { id: STR, expiresAt: INT, diff: { type: 'object', ...OPEN, description: '{added, changed, removed, unchanged}' } },
} as const;
export const RISK_PUBLISHED = { type: 'object', ...OPEN, properties: { added: INT, changed: INT, removed: INT, unchanged: INT } } as const;

export const VENUE_IMPORTED = { type: 'object', ...OPEN, properties: { count: INT, changed: INT, unchanged: INT, ids: { type: 'array', items: STR } } } as const;

export const PNG = { description: 'image/png', type: 'string', format: 'binary' } as const;
export const SVG = { description: 'image/svg+xml', type: 'string' } as const;
