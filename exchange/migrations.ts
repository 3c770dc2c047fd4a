import type { Migration } from '../master/migrations.js';

/**
 * The exchange's own tables (exchange_migrations). Batch state lives here so
 * a restart resumes a batch where its last committed chunk ended: a chunk's
 * rows, errors, rejects, duplicate keys and the batch's progress commit in
 * one transaction.
 */
const V1 = `
-- Data standards, versioned: a new version is a new row (datasets.ts).
CREATE TABLE exchange_datasets (
  id          text NOT NULL,
  version     integer NOT NULL CHECK (version >= 1),
  definition  jsonb NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, version)
);

-- One uploaded file. next_row = records (header = 1) committed so far:
-- a resumed batch skips them. region = the uploader's GB/T 2260 prefix
-- (city officers see their own city's batches).
CREATE TABLE exchange_batches (
  id              text PRIMARY KEY,
  dataset         text NOT NULL,
  dataset_version integer NOT NULL,
  department      text NOT NULL,
  region          text NOT NULL DEFAULT '',
  file_name       text NOT NULL,
  format          text NOT NULL CHECK (format IN ('csv', 'xlsx')),
  encoding        text NULL,
  size_bytes      bigint NOT NULL,
  sha256          text NOT NULL,
  status          text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  rows_total      integer NOT NULL DEFAULT 0,
  accepted        integer NOT NULL DEFAULT 0,
  rejected        integer NOT NULL DEFAULT 0,
  next_row        integer NOT NULL DEFAULT 1,
  error_code      text NULL,
  error_message   text NULL,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz NULL,
  finished_at     timestamptz NULL,
  origin          text NOT NULL DEFAULT 'upload',
  header          jsonb NULL,
  -- the master process whose data dir holds the spooled file (cluster: only it works on the batch)
  node            text NOT NULL DEFAULT ''
);
CREATE INDEX exchange_batches_created_ix ON exchange_batches (created_at DESC);
CREATE INDEX exchange_batches_status_ix ON exchange_batches (status);

-- Row errors of a batch (row 0 = the batch itself). Messages are Chinese
-- and never carry the rejected values.
CREATE TABLE exchange_errors (
  id        bigserial PRIMARY KEY,
  batch_id  text NOT NULL REFERENCES exchange_batches (id),
  row       integer NOT NULL,
  field     text NOT NULL,
  code      text NOT NULL,
  message   text NOT NULL
);
CREATE INDEX exchange_errors_batch_ix ON exchange_errors (batch_id, row);

-- The rejected rows as they were in the file, for the department to fix
-- and resend: AES-GCM encrypted with the master's PII key (they hold
-- certificate numbers and names).
CREATE TABLE exchange_rejects (
  batch_id  text NOT NULL REFERENCES exchange_batches (id),
  row       integer NOT NULL,
  data      bytea NOT NULL,
  PRIMARY KEY (batch_id, row)
);

-- Conformance by rule: rejected rows per error code per batch.
CREATE TABLE exchange_rule_counts (
  batch_id  text NOT NULL REFERENCES exchange_batches (id),
  code      text NOT NULL,
  n         integer NOT NULL,
  PRIMARY KEY (batch_id, code)
);

-- Duplicate detection across the file and earlier batches: keyed HMAC of
-- the dataset's key fields (never the values themselves).
CREATE TABLE exchange_row_keys (
  dataset   text NOT NULL,
  key_hash  bytea NOT NULL,
  batch_id  text NOT NULL,
  row       integer NOT NULL,
  PRIMARY KEY (dataset, key_hash)
);

-- Vaccinations have no code-assignment fact: kept here, by person.
CREATE TABLE exchange_vaccinations (
  id          bigserial PRIMARY KEY,
  person_id   bigint NOT NULL REFERENCES persons (id),
  at          timestamptz NOT NULL,
  dose        smallint NOT NULL,
  vaccine     text NOT NULL,
  site        text NULL,
  source      text NOT NULL,
  source_ref  text NULL
);
CREATE INDEX exchange_vaccinations_person_ix ON exchange_vaccinations (person_id);
`;

/**
 * Encrypted archives: password rules (密码规则) per department and the
 * forwarding recipients, their secrets AES-GCM encrypted with the master's
 * PII key (secret-box.ts); archives taken in; forwards to recipients, one
 * row per archive and recipient — the exactly-once ledger of the SFTP push.
 */
const V2 = `
CREATE TABLE exchange_password_rules (
  department  text PRIMARY KEY,
  rule_enc    bytea NOT NULL,
  version     integer NOT NULL DEFAULT 1,
  updated_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exchange_recipients (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  host        text NOT NULL,
  port        integer NOT NULL,
  username    text NOT NULL,
  remote_dir  text NOT NULL,
  datasets    jsonb NOT NULL,
  secret_enc  bytea NOT NULL,
  updated_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exchange_archives (
  id            text PRIMARY KEY,
  department    text NOT NULL,
  dataset       text NOT NULL,
  file_name     text NOT NULL,
  sha256        text NOT NULL,
  size_bytes    bigint NOT NULL,
  status        text NOT NULL CHECK (status IN ('done', 'failed', 'duplicate')),
  error_code    text NULL,
  error_message text NULL,
  batches       jsonb NOT NULL DEFAULT '[]',
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exchange_archives_sha_ix ON exchange_archives (sha256);

CREATE TABLE exchange_forwards (
  id              text PRIMARY KEY,
  archive_id      text NOT NULL REFERENCES exchange_archives (id),
  recipient_id    text NOT NULL REFERENCES exchange_recipients (id),
  remote_name     text NOT NULL,
  bytes           bigint NOT NULL,
  status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text NULL,
  sent_at         timestamptz NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- the master process whose data dir holds the re-encrypted file
  node            text NOT NULL DEFAULT ''
);
CREATE INDEX exchange_forwards_due_ix ON exchange_forwards (next_attempt_at) WHERE status = 'pending';
`;

/** Departments' SFTP servers the exchange pulls archives from (secrets sealed like recipients'). */
const V3 = `
CREATE TABLE exchange_sftp_sources (
  id          text PRIMARY KEY,
  department  text NOT NULL,
  dataset     text NOT NULL,
  host        text NOT NULL,
  port        integer NOT NULL,
  username    text NOT NULL,
  remote_dir  text NOT NULL,
  secret_enc  bytea NOT NULL,
  updated_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
`;

/** Masked data returns (智能数据返还): who took which batch's rows for which region, when. */
const V4 = `
CREATE TABLE exchange_returns (
  id          bigserial PRIMARY KEY,
  batch_id    text NOT NULL REFERENCES exchange_batches (id),
  region      text NOT NULL,
  actor       text NOT NULL,
  rows        integer NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exchange_returns_batch_ix ON exchange_returns (batch_id, region);
`;

/**
 * Masked data return with recipients, policies and a ledger (return-ledger.ts):
 * - return recipients (返还对象): a city/county (region prefix) or a department
 *   (its own uploads), the datasets it gets, optionally the forwarding
 *   recipient (exchange_recipients: SFTP server, key, ZIP password rule) to push to;
 * - masking policies, versioned per recipient;
 * - one ledger row per batch and recipient (UNIQUE: made once, pushed once),
 *   its rows already masked and sealed, so a re-download is byte-identical
 *   to the first and any master can serve or push it;
 * - every taking (push, download) as its own row: re-downloads are visible.
 */
const V5 = `
CREATE TABLE exchange_return_recipients (
  id              text PRIMARY KEY,
  name            text NOT NULL,
  region          text NOT NULL,
  department      text NULL,
  datasets        jsonb NOT NULL DEFAULT '[]',
  sftp_recipient  text NULL REFERENCES exchange_recipients (id),
  due_hours       integer NOT NULL,
  updated_by      text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exchange_return_policies (
  recipient_id  text NOT NULL REFERENCES exchange_return_recipients (id),
  version       integer NOT NULL CHECK (version >= 1),
  policy        jsonb NOT NULL,
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recipient_id, version)
);

CREATE TABLE exchange_return_items (
  id                  text PRIMARY KEY,
  recipient_id        text NOT NULL REFERENCES exchange_return_recipients (id),
  batch_id            text NOT NULL REFERENCES exchange_batches (id),
  dataset             text NOT NULL,
  region              text NOT NULL,
  policy_version      integer NOT NULL,
  policy              jsonb NOT NULL,
  rows                integer NOT NULL,
  sha256              text NOT NULL,
  remote_name         text NOT NULL,
  created_by          text NOT NULL,
  created_at          timestamptz NOT NULL,
  due_at              timestamptz NOT NULL,
  push_status         text NOT NULL CHECK (push_status IN ('none', 'pending', 'sent', 'failed')),
  push_attempts       integer NOT NULL DEFAULT 0,
  push_next_at        timestamptz NOT NULL DEFAULT now(),
  push_error          text NULL,
  pushed_at           timestamptz NULL,
  downloads           integer NOT NULL DEFAULT 0,
  first_downloaded_at timestamptz NULL,
  last_downloaded_at  timestamptz NULL,
  acknowledged_at     timestamptz NULL,
  acknowledged_by     text NULL,
  overdue_alerted_at  timestamptz NULL,
  UNIQUE (recipient_id, batch_id)
);
CREATE INDEX exchange_return_items_todo_ix ON exchange_return_items (due_at) WHERE acknowledged_at IS NULL AND rows > 0;
CREATE INDEX exchange_return_items_push_ix ON exchange_return_items (push_next_at) WHERE push_status = 'pending';

CREATE TABLE exchange_return_rows (
  item_id  text NOT NULL REFERENCES exchange_return_items (id),
  seq      integer NOT NULL,
  data     bytea NOT NULL,
  PRIMARY KEY (item_id, seq)
);

CREATE TABLE exchange_return_takes (
  id       bigserial PRIMARY KEY,
  item_id  text NOT NULL REFERENCES exchange_return_items (id),
  how      text NOT NULL CHECK (how IN ('push', 'csv', 'xlsx', 'ack')),
  actor    text NOT NULL,
  at       timestamptz NOT NULL
);
CREATE INDEX exchange_return_takes_item_ix ON exchange_return_takes (item_id, id);
`;

/**
 * Assignment verification (赋码数据核查, verify-*.ts): rules say which
 * dataset and period is compared with the assigned codes and with what was
 * distributed; a task is one run of a rule, its state and counts committed
 * with each chunk of persons (cursor = last person id done), so a restart
 * resumes it; mismatches hold person ids only (identities are decrypted,
 * and masked by role, when a report is read); the run log is Chinese.
 */
const V6 = `
CREATE TABLE exchange_verify_rules (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  dataset        text NOT NULL,
  code_source    text NOT NULL CHECK (code_source IN ('current', 'history')),
  check_distribution boolean NOT NULL DEFAULT true,
  window_days    integer NULL CHECK (window_days BETWEEN 1 AND 366),
  period_from    timestamptz NULL,
  period_to      timestamptz NULL,
  valid_from     timestamptz NOT NULL,
  valid_until    timestamptz NULL,
  region         text NOT NULL DEFAULT '',
  created_by     text NOT NULL,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  CHECK ((window_days IS NULL) = (period_from IS NOT NULL AND period_to IS NOT NULL))
);

CREATE TABLE exchange_verify_tasks (
  id             text PRIMARY KEY,
  rule_id        text NOT NULL REFERENCES exchange_verify_rules (id),
  rerun_of       text NULL REFERENCES exchange_verify_tasks (id),
  rule           jsonb NOT NULL,
  status         text NOT NULL CHECK (status IN ('queued', 'running', 'stopping', 'stopped', 'done', 'failed')),
  period_from    timestamptz NOT NULL,
  period_to      timestamptz NOT NULL,
  through_seq    bigint NOT NULL,
  region         text NOT NULL DEFAULT '',
  cursor         bigint NOT NULL DEFAULT 0,
  max_person     bigint NOT NULL DEFAULT 0,
  epoch          integer NOT NULL DEFAULT 0,
  checked        integer NOT NULL DEFAULT 0,
  facts          integer NOT NULL DEFAULT 0,
  expected       integer NOT NULL DEFAULT 0,
  assigned       integer NOT NULL DEFAULT 0,
  consistent     integer NOT NULL DEFAULT 0,
  mismatches     integer NOT NULL DEFAULT 0,
  error_code     text NULL,
  error_message  text NULL,
  node           text NOT NULL DEFAULT '',
  created_by     text NOT NULL,
  created_at     timestamptz NOT NULL,
  started_at     timestamptz NULL,
  finished_at    timestamptz NULL,
  heartbeat_at   timestamptz NULL
);
CREATE INDEX exchange_verify_tasks_rule_ix ON exchange_verify_tasks (rule_id, created_at DESC);
CREATE INDEX exchange_verify_tasks_status_ix ON exchange_verify_tasks (status);

CREATE TABLE exchange_verify_mismatches (
  task_id      text NOT NULL REFERENCES exchange_verify_tasks (id),
  person_id    bigint NOT NULL REFERENCES persons (id),
  kind         text NOT NULL CHECK (kind IN ('expected_not_assigned', 'assigned_without_basis', 'assigned_not_distributed')),
  expected     text NULL,
  assigned     text NULL,
  distributed  text NULL,
  reason       text NULL,
  fact_kind    text NULL,
  fact_at      timestamptz NULL,
  detail       text NOT NULL DEFAULT '',
  PRIMARY KEY (task_id, kind, person_id)
);

CREATE TABLE exchange_verify_log (
  id       bigserial PRIMARY KEY,
  task_id  text NOT NULL REFERENCES exchange_verify_tasks (id),
  at       timestamptz NOT NULL,
  level    text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  message  text NOT NULL
);
CREATE INDEX exchange_verify_log_task_ix ON exchange_verify_log (task_id, id);
`;

/**
 * Lineage lookups by batch: data-return.ts and return-ledger.ts read a batch's rows back with
 * `source_ref LIKE '<batch>:%'` from facts and exchange_vaccinations, which scanned the whole table
 * per window before. text_pattern_ops lets the prefix LIKE use the index under any collation.
 */
const V7 = `
CREATE INDEX IF NOT EXISTS facts_source_ref_ix ON facts (source_ref text_pattern_ops) WHERE source_ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS exchange_vaccinations_source_ref_ix ON exchange_vaccinations (source_ref text_pattern_ops);
`;

/**
 * Assignment verification, second part, and the data standards editor:
 * - rules: a check of what the node replicas serve (check_edges), a schedule
 *   ({kind:'daily', at:'HH:mm'} China time or {kind:'every', hours}) with the
 *   next due instant; a scheduled task records the slot it ran for, unique per
 *   rule, so two admin processes can never both start it (with the
 *   conditional UPDATE of next_run_at in verify-schedule.ts);
 * - tasks: the rule-set version in force the expectations were read from,
 *   the replicas' positions and the count of changes still on their way;
 * - a fourth kind of mismatch: edge_not_applied;
 * - code tables (码表): code → Chinese name, versioned.
 */
const V8 = `
ALTER TABLE exchange_verify_rules ADD COLUMN check_edges boolean NOT NULL DEFAULT false;
ALTER TABLE exchange_verify_rules ADD COLUMN schedule jsonb NULL;
ALTER TABLE exchange_verify_rules ADD COLUMN next_run_at timestamptz NULL;
CREATE INDEX exchange_verify_rules_due_ix ON exchange_verify_rules (next_run_at) WHERE next_run_at IS NOT NULL;

ALTER TABLE exchange_verify_tasks ADD COLUMN rule_version text NULL;
ALTER TABLE exchange_verify_tasks ADD COLUMN edges jsonb NULL;
ALTER TABLE exchange_verify_tasks ADD COLUMN edge_pending integer NOT NULL DEFAULT 0;
ALTER TABLE exchange_verify_tasks ADD COLUMN scheduled_for timestamptz NULL;
CREATE UNIQUE INDEX exchange_verify_tasks_slot_ux ON exchange_verify_tasks (rule_id, scheduled_for) WHERE scheduled_for IS NOT NULL;

ALTER TABLE exchange_verify_mismatches DROP CONSTRAINT exchange_verify_mismatches_kind_check;
ALTER TABLE exchange_verify_mismatches ADD CONSTRAINT exchange_verify_mismatches_kind_check
  CHECK (kind IN ('expected_not_assigned', 'assigned_without_basis', 'assigned_not_distributed', 'edge_not_applied'));

CREATE TABLE exchange_code_tables (
  id          text NOT NULL,
  version     integer NOT NULL,
  definition  jsonb NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, version)
);
`;

export const EXCHANGE_MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'imports', sql: V1 },
  { version: 2, name: 'archives', sql: V2 },
  { version: 3, name: 'sftp-sources', sql: V3 },
  { version: 4, name: 'returns', sql: V4 },
  { version: 5, name: 'return-ledger', sql: V5 },
  { version: 6, name: 'verify', sql: V6 },
  { version: 7, name: 'lineage-index', sql: V7 },
  { version: 8, name: 'verify-schedule-edges-code-tables', sql: V8 },
]);
