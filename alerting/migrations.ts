import type { Migration } from '../master/migrations.js';

/**
 * The alerting capability's tables (bookkeeping in alerting_migrations).
 * Times are unix ms (bigint) on the host's clock, the one the engine reasons
 * with (tests pin it).
 */
export const ALERTING_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sms-queue-engine',
    sql: `
-- Durable outbound SMS queue and record of every message (短信记录). A row is
-- written in the transaction that decides to notify, so a crash or a dead
-- gateway loses nothing; id is the gateway's idempotency key, so a retry of a
-- message the gateway did take is answered 'duplicate', never sent twice.
CREATE TABLE alerting_sms (
  id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{8,64}$'),
  created_ms      bigint NOT NULL,
  recipients      text NOT NULL CHECK (recipients IN ('oncall', 'escalation')),
  phones_masked   text NOT NULL,
  text            text NOT NULL CHECK (length(text) BETWEEN 1 AND 500),
  severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  purpose         text NOT NULL CHECK (purpose IN ('firing', 'repeat', 'resolved', 'escalation', 'test')),
  group_key       text NULL,
  status          text NOT NULL CHECK (status IN ('queued', 'sent', 'rejected', 'over_budget')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_ms bigint NOT NULL,
  last_error      text NULL,
  sent_ms         bigint NULL,
  answer          jsonb NULL
);
CREATE INDEX alerting_sms_queued_ix ON alerting_sms (next_attempt_ms) WHERE status = 'queued';
CREATE INDEX alerting_sms_created_ix ON alerting_sms (created_ms);

-- The engine's own cursor over alert_events (and other sources).
CREATE TABLE alerting_cursor (
  name    text PRIMARY KEY,
  last_id bigint NOT NULL
);

-- Rules are data (告警规则): spec is alerting/rules.ts's RuleSpec.
CREATE TABLE alerting_rules (
  id         text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,63}$'),
  spec       jsonb NOT NULL,
  builtin    boolean NOT NULL DEFAULT false,
  updated_ms bigint NOT NULL,
  updated_by text NOT NULL
);

-- One row per alert instance (rule + key), Alertmanager's fingerprint. At most
-- one open (pending / firing) instance per fingerprint.
CREATE TABLE alerting_alerts (
  id                  bigserial PRIMARY KEY,
  fingerprint         text NOT NULL,
  rule_id             text NOT NULL,
  group_key           text NOT NULL,
  key                 text NOT NULL,
  source              text NOT NULL,
  kind                text NOT NULL,
  severity            text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  summary             text NOT NULL,
  region              text NULL,
  value               double precision NULL,
  status              text NOT NULL CHECK (status IN ('pending', 'firing', 'resolved')),
  started_ms          bigint NOT NULL,
  fired_ms            bigint NULL,
  last_seen_ms        bigint NOT NULL,
  resolved_ms         bigint NULL,
  notified_ms         bigint NULL,
  resolve_notified_ms bigint NULL,
  acked_ms            bigint NULL,
  acked_by            text NULL,
  escalated_ms        bigint NULL,
  events              integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alerting_alerts_open_ix ON alerting_alerts (fingerprint) WHERE status <> 'resolved';
CREATE INDEX alerting_alerts_status_ix ON alerting_alerts (status, group_key);
CREATE INDEX alerting_alerts_started_ix ON alerting_alerts (started_ms);

-- Notification groups: when the group was last told (repeat interval).
CREATE TABLE alerting_groups (
  group_key        text PRIMARY KEY,
  rule_id          text NOT NULL,
  last_notified_ms bigint NOT NULL
);

-- Silences (屏蔽): matchers on rule / source / kind / key / region.
CREATE TABLE alerting_silences (
  id         bigserial PRIMARY KEY,
  matchers   jsonb NOT NULL,
  starts_ms  bigint NOT NULL,
  ends_ms    bigint NOT NULL,
  created_by text NOT NULL,
  comment    text NOT NULL,
  created_ms bigint NOT NULL,
  expired_ms bigint NULL
);

-- Detectors (anomaly, operator behaviour) raise a given finding at most once per window.
CREATE TABLE alerting_detections (
  key           text PRIMARY KEY,
  last_raised_ms bigint NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'code-history-at-index',
    // the red/yellow anomaly detector (detectors.ts) reads the last hour and the
    // same hour of 14 past days from code_history every minute: without an index
    // on at that is 15 sequential scans of the largest table per run
    sql: `CREATE INDEX IF NOT EXISTS alerting_code_history_at_ix ON code_history (at);`,
  },
];
