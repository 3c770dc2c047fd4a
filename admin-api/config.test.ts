import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAdminConfig } from './config.js';

function code(fn: () => unknown): { code: string; field: string | undefined } {
  try {
    fn();
  } catch (e) {
    return { code: (e as { code: string }).code, field: (e as { field?: string }).field };
  }
  throw new Error('did not throw');
}

describe('loadAdminConfig', () => {
  it('has the operating-contract defaults (DESIGN §5)', () => {
    const c = loadAdminConfig({});
    expect(c.port).toBe(8081);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir).toBe(resolve('./data'));
    expect(c.adminIdleTimeoutSec).toBeLessThanOrEqual(c.adminTokenTtlSec);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads the environment', () => {
    const c = loadAdminConfig({
      ADMIN_PORT: '9001', ADMIN_HOST: '0.0.0.0', HC_DATA_DIR: '/tmp/x', SESSION_TTL_SEC: '600',
      ADMIN_TOKEN_TTL_SEC: '3600', ADMIN_IDLE_TIMEOUT_SEC: '60', LOGIN_RATE_PER_MIN: '3', ADMIN_TRUST_PROXY: '10.0.0.0/8, ::1',
    });
    expect(c).toMatchObject({ port: 9001, host: '0.0.0.0', dataDir: '/tmp/x', sessionTtlSec: 600, adminTokenTtlSec: 3600,
      adminIdleTimeoutSec: 60, loginRatePerMin: 3, trustProxy: ['10.0.0.0/8', '::1'] });
  });

  it('session limits: per identity 10, per address 6000; SESSION_RATE_PER_MIN is a deprecated alias of the address limit', () => {
    expect(loadAdminConfig({})).toMatchObject({ sessionIdentityRatePerMin: 10, sessionRatePerMin: 6000 });
    expect(loadAdminConfig({ SESSION_IDENTITY_RATE_PER_MIN: '3', SESSION_ADDRESS_RATE_PER_MIN: '20000' }))
      .toMatchObject({ sessionIdentityRatePerMin: 3, sessionRatePerMin: 20000 });
    expect(loadAdminConfig({ SESSION_RATE_PER_MIN: '10000' }).sessionRatePerMin).toBe(10000);
  });

  it('refuses bad session limits naming the variable', () => {
    expect(code(() => loadAdminConfig({ SESSION_IDENTITY_RATE_PER_MIN: '0' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'SESSION_IDENTITY_RATE_PER_MIN' });
    expect(code(() => loadAdminConfig({ SESSION_IDENTITY_RATE_PER_MIN: 'ten' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'SESSION_IDENTITY_RATE_PER_MIN' });
    expect(code(() => loadAdminConfig({ SESSION_ADDRESS_RATE_PER_MIN: '2000000' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'SESSION_ADDRESS_RATE_PER_MIN' });
    expect(code(() => loadAdminConfig({ SESSION_RATE_PER_MIN: '-1' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'SESSION_RATE_PER_MIN' });
    expect(code(() => loadAdminConfig({ SESSION_RATE_PER_MIN: '60', SESSION_ADDRESS_RATE_PER_MIN: '6000' })))
      .toEqual({ code: 'ADM_ERR_CONFIG', field: 'SESSION_RATE_PER_MIN' });
  });

  it('refuses bad values with ADM_ERR_CONFIG naming the variable', () => {
    expect(code(() => loadAdminConfig({ ADMIN_PORT: 'http' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'ADMIN_PORT' });
    expect(code(() => loadAdminConfig({ ADMIN_PORT: '70000' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'ADMIN_PORT' });
    expect(code(() => loadAdminConfig({ SESSION_TTL_SEC: '-5' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'SESSION_TTL_SEC' });
    expect(code(() => loadAdminConfig({ ADMIN_LOG_LEVEL: 'loud' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'ADMIN_LOG_LEVEL' });
    expect(code(() => loadAdminConfig({ ADMIN_TRUST_PROXY: 'everyone' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'ADMIN_TRUST_PROXY' });
    expect(code(() => loadAdminConfig({ ADMIN_CORS_ORIGINS: 'evil.example' }))).toEqual({ code: 'ADM_ERR_CONFIG', field: 'ADMIN_CORS_ORIGINS' });
    expect(loadAdminConfig({ EDGE_PORT: '9090' }).corsOrigins).toEqual(['http://127.0.0.1:9090', 'http://localhost:9090']);
    expect(code(() => loadAdminConfig({ ADMIN_TOKEN_TTL_SEC: '600', ADMIN_IDLE_TIMEOUT_SEC: '900' })))
      .toEqual({ code: 'ADM_ERR_CONFIG', field: 'ADMIN_IDLE_TIMEOUT_SEC' });
  });
});
