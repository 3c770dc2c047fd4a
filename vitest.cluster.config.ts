import { defineConfig } from 'vitest/config';

// `npm run test:cluster`: the same flows against real PostgreSQL
// (DATABASE_URL, default postgres://127.0.0.1:5432/test) and Redis
// (REDIS_URL, default redis://127.0.0.1:6379). Fails loudly when unreachable.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // builds dist/ once: signing threads and forked servers run compiled JS
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
  },
});
