import type { FastifyRequest } from 'fastify';
import type { AdminUsers } from '../master/admin-users.js';
import type { AuditEntry, AuditInput, AuditLog } from '../master/audit-log.js';
import type { CodeService } from '../master/code-service.js';
import type { RuleVersions } from '../master/rule-versions.js';
import type { SqlClient } from '../master/sql-client.js';
import type { MasterStore, PersonInput } from '../master/store.js';
import type { AdminSession, AdminTokens } from './admin-tokens.js';
import type { BulkRequests } from './bulk-requests.js';
import type { CapabilityInstance } from './capability.js';
import type { AdminConfig } from './config.js';
import { AdminError } from './errors.js';
import type { Permission } from './roles.js';

/**
 * Who may call a route (checked in app.ts's onRequest hook, before the body
 * is even read): 'public' (no token), 'authenticated' (any live bearer
 * token: logout, who-am-I), or a permission of roles.ts that the bearer
 * token's role must grant. Every route declares one — app.ts refuses
 * to start with a route that does not (deny by default).
 */
export type Access = 'public' | 'authenticated' | Permission;

/** Per-address rate-limit bucket a route draws from. */
export type RateGroup = 'session' | 'login' | 'admin' | 'none';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    rate?: RateGroup;
  }
  interface FastifyRequest {
    /** the authenticated back-office account, set by the onRequest hook on non-public routes */
    principal: AdminSession | null;
  }
}

/**
 * The identity provider of POST /v1/session (DESIGN §5): turns what the
 * citizen's app sent into a verified identity, or throws. The embedded
 * default (`devIdentityProvider`) accepts any well-formed identity;
 * production plugs in the real one (real-name verification against the
 * population register, a face match, …).
 */
export type IdentityProvider = (claim: { idType?: string; idNo?: string; name?: string; phone?: string }) => Promise<PersonInput>;

/** What the embedded stack (or a cluster process) hands to buildAdminApp. */
export interface AdminDeps {
  readonly store: MasterStore;
  readonly codes: CodeService;
  readonly rules: RuleVersions;
  readonly audit: AuditLog;
  readonly users: AdminUsers;
  /** shared with every edge: signs citizen session tokens (core/session-token.ts, ≥ 32 bytes) */
  readonly sessionKey: Buffer;
  readonly config: AdminConfig;
  /** called after a commit that wrote outbox rows: kicks the publisher instead of waiting for its poll */
  readonly onCommit?: () => void;
  /** default: devIdentityProvider */
  readonly identityProvider?: IdentityProvider;
  /** where log lines go (default stdout); tests capture them here */
  readonly logStream?: { write(line: string): unknown };
  /**
   * The stack runs with demo people (demo-data.ts, HC_DEMO_PEOPLE): GET
   * /v1/session/demo lists a few of them for the citizen page's login form.
   * Absent or 0: that route answers 404 (never on a real database).
   */
  readonly demoPeople?: number;
  /** the capabilities plugged in (capability.ts), their routes registered after the shell's */
  readonly capabilities?: readonly CapabilityInstance[];
}

/** Shared by the route modules. */
export interface Ctx {
  readonly deps: AdminDeps;
  readonly tokens: AdminTokens;
  readonly bulk: BulkRequests;
  /** unix seconds by the store's clock (tests pin it) */
  now(): number;
  /** kick the publisher after outbox rows committed */
  committed(): void;
  /**
   * Appends an audit entry for this request: who (the principal, or the
   * given actor for public routes), from where (client address), what and
   * the outcome. `db` = a transaction client to commit with the change.
   */
  audit(req: FastifyRequest, e: Omit<AuditInput, 'actor' | 'role' | 'fromAddr'> & { actor?: string; role?: string }, db?: SqlClient): Promise<AuditEntry>;
}

/** The principal of a non-public route (the hook guarantees it). */
export function principalOf(req: FastifyRequest): AdminSession {
  const p = req.principal;
  if (p === null) throw new AdminError('ADM_ERR_UNAUTHENTICATED');
  return p;
}
