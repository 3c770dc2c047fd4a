import { APPEAL_TYPES, type AppealType } from './labels.js';

/**
 * The citizen services' settings, read once from the environment at the
 * entry point (admin-api/capability.ts). A bad value throws an error naming
 * the variable; nothing is guessed.
 *
 *   CITIZEN_APPEAL_SLA_HOURS   per type, e.g. "code_wrong=24,other=72" (the rest keep their default)
 *   CITIZEN_APPEALS_PER_DAY    appeals one person may file in 24 h (flood guard), default 3
 *   CITIZEN_SWEEP_SEC          how often overdue orders are flagged and alerted, default 60
 *   CITIZEN_SMS_DEV_CODE       "1" = return the SMS code in the answer (development only;
 *                              default: on in the embedded mode, off in a cluster)
 *   CITIZEN_SAMPLING_HOURS     validity of a sampling QR, default 72
 *   CITIZEN_SAMPLING_ALG       Ed25519 (default) or SM2: the algorithm of a newly generated sampling key
 *   CITIZEN_PHOTO_DAYS         days an appeal photo is kept after the order is closed, default 180
 *   SMS_GATEWAY_URL            the province SMS platform (alerting/SMS-PROTOCOL.md), the same variable
 *                              the alerting capability reads; the citizen SMS sender (sms-sender.ts)
 *                              posts travel-card codes and appeal notices there. Unset: nothing is
 *                              sent (embedded: the code is shown on the page, marked as development;
 *                              cluster: a loud log line at start and while messages wait)
 *   SMS_GATEWAY_KEY            the platform's HMAC key (≥ 32 characters), required with SMS_GATEWAY_URL
 *   SMS_TIMEOUT_MS             per request, default 5000 (as alerting)
 *   CITIZEN_SMS_POLL_MS        how often the sender looks for queued messages, default 1000
 */
export interface CitizenConfig {
  readonly dataDir: string;
  readonly mode: 'embedded' | 'cluster';
  readonly slaHours: Readonly<Record<AppealType, number>>;
  readonly appealsPerDay: number;
  readonly sweepSec: number;
  readonly smsDevCode: boolean;
  readonly samplingHours: number;
  readonly samplingAlg: 'Ed25519' | 'SM2';
  readonly photoDays: number;
  /** null: no gateway configured, nothing is sent */
  readonly smsGatewayUrl: string | null;
  readonly smsGatewayKey: string | null;
  readonly smsTimeoutMs: number;
  readonly smsPollMs: number;
}

export const DEFAULT_SLA_HOURS: Readonly<Record<AppealType, number>> = {
  code_wrong: 24,
  travel_wrong: 48,
  test_result: 24,
  info_wrong: 72,
  other: 72,
};

function int(env: Readonly<Record<string, string | undefined>>, name: string, def: number, min: number, max: number): number {
  const v = env[name];
  if (v === undefined || v.trim() === '') return def;
  if (!/^\d+$/.test(v.trim())) throw new Error(`${name} must be a whole number ${min}–${max}`);
  const n = Number(v.trim());
  if (n < min || n > max) throw new Error(`${name} must be ${min}–${max}, got ${n}`);
  return n;
}

export function loadCitizenConfig(
  env: Readonly<Record<string, string | undefined>>,
  base: { readonly dataDir: string; readonly mode: 'embedded' | 'cluster' },
): CitizenConfig {
  const sla: Record<AppealType, number> = { ...DEFAULT_SLA_HOURS };
  const raw = env.CITIZEN_APPEAL_SLA_HOURS;
  if (raw !== undefined && raw.trim() !== '') {
    for (const part of raw.split(',')) {
      const m = /^\s*([a-z_]+)\s*=\s*(\d{1,4})\s*$/.exec(part);
      if (m === null || !(APPEAL_TYPES as readonly string[]).includes(m[1]!) || Number(m[2]) < 1 || Number(m[2]) > 8760) {
        throw new Error(`CITIZEN_APPEAL_SLA_HOURS must look like code_wrong=24,other=72 with types ${APPEAL_TYPES.join(', ')} and 1–8760 hours`);
      }
      sla[m[1] as AppealType] = Number(m[2]);
    }
  }
  const urlRaw = env.SMS_GATEWAY_URL?.trim() || undefined;
  let smsGatewayUrl: string | null = null;
  if (urlRaw !== undefined) {
    let u: URL;
    try {
      u = new URL(urlRaw);
    } catch {
      throw new Error('SMS_GATEWAY_URL must be an http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('SMS_GATEWAY_URL must be an http(s) URL');
    smsGatewayUrl = u.toString();
  }
  const keyRaw = env.SMS_GATEWAY_KEY?.trim() || undefined;
  // the same rules as alerting/config.ts, so one setting satisfies both capabilities
  if (keyRaw !== undefined && keyRaw.length < 32) throw new Error('SMS_GATEWAY_KEY must be at least 32 characters');
  if (smsGatewayUrl !== null && keyRaw === undefined) throw new Error('SMS_GATEWAY_KEY is required with SMS_GATEWAY_URL');
  const dev = env.CITIZEN_SMS_DEV_CODE;
  if (dev !== undefined && dev !== '' && dev !== '0' && dev !== '1') throw new Error('CITIZEN_SMS_DEV_CODE must be 0 or 1');
  return {
    dataDir: base.dataDir,
    mode: base.mode,
    slaHours: Object.freeze(sla),
    appealsPerDay: int(env, 'CITIZEN_APPEALS_PER_DAY', 3, 1, 100),
    sweepSec: int(env, 'CITIZEN_SWEEP_SEC', 60, 1, 86_400),
    // with a real gateway the code goes by SMS only, unless development asks for it explicitly
    smsDevCode: dev === undefined || dev === '' ? base.mode === 'embedded' && smsGatewayUrl === null : dev === '1',
    samplingHours: int(env, 'CITIZEN_SAMPLING_HOURS', 72, 1, 720),
    samplingAlg: samplingAlg(env.CITIZEN_SAMPLING_ALG),
    photoDays: int(env, 'CITIZEN_PHOTO_DAYS', 180, 1, 3650),
    smsGatewayUrl,
    smsGatewayKey: smsGatewayUrl === null ? null : keyRaw!,
    smsTimeoutMs: int(env, 'SMS_TIMEOUT_MS', 5000, 100, 120_000),
    smsPollMs: int(env, 'CITIZEN_SMS_POLL_MS', 1000, 10, 60_000),
  };
}

function samplingAlg(v: string | undefined): 'Ed25519' | 'SM2' {
  if (v === undefined || v === '' || v === 'Ed25519') return 'Ed25519';
  if (v === 'SM2') return 'SM2';
  throw new Error('CITIZEN_SAMPLING_ALG must be Ed25519 or SM2');
}
