import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from './audit-log.js';
import { loadOrCreateSecrets } from './pii-crypto.js';
import { openPglite } from './sql-client.js';
import { MasterStore } from './store.js';

// `node dist/master/audit-verify-cli.js` against an embedded master on disk
// (test/global-setup.ts builds dist/). PGlite is one process only, so the
// test closes its own handle before each CLI run.
const cli = fileURLToPath(new URL('../dist/master/audit-verify-cli.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'hc-audit-cli-'));
const dataDir = join(root, 'data');

function run(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function withDb<T>(fn: (audit: AuditLog, store: MasterStore) => Promise<T>): Promise<T> {
  const db = await openPglite(join(dataDir, 'master'));
  try {
    const store = new MasterStore(db, loadOrCreateSecrets(dataDir, {}));
    return await fn(new AuditLog(store, loadOrCreateSecrets(dataDir, {})), store);
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  await withDb(async (audit, store) => {
    await store.migrate();
    for (let i = 0; i < 5; i++) await audit.append({ actor: 'alice', role: 'operator', action: 'code.query', target: '张*', outcome: 'ok', details: { i } });
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('audit-verify CLI', () => {
  it('exits 0 and prints the result for an intact chain', () => {
    const r = run({ HC_DATA_DIR: dataDir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, entries: 5 });
  });

  it('exits 1 naming the entry when a row was edited', async () => {
    await withDb(async (_a, store) => {
      await store.db.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
    });
    const r = run({ HC_DATA_DIR: dataDir });
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, firstBadSeq: 3, problem: 'hash' });
    expect(r.stderr).toContain('entry 3');
  });

  it('exits 1 with a message when it cannot check', () => {
    const none = run({ HC_DATA_DIR: join(root, 'nothing-here') });
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no secrets');
    const noDb = run({ HC_DATA_DIR: dataDir, HC_PGLITE_DIR: join(root, 'no-master') });
    expect(noDb.status).toBe(1);
    expect(noDb.stderr).toContain('no embedded master');
    const down = run({ HC_DATA_DIR: dataDir, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(down.status).toBe(1);
    expect(down.stderr).toContain('unavailable');
  });
});
