import type { Migration } from '../master/migrations.js';

/**
 * The log audit system's own tables (bookkeeping in logaudit_migrations).
 * Events themselves are not in the database: they live in the signed day
 * files of store.ts (tens of thousands a second would swamp the master);
 * the database holds what people manage — devices, saved queries — and
 * the collectors' health, next to the master's alert_events it raises into.
 */
export const LOGAUDIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'assets',
    sql: `CREATE TABLE logaudit_assets (
      ip text PRIMARY KEY,
      host_name text,
      name text,
      owner text,
      device_type text,
      region text,
      dataset text NOT NULL DEFAULT 'unknown',
      vendor text,
      product text,
      first_seen timestamptz NOT NULL,
      last_seen timestamptz NOT NULL,
      events bigint NOT NULL DEFAULT 0,
      silent boolean NOT NULL DEFAULT false
    )`,
  },
  {
    version: 2,
    name: 'saved-queries',
    sql: `CREATE TABLE logaudit_saved_queries (
      id serial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      query text NOT NULL,
      range_hours integer NOT NULL DEFAULT 24,
      owner text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
  {
    version: 3,
    name: 'collectors',
    sql: `CREATE TABLE logaudit_collectors (
      id text PRIMARY KEY,
      remote text NOT NULL DEFAULT '',
      connected boolean NOT NULL DEFAULT false,
      last_seen timestamptz NOT NULL,
      batches bigint NOT NULL DEFAULT 0,
      events bigint NOT NULL DEFAULT 0,
      backlog_bytes bigint NOT NULL DEFAULT 0
    )`,
  },
  {
    version: 4,
    name: 'audit-feed',
    // the back office's own audit trail as log lines (decoders/healthcode.yaml reads them):
    // LOGAUDIT_DB_POLL=logaudit_audit_feed:seq:line:healthcode-audit; identities are already masked in audit_log
    sql: `CREATE VIEW logaudit_audit_feed AS
      SELECT seq, format('{"seq":%s,"actor":%s,"action":%s,"outcome":%s,"ip":%s}', seq, to_json(actor), to_json(action), to_json(outcome), to_json(COALESCE(from_addr, ''))) AS line
        FROM audit_log`,
  },
];
