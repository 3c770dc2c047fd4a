import { randomBytes } from 'node:crypto';
import { normalisePhone } from '../core/identity.js';
import { AlertingError } from './errors.js';

/**
 * The alerting capability's environment (read once at the entry point; a bad
 * value throws ALR_ERR_CONFIG naming the variable).
 *
 *   SMS_GATEWAY_URL          the province SMS platform's send URL; unset → the
 *                            built-in simulator (gateway-sim.ts) on 127.0.0.1
 *   SMS_GATEWAY_KEY          HMAC-SHA256 key shared with the platform (≥ 32
 *                            characters); required with SMS_GATEWAY_URL
 *   ALERT_PHONES             on-call mobiles, comma separated; required with
 *                            SMS_GATEWAY_URL
 *   ALERT_ESCALATION_PHONES  who hears about an unacknowledged alert (default ALERT_PHONES)
 *   SMS_DAILY_BUDGET         messages per China day (default 200)
 *   SMS_TIMEOUT_MS           per request (default 5000)
 *   SMS_REPLAY_WINDOW_SEC    the simulator's accepted clock skew (default 300)
 *   ALERT_TICK_MS            engine period (default 1000)
 *   ALERT_MONITOR_INTERVAL_MS  monitor sampling period (default 15000)
 *   ALERT_ANOMALY_INTERVAL_MS  red/yellow and operator-behaviour checks (default 60000)
 *   ALERT_EDGE_URLS          edge base URLs whose /metrics give the replica's applied seq
 *   ALERT_SYNC_STATUS_URL    the master's sync status (publisher's published seq);
 *                            default http://127.0.0.1:$SYNC_PORT/sync/v1/status with HC_SYNC_TOKEN
 *   ALERT_OPERATOR_MASS_CHANGES / ALERT_OPERATOR_WINDOW_MIN  (default 50 in 10)
 *   ALERT_METRICS_TOKEN      static bearer token for Prometheus at GET /admin/v1/alerting/metrics/scrape
 *                            (≥ 32 printable characters, no spaces); unset: that route refuses every scrape
 *   ALERT_LOGIN_FAILURES / ALERT_LOGIN_WINDOW_MIN  failed back-office logins that make a
 *                            flood, all accounts and addresses together (default 30 in 5)
 *   ALERT_LOOPS              on (default) | off: off keeps routes and console, polls nothing
 */
export interface AlertingConfig {
  readonly gatewayUrl: string | null;
  readonly gatewayKey: string;
  readonly phones: readonly string[];
  readonly escalationPhones: readonly string[];
  readonly dailyBudget: number;
  readonly timeoutMs: number;
  readonly replayWindowSec: number;
  readonly tickMs: number;
  readonly monitorIntervalMs: number;
  readonly anomalyIntervalMs: number;
  readonly edgeUrls: readonly string[];
  readonly syncStatusUrl: string | null;
  readonly syncToken: string | null;
  readonly operatorMassChanges: number;
  readonly operatorWindowMin: number;
  readonly loginFailures: number;
  readonly loginWindowMin: number;
  /** ALERT_METRICS_TOKEN, null when unset */
  readonly metricsToken: string | null;
  readonly dataDir: string;
  /** ALERT_LOOPS=off: no engine / monitor / detector loops (routes and console stay); default on */
  readonly loops: boolean;
}

export type Env = Readonly<Record<string, string | undefined>>;

export function bad(name: string, why: string): never {
  throw new AlertingError('ALR_ERR_CONFIG', why, name);
}

export function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!/^[0-9]+$/.test(v)) bad(name, `must be a whole number, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min || n > max) bad(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function httpUrl(name: string, v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return bad(name, `must be an http(s) URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') bad(name, `must be an http(s) URL, got ${u.protocol}`);
  return u.toString();
}

export function phones(env: Env, name: string): string[] | undefined {
  const v = str(env, name);
  if (v === undefined) return undefined;
  const out: string[] = [];
  for (const [i, p] of v.split(',').map((s) => s.trim()).filter((s) => s !== '').entries()) {
    try {
      out.push(normalisePhone(p));
    } catch {
      // the number itself stays out of the message: it is personal data
      bad(name, `entry ${i + 1} is not a mainland mobile number`);
    }
  }
  if (out.length === 0) bad(name, 'must list at least one mobile number');
  if (out.length > 50) bad(name, 'at most 50 numbers');
  return [...new Set(out)];
}

/** A placeholder on-call number for the simulator (a demo stack without configuration). */
export const SIMULATOR_PHONE = '13800138000';

export function loadAlertingConfig(env: Env, base: { readonly dataDir: string; readonly mode?: 'embedded' | 'cluster' }): AlertingConfig {
  const loopsRaw = str(env, 'ALERT_LOOPS') ?? 'on';
  if (!['on', 'off'].includes(loopsRaw)) bad('ALERT_LOOPS', `must be on or off, got ${JSON.stringify(loopsRaw)}`);
  const urlRaw = str(env, 'SMS_GATEWAY_URL');
  const gatewayUrl = urlRaw === undefined ? null : httpUrl('SMS_GATEWAY_URL', urlRaw);
  let gatewayKey = str(env, 'SMS_GATEWAY_KEY');
  if (gatewayKey !== undefined && gatewayKey.length < 32) bad('SMS_GATEWAY_KEY', 'must be at least 32 characters');
  if (gatewayUrl !== null && gatewayKey === undefined) bad('SMS_GATEWAY_KEY', 'is required with SMS_GATEWAY_URL');
  gatewayKey ??= randomBytes(32).toString('hex');
  const oncall = phones(env, 'ALERT_PHONES');
  if (gatewayUrl !== null && oncall === undefined) bad('ALERT_PHONES', 'is required with SMS_GATEWAY_URL (who is on call?)');
  const phoneList = oncall ?? [SIMULATOR_PHONE];
  const esc = phones(env, 'ALERT_ESCALATION_PHONES') ?? phoneList;
  const edgeRaw = str(env, 'ALERT_EDGE_URLS');
  const edgeUrls = edgeRaw === undefined ? [] : edgeRaw.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => httpUrl('ALERT_EDGE_URLS', s));
  const syncRaw = str(env, 'ALERT_SYNC_STATUS_URL');
  const syncPort = int(env, 'SYNC_PORT', 8082, 0, 65535);
  const syncStatusUrl = syncRaw !== undefined ? httpUrl('ALERT_SYNC_STATUS_URL', syncRaw) : syncPort === 0 ? null : `http://127.0.0.1:${syncPort}/sync/v1/status`;
  const metricsToken = str(env, 'ALERT_METRICS_TOKEN') ?? null;
  // the value is a secret: the message says what is wrong with it, never what it is
  if (metricsToken !== null && !/^[\x21-\x7e]{32,256}$/.test(metricsToken)) bad('ALERT_METRICS_TOKEN', 'must be 32–256 printable ASCII characters without spaces (e.g. `openssl rand -hex 32`)');
  return {
    gatewayUrl,
    gatewayKey,
    phones: phoneList,
    escalationPhones: esc,
    dailyBudget: int(env, 'SMS_DAILY_BUDGET', 200, 1, 100_000),
    timeoutMs: int(env, 'SMS_TIMEOUT_MS', 5000, 100, 120_000),
    replayWindowSec: int(env, 'SMS_REPLAY_WINDOW_SEC', 300, 5, 3600),
    tickMs: int(env, 'ALERT_TICK_MS', 1000, 20, 60_000),
    monitorIntervalMs: int(env, 'ALERT_MONITOR_INTERVAL_MS', 15_000, 100, 3_600_000),
    anomalyIntervalMs: int(env, 'ALERT_ANOMALY_INTERVAL_MS', 60_000, 100, 3_600_000),
    edgeUrls,
    syncStatusUrl,
    syncToken: str(env, 'HC_SYNC_TOKEN') ?? null,
    operatorMassChanges: int(env, 'ALERT_OPERATOR_MASS_CHANGES', 50, 2, 100_000),
    operatorWindowMin: int(env, 'ALERT_OPERATOR_WINDOW_MIN', 10, 1, 1440),
    loginFailures: int(env, 'ALERT_LOGIN_FAILURES', 30, 2, 1_000_000),
    loginWindowMin: int(env, 'ALERT_LOGIN_WINDOW_MIN', 5, 1, 1440),
    metricsToken,
    dataDir: base.dataDir,
    // off: a lever for the embedded stack's in-process edge hang (CLOSING.md item 1)
    loops: loopsRaw === 'on',
  };
}
