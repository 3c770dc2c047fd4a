import { describe, expect, it } from 'vitest';
import { DEFAULT_SLA_HOURS, loadCitizenConfig } from './config.js';

const base = { dataDir: '/tmp/x', mode: 'embedded' as const };

describe('citizen config', () => {
  it('defaults: SLA per type, 3 appeals a day, dev SMS code only in the embedded mode', () => {
    const c = loadCitizenConfig({}, base);
    expect(c.slaHours).toEqual(DEFAULT_SLA_HOURS);
    expect(c.appealsPerDay).toBe(3);
    expect(c.smsDevCode).toBe(true);
    expect(loadCitizenConfig({}, { ...base, mode: 'cluster' }).smsDevCode).toBe(false);
    expect(c.samplingAlg).toBe('Ed25519');
  });

  it('reads overrides', () => {
    const c = loadCitizenConfig({ CITIZEN_APPEAL_SLA_HOURS: 'code_wrong=4, other=100', CITIZEN_APPEALS_PER_DAY: '5', CITIZEN_SAMPLING_ALG: 'SM2', CITIZEN_SMS_DEV_CODE: '0' }, base);
    expect(c.slaHours).toMatchObject({ code_wrong: 4, other: 100, travel_wrong: DEFAULT_SLA_HOURS.travel_wrong });
    expect(c.appealsPerDay).toBe(5);
    expect(c.samplingAlg).toBe('SM2');
    expect(c.smsDevCode).toBe(false);
  });

  it('a bad value throws naming the variable', () => {
    expect(() => loadCitizenConfig({ CITIZEN_APPEAL_SLA_HOURS: 'nope=3' }, base)).toThrow(/CITIZEN_APPEAL_SLA_HOURS/);
    expect(() => loadCitizenConfig({ CITIZEN_APPEAL_SLA_HOURS: 'code_wrong=0' }, base)).toThrow(/CITIZEN_APPEAL_SLA_HOURS/);
    expect(() => loadCitizenConfig({ CITIZEN_APPEALS_PER_DAY: 'many' }, base)).toThrow(/CITIZEN_APPEALS_PER_DAY/);
    expect(() => loadCitizenConfig({ CITIZEN_APPEALS_PER_DAY: '0' }, base)).toThrow(/CITIZEN_APPEALS_PER_DAY/);
    expect(() => loadCitizenConfig({ CITIZEN_SWEEP_SEC: '-1' }, base)).toThrow(/CITIZEN_SWEEP_SEC/);
    expect(() => loadCitizenConfig({ CITIZEN_SMS_DEV_CODE: 'yes' }, base)).toThrow(/CITIZEN_SMS_DEV_CODE/);
    expect(() => loadCitizenConfig({ CITIZEN_SAMPLING_ALG: 'RSA' }, base)).toThrow(/CITIZEN_SAMPLING_ALG/);
  });

  it('SMS gateway: the same variables as alerting; URL needs a key; a cluster without one still starts', () => {
    const key = 'k'.repeat(32);
    const c = loadCitizenConfig({ SMS_GATEWAY_URL: 'http://sms.example:8080/send', SMS_GATEWAY_KEY: key }, base);
    expect(c).toMatchObject({ smsGatewayUrl: 'http://sms.example:8080/send', smsGatewayKey: key, smsTimeoutMs: 5000, smsPollMs: 1000 });
    // a real gateway: the code is no longer shown on the page
    expect(c.smsDevCode).toBe(false);
    expect(loadCitizenConfig({}, { ...base, mode: 'cluster' })).toMatchObject({ smsGatewayUrl: null, smsGatewayKey: null });
    expect(() => loadCitizenConfig({ SMS_GATEWAY_URL: 'http://sms.example/send' }, base)).toThrow(/SMS_GATEWAY_KEY/);
    expect(() => loadCitizenConfig({ SMS_GATEWAY_URL: 'http://sms.example/send', SMS_GATEWAY_KEY: 'short' }, base)).toThrow(/SMS_GATEWAY_KEY/);
    expect(() => loadCitizenConfig({ SMS_GATEWAY_URL: 'ftp://sms.example/', SMS_GATEWAY_KEY: key }, base)).toThrow(/SMS_GATEWAY_URL/);
    expect(() => loadCitizenConfig({ SMS_GATEWAY_URL: 'not a url', SMS_GATEWAY_KEY: key }, base)).toThrow(/SMS_GATEWAY_URL/);
    expect(() => loadCitizenConfig({ CITIZEN_SMS_POLL_MS: '0' }, base)).toThrow(/CITIZEN_SMS_POLL_MS/);
  });
});
