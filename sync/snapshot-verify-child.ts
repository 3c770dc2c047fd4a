import { verifySnapshotDir } from './snapshot.js';

/**
 * Child process of sync/snapshot.ts verifySnapshotIsolated:
 *
 *   node dist/sync/snapshot-verify-child.js <dir> '<json {seq?, codes?}>'
 *
 * Sends `{ok: true, result}` or `{ok: false, code, message}` over IPC and
 * exits. A native crash of lmdb-js on a damaged file ends only this process;
 * the parent reports the snapshot as corrupt.
 */
const [dir, expectJson] = process.argv.slice(2);
verifySnapshotDir(dir ?? '', JSON.parse(expectJson ?? '{}') as { seq?: number; codes?: number }).then(
  (result) => process.send!({ ok: true, result }, () => process.exit(0)),
  (err: { code?: string; message?: string }) => process.send!({ ok: false, code: err.code ?? 'ERROR', message: err.message ?? String(err) }, () => process.exit(0)),
);
