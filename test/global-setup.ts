import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * vitest globalSetup: compiles the project to dist/ once before any test
 * file runs. Some tests need compiled JS: piscina signing threads load
 * dist/edge/sign-worker.js, and multi-process tests fork dist/edge/main.js —
 * a worker thread or a forked process does not go through vitest's
 * TypeScript transform.
 *
 * Incremental (tsBuildInfo under dist/): an unchanged tree rebuilds in about
 * a second. Type errors elsewhere in the tree do not block the run — tsc
 * still emits, and `npm run typecheck` is where they are reported — but a
 * missing output the tests need does.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const r = spawnSync(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'],
    { cwd: root, encoding: 'utf8' },
  );
  if (r.status !== 0) {
    process.stderr.write(`test/global-setup: tsc reported errors (tests continue with what it emitted):\n${r.stdout}${r.stderr}\n`);
  }
  // the citizen page the edge serves at /app/ (a fraction of a second)
  const page = spawnSync(process.execPath, ['edge/app/build.mjs', '--quiet'], { cwd: root, encoding: 'utf8' });
  if (page.status !== 0) throw new Error(`test/global-setup: the citizen page did not build:\n${page.stdout}${page.stderr}`);
  for (const needed of ['dist/edge/sign-worker.js', 'dist/app/manifest.json']) {
    if (!existsSync(new URL(`../${needed}`, import.meta.url))) {
      throw new Error(`test/global-setup: ${needed} was not built:\n${r.stdout}${r.stderr}`);
    }
  }
}
