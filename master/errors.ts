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
} as const satisfies Catalogue;

export type MasterErrorCode = keyof typeof MASTER_ERRORS;

export const MasterError = errorClass('MasterError', MASTER_ERRORS);
export type MasterError = InstanceType<typeof MasterError>;
