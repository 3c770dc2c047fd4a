import { defineConfig } from 'vitest/config';

// `npm test`: everything that needs no external server (PGlite, in-process bus,
// LMDB in temp dirs). Cluster tests (real PostgreSQL + Redis) live under
// test/cluster and run with `npm run test:cluster`.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'test/cluster/**', 'test/fleet/**', 'admin-api/console/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // builds dist/ once: signing threads and forked servers run compiled JS
    globalSetup: ['test/global-setup.ts'],
  },
});
