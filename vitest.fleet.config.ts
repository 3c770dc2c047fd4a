import { defineConfig } from 'vitest/config';

// `npm run test:fleet` (issue 17): the multi-node fault suite — PostgreSQL
// primary + replica, Redis + Sentinel, a master and three edges, each in its
// own network namespace made by the test (needs root and `ip netns`; .ci/run
// checks and skips loudly otherwise). One file, one fleet, faults in order.
export default defineConfig({
  test: {
    include: ['test/fleet/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 420_000,
    pool: 'forks',
    // builds dist/ once: the fleet runs the compiled stack (node dist/main.js)
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
