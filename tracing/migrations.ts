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

export const TRACING_MIGRATIONS: readonly Migration[] = Object.freeze([{ version: 1, name: 'tasks-groups', sql: V1 }]);
