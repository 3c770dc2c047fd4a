import { describe, expect, it } from 'vitest';
import { loadLogAuditConfig } from './config.js';

const base = { dataDir: '/tmp/x' };
function refused(env: Record<string, string>, field: string): void {
  expect(() => loadLogAuditConfig(env, base)).toThrow(expect.objectContaining({ code: 'LOG_ERR_CONFIG', field }));
}

describe('logaudit configuration', () => {
  it('defaults: central, 184-day retention, no listeners', () => {
    const c = loadLogAuditConfig({}, base);
    expect(c).toMatchObject({ mode: 'central', retentionDays: 184, udp: [], tcp: [], tls: [], snmp: [], files: [], dbPoll: [], sftp: null, ftp: null, reportAtMinute: 60 });
    expect(loadLogAuditConfig({ LOGAUDIT_REPORT_AT: '18:30' }, base).reportAtMinute).toBe(18 * 60 + 30);
    expect(loadLogAuditConfig({ LOGAUDIT_REPORT_AT: 'off' }, base).reportAtMinute).toBeNull();
  });
  it('reads IPv4 and IPv6 listeners', () => {
    expect(loadLogAuditConfig({ LOGAUDIT_UDP: '0.0.0.0:514,[::]:514', LOGAUDIT_TCP: '[::1]:601' }, base)).toMatchObject({
      udp: [{ host: '0.0.0.0', port: 514 }, { host: '::', port: 514 }], tcp: [{ host: '::1', port: 601 }],
    });
  });
  it('refuses bad values naming the variable', () => {
    refused({ LOGAUDIT_MODE: 'both' }, 'LOGAUDIT_MODE');
    refused({ LOGAUDIT_RETENTION_DAYS: '90' }, 'LOGAUDIT_RETENTION_DAYS'); // Cybersecurity Law art. 21: at least six months
    refused({ LOGAUDIT_UDP: 'localhost' }, 'LOGAUDIT_UDP');
    refused({ LOGAUDIT_UDP: '1.2.3.4:70000' }, 'LOGAUDIT_UDP');
    refused({ LOGAUDIT_TLS: ':6514' }, 'LOGAUDIT_TLS_CERT');
    refused({ LOGAUDIT_MODE: 'collector' }, 'LOGAUDIT_FORWARD_TO');
    refused({ LOGAUDIT_FORWARD_TOKEN: 'short' }, 'LOGAUDIT_FORWARD_TOKEN');
    refused({ LOGAUDIT_SNMP_V3_USERS: 'u:sha1:x' }, 'LOGAUDIT_SNMP_V3_USERS');
    refused({ LOGAUDIT_MAX_MESSAGE_BYTES: 'lots' }, 'LOGAUDIT_MAX_MESSAGE_BYTES');
    refused({ LOGAUDIT_SFTP: 'host/dir' }, 'LOGAUDIT_SFTP');
    refused({ LOGAUDIT_SFTP: 'u@h:22/d' }, 'LOGAUDIT_SFTP_KEY');
    refused({ LOGAUDIT_DB_POLL: 'x;y:id:t' }, 'LOGAUDIT_DB_POLL');
    refused({ LOGAUDIT_FTP: 'ftp.example/dir' }, 'LOGAUDIT_FTP');
    refused({ LOGAUDIT_FTP: 'u@h:70000/d' }, 'LOGAUDIT_FTP');
    refused({ LOGAUDIT_FTP: 'u@h:21/d', LOGAUDIT_FTP_PATTERN: '(' }, 'LOGAUDIT_FTP_PATTERN');
    refused({ LOGAUDIT_REPORT_AT: '25:00' }, 'LOGAUDIT_REPORT_AT');
    refused({ LOGAUDIT_REPORT_AT: '7:5' }, 'LOGAUDIT_REPORT_AT');
  });
});
