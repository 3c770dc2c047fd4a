import { defineCapability } from '../admin-api/capability.js';
import { loadTracingConfig, type TracingConfig } from './config.js';
import { TRACING_MIGRATIONS } from './migrations.js';
import { FullSearch } from './full-search.js';
import { GroupService } from './groups.js';
import { registerFullSearchRoutes } from './routes-full-search.js';
import { registerGroupRoutes } from './routes-groups.js';
import { registerSearchRoutes } from './routes-search.js';
import { registerStatsRoutes } from './routes-stats.js';
import { ScanRollup } from './scan-rollup.js';
import { StatsService } from './stats.js';
import { registerTaskRoutes } from './routes-tasks.js';
import { TaskService } from './tasks.js';
import { VenueIndex } from './venue-index.js';

/**
 * Tracing and analytics (issue 11): fuzzy venue search, tracing tasks
 * (co-presence from scans, co-travel from travel_segments), risk groups
 * changed through the bulk-request flow, back-office queries, lineage and
 * statistics. README.md describes it.
 */
export const tracingCapability = defineCapability<TracingConfig>({
  name: 'tracing',
  migrations: TRACING_MIGRATIONS,
  config: (env) => loadTracingConfig(env),
  create(host, cfg) {
    const index = new VenueIndex(host.readDb ?? host.db, { refreshMs: cfg.indexRefreshMs, maxVenues: cfg.indexMaxVenues, writeDb: host.db });
    const tasks = new TaskService(host.db, host.readDb ?? host.db, cfg, () => host.nowMs());
    const groups = new GroupService(host.db, tasks, () => host.nowMs());
    const stats = new StatsService(host.readDb ?? host.db);
    // writes: on the primary
    const rollup = new ScanRollup(host.db, { intervalMs: cfg.rollupIntervalMs, lagHours: cfg.rollupLagHours, retentionDays: cfg.retentionDays }, () => host.nowMs(), (l) => host.log(l));
    return {
      routes(app, ctx) {
        registerSearchRoutes(app, ctx, index);
        registerTaskRoutes(app, ctx, tasks);
        registerGroupRoutes(app, ctx, tasks, groups, cfg.maxGroup);
        registerStatsRoutes(app, ctx, stats, cfg.retentionDays);
        registerFullSearchRoutes(app, ctx, new FullSearch(host.readDb ?? host.db));
      },
      async start() {
        // built in the background: a search before it is ready waits for it
        index.build().then(
          () => host.log(index.mode === 'memory'
            ? `tracing: venue index ready, ${index.size} venues`
            : `tracing: more venues than TRACING_INDEX_MAX_VENUES: venue search runs on the gram table in the database`),
          (err: unknown) => host.log(`tracing: venue index failed to build: ${(err as Error).message}`),
        );
        rollup.start();
      },
      async stop() {
        await rollup.stop();
      },
    };
  },
});
