import { errorClass, type Catalogue } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import MASTER_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Catalogue of the master database layer's error codes. Documented in
 * master/ERRORS.md; errors.test.ts fails when the two drift. Add a code to
 * errors.json AND there.
 */
// The codes stand in errors.json in these sections, in order:
//   connection and schema
//   secrets and encryption at rest
//   data access
//   services: codes, rules, audit, accounts, node keys (code-service.ts, rule-versions.ts, audit-log.ts, admin-users.ts, node-keys-registry.ts)
export const MASTER_ERRORS = MASTER_ERROR_DATA satisfies Catalogue;

export type MasterErrorCode = keyof typeof MASTER_ERRORS;

export const MasterError = errorClass('MasterError', MASTER_ERRORS);
export type MasterError = InstanceType<typeof MasterError>;
