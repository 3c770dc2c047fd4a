import { resolve } from 'node:path';
import { AdminError } from './errors.js';

/**
 * admin-api configuration, read from the environment ONCE at start
 * (`loadAdminConfig`) and validated as a whole: a bad value stops the start
 * with ADM_ERR_CONFIG naming the variable, instead of surfacing as a strange
 * behaviour under load. Everything else receives the typed, frozen result.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | ADMIN_PORT | 8081 | TCP port (DESIGN §5 operating contract) |
 * | ADMIN_HOST | 127.0.0.1 | listen address; the back office is not for the open internet |
 * | HC_DATA_DIR | ./data | state: PGlite master, secrets, admin-credentials.json |
 * | SESSION_TTL_SEC | 43200 | citizen session token lifetime (12 h) |
 * | ADMIN_TOKEN_TTL_SEC | 28800 | absolute lifetime of a back-office bearer token (8 h, a shift) |
 * | ADMIN_IDLE_TIMEOUT_SEC | 900 | a bearer token unused this long is dead (15 min) |
 * | SESSION_IDENTITY_RATE_PER_MIN | 10 | POST /v1/session per identity (certificate or phone) per minute, whatever the address (burst = the same) |
 * | SESSION_ADDRESS_RATE_PER_MIN | 6000 | POST /v1/session per client address per minute: a flood ceiling sized for a carrier-grade NAT exit |
 * | SESSION_RATE_PER_MIN | — | deprecated alias of SESSION_ADDRESS_RATE_PER_MIN (setting both is refused) |
 * | LOGIN_RATE_PER_MIN | 10 | POST /admin/v1/login per client IP per minute |
 * | ADMIN_RATE_PER_MIN | 600 | every other /admin route per client IP per minute |
 * | ADMIN_TRUST_PROXY | (off) | comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed |
 *
 * The client address of the per-address limits (and of the audit log's
 * fromAddr) is Fastify's `req.ip`: without ADMIN_TRUST_PROXY the socket's
 * peer; with it, X-Forwarded-For is read from the right and the first hop
 * NOT in the list is the client. Behind the province's nginx (deploy/nginx)
 * set ADMIN_TRUST_PROXY to the nginx addresses and have nginx send
 * `X-Forwarded-For $proxy_add_x_forwarded_for`; unset, every citizen would
 * share the balancer's address and its one bucket.
 *
 * Why two session limits: one address may front thousands of phones (a
 * carrier-grade NAT exit, RFC 6888), so a per-address bucket small enough
 * to stop guessing would lock them all out. What identifies an abuser of a
 * login is the identity being tried (name guessing behind one certificate),
 * so the tight bucket is per identity, keyed by a keyed hash of the
 * normalised certificate or phone (routes-session.ts); the address bucket
 * only bounds a flood.
 * | ADMIN_BODY_LIMIT | 4194304 | largest request body in bytes (bulk venue imports) |
 * | BULK_REQUEST_TTL_SEC | 86400 | a bulk code change not approved within this is void |
 * | ADMIN_LOG_LEVEL | info | pino level |
 *
 * Why these defaults: OWASP Session Management Cheat Sheet — idle timeouts
 * of 15–30 min for applications of this risk, an absolute timeout of a work
 * shift; OWASP Authentication Cheat Sheet — throttle login per source as well
 * as per account (the account lockout lives in master/admin-users.ts).
 */
export interface AdminConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly sessionTtlSec: number;
  readonly adminTokenTtlSec: number;
  readonly adminIdleTimeoutSec: number;
  /** POST /v1/session per client address per minute (SESSION_ADDRESS_RATE_PER_MIN) */
  readonly sessionRatePerMin: number;
  /** POST /v1/session per identity per minute (SESSION_IDENTITY_RATE_PER_MIN) */
  readonly sessionIdentityRatePerMin: number;
  readonly loginRatePerMin: number;
  readonly adminRatePerMin: number;
  /** addresses/CIDRs of trusted reverse proxies; empty = use the socket address */
  readonly trustProxy: readonly string[];
  readonly bodyLimit: number;
  readonly bulkRequestTtlSec: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * Origins allowed to call POST /v1/session from a browser (the citizen
   * page on the edge's origin logs in here in embedded mode). Exact
   * `scheme://host:port` strings; empty = no CORS headers at all.
   */
  readonly corsOrigins: readonly string[];
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  if (!/^[0-9]+$/.test(raw.trim())) throw new AdminError('ADM_ERR_CONFIG', `${name}=${JSON.stringify(raw)} is not a whole number`, name);
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new AdminError('ADM_ERR_CONFIG', `${name}=${raw} is outside ${min}–${max}`, name);
  }
  return n;
}

/** Reads and validates the configuration; `overrides` win over the environment (tests, the embedded stack). */
export function loadAdminConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<AdminConfig> = {}): AdminConfig {
  const host = (env.ADMIN_HOST ?? '').trim() || '127.0.0.1';
  if (/\s/.test(host)) throw new AdminError('ADM_ERR_CONFIG', `ADMIN_HOST=${JSON.stringify(host)}`, 'ADMIN_HOST');
  const level = ((env.ADMIN_LOG_LEVEL ?? '').trim() || 'info') as AdminConfig['logLevel'];
  if (!LOG_LEVELS.includes(level)) {
    throw new AdminError('ADM_ERR_CONFIG', `ADMIN_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`, 'ADMIN_LOG_LEVEL');
  }
  const trust = (env.ADMIN_TRUST_PROXY ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const t of trust) {
    if (!/^[0-9a-fA-F:.]+(\/[0-9]{1,3})?$/.test(t)) {
      throw new AdminError('ADM_ERR_CONFIG', `ADMIN_TRUST_PROXY entry ${JSON.stringify(t)} is not an address or CIDR`, 'ADMIN_TRUST_PROXY');
    }
  }
  const edgePort = (env.EDGE_PORT ?? '').trim() || '8080';
  const cors = (env.ADMIN_CORS_ORIGINS ?? `http://127.0.0.1:${edgePort},http://localhost:${edgePort}`)
    .split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const o of cors) {
    if (!/^https?:\/\/[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?$/.test(o)) {
      throw new AdminError('ADM_ERR_CONFIG', `ADMIN_CORS_ORIGINS entry ${JSON.stringify(o)} is not an origin (scheme://host[:port])`, 'ADMIN_CORS_ORIGINS');
    }
  }
  const idle = int(env, 'ADMIN_IDLE_TIMEOUT_SEC', 900, 30, 86_400);
  const ttl = int(env, 'ADMIN_TOKEN_TTL_SEC', 28_800, 60, 7 * 86_400);
  // SESSION_RATE_PER_MIN was the one per-address session limit (default 60);
  // kept as an alias of the address limit so existing deployments start, but
  // both at once would leave an operator unsure which one holds.
  const aliasSet = (env.SESSION_RATE_PER_MIN ?? '').trim() !== '';
  if (aliasSet && (env.SESSION_ADDRESS_RATE_PER_MIN ?? '').trim() !== '') {
    throw new AdminError('ADM_ERR_CONFIG', 'SESSION_RATE_PER_MIN is the deprecated name of SESSION_ADDRESS_RATE_PER_MIN: set only one', 'SESSION_RATE_PER_MIN');
  }
  const sessionAddress = aliasSet
    ? int(env, 'SESSION_RATE_PER_MIN', 6000, 1, 1_000_000)
    : int(env, 'SESSION_ADDRESS_RATE_PER_MIN', 6000, 1, 1_000_000);
  const cfg: AdminConfig = {
    port: int(env, 'ADMIN_PORT', 8081, 0, 65_535),
    host,
    dataDir: resolve((env.HC_DATA_DIR ?? '').trim() || './data'),
    // The session token carries a uint32 expiry (core/session-token.ts); a year bounds a stolen token.
    sessionTtlSec: int(env, 'SESSION_TTL_SEC', 43_200, 60, 365 * 86_400),
    adminTokenTtlSec: ttl,
    adminIdleTimeoutSec: idle,
    sessionRatePerMin: sessionAddress,
    sessionIdentityRatePerMin: int(env, 'SESSION_IDENTITY_RATE_PER_MIN', 10, 1, 100_000),
    loginRatePerMin: int(env, 'LOGIN_RATE_PER_MIN', 10, 1, 10_000),
    adminRatePerMin: int(env, 'ADMIN_RATE_PER_MIN', 600, 1, 1_000_000),
    trustProxy: Object.freeze(trust),
    bodyLimit: int(env, 'ADMIN_BODY_LIMIT', 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    bulkRequestTtlSec: int(env, 'BULK_REQUEST_TTL_SEC', 86_400, 60, 30 * 86_400),
    logLevel: level,
    corsOrigins: Object.freeze(cors),
    ...overrides,
  };
  if (cfg.adminIdleTimeoutSec > cfg.adminTokenTtlSec) {
    throw new AdminError('ADM_ERR_CONFIG', 'ADMIN_IDLE_TIMEOUT_SEC exceeds ADMIN_TOKEN_TTL_SEC', 'ADMIN_IDLE_TIMEOUT_SEC');
  }
  return Object.freeze(cfg);
}
