import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of sync's error codes. Documented in sync/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code here AND there (small
 * additive edits: several parts of sync/ append codes).
 *
 * Sync errors never reach a citizen; the status is what an operator endpoint
 * (readyz, the admin API's sync status) would answer with.
 */
export const SYNC_ERRORS = {
  // replica writer (sync/replica-writer.ts, DESIGN §6)
  SYNC_ERR_GAP: { status: 500, message: 'delta batch does not start right after the applied sequence' },
  SYNC_ERR_BATCH_INVALID: { status: 500, message: 'delta batch is malformed' },
  SYNC_ERR_REPLICA_FORMAT: { status: 500, message: 'replica was written in a newer format than this build reads' },
  // delta bus and publisher (sync/delta-bus.ts, bus-memory.ts, bus-redis.ts, publisher.ts)
  SYNC_ERR_BUS_UNAVAILABLE: { status: 503, message: 'the delta bus (Redis) cannot be reached or refused the command' },
  SYNC_ERR_BUS_CLOSED: { status: 503, message: 'the delta bus has been closed' },
  SYNC_ERR_BUS_ARGUMENT: { status: 500, message: 'invalid delta bus call' },
  SYNC_ERR_BUS_AHEAD: { status: 500, message: 'the delta stream holds sequences the master outbox does not' },
  SYNC_ERR_OUTBOX_GAP: { status: 500, message: 'the outbox is missing a sequence; publishing waits for it' },
  SYNC_ERR_PUBLISHER_CONFIG: { status: 500, message: 'invalid publisher option' },
  // snapshots, edge daemon, scans, stack (sync/snapshot*.ts, edge-daemon.ts, scan-*.ts, stack.ts)
  SYNC_ERR_SNAPSHOT_OLD: { status: 500, message: 'snapshot is older than what the replica already applied' },
  SYNC_ERR_SNAPSHOT_UNAVAILABLE: { status: 503, message: 'no snapshot can be fetched or built right now' },
  SYNC_ERR_SNAPSHOT_CORRUPT: { status: 500, message: 'snapshot failed verification' },
  SYNC_ERR_SCAN_PAYLOAD: { status: 500, message: 'scan stream entry is malformed' },
  SYNC_ERR_KEY_REGISTRATION: { status: 503, message: 'node keys could not be registered with the master' },
  SYNC_ERR_UNAUTHORIZED: { status: 401, message: 'sync endpoint needs the sync token' },
  SYNC_ERR_CONFIG: { status: 500, message: 'invalid configuration' },
  SYNC_ERR_BAD_REQUEST: { status: 400, message: 'malformed sync request' },
} as const satisfies Catalogue;

export type SyncErrorCode = keyof typeof SYNC_ERRORS;

export const SyncError = errorClass('SyncError', SYNC_ERRORS);
export type SyncError = InstanceType<typeof SyncError>;
