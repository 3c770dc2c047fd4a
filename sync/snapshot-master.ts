import { checkCodeRecord, type CodeRecord, type RiskArea, type Venue } from '../core/code-record.js';
import { KeySet } from '../core/key-set.js';
import type { AlgName, PublicKeyInfo } from '../core/signing-key.js';
import type { SqlClient } from '../master/sql-client.js';

/**
 * The master's state at ONE outbox sequence, for the snapshot builder
 * (sync/snapshot.ts, DESIGN §6 "builds compacted snapshots at a known
 * sequence").
 *
 * Consistency: everything is read inside one REPEATABLE READ, READ ONLY
 * transaction, and the sequence is read INSIDE it (`outbox_counter`). Every
 * change writes its outbox row in the same transaction as the change
 * (master/store.ts), so the rows this transaction sees are exactly the
 * changes with seq ≤ that sequence: the state equals "deltas 1..seq applied".
 * PostgreSQL's REPEATABLE READ is snapshot isolation (PostgreSQL docs §13.2.2):
 * writers are never blocked by it. PGlite has one connection and its
 * transactions hold a mutex, so there the read is trivially consistent but
 * delays writes for its duration (≈ 2.7 s for the 100k-person demo, 19 s
 * for 1M, measured here; the embedded stack builds from the master once,
 * then snapshots its follower replica — see snapshot.ts).
 *
 * Codes are read in pages by uid (keyset pagination on persons.uid's unique
 * index): ascending uid is the order LMDB bulk loads fastest (FACTS,
 * bench/build-replica.ts: sorted loads are 4× faster and 3× smaller), and
 * bytea compares bytewise in PostgreSQL as LMDB compares binary keys. A page
 * is handed to the caller while the transaction stays open, so memory is one
 * page, not the province. Times come back as epoch integers from SQL: pg
 * parsing timestamptz into Date costs ~40 % of the read (measured on a
 * single table: 1M rows 4.8 s with Dates, 3.0 s with epochs).
 *
 * The SQL lives here, beside the one other sync-side reader of the master
 * (outbox-master.ts), rather than in master/store.ts: it is the snapshot's
 * definition of "what an edge holds", and must change with the replica
 * layout, not with the back office.
 */
export interface MasterHead {
  /** outbox sequence the state is at */
  readonly seq: number;
  readonly venues: readonly Venue[];
  readonly riskAreas: readonly RiskArea[];
  readonly rules: readonly RuleEntry[];
  /** `{ keys: PublicKeyInfo[] }` as the `keys` delta carries it */
  readonly keys: { keys: PublicKeyInfo[] };
}

export interface RuleEntry {
  readonly version: string;
  readonly activeFrom: number;
  readonly ruleSet: unknown;
}

export type CodePage = readonly (readonly [Buffer, CodeRecord])[];

/** Rows per code page: ~10 MB of pg result objects, one LMDB bulk transaction's worth. */
export const CODE_PAGE = 50_000;

interface CodeRow {
  uid: Buffer;
  color: string;
  reason: string;
  since: number;
  until: number | null;
  notices: string | null;
  name: string;
  seq: number;
}

const CODES_SQL = `SELECT p.uid, c.color, c.reason,
    extract(epoch FROM c.since)::bigint AS since,
    extract(epoch FROM c.until)::bigint AS until,
    CASE WHEN c.notices = '[]'::jsonb THEN NULL ELSE c.notices::text END AS notices,
    p.name_masked AS name, c.seq
  FROM persons p JOIN codes c ON c.person_id = p.id
  WHERE p.uid > $1 ORDER BY p.uid LIMIT $2`;

const NO_NOTICES: readonly never[] = Object.freeze([]);

/**
 * The record exactly as a `code` delta carries it: checkCodeRecord fixes the
 * field order, so a replica built from a snapshot and one built from deltas
 * hold byte-identical values (ReplicaWriter.loadSnapshot compares bytes).
 */
function toRecord(r: CodeRow): CodeRecord {
  return checkCodeRecord(
    {
      color: r.color,
      reason: r.reason,
      since: r.since,
      until: r.until,
      name: r.name,
      notices: r.notices === null ? NO_NOTICES : (JSON.parse(r.notices) as unknown[]),
      seq: r.seq,
    },
    'master code',
  );
}

/**
 * Reads the master's state at one sequence. `onCodes` gets the codes in
 * ascending uid pages while the transaction is open (it may be synchronous
 * LMDB work); the rest comes back at the end.
 */
export async function readMasterState(db: SqlClient, onCodes: (page: CodePage) => void | Promise<void>, pageSize = CODE_PAGE): Promise<MasterHead> {
  return db.transaction(async (tx) => {
    // Must be the transaction's first statement (PostgreSQL docs, SET TRANSACTION).
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const seq = (await tx.query<{ seq: number }>('SELECT seq FROM outbox_counter')).rows[0]!.seq;
    let after: Buffer = Buffer.alloc(0);
    for (;;) {
      const r = await tx.query<CodeRow>(CODES_SQL, [after, pageSize]);
      if (r.rows.length === 0) break;
      const page: (readonly [Buffer, CodeRecord])[] = new Array(r.rows.length);
      for (let i = 0; i < r.rows.length; i++) page[i] = [r.rows[i]!.uid, toRecord(r.rows[i]!)];
      await onCodes(page);
      if (r.rows.length < pageSize) break;
      after = r.rows[r.rows.length - 1]!.uid;
    }
    const venues = (
      await tx.query<{ id: string; name: string; region: string; kind: Venue['kind']; entry_test_hours: number | null }>(
        'SELECT id, name, region, kind, entry_test_hours FROM venues WHERE disabled_at IS NULL ORDER BY id', // 停用: not on the edges
      )
    ).rows.map((v) => ({ id: v.id, name: v.name, region: v.region, kind: v.kind, entryTestHours: v.entry_test_hours }));
    const riskAreas = (
      await tx.query<{ region: string; level: RiskArea['level']; since: number }>(
        'SELECT region, level, extract(epoch FROM since)::bigint AS since FROM risk_areas ORDER BY region',
      )
    ).rows.map((a) => ({ region: a.region, level: a.level, since: a.since }));
    const rules = await readRules(tx);
    const keys = await readKeys(tx);
    return { seq, venues, riskAreas, rules, keys };
  });
}

/**
 * Every rule version that was ever published, as its last `rules` delta
 * carried it (a replica keeps every version it was sent; the edge picks the
 * one in force by activeFrom, master/active-rules.ts).
 */
async function readRules(tx: SqlClient): Promise<RuleEntry[]> {
  const r = await tx.query<{ version: string; active_from: number; rule_set: unknown }>(
    `SELECT version, extract(epoch FROM active_from)::bigint AS active_from, rule_set
       FROM rule_versions WHERE published_at IS NOT NULL ORDER BY version`,
  );
  return r.rows.map((x) => ({ version: x.version, activeFrom: x.active_from, ruleSet: x.rule_set }));
}

/**
 * The published key set of all nodes: every key not retired, built exactly
 * as master/node-keys-registry.ts builds the `keys` delta (KeySet, by kid).
 */
async function readKeys(tx: SqlClient): Promise<{ keys: PublicKeyInfo[] }> {
  const r = await tx.query<{ kid: number; alg: AlgName; public_key: Buffer; not_before: number; not_after: number }>(
    `SELECT kid, alg, public_key, extract(epoch FROM not_before)::bigint AS not_before,
            extract(epoch FROM not_after)::bigint AS not_after
       FROM node_keys WHERE retired_at IS NULL ORDER BY kid`,
  );
  return new KeySet(
    r.rows.map((k) => ({ kid: k.kid, alg: k.alg, publicKey: k.public_key.toString('base64url'), notBefore: k.not_before, notAfter: k.not_after })),
  ).toPublicJson();
}
