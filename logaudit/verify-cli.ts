import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { verifyStore } from './store.js';

/**
 * `npm run logaudit:verify` — recomputes every stored day's batch digests,
 * hash chain, cross-day links and Ed25519 manifest signatures
 * (store.ts). Needs only the public key, so an auditor can run it on a copy.
 *
 *   HC_DATA_DIR            default ./data (store at <dir>/logaudit/store)
 *   LOGAUDIT_VERIFY_PUBKEY default <dir>/logaudit/keys/manifest-ed25519.pub.pem
 *
 * Prints one JSON line {ok, days, batches, events, problems}; exit 0 when
 * everything verifies, 1 otherwise (LOG_ERR_STORE_TAMPERED).
 */
export function runLogVerify(env: NodeJS.ProcessEnv, out: (l: string) => void, err: (l: string) => void): number {
  const dir = resolve((env.HC_DATA_DIR ?? '').trim() || './data');
  const pubPath = env.LOGAUDIT_VERIFY_PUBKEY ?? join(dir, 'logaudit', 'keys', 'manifest-ed25519.pub.pem');
  if (!existsSync(pubPath)) {
    err(`logaudit:verify: no public key at ${pubPath} (set HC_DATA_DIR or LOGAUDIT_VERIFY_PUBKEY)`);
    return 1;
  }
  const r = verifyStore(join(dir, 'logaudit', 'store'), readFileSync(pubPath, 'utf8'));
  out(JSON.stringify(r.ok ? r : { ...r, error: 'LOG_ERR_STORE_TAMPERED' }));
  return r.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = runLogVerify(process.env, (l) => process.stdout.write(l + '\n'), (l) => process.stderr.write(l + '\n'));
}
