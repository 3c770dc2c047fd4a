import { ExchangeError } from './errors.js';
import { parseReplicaTargets, type ReplicaTarget } from './verify-edge.js';

/** The exchange's settings, read once from the environment (a bad value throws naming the variable). */
export interface ExchangeConfig {
  /** rows per committed chunk */
  readonly chunkRows: number;
  /** largest upload accepted, bytes */
  readonly maxUploadBytes: number;
  /** a finished batch whose rejected share exceeds this raises an alert */
  readonly alertRejectShare: number;
  /** … when it has at least this many rows (a 3-row file with one typo is not a trend) */
  readonly alertMinRows: number;
  readonly dataDir: string;
  /** how often the intake folder is scanned for archives (0 = only on demand) */
  readonly intakePollMs: number;
  /** how often due SFTP forwards are attempted (0 = only on demand) */
  readonly forwardPollMs: number;
  /** attempts of one forward before it is given up (and an alert raised) */
  readonly forwardMaxAttempts: number;
  readonly sftpTimeoutMs: number;
  /** zip-bomb limits */
  readonly zipMaxEntries: number;
  readonly zipMaxBytes: number;
  readonly zipMaxRatio: number;
  /** how often data returns are made, pushed and checked for being overdue (0 = only on demand) */
  readonly returnPollMs: number;
  /**
   * EXCHANGE_IMPORT_FIRST_CODE: 'lazy' (default) — an imported person without a code whose facts decide
   * the code of someone never reported gets it at first login (领码), not from the import
   * (master/bulk-facts.ts lazyFirstCode); 'eager' — every imported person leaves the import with a code and delta.
   */
  readonly importFirstCode: 'lazy' | 'eager';
  /** assignment verification: the node replicas compared with the assigned codes (EXCHANGE_VERIFY_REPLICAS, verify-edge.ts) */
  readonly verifyReplicas?: readonly ReplicaTarget[];
  /** how often due scheduled verification runs are looked for (EXCHANGE_VERIFY_SCHEDULE_POLL_MS, 0 = never) */
  readonly verifySchedulePollMs?: number;
}

function num(env: Readonly<Record<string, string | undefined>>, name: string, def: number, min: number, max: number, int = true): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
    throw new ExchangeError('EXC_ERR_CONFIG', `${name} must be ${int ? 'an integer' : 'a number'} in ${min}..${max}`, name);
  }
  return v;
}

function oneOf<T extends string>(env: Readonly<Record<string, string | undefined>>, name: string, allowed: readonly T[], def: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw)) throw new ExchangeError('EXC_ERR_CONFIG', `${name} must be one of ${allowed.join(', ')}`, name);
  return raw as T;
}

export function loadExchangeConfig(env: Readonly<Record<string, string | undefined>>, base: { readonly dataDir: string; readonly mode?: 'embedded' | 'cluster' }): ExchangeConfig {
  return {
    // 2 000, not 10 000: the bench's peak RSS at 100k rows fell from 849–879 MiB to 591–665 MiB (JS heap and
    // PGlite's WASM heap both hold less per chunk), with no measurable loss of rate (ABBA runs, load 4–6, exchange/CLOSING.md)
    chunkRows: num(env, 'EXCHANGE_CHUNK_ROWS', 2_000, 1, 50_000),
    maxUploadBytes: num(env, 'EXCHANGE_MAX_UPLOAD_MB', 2048, 1, 65_536) * 1024 * 1024,
    alertRejectShare: num(env, 'EXCHANGE_REJECT_ALERT_SHARE', 0.05, 0, 1, false),
    alertMinRows: num(env, 'EXCHANGE_REJECT_ALERT_MIN_ROWS', 20, 1, 1_000_000_000),
    dataDir: base.dataDir,
    intakePollMs: num(env, 'EXCHANGE_INTAKE_POLL_MS', 5000, 0, 3_600_000),
    forwardPollMs: num(env, 'EXCHANGE_FORWARD_POLL_MS', 2000, 0, 3_600_000),
    forwardMaxAttempts: num(env, 'EXCHANGE_FORWARD_MAX_ATTEMPTS', 20, 1, 1000),
    sftpTimeoutMs: num(env, 'EXCHANGE_SFTP_TIMEOUT_MS', 10_000, 100, 600_000),
    zipMaxEntries: num(env, 'EXCHANGE_ZIP_MAX_ENTRIES', 100, 1, 100_000),
    zipMaxBytes: num(env, 'EXCHANGE_ZIP_MAX_MB', 4096, 1, 1_048_576) * 1024 * 1024,
    zipMaxRatio: num(env, 'EXCHANGE_ZIP_MAX_RATIO', 200, 2, 100_000),
    returnPollMs: num(env, 'EXCHANGE_RETURN_POLL_MS', 5000, 0, 3_600_000),
    importFirstCode: oneOf(env, 'EXCHANGE_IMPORT_FIRST_CODE', ['lazy', 'eager'] as const, 'lazy'),
    verifyReplicas: parseReplicaTargets(env.EXCHANGE_VERIFY_REPLICAS, base.dataDir, base.mode ?? 'embedded'),
    verifySchedulePollMs: num(env, 'EXCHANGE_VERIFY_SCHEDULE_POLL_MS', 30_000, 0, 3_600_000),
  };
}
