import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the shipped data (decoders/, rules/, schema/) lives: beside this file
 * when run from source, and in the source tree when run compiled from dist/
 * (tsc does not copy YAML). `LOGAUDIT_DATA_ROOT` overrides for packaging.
 */
export function shippedDir(sub: 'decoders' | 'rules' | 'schema'): string {
  const env = process.env.LOGAUDIT_DATA_ROOT;
  if (env) return join(env, sub);
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, sub);
  if (existsSync(beside)) return beside;
  // dist/logaudit → <root>/logaudit
  const fromDist = resolve(here, '..', '..', 'logaudit', sub);
  if (existsSync(fromDist)) return fromDist;
  return beside;
}
