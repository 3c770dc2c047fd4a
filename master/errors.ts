import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of the master database layer's error codes. Documented in
 * master/ERRORS.md; errors.test.ts fails when the two drift. Add a code here
 * AND there.
 */
export const MASTER_ERRORS = {
  // connection and schema
  MASTER_ERR_UNAVAILABLE: { status: 503, message: 'master database is unavailable' },
  MASTER_ERR_SCHEMA_NEWER: { status: 500, message: 'database schema is newer than this build knows: upgrade this build' },
  MASTER_ERR_MIGRATION_CHANGED: { status: 500, message: 'an applied migration differs from the one in this build' },
  MASTER_ERR_MIGRATION_FAILED: { status: 500, message: 'a schema migration failed and was rolled back' },
  MASTER_ERR_TX_MISUSE: { status: 500, message: 'query on the outer client inside its own transaction (use the transaction client)' },
  MASTER_ERR_LOCKED: { status: 500, message: 'the embedded database directory is in use by another process' },
  // secrets and encryption at rest
  MASTER_ERR_SECRET_INVALID: { status: 500, message: 'a secret is missing or malformed' },
  MASTER_ERR_SECRETS_FILE: { status: 500, message: 'the secrets file is unsafe or unreadable' },
  MASTER_ERR_DECRYPT: { status: 500, message: 'encrypted field does not decrypt' },
  // data access
  MASTER_ERR_INVALID: { status: 400, message: 'invalid value' },
  MASTER_ERR_PERSON_NOT_FOUND: { status: 404, message: 'no such person' },
  MASTER_ERR_OUTBOX_GAP: { status: 500, message: 'outbox rows are missing (sequence is not dense)' },
  // services: codes, rules, audit, accounts, node keys (code-service.ts, rule-versions.ts, audit-log.ts, admin-users.ts, node-keys-registry.ts)
  MASTER_ERR_VENUE_NOT_FOUND: { status: 404, message: 'no such venue' },
  MASTER_ERR_RULE_VERSION_EXISTS: { status: 409, message: 'a rule set with this version already exists (versions are immutable)' },
  MASTER_ERR_RULE_VERSION_NOT_FOUND: { status: 404, message: 'no such rule set version' },
  MASTER_ERR_RULE_STATE: { status: 409, message: 'the rule set version is not in a state that allows this' },
  MASTER_ERR_AUDIT_PII: { status: 400, message: 'audit text holds an unmasked certificate number or phone' },
  MASTER_ERR_LOGIN_FAILED: { status: 401, message: 'wrong username or password' },
  MASTER_ERR_LOGIN_LOCKED: { status: 423, message: 'account locked after repeated failed logins' },
  MASTER_ERR_USER_EXISTS: { status: 409, message: 'an account with this username already exists' },
  MASTER_ERR_USER_NOT_FOUND: { status: 404, message: 'no such account' },
  MASTER_ERR_LAST_ADMIN: { status: 409, message: 'the last active admin account cannot be disabled' },
  MASTER_ERR_KEY_CONFLICT: { status: 409, message: 'key id already names another key or node, or was retired' },
  MASTER_ERR_KEY_NOT_FOUND: { status: 404, message: 'no such key id' },
} as const satisfies Catalogue;

export type MasterErrorCode = keyof typeof MASTER_ERRORS;

export const MasterError = errorClass('MasterError', MASTER_ERRORS);
export type MasterError = InstanceType<typeof MasterError>;
