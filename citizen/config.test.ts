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
});
