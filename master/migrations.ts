import { createHash } from 'node:crypto';
import { MasterError } from './errors.js';
import type { SqlClient } from './sql-client.js';

/**
 * Versioned schema migrations of the master database (DESIGN §1, §6).
 *
 * - The same SQL runs on PostgreSQL 15+ and on PGlite (PostgreSQL 18 in WASM):
 *   no extensions (pg_trgm ships with PGlite as a separate bundle but is not
 *   installed on every PostgreSQL-compatible server), plain PL/pgSQL only.
 * - Each migration runs in its own transaction together with its
 *   `schema_migrations` row: a failure leaves neither behind.
 * - Migrations are append-only. A migration's SHA-256 is recorded when it is
 *   applied; a build whose text of an applied migration differs refuses to
 *   start (MASTER_ERR_MIGRATION_CHANGED) — Flyway's rule: fix forward with a
 *   new version instead of editing history.
 * - A database migrated by a newer build (a version this build does not know)
 *   is refused with MASTER_ERR_SCHEMA_NEWER: an old build writing to a newer
 *   schema is how rollbacks corrupt data.
 * - Several processes may start at once (cluster): every migration
 *   transaction takes one transaction-scoped advisory lock and re-reads the
 *   applied versions under it.
 *
 * Times are `timestamptz` everywhere. Identity never appears in clear: see
 * pii-crypto.ts for the `*_enc` and `*_hash` columns.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** pg_advisory_xact_lock key for migrations: ASCII "hcmigrat". */
const MIGRATION_LOCK = '7521976102113403252';

const V1_INITIAL = `
-- Append-only guard for history tables. A statement-level trigger also fires
-- when no row matches and on TRUNCATE, which row triggers do not see.
-- Defence in depth only: a superuser can disable triggers; the audit log's
-- hash chain (computed by the app) is what makes tampering evident.
CREATE FUNCTION hc_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

-- People. No certificate number, phone or name in clear (DESIGN §2):
--   uid         HMAC-SHA256(pepper, person key)[0..16]   (core/identity.ts uidOf)
--   cert_hash   HMAC-SHA256(lookup key, 'C:<type>:<number>')  exact look-up
--   phone_hash  HMAC-SHA256(lookup key, 'P:<11 digits>')
--   *_enc       AES-256-GCM, pii-crypto.ts format, AAD binds field and uid
-- The person key is the certificate when there is one, else the phone, so
-- several people may give one phone (a parent registering children) but only
-- one certificate-less person can be keyed by it: phone_hash is unique among
-- people without a certificate, and indexed for look-up among all.
CREATE TABLE persons (
  id          bigserial PRIMARY KEY,
  uid         bytea NOT NULL UNIQUE CHECK (octet_length(uid) = 16),
  cert_type   text NULL CHECK (cert_type IN ('resident', 'passport', 'hk_macau', 'taiwan', 'foreign_permanent')),
  cert_hash   bytea NULL UNIQUE,
  phone_hash  bytea NULL,
  cert_enc    bytea NULL,
  phone_enc   bytea NULL,
  name_enc    bytea NULL,
  name_masked text NOT NULL DEFAULT '',
  -- GB/T 2260 county code of residence / hukou, for region scoping (a city
  -- officer sees codes whose region starts with the city's 4 digits)
  region      text NULL CHECK (region ~ '^[0-9]{6}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((cert_hash IS NULL) = (cert_enc IS NULL) AND (cert_hash IS NULL) = (cert_type IS NULL)),
  CHECK ((phone_hash IS NULL) = (phone_enc IS NULL)),
  CHECK (cert_hash IS NOT NULL OR phone_hash IS NOT NULL)
);
CREATE UNIQUE INDEX persons_phone_key_uq ON persons (phone_hash) WHERE cert_hash IS NULL;
CREATE INDEX persons_phone_hash_ix ON persons (phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX persons_region_ix ON persons (region);

-- Facts reported by departments (DESIGN §3); source/source_ref give lineage
-- (which department, which file or interface).
CREATE TABLE facts (
  id          bigserial PRIMARY KEY,
  person_id   bigint NOT NULL REFERENCES persons (id),
  kind        text NOT NULL,
  at          timestamptz NOT NULL,
  source      text NOT NULL,
  source_ref  text NULL,
  level       text NULL CHECK (level IN ('high', 'medium', 'low')),
  result      text NULL CHECK (result IN ('negative', 'positive')),
  region      text NULL CHECK (region ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
  venue       text NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX facts_person_at_ix ON facts (person_id, at);

-- Current code per person. seq = outbox sequence of the change that produced
-- it (CodeRecord.seq); next_eval_at drives the re-evaluation scheduler.
CREATE TABLE codes (
  person_id    bigint PRIMARY KEY REFERENCES persons (id),
  color        text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
  reason       text NOT NULL,
  since        timestamptz NOT NULL,
  until        timestamptz NULL,
  notices      jsonb NOT NULL DEFAULT '[]',
  rule_version text NULL,
  seq          bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  next_eval_at timestamptz NULL
);
CREATE INDEX codes_next_eval_ix ON codes (next_eval_at) WHERE next_eval_at IS NOT NULL;
CREATE INDEX codes_color_ix ON codes (color) WHERE color <> 'green';

CREATE TABLE code_history (
  id           bigserial PRIMARY KEY,
  person_id    bigint NOT NULL REFERENCES persons (id),
  at           timestamptz NOT NULL DEFAULT now(),
  prev_color   text NULL,
  color        text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
  reason       text NOT NULL,
  since        timestamptz NOT NULL,
  until        timestamptz NULL,
  notices      jsonb NOT NULL DEFAULT '[]',
  rule_version text NULL,
  actor        text NOT NULL,
  seq          bigint NOT NULL
);
CREATE INDEX code_history_person_ix ON code_history (person_id, id);
CREATE TRIGGER code_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON code_history
  FOR EACH STATEMENT EXECUTE FUNCTION hc_append_only();

-- Rule sets are data (DESIGN §3): every version is kept for rollback.
CREATE TABLE rule_versions (
  version      text PRIMARY KEY,
  rule_set     jsonb NOT NULL,
  active_from  timestamptz NOT NULL,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz NULL,
  status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'rolled_back'))
);

-- GB/T 2260 regions down to street (6, 9 or 12 digits) with a risk level.
CREATE TABLE risk_areas (
  region     text PRIMARY KEY CHECK (region ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
  level      text NOT NULL CHECK (level IN ('high', 'medium', 'low')),
  since      timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Place codes. Fuzzy search for tracing uses ILIKE over name (a sequential
-- scan of 5.2M short rows); a pg_trgm GIN index is a later, optional
-- migration where the server has the extension.
CREATE TABLE venues (
  id               text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  name             text NOT NULL,
  region           text NOT NULL CHECK (region ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
  kind             text NOT NULL CHECK (kind IN ('normal', 'entry')),
  entry_test_hours integer NULL CHECK (entry_test_hours > 0),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'entry') = (entry_test_hours IS NOT NULL))
);
CREATE INDEX venues_region_ix ON venues (region);

-- Outbox (DESIGN §6). seq is gap-free: it comes from the single row of
-- outbox_counter, incremented in the writer's transaction. That row lock is
-- held until commit, so writers commit in seq order and a reader that has
-- seen seq n never later finds an uncommitted n-1 appear; a rolled-back
-- writer's increment rolls back too. A SEQUENCE would leave a gap on every
-- rollback (sequences are non-transactional, PostgreSQL docs §9.17).
-- payload = core encodeVersioned() of the delta without its seq (format
-- byte + msgpack, so uids stay bytes); the seq is the row's.
CREATE TABLE outbox_counter (
  id  boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq bigint NOT NULL CHECK (seq >= 0)
);
INSERT INTO outbox_counter (id, seq) VALUES (true, 0);

CREATE TABLE outbox (
  seq        bigint PRIMARY KEY CHECK (seq > 0),
  type       text NOT NULL CHECK (type IN ('code', 'venue', 'risk_area', 'rules', 'keys', 'noop')),
  payload    bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Scan events from the edges, one partition per day (UTC+8 days, created
-- ahead by MasterStore.ensureScanPartitions). id is the edge-assigned event
-- id: the primary key must contain the partition key, so exactly-once holds
-- for a resent event with the same id and time — which a spool resend is.
-- color is the TF1 colour byte (0 green, 1 yellow, 2 red): 43M rows a day.
CREATE TABLE scans (
  id          text NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
  at          timestamptz NOT NULL,
  uid         bytea NOT NULL CHECK (octet_length(uid) = 16),
  venue_id    text NULL,
  kind        text NOT NULL CHECK (kind IN ('scan', 'verify')),
  node        text NOT NULL,
  color       smallint NOT NULL CHECK (color BETWEEN 0 AND 2),
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX scans_venue_at_ix ON scans (venue_id, at);
CREATE INDEX scans_uid_at_ix ON scans (uid, at);

-- Tamper-evident audit log: hash = H(prev_hash ‖ entry), computed by the app.
-- audit_head is the chain's single head row: a writer locks it (SELECT … FOR
-- UPDATE), appends seq+1 with prev_hash = head.hash, and moves the head, so
-- concurrent writers cannot fork the chain.
CREATE TABLE audit_log (
  seq           bigint PRIMARY KEY CHECK (seq > 0),
  at            timestamptz NOT NULL,
  actor         text NOT NULL,
  role          text NOT NULL,
  action        text NOT NULL,
  target_masked text NULL,
  from_addr     text NULL,
  outcome       text NOT NULL,
  details       jsonb NOT NULL DEFAULT '{}',
  prev_hash     bytea NOT NULL,
  hash          bytea NOT NULL UNIQUE
);
CREATE INDEX audit_log_at_ix ON audit_log (at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION hc_append_only();
CREATE TABLE audit_head (
  id   boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq  bigint NOT NULL,
  hash bytea NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (true, 0, decode(repeat('00', 32), 'hex'));

-- Back-office accounts. password_hash is an argon2id PHC string;
-- region_prefix '' = whole province, '5101' = one city.
CREATE TABLE admin_users (
  username        text PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 64),
  password_hash   text NOT NULL,
  role            text NOT NULL,
  region_prefix   text NOT NULL DEFAULT '' CHECK (region_prefix ~ '^[0-9]{0,12}$'),
  failed_attempts integer NOT NULL DEFAULT 0,
  locked_until    timestamptz NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  disabled_at     timestamptz NULL
);

-- Verification keys of the edge nodes (DESIGN §4): kid is the TF1 uint16.
CREATE TABLE node_keys (
  kid        integer PRIMARY KEY CHECK (kid BETWEEN 0 AND 65535),
  node       text NOT NULL,
  alg        text NOT NULL CHECK (alg IN ('Ed25519', 'SM2')),
  public_key bytea NOT NULL,
  not_before timestamptz NOT NULL,
  not_after  timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz NULL,
  CHECK (not_after > not_before)
);
CREATE INDEX node_keys_node_ix ON node_keys (node);
`;

// Version 2: what the code, rule, audit and account services need
// (code-service.ts, rule-versions.ts, audit-log.ts, admin-users.ts).
const V2_SERVICES = `
-- Manual code changes (转码) in force: one row per person, the latest wins.
-- fact_mark = the person's highest facts.id when the change was made: facts
-- recorded later (id > fact_mark) are new information the officer did not
-- see, and may make the code MORE severe (code-service.ts explains the rule).
-- until NULL: in force until cleared. History lives in code_history and the
-- audit log; this table only holds what is in force.
CREATE TABLE code_overrides (
  person_id  bigint PRIMARY KEY REFERENCES persons (id),
  color      text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
  reason     text NOT NULL,
  until      timestamptz NULL,
  fact_mark  bigint NOT NULL DEFAULT 0,
  actor      text NOT NULL,
  set_at     timestamptz NOT NULL DEFAULT now()
);

-- Which rule version every code has been re-evaluated with (the sweep after
-- a publish, rollback or staged activation). One row; a sweep runs in chunks,
-- each chunk a transaction that locks this row and moves sweep_cursor, so a
-- crash resumes and two schedulers cooperate instead of doing work twice.
CREATE TABLE rule_state (
  id               boolean PRIMARY KEY DEFAULT true CHECK (id),
  swept_version    text NULL,
  sweep_version    text NULL,
  sweep_cursor     bigint NOT NULL DEFAULT 0,
  sweep_started_at timestamptz NULL
);
INSERT INTO rule_state (id) VALUES (true);

-- Every publish and rollback, append-only: what went live when, by whom,
-- under which outbox sequence.
CREATE TABLE rule_publications (
  id          bigserial PRIMARY KEY,
  version     text NOT NULL REFERENCES rule_versions (version),
  action      text NOT NULL CHECK (action IN ('publish', 'rollback')),
  active_from timestamptz NOT NULL,
  actor       text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  seq         bigint NOT NULL
);
CREATE TRIGGER rule_publications_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON rule_publications
  FOR EACH STATEMENT EXECUTE FUNCTION hc_append_only();
CREATE INDEX rule_versions_published_ix ON rule_versions (active_from DESC, published_at DESC) WHERE status = 'published';

-- Audit log filters (list by actor or action, newest first).
CREATE INDEX audit_log_actor_ix ON audit_log (actor, seq);
CREATE INDEX audit_log_action_ix ON audit_log (action, seq);

-- Known roles only (admin-users.ts ROLES).
ALTER TABLE admin_users ADD CONSTRAINT admin_users_role_ck
  CHECK (role IN ('admin', 'operator', 'analyst', 'city_officer', 'auditor'));
`;

// Version 3: what the capability folders share (issues 10–16).
const V3_CAPABILITIES = `
-- Two more back-office roles (admin-api/roles.ts): security (安全管理员) and
-- hotline (热线坐席).
ALTER TABLE admin_users DROP CONSTRAINT admin_users_role_ck;
ALTER TABLE admin_users ADD CONSTRAINT admin_users_role_ck
  CHECK (role IN ('admin', 'operator', 'analyst', 'city_officer', 'auditor', 'security', 'hotline'));

-- Alert events (master/alert-events.ts): any capability that sees something an
-- operator must hear about (an import over its reject threshold, a log-audit
-- correlation hit, an overdue appeal) appends a row here IN THE SAME
-- TRANSACTION as what caused it, so the event is exactly as durable as the
-- cause. The alerting capability reads them in id order (its own cursor),
-- applies its rules (grouping, silences, SMS) and never deletes them.
-- summary is Chinese, one line, and never carries a certificate number,
-- phone or full name; details is machine-readable (counts, ids, links).
CREATE TABLE alert_events (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  source    text NOT NULL CHECK (source ~ '^[a-z][a-z0-9-]{0,31}$'),
  kind      text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  severity  text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  key       text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
  summary   text NOT NULL CHECK (length(summary) BETWEEN 1 AND 500),
  details   jsonb NOT NULL DEFAULT '{}',
  region    text NULL CHECK (region ~ '^[0-9]{2,12}$')
);
CREATE INDEX alert_events_at_ix ON alert_events (at);
CREATE TRIGGER alert_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON alert_events
  FOR EACH STATEMENT EXECUTE FUNCTION hc_append_only();
`;

// Version 4: travel data the capabilities share (issues 10, 11, 16). The data
// exchange (exchange/) writes them from its arrival / travel / carrier
// datasets; tracing (co-travel, 同乘) and citizen services (行程卡) read them.
// source/source_ref give lineage like facts: 'import:<dataset>', '<batch>:<row>'.
const V4_TRAVEL = `
-- One leg of a journey on public transport: who (person_id), which vehicle
-- (mode + number, e.g. train G1234, flight CA1501), which day (China date),
-- where from / to (GB/T 2260), and the seat or carriage when known.
CREATE TABLE travel_segments (
  id          bigserial PRIMARY KEY,
  person_id   bigint NOT NULL REFERENCES persons (id),
  mode        text NOT NULL CHECK (mode IN ('train', 'flight', 'bus', 'ship', 'car', 'other')),
  number      text NOT NULL CHECK (length(number) BETWEEN 1 AND 32),
  travel_date date NOT NULL,
  seat        text NULL CHECK (length(seat) <= 32),
  from_region text NULL CHECK (from_region ~ '^[0-9]{6}$'),
  to_region   text NULL CHECK (to_region ~ '^[0-9]{6}$'),
  depart_at   timestamptz NULL,
  arrive_at   timestamptz NULL,
  source      text NOT NULL,
  source_ref  text NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX travel_segments_vehicle_ix ON travel_segments (mode, number, travel_date);
CREATE INDEX travel_segments_person_ix ON travel_segments (person_id, travel_date);

-- Carrier stays (行程卡): the cities a phone number stayed in, one row per
-- phone, city and China day, as the carriers report them. Keyed by the
-- person's phone_hash (persons.phone_hash: HMAC of the number), never the
-- number itself.
CREATE TABLE carrier_stays (
  id          bigserial PRIMARY KEY,
  phone_hash  bytea NOT NULL,
  carrier     text NOT NULL CHECK (length(carrier) BETWEEN 1 AND 32),
  region      text NOT NULL CHECK (region ~ '^[0-9]{4}([0-9]{2})?$'),
  day         date NOT NULL,
  source      text NOT NULL,
  source_ref  text NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (phone_hash, region, day)
);
CREATE INDEX carrier_stays_day_ix ON carrier_stays (day);
`;

// Issue 15 item 4: 停用 keeps the venue (its name stays on old scans, tracing
// finds it, 恢复启用 brings back the same place code) instead of deleting it.
// A disabled venue is not on the edges (a delete delta; the snapshot leaves it
// out), so a scan of it is refused there like an unknown place code.
const V5_VENUE_DISABLED = `
ALTER TABLE venues ADD COLUMN disabled_at timestamptz NULL;
`;

/** Append only. Never edit an entry once released: add a new version. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'initial', sql: V1_INITIAL },
  { version: 2, name: 'services', sql: V2_SERVICES },
  { version: 3, name: 'capabilities', sql: V3_CAPABILITIES },
  { version: 4, name: 'travel', sql: V4_TRAVEL },
  { version: 5, name: 'venue-disabled', sql: V5_VENUE_DISABLED },
]);

export function migrationChecksum(m: Migration): string {
  return createHash('sha256').update(m.sql, 'utf8').digest('hex');
}

export interface MigrateResult {
  /** versions applied by this call */
  readonly applied: readonly number[];
  /** schema version after the call */
  readonly version: number;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws unless `list` is 1, 2, 3, … with unique names. */
function checkList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new TypeError(`migration #${i} has version ${m.version}, expected ${i + 1}`);
  });
}

function verifyApplied(applied: readonly AppliedRow[], list: readonly Migration[]): void {
  for (const row of applied) {
    const m = list[row.version - 1];
    if (m === undefined) {
      throw new MasterError(
        'MASTER_ERR_SCHEMA_NEWER',
        `database is at version ${applied[applied.length - 1]!.version} (${row.name}), this build knows up to ${list.length}`,
      );
    }
    if (row.name !== m.name || row.checksum !== migrationChecksum(m)) {
      throw new MasterError('MASTER_ERR_MIGRATION_CHANGED', `version ${row.version} (${row.name}) was applied with other SQL`);
    }
  }
}

async function lockAndRead(tx: SqlClient, table: string): Promise<AppliedRow[]> {
  await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
  const r = await tx.query<AppliedRow>(`SELECT version, name, checksum FROM ${table} ORDER BY version`);
  return r.rows;
}

/**
 * Brings the schema up to the last of `list` (default: MIGRATIONS). Safe to
 * call at every start and from several processes at once. `table` is the
 * bookkeeping table (tests use their own to try failing migrations).
 */
export async function runMigrations(
  db: SqlClient,
  list: readonly Migration[] = MIGRATIONS,
  table = 'schema_migrations',
): Promise<MigrateResult> {
  checkList(list);
  if (!TABLE_NAME.test(table)) throw new TypeError(`bad migrations table name ${table}`);
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${table} (
         version    integer PRIMARY KEY,
         name       text NOT NULL,
         checksum   text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    verifyApplied(await lockAndRead(tx, table), list);
  });
  const applied: number[] = [];
  for (const m of list) {
    const done = await db.transaction(async (tx) => {
      const rows = await lockAndRead(tx, table);
      verifyApplied(rows, list);
      if (rows.some((r) => r.version === m.version)) return false; // applied meanwhile by another process
      try {
        await tx.exec(m.sql);
      } catch (err) {
        if (err instanceof MasterError) throw err;
        const out = new MasterError('MASTER_ERR_MIGRATION_FAILED', `version ${m.version} (${m.name}): ${(err as Error).message}`);
        (out as Error).cause = err;
        throw out;
      }
      await tx.query(`INSERT INTO ${table} (version, name, checksum) VALUES ($1, $2, $3)`, [
        m.version,
        m.name,
        migrationChecksum(m),
      ]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return { applied, version: list.length };
}
