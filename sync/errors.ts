import { errorClass, type Catalogue } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import SYNC_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Catalogue of sync's error codes. Documented in sync/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code to errors.json AND there (small
 * additive edits: several parts of sync/ append codes).
 *
 * Sync errors never reach a citizen; the status is what an operator endpoint
 * (readyz, the admin API's sync status) would answer with.
 */
// The codes stand in errors.json in these sections, in order:
//   replica writer (sync/replica-writer.ts, DESIGN §6)
//   delta bus and publisher (sync/delta-bus.ts, bus-memory.ts, bus-redis.ts, publisher.ts)
//   snapshots, edge daemon, scans, stack (sync/snapshot*.ts, edge-daemon.ts, scan-*.ts, stack.ts)
//   pre-encoded (packed) delta batches (sync/delta-packed.ts, issue 14 item 4)
export const SYNC_ERRORS = SYNC_ERROR_DATA satisfies Catalogue;

export type SyncErrorCode = keyof typeof SYNC_ERRORS;

export const SyncError = errorClass('SyncError', SYNC_ERRORS);
export type SyncError = InstanceType<typeof SyncError>;
