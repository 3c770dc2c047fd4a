import { ExchangeError } from './errors.js';

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

export function loadExchangeConfig(env: Readonly<Record<string, string | undefined>>, base: { readonly dataDir: string }): ExchangeConfig {
  return {
    chunkRows: num(env, 'EXCHANGE_CHUNK_ROWS', 10_000, 1, 50_000),
    maxUploadBytes: num(env, 'EXCHANGE_MAX_UPLOAD_MB', 2048, 1, 65_536) * 1024 * 1024,
    alertRejectShare: num(env, 'EXCHANGE_REJECT_ALERT_SHARE', 0.05, 0, 1, false),
    alertMinRows: num(env, 'EXCHANGE_REJECT_ALERT_MIN_ROWS', 20, 1, 1_000_000_000),
    dataDir: base.dataDir,
  };
}
