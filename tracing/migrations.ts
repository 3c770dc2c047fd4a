import type { Migration } from '../master/migrations.js';

/**
 * The tracing capability's own schema (bookkeeping in tracing_migrations).
 * Append only, like master/migrations.ts.
 */
const V1 = `
-- The fuzzy venue index (venue-index.ts) re-reads venues changed since its
-- last read; without this a refresh would scan all 5M venues.
CREATE INDEX IF NOT EXISTS tracing_venues_updated_ix ON venues (updated_at);

-- A tracing task (流调任务): what was asked (query: venues with their windows
-- and 前推/后推 margins, trips for 同乘, exclusions), by whom, in which region
-- scope, and what it found. Results are kept so a group, an export and a
-- later review see exactly what the officer saw.
CREATE TABLE tracing_tasks (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  query         jsonb NOT NULL,
  state         text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
  region_prefix text NOT NULL DEFAULT '' CHECK (region_prefix ~ '^[0-9]{0,12}$'),
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL,
  finished_at   timestamptz NULL,
  scans         bigint NOT NULL DEFAULT 0,
  people        integer NOT NULL DEFAULT 0,
  excluded      integer NOT NULL DEFAULT 0,
  error         text NULL
);
CREATE INDEX tracing_tasks_created_ix ON tracing_tasks (created_at DESC);

-- Who a task found and why (evidence: venues with first/last scan and count,
-- trips with seat).
CREATE TABLE tracing_task_people (
  task_id   bigint NOT NULL REFERENCES tracing_tasks (id),
  person_id bigint NOT NULL REFERENCES persons (id),
  evidence  jsonb NOT NULL,
  PRIMARY KEY (task_id, person_id)
);

-- A risk group (风险人群): a task's result made into one unit the officials
-- act on (one code change for all, exports).
CREATE TABLE tracing_groups (
  id            bigserial PRIMARY KEY,
  task_id       bigint NOT NULL UNIQUE REFERENCES tracing_tasks (id),
  name          text NOT NULL,
  region_prefix text NOT NULL DEFAULT '',
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL,
  people        integer NOT NULL
);
CREATE TABLE tracing_group_members (
  group_id  bigint NOT NULL REFERENCES tracing_groups (id),
  person_id bigint NOT NULL REFERENCES persons (id),
  PRIMARY KEY (group_id, person_id)
);
-- "exclude people already in earlier groups" looks members up by person
CREATE INDEX tracing_group_members_person_ix ON tracing_group_members (person_id);

-- Every code change asked for a group: the bulk request (admin-api
-- bulk-requests.ts) that a second official approves.
CREATE TABLE tracing_group_changes (
  id              bigserial PRIMARY KEY,
  group_id        bigint NOT NULL REFERENCES tracing_groups (id),
  bulk_request_id text NOT NULL,
  color           text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
  reason          text NOT NULL,
  until_at        timestamptz NULL,
  requested_by    text NOT NULL,
  requested_at    timestamptz NOT NULL,
  people          integer NOT NULL
);
CREATE INDEX tracing_group_changes_group_ix ON tracing_group_changes (group_id, id);
`;

// Daily rollups of scans (scan-rollup.ts): the dashboard's day-wide counts
// (scans returned per edge node, per venue per day with distinct people)
// read these for finished days instead of a whole 43M-row day partition.
// A China day is rolled once, whole, after it ended (plus a lag for late
// uploads); the cursor says through which day the rollup is complete.
// venue_id '' stands for scans without a venue (verifications).
const V2 = `
CREATE TABLE tracing_venue_day (
  day      date NOT NULL,
  venue_id text NOT NULL,
  scans    bigint NOT NULL,
  people   bigint NOT NULL,
  PRIMARY KEY (day, venue_id)
);
CREATE TABLE tracing_node_day (
  day      date NOT NULL,
  venue_id text NOT NULL,
  node     text NOT NULL,
  scans    bigint NOT NULL,
  PRIMARY KEY (day, venue_id, node)
);
CREATE TABLE tracing_rollup_cursor (
  name        text PRIMARY KEY,
  done_through date NOT NULL,
  updated_at  timestamptz NOT NULL
);
`;

// Late scans for rolled days (scan-rollup.ts): an edge that was offline
// uploads scans for a day the rollup already counted. A statement trigger on
// the master's scans marks such days dirty; the next rollup pass re-rolls
// them (distinct people cannot be added to, only recounted). Statement-level
// with a transition table: one check per upload batch, not per row, and the
// on-time path (scans of today, not yet rolled) writes nothing. Resent scans
// that ON CONFLICT skips are not in the transition table, so they mark nothing.
// The upsert (not DO NOTHING) takes the dirty row's lock, so a re-roll that
// deleted the mark either waited for this upload or is followed by a new mark.
const V3 = `
CREATE TABLE tracing_rollup_dirty (
  day       date PRIMARY KEY,
  scans     bigint NOT NULL,
  marked_at timestamptz NOT NULL
);
CREATE FUNCTION tracing_mark_late_scans() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tracing_rollup_dirty (day, scans, marked_at)
  SELECT ((n.at AT TIME ZONE 'UTC') + interval '8 hours')::date, count(*), now()
    FROM late_scans n, tracing_rollup_cursor c
   WHERE c.name = 'scans'
     AND n.at < ((c.done_through + 1)::timestamp AT TIME ZONE 'UTC') - interval '8 hours'
   GROUP BY 1
  ON CONFLICT (day) DO UPDATE SET scans = tracing_rollup_dirty.scans + EXCLUDED.scans, marked_at = EXCLUDED.marked_at;
  RETURN NULL;
END $$;
CREATE TRIGGER tracing_late_scans AFTER INSERT ON scans
  REFERENCING NEW TABLE AS late_scans FOR EACH STATEMENT EXECUTE FUNCTION tracing_mark_late_scans();
`;

// Co-presence (copresence.ts) reads, per venue window, the uid of every scan
// in the window. Through the master's scans_venue_at_ix (venue_id, at) each
// matching row is a heap fetch, and a venue's scans of two hours lie on as
// many pages as there are scans (rows are stored in arrival order): ~300
// random page reads per busy window, the whole of the cold-cache cost
// measured at 20M scans (tracing/README "Numbers"). With uid INCLUDEd the
// window is an index-only scan of a few adjacent index pages (day partitions
// are insert-only, so autovacuum's insert pass marks them all-visible).
// Cost: one more index on scans' insert path (~45 bytes a row); the master's
// (venue_id, at) index is then redundant and could be dropped by the master.
const V4 = `
CREATE INDEX IF NOT EXISTS tracing_scans_venue_at_uid_ix ON scans (venue_id, at) INCLUDE (uid);
`;

// The venue search above TRACING_INDEX_MAX_VENUES (venue-text-table.ts): each
// venue's name grams (bigrams and pinyin-initials bigrams, made in JavaScript)
// under a GIN index — core PostgreSQL, so PGlite and a PostgreSQL without
// pg_trgm have it too — and how many venues hold each gram (the rarest grams
// are looked up first). venue_updated_at is the venue's updated_at when it
// was indexed: the sync's cursor.
const V5 = `
CREATE TABLE tracing_venue_text (
  venue_id         text PRIMARY KEY,
  grams            text[] NOT NULL,
  norm_len         integer NOT NULL,
  venue_updated_at timestamptz NOT NULL
);
CREATE INDEX tracing_venue_text_grams_ix ON tracing_venue_text USING gin (grams);
CREATE INDEX tracing_venue_text_updated_ix ON tracing_venue_text (venue_updated_at);
CREATE TABLE tracing_venue_gram_df (
  gram text PRIMARY KEY,
  n    bigint NOT NULL
);
`;

// Migration 4's (venue_id, at) INCLUDE (uid) serves every query the master's
// scans_venue_at_ix (venue_id, at) serves (same key columns, in the same
// order) and more; keeping both costs one more B-tree insert per scan on the
// 43M/day path (~45 bytes a row, ~2 GB a day of index at that rate) for
// nothing. Dropped here, not in master/ (not this capability's file): a
// partitioned index drops with its partitions' indexes; IF EXISTS, so a
// master that renamed or already dropped it migrates too. New day partitions
// inherit only the covering index.
const V6 = `
DROP INDEX IF EXISTS scans_venue_at_ix;
`;

export const TRACING_MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'tasks-groups', sql: V1 },
  { version: 2, name: 'scan-rollup', sql: V2 },
  { version: 3, name: 'late-scan-reroll', sql: V3 },
  { version: 4, name: 'scans-covering-venue-index', sql: V4 },
  { version: 5, name: 'venue-text-table', sql: V5 },
  { version: 6, name: 'drop-master-venue-at-index', sql: V6 },
]);
