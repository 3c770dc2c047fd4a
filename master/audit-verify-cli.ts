import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuditLog, type AuditVerifyResult } from './audit-log.js';
import { loadOrCreateSecrets, SECRET_VARS, SECRETS_FILE } from './pii-crypto.js';
import { openPglite, openPostgres, type SqlClient } from './sql-client.js';

/**
 * `node dist/master/audit-verify-cli.js` — verifies the audit log's hash
 * chain (audit-log.ts) from a shell, cron or an auditor's workstation.
 *
 *   DATABASE_URL   PostgreSQL master (cluster). Otherwise the embedded PGlite
 *                  master in HC_PGLITE_DIR (default <HC_DATA_DIR>/master).
 *   HC_DATA_DIR    default ./data: secrets.json lives here unless all of
 *                  HC_PII_KEY, HC_LOOKUP_KEY, HC_UID_PEPPER are set (the chain
 *                  key derives from HC_LOOKUP_KEY).
 *
 * Prints one JSON line {ok, entries, firstBadSeq?, problem?, detail?}.
 * Exit 0: the chain verifies. Exit 1: it does not, or it could not be
 * checked (message on stderr). Read-only: never migrates, never creates
 * secrets (made-up secrets would report every entry as altered). The
 * embedded master is one process only: while the stack runs, use
 * POST /admin/v1/audit/verify instead.
 */
export async function runAuditVerify(
  env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void,
): Promise<number> {
  const dataDir = resolve((env.HC_DATA_DIR ?? '').trim() || './data');
  const fromEnv = SECRET_VARS.every((n) => (env[n] ?? '') !== '');
  if (!fromEnv && !existsSync(join(dataDir, SECRETS_FILE))) {
    err(`audit-verify: no secrets: set ${SECRET_VARS.join(', ')} or HC_DATA_DIR to the directory holding ${SECRETS_FILE}`);
    return 1;
  }
  let db: SqlClient | undefined;
  try {
    const secrets = loadOrCreateSecrets(dataDir, env);
    const url = (env.DATABASE_URL ?? '').trim();
    if (url !== '') {
      db = await openPostgres(url, { max: 2 });
    } else {
      const dir = resolve((env.HC_PGLITE_DIR ?? '').trim() || join(dataDir, 'master'));
      if (!existsSync(dir)) {
        err(`audit-verify: no embedded master at ${dir} (set DATABASE_URL, HC_DATA_DIR or HC_PGLITE_DIR)`);
        return 1;
      }
      db = await openPglite(dir);
    }
    const table = await db.query<{ t: string | null }>("SELECT to_regclass('audit_head')::text AS t");
    if (table.rows[0]!.t === null) {
      err('audit-verify: this database has no audit log (not a master, or never started)');
      return 1;
    }
    const result: AuditVerifyResult = await new AuditLog(db, secrets).verify();
    out(JSON.stringify(result));
    if (!result.ok) err(`audit-verify: chain broken at entry ${result.firstBadSeq}: ${result.detail}`);
    return result.ok ? 0 : 1;
  } catch (e) {
    err(`audit-verify: ${(e as Error).message}`);
    return 1;
  } finally {
    await db?.close().catch(() => undefined);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runAuditVerify(
    process.env,
    (l) => process.stdout.write(l + '\n'),
    (l) => process.stderr.write(l + '\n'),
  ).then((code) => {
    process.exitCode = code;
  });
}
