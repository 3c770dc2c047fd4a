import { parsePollSpecs, type PollSpec } from './db-poll.js';
import { LogAuditError } from './errors.js';

/**
 * The log audit system's settings, read once from the environment at the
 * entry point (logaudit/main.ts, or the back office's stack through the
 * capability). A bad value stops the start with LOG_ERR_CONFIG naming the
 * variable.
 */
export interface Listen { host: string; port: number }
export interface LogAuditConfig {
  mode: 'central' | 'collector';
  dataDir: string;
  udp: Listen[];
  tcp: Listen[];
  tls: Listen[];
  tlsCert: string | null;
  tlsKey: string | null;
  snmp: Listen[];
  snmpCommunity: string;
  /** user:authProtocol:authKey[:privProtocol:privKey] */
  snmpUsers: { user: string; authProtocol: 'sha' | 'md5'; authKey: string; privProtocol: 'aes' | 'des' | null; privKey: string | null }[];
  files: string[];
  /** LOGAUDIT_DB_POLL: tables to poll (db-poll.ts); LOGAUDIT_DB_POLL_URL: a PostgreSQL other than the master */
  dbPoll: PollSpec[];
  dbPollUrl: string | null;
  /** LOGAUDIT_SFTP user@host:port/dir, LOGAUDIT_SFTP_KEY (private key file), LOGAUDIT_SFTP_PATTERN (regex, default \.log$), LOGAUDIT_SFTP_PROGRAM */
  sftp: { user: string; host: string; port: number; dir: string; keyFile: string; pattern: RegExp; program: string | null } | null;
  /** LOGAUDIT_FTP user@host:port/dir (plain FTP), LOGAUDIT_FTP_PASSWORD, LOGAUDIT_FTP_PATTERN (regex, default \.log$), LOGAUDIT_FTP_PROGRAM */
  /** LOGAUDIT_REPORT_AT: China time HH:MM the daily report (yesterday, XLSX + PDF) is written; 'off' for none; default 01:00 */
  reportAtMinute: number | null;
  ftp: { user: string; host: string; port: number; dir: string; password: string; pattern: RegExp; program: string | null } | null;
  maxMessageBytes: number;
  sourceRate: number;
  queueHigh: number;
  spoolMaxBytes: number;
  retentionDays: number;
  maxSkewMs: number;
  silentAfterMs: number;
  /** central: where collectors connect (TLS) */
  forwardListen: Listen[];
  /** collector: the central system, its CA, our id and the shared token */
  forwardTo: Listen | null;
  forwardCa: string | null;
  collectorId: string;
  forwardToken: string | null;
  tzOffsetMin: number;
}

function fail(name: string, why: string): LogAuditError {
  return new LogAuditError('LOG_ERR_CONFIG', why, name);
}

export function parseListen(name: string, v: string): Listen {
  // "0.0.0.0:514", "[::]:514", "[::1]:6514", ":514" (all IPv4)
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]*|[A-Za-z0-9.-]+)):(\d{1,5})$/.exec(v.trim());
  if (!m) throw fail(name, `"${v}" is not host:port (IPv6 as [::1]:514)`);
  const port = Number(m[3]);
  if (port > 65535) throw fail(name, `port ${port} out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function listens(env: Readonly<Record<string, string | undefined>>, name: string): Listen[] {
  const v = env[name];
  if (!v) return [];
  return v.split(',').filter((x) => x.trim()).map((x) => parseListen(name, x));
}

function int(env: Readonly<Record<string, string | undefined>>, name: string, dflt: number, min: number, max: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^\d+$/.test(v)) throw fail(name, `"${v}" is not a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw fail(name, `must be ${min}..${max}`);
  return n;
}

function sftpOf(env: Readonly<Record<string, string | undefined>>): LogAuditConfig['sftp'] {
  const v = env.LOGAUDIT_SFTP;
  if (!v) return null;
  const m = /^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})(\/.*)$/.exec(v);
  if (!m) throw fail('LOGAUDIT_SFTP', 'user@host:port/absolute/dir');
  if (!env.LOGAUDIT_SFTP_KEY) throw fail('LOGAUDIT_SFTP_KEY', 'the private key file for LOGAUDIT_SFTP');
  let pattern: RegExp;
  try { pattern = new RegExp(env.LOGAUDIT_SFTP_PATTERN ?? '\\.log$'); } catch { throw fail('LOGAUDIT_SFTP_PATTERN', 'not a regular expression'); }
  return { user: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]), dir: m[4]!, keyFile: env.LOGAUDIT_SFTP_KEY, pattern, program: env.LOGAUDIT_SFTP_PROGRAM ?? null };
}

function ftpOf(env: Readonly<Record<string, string | undefined>>): LogAuditConfig['ftp'] {
  const v = env.LOGAUDIT_FTP;
  if (!v) return null;
  const m = /^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})(\/.*)$/.exec(v);
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65_535) throw fail('LOGAUDIT_FTP', 'user@host:port/absolute/dir');
  let pattern: RegExp;
  try { pattern = new RegExp(env.LOGAUDIT_FTP_PATTERN ?? '\\.log$'); } catch { throw fail('LOGAUDIT_FTP_PATTERN', 'not a regular expression'); }
  return { user: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]), dir: m[4]!, password: env.LOGAUDIT_FTP_PASSWORD ?? '', pattern, program: env.LOGAUDIT_FTP_PROGRAM ?? null };
}

function reportAt(env: Readonly<Record<string, string | undefined>>): number | null {
  const v = env.LOGAUDIT_REPORT_AT ?? '01:00';
  if (v === 'off') return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v);
  if (!m) throw fail('LOGAUDIT_REPORT_AT', 'HH:MM (China time) or off');
  return Number(m[1]) * 60 + Number(m[2]);
}

export function loadLogAuditConfig(env: Readonly<Record<string, string | undefined>>, base: { dataDir: string }): LogAuditConfig {
  const mode = env.LOGAUDIT_MODE ?? 'central';
  if (mode !== 'central' && mode !== 'collector') throw fail('LOGAUDIT_MODE', 'must be central or collector');
  const tls = listens(env, 'LOGAUDIT_TLS');
  const forwardListen = listens(env, 'LOGAUDIT_FORWARD_LISTEN');
  const tlsCert = env.LOGAUDIT_TLS_CERT ?? null;
  const tlsKey = env.LOGAUDIT_TLS_KEY ?? null;
  if ((tls.length > 0 || forwardListen.length > 0) && (!tlsCert || !tlsKey)) throw fail(tlsCert ? 'LOGAUDIT_TLS_KEY' : 'LOGAUDIT_TLS_CERT', 'TLS listeners need LOGAUDIT_TLS_CERT and LOGAUDIT_TLS_KEY (PEM files)');
  const users = (env.LOGAUDIT_SNMP_V3_USERS ?? '').split(',').filter(Boolean).map((u) => {
    const [user, a, ak, p, pk] = u.split(':');
    if (!user || (a !== 'sha' && a !== 'md5') || !ak || ak.length < 8) throw fail('LOGAUDIT_SNMP_V3_USERS', 'each user is name:sha|md5:authKey(≥8)[:aes|des:privKey(≥8)]');
    if (p !== undefined && ((p !== 'aes' && p !== 'des') || !pk || pk.length < 8)) throw fail('LOGAUDIT_SNMP_V3_USERS', 'privacy is aes|des:privKey(≥8)');
    return { user, authProtocol: a as 'sha' | 'md5', authKey: ak, privProtocol: (p ?? null) as 'aes' | 'des' | null, privKey: pk ?? null };
  });
  const forwardTo = env.LOGAUDIT_FORWARD_TO ? parseListen('LOGAUDIT_FORWARD_TO', env.LOGAUDIT_FORWARD_TO) : null;
  if (mode === 'collector' && !forwardTo) throw fail('LOGAUDIT_FORWARD_TO', 'a collector needs the central system (host:port)');
  const collectorId = env.LOGAUDIT_COLLECTOR_ID ?? 'collector';
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(collectorId)) throw fail('LOGAUDIT_COLLECTOR_ID', 'lower-case letters, digits and -');
  const token = env.LOGAUDIT_FORWARD_TOKEN ?? null;
  if (token !== null && token.length < 16) throw fail('LOGAUDIT_FORWARD_TOKEN', 'at least 16 characters');
  return {
    mode, dataDir: base.dataDir,
    udp: listens(env, 'LOGAUDIT_UDP'), tcp: listens(env, 'LOGAUDIT_TCP'), tls, tlsCert, tlsKey,
    snmp: listens(env, 'LOGAUDIT_SNMP'), snmpCommunity: env.LOGAUDIT_SNMP_COMMUNITY ?? 'public', snmpUsers: users,
    files: (env.LOGAUDIT_FILES ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    dbPoll: parsePollSpecs(env.LOGAUDIT_DB_POLL), dbPollUrl: env.LOGAUDIT_DB_POLL_URL ?? null,
    sftp: sftpOf(env),
    ftp: ftpOf(env),
    reportAtMinute: reportAt(env),
    maxMessageBytes: int(env, 'LOGAUDIT_MAX_MESSAGE_BYTES', 16 * 1024, 480, 65_535),
    sourceRate: int(env, 'LOGAUDIT_SOURCE_RATE', 0, 0, 10_000_000),
    queueHigh: int(env, 'LOGAUDIT_QUEUE_HIGH', 50_000, 100, 10_000_000),
    spoolMaxBytes: int(env, 'LOGAUDIT_SPOOL_MAX_MB', 1024, 1, 1_000_000) * 1024 * 1024,
    // Cybersecurity Law art. 21: network logs are kept at least six months
    retentionDays: int(env, 'LOGAUDIT_RETENTION_DAYS', 184, 184, 3650),
    maxSkewMs: int(env, 'LOGAUDIT_MAX_SKEW_S', 86_400, 60, 366 * 86_400) * 1000,
    silentAfterMs: int(env, 'LOGAUDIT_SILENT_AFTER_S', 3600, 10, 30 * 86_400) * 1000,
    forwardListen, forwardTo, forwardCa: env.LOGAUDIT_FORWARD_CA ?? null, collectorId, forwardToken: token,
    tzOffsetMin: 480,
  };
}
