import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../master/audit-log.js';
import { loadOrCreateSecrets } from '../../master/pii-crypto.js';
import { openPostgres, type SqlClient } from '../../master/sql-client.js';
import { MasterStore } from '../../master/store.js';
import { PG_URL, pgAdminClient } from './pg-env.js';

// `node dist/master/audit-verify-cli.js` against PostgreSQL (DATABASE_URL),
// in a throw-away schema reached through the URL's `options` parameter.
// Unreachable database → FAIL, never skip.
const url = PG_URL;
const schema = `a_${randomBytes(6).toString('hex')}`;
const cli = fileURLToPath(new URL('../../dist/master/audit-verify-cli.js', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'hc-audit-cli-pg-'));
let admin: SqlClient | undefined;
let db: SqlClient | undefined;

function schemaUrl(): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

beforeAll(async () => {
  admin = await pgAdminClient();
  await admin.query(`CREATE SCHEMA ${schema}`);
  db = await openPostgres(url, { searchPath: schema, max: 2 });
  const secrets = loadOrCreateSecrets(dataDir, {});
  const store = new MasterStore(db, secrets);
  await store.migrate();
  const audit = new AuditLog(store, secrets);
  for (let i = 0; i < 4; i++) await audit.append({ actor: 'bob', role: 'admin', action: 'login', outcome: 'ok', details: { i } });
});

afterAll(async () => {
  await db?.close();
  if (admin !== undefined) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  }
  rmSync(dataDir, { recursive: true, force: true });
});

function run(): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: schemaUrl(), HC_DATA_DIR: dataDir },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('audit-verify CLI on PostgreSQL', () => {
  it('exits 0 for an intact chain and 1 after a row was deleted', async () => {
    const ok = run();
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ ok: true, entries: 4 });
    await db!.exec('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; DELETE FROM audit_log WHERE seq = 2');
    const bad = run();
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, firstBadSeq: 2, problem: 'missing' });
  });
});
