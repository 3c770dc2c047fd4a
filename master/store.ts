import { COLORS, colorByte, encodeVersioned, type CodeRecord, type Color, type Notice, type RiskArea, type Venue } from '../core/code-record.js';
import type { Delta } from '../core/delta.js';
import { maskName, normalisePhone, personKey, uidOf, type IdType } from '../core/identity.js';
import { MasterError } from './errors.js';
import { sameName } from './name-match.js';
import { runMigrations, type MigrateResult } from './migrations.js';
import { PiiCrypto, type Secrets } from './pii-crypto.js';
import { personColumns } from './person-columns.js';
import type { SqlClient } from './sql-client.js';
import type { PersonInput, UpsertPersonResult, PersonRow, RevealedPerson, CodeVerdict, CodeRow, SetCodeResult, DeltaInput, ChangeResult, ScanKind, ScanEvent, InsertScansResult, DueRow, MasterStoreOptions } from './store-types.js';
import { REGION6, REGION_ANY, DAY, DAY_OFFSET, MIN_SCAN_AT, MAX_SCAN_AHEAD, SCAN_CHUNK, OUTBOX_CHUNK, OUTBOX_BULK_CHUNK, bad, given, isSeconds, toDate, toSeconds, toSecondsOrNull, checkText, checkNotices, sameNotices, checkVenueInput, checkRiskAreaInput, toDelta } from './store-checks.js';
import { dayOf, dayLabel, PARTITION_NAME, partitionDay } from './scan-days.js';
export type { PersonInput, UpsertPersonResult, PersonRow, RevealedPerson, CodeVerdict, CodeRow, SetCodeResult, DeltaInput, ChangeResult, ScanKind, ScanEvent, InsertScansResult, DueRow, MasterStoreOptions } from './store-types.js';
/**
 * The master's one data-access layer (DESIGN §1, §6), used by admin-api and
 * the sync publisher. The same SQL runs on PostgreSQL and PGlite through
 * SqlClient. Rules it keeps:
 *
 * - Every change that edges must see (codes, venues, risk areas, …) writes
 *   its outbox row in the same transaction (`appendOutbox`), so a delta exists
 *   exactly when its change committed.
 * - Identity is stored only as uid, keyed hashes and AES-GCM ciphertext
 *   (pii-crypto.ts); plaintext never reaches SQL, not even as a parameter.
 * - Times cross this API as unix seconds (like CodeRecord) and are stored as
 *   timestamptz.
 *
 * Methods run in their own transaction, or inside the caller's when the
 * store is the one handed out by `transaction()` (then they compose: one
 * failure rolls back everything).
 */

interface PersonDbRow {
  id: number;
  uid: Buffer;
  cert_type: IdType | null;
  name_masked: string;
  region: string | null;
  cert_enc: Buffer | null;
  phone_enc: Buffer | null;
  name_enc: Buffer | null;
  created_at: Date;
}

const PERSON_COLUMNS = 'id, uid, cert_type, name_masked, region, cert_enc, phone_enc, name_enc, created_at';

function toPerson(r: PersonDbRow): PersonRow {
  return {
    id: r.id,
    uid: r.uid,
    certType: r.cert_type,
    nameMasked: r.name_masked,
    region: r.region,
    certEnc: r.cert_enc,
    phoneEnc: r.phone_enc,
    nameEnc: r.name_enc,
    createdAt: r.created_at,
  };
}

interface Shared {
  readonly crypto: PiiCrypto;
  readonly secrets: Secrets;
  readonly now: () => number;
  readonly scanDaysAhead: number;
  /** day indices whose scan partition is known to exist */
  readonly scanDays: Set<number>;
}

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

export class MasterStore {
  readonly db: SqlClient;
  private readonly s: Shared;

  constructor(db: SqlClient, secrets: Secrets, opts: MasterStoreOptions = {}) {
    this.db = db;
    this.s = {
      crypto: new PiiCrypto(secrets),
      secrets,
      now: opts.now ?? Date.now,
      scanDaysAhead: opts.scanDaysAhead ?? 7,
      scanDays: new Set(),
    };
  }

  private static bound(db: SqlClient, shared: Shared): MasterStore {
    const store = Object.create(MasterStore.prototype) as MasterStore;
    (store as { db: SqlClient }).db = db;
    (store as unknown as { s: Shared }).s = shared;
    return store;
  }

  private nowSeconds(): number {
    return Math.floor(this.s.now() / 1000);
  }

  /** The store's clock, unix milliseconds (tests pin it): services built on the store read time here. */
  nowMs(): number {
    return this.s.now();
  }

  /** Runs `fn` with a store bound to one transaction: its methods commit or roll back together. */
  transaction<T>(fn: (store: MasterStore) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(MasterStore.bound(tx, this.s)));
  }

  /** Own transaction, or the caller's when this store is already bound to one. */
  private inTx<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return this.db.inTransaction ? fn(this.db) : this.db.transaction(fn);
  }

  /** Applies pending migrations, then makes sure scan partitions exist from yesterday to `scanDaysAhead` days ahead. */
  async migrate(): Promise<MigrateResult> {
    const result = await runMigrations(this.db);
    const now = this.nowSeconds();
    await this.ensureScanPartitions(now - DAY, now + this.s.scanDaysAhead * DAY);
    return result;
  }

  // -------------------------------------------------------------------------
  // Persons
  // -------------------------------------------------------------------------

  /**
   * Registers a person or updates what is known of them, keyed by the uid of
   * their person key (certificate, else phone: DESIGN §2). Given fields
   * replace stored ones; absent fields are kept. Bad identities throw
   * core's CORE_ERR_* (400) naming the field.
   *
   * `opts.nameMustMatch` (citizen login, issue 15 item 7): the name is a
   * claim to check, not a value to store. An existing person whose stored
   * name differs (name-match.ts: NFKC, whitespace, case) is refused with
   * MASTER_ERR_NAME_MISMATCH and NOTHING is written (the statement runs in
   * a transaction the error rolls back); a matching or first login keeps or
   * sets the name. Why: the identity provider vouches that this citizen holds
   * the certificate, not that the register's name is wrong; a rename is an
   * official's action, and a silent one here never reached the edges (the
   * masked name travels with code deltas, and a login writes none).
   */
  async upsertPerson(input: PersonInput, opts: { nameMustMatch?: boolean } = {}): Promise<UpsertPersonResult> {
    const now = new Date(this.s.now());
    const key = personKey(input, now);
    const uid = uidOf(key, this.s.secrets.uidPepper);
    const c = this.s.crypto;
    const phoneGiven = given(input.phone) && key.startsWith('C:') ? normalisePhone(input.phone) : null;
    const cols = personColumns(key, uid, c, { phone: phoneGiven, name: given(input.name) ? input.name : null });
    const { certType, certHash, certEnc, phoneHash, phoneEnc, nameEnc } = cols;
    let nameMasked = cols.nameMasked;
    if (nameMasked === null && input.nameMasked !== undefined) nameMasked = checkText('nameMasked', input.nameMasked, 100);
    let region = cols.region;
    if (input.region !== undefined) {
      if (typeof input.region !== 'string' || !REGION6.test(input.region)) throw bad('region', 'must be a 6-digit GB/T 2260 code');
      region = input.region;
    }

    // (xmax = 0) is true for a freshly inserted row and false for one the
    // ON CONFLICT branch updated: the usual PostgreSQL idiom (works on 9.5+).
    // With $10 (nameMustMatch) a stored name is never overwritten — even by
    // a login racing this one — and RETURNING hands back the name now stored
    // to compare inside the same transaction.
    const keepName = opts.nameMustMatch === true;
    const run = async (db: SqlClient): Promise<UpsertPersonResult> => {
      const r = await db.query<{ id: number; created: boolean; name_enc: Uint8Array | null }>(
        `INSERT INTO persons (uid, cert_type, cert_hash, cert_enc, phone_hash, phone_enc, name_enc, name_masked, region)
         VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8::text, ''), $9)
         ON CONFLICT (uid) DO UPDATE SET
           phone_hash  = COALESCE(EXCLUDED.phone_hash, persons.phone_hash),
           phone_enc   = COALESCE(EXCLUDED.phone_enc, persons.phone_enc),
           name_enc    = CASE WHEN $10::boolean THEN COALESCE(persons.name_enc, EXCLUDED.name_enc)
                              ELSE COALESCE(EXCLUDED.name_enc, persons.name_enc) END,
           name_masked = CASE WHEN $8::text IS NULL OR ($10::boolean AND persons.name_enc IS NOT NULL) THEN persons.name_masked
                              ELSE EXCLUDED.name_masked END,
           region      = COALESCE(EXCLUDED.region, persons.region),
           updated_at  = now()
         RETURNING id, (xmax = 0) AS created, name_enc`,
        [uid, certType, certHash, certEnc, phoneHash, phoneEnc, nameEnc, nameMasked, region, keepName],
      );
      const row = r.rows[0]!;
      if (keepName && !row.created && given(input.name) && row.name_enc !== null
        && !sameName(input.name, c.decrypt('name', uid, row.name_enc))) {
        // The message names neither the stored nor the given name (DESIGN §2: no full name in logs or answers).
        throw new MasterError('MASTER_ERR_NAME_MISMATCH', 'certificate login with a name other than the registered one');
      }
      return { personId: row.id, uid, created: row.created };
    };
    return keepName ? this.inTx(run) : run(this.db);
  }

  /**
   * An official's rename (issue 15 item 7: a legal name change, from
   * documents; a citizen login never renames). The encrypted name and the
   * masked one change in one transaction with, when the person has a code
   * and the masked name differs, a `code` delta carrying the same code with
   * the new masked name — that is how a name reaches every edge (DESIGN §6;
   * the edge record format is unchanged). No code_history row: the code did
   * not change. The same name (after NFKC and trimming) changes nothing.
   */
  async renamePerson(personId: number, name: string): Promise<{ changed: boolean; seq: number | null; oldMasked: string; nameMasked: string }> {
    const clean = checkText('name', typeof name === 'string' ? name.normalize('NFKC').trim() : name, 64);
    const nameMasked = maskName(clean);
    return this.inTx(async (tx) => {
      const cur = await tx.query<{
        uid: Buffer; name_enc: Buffer | null; name_masked: string; color: Color | null; reason: string | null;
        since: Date | null; until: Date | null; notices: Notice[] | null;
      }>(
        `SELECT p.uid, p.name_enc, p.name_masked, c.color, c.reason, c.since, c.until, c.notices
           FROM persons p LEFT JOIN codes c ON c.person_id = p.id WHERE p.id = $1 FOR UPDATE OF p`,
        [personId],
      );
      if (cur.rows.length === 0) throw new MasterError('MASTER_ERR_PERSON_NOT_FOUND', `person ${personId}`);
      const old = cur.rows[0]!;
      const c = this.s.crypto;
      if (old.name_enc !== null && c.decrypt('name', old.uid, old.name_enc) === clean) {
        return { changed: false, seq: null, oldMasked: old.name_masked, nameMasked };
      }
      await tx.query('UPDATE persons SET name_enc = $2, name_masked = $3, updated_at = now() WHERE id = $1', [
        personId, c.encrypt('name', old.uid, clean), nameMasked,
      ]);
      if (old.color === null || old.name_masked === nameMasked) return { changed: true, seq: null, oldMasked: old.name_masked, nameMasked };
      const record: Omit<CodeRecord, 'seq'> = {
        color: old.color, reason: old.reason!, since: toSeconds(old.since!), until: toSecondsOrNull(old.until), name: nameMasked, notices: old.notices!,
      };
      const seq = await this.appendOutbox(tx, { type: 'code', uid: old.uid, record });
      await tx.query('UPDATE codes SET seq = $2, updated_at = now() WHERE person_id = $1', [personId, seq]);
      return { changed: true, seq, oldMasked: old.name_masked, nameMasked };
    });
  }

  async getPerson(personId: number): Promise<PersonRow | null> {
    const r = await this.db.query<PersonDbRow>(`SELECT ${PERSON_COLUMNS} FROM persons WHERE id = $1`, [personId]);
    return r.rows.length === 0 ? null : toPerson(r.rows[0]!);
  }

  async getPersonByUid(uid: Uint8Array): Promise<PersonRow | null> {
    const r = await this.db.query<PersonDbRow>(`SELECT ${PERSON_COLUMNS} FROM persons WHERE uid = $1`, [uid]);
    return r.rows.length === 0 ? null : toPerson(r.rows[0]!);
  }

  /** Exact look-up by certificate (normalised like registration: 'x' → 'X', full-width digits, 15 → 18). */
  async findPersonByCertificate(idType: string, idNo: string): Promise<PersonRow | null> {
    const key = personKey({ idType, idNo }, new Date(this.s.now()));
    const r = await this.db.query<PersonDbRow>(`SELECT ${PERSON_COLUMNS} FROM persons WHERE cert_hash = $1`, [
      this.s.crypto.lookupHash(key),
    ]);
    return r.rows.length === 0 ? null : toPerson(r.rows[0]!);
  }

  /**
   * Everyone registered with this mobile number: the person keyed by it (no
   * certificate) first, then certificate holders who gave it, oldest first.
   */
  async findPersonsByPhone(phone: string): Promise<PersonRow[]> {
    const p = normalisePhone(phone);
    const r = await this.db.query<PersonDbRow>(
      `SELECT ${PERSON_COLUMNS} FROM persons WHERE phone_hash = $1 ORDER BY (cert_hash IS NULL) DESC, id`,
      [this.s.crypto.lookupHash(`P:${p}`)],
    );
    return r.rows.map(toPerson);
  }

  /** Decrypts a person's identity (back-office look-up with permission; never for logs). */
  revealPerson(p: PersonRow): RevealedPerson {
    const c = this.s.crypto;
    return {
      certificate: p.certEnc === null || p.certType === null ? null : { type: p.certType, number: c.decrypt('cert', p.uid, p.certEnc) },
      phone: p.phoneEnc === null ? null : c.decrypt('phone', p.uid, p.phoneEnc),
      name: p.nameEnc === null ? null : c.decrypt('name', p.uid, p.nameEnc),
    };
  }

  // -------------------------------------------------------------------------
  // Codes
  // -------------------------------------------------------------------------

  async getCode(personId: number): Promise<CodeRow | null> {
    const r = await this.db.query<{
      person_id: number; uid: Buffer; color: Color; reason: string; since: Date; until: Date | null;
      notices: Notice[]; name_masked: string; rule_version: string | null; seq: number; next_eval_at: Date | null;
    }>(
      `SELECT c.person_id, p.uid, c.color, c.reason, c.since, c.until, c.notices, p.name_masked, c.rule_version, c.seq, c.next_eval_at
         FROM codes c JOIN persons p ON p.id = c.person_id WHERE c.person_id = $1`,
      [personId],
    );
    if (r.rows.length === 0) return null;
    const x = r.rows[0]!;
    return {
      personId: x.person_id,
      uid: x.uid,
      color: x.color,
      reason: x.reason,
      since: toSeconds(x.since),
      until: toSecondsOrNull(x.until),
      notices: x.notices,
      name: x.name_masked,
      ruleVersion: x.rule_version,
      seq: x.seq,
      nextEvalAt: toSecondsOrNull(x.next_eval_at),
    };
  }

  /**
   * Sets a person's code: `codes`, an append-only `code_history` row and the
   * outbox delta, in one transaction. A verdict equal to the current code
   * only moves `next_eval_at` / `rule_version` (no history, no delta), so the
   * scheduler can re-evaluate freely. Locks the person row first and takes
   * the outbox sequence last, like every writer here (one lock order, no
   * deadlocks).
   */
  async setCode(personId: number, verdict: CodeVerdict, ruleVersion: string | null, actor: string): Promise<SetCodeResult> {
    if (typeof verdict !== 'object' || verdict === null) throw bad('verdict', 'must be an object');
    if (!COLORS.includes(verdict.color)) throw bad('color', "must be 'green', 'yellow' or 'red'");
    const reason = checkText('reason', verdict.reason);
    if (verdict.until !== null && !isSeconds(verdict.until)) throw bad('until', 'must be unix seconds or null');
    if (verdict.since !== undefined && !isSeconds(verdict.since)) throw bad('since', 'must be unix seconds');
    const nextEvalAt = verdict.nextEvalAt ?? null;
    if (nextEvalAt !== null && !isSeconds(nextEvalAt)) throw bad('nextEvalAt', 'must be unix seconds or null');
    if (ruleVersion !== null) checkText('ruleVersion', ruleVersion);
    checkText('actor', actor, 128);
    const notices = checkNotices(verdict.notices);
    const now = this.nowSeconds();

    return this.inTx(async (tx) => {
      const cur = await tx.query<{
        uid: Buffer; name_masked: string; color: Color | null; reason: string | null; since: Date | null;
        until: Date | null; notices: Notice[] | null; seq: number | null;
      }>(
        `SELECT p.uid, p.name_masked, c.color, c.reason, c.since, c.until, c.notices, c.seq
           FROM persons p LEFT JOIN codes c ON c.person_id = p.id
          WHERE p.id = $1 FOR UPDATE OF p`,
        [personId],
      );
      if (cur.rows.length === 0) throw new MasterError('MASTER_ERR_PERSON_NOT_FOUND', `person ${personId}`);
      const old = cur.rows[0]!;
      const hadCode = old.color !== null;
      const since = verdict.since ?? (hadCode && old.color === verdict.color ? toSeconds(old.since!) : now);
      const body: Omit<CodeRecord, 'seq'> = {
        color: verdict.color,
        reason,
        since,
        until: verdict.until,
        name: old.name_masked,
        notices,
      };
      if (
        hadCode && old.color === body.color && old.reason === body.reason && toSeconds(old.since!) === since &&
        toSecondsOrNull(old.until) === body.until && sameNotices(old.notices!, notices)
      ) {
        await tx.query(
          'UPDATE codes SET rule_version = $2, next_eval_at = $3, updated_at = now() WHERE person_id = $1',
          [personId, ruleVersion, nextEvalAt === null ? null : toDate(nextEvalAt)],
        );
        return { changed: false, seq: old.seq!, record: { ...body, seq: old.seq! } };
      }
      const seq = await this.appendOutbox(tx, { type: 'code', uid: old.uid, record: body });
      const noticesJson = JSON.stringify(notices);
      const untilDate = body.until === null ? null : toDate(body.until);
      await tx.query(
        `INSERT INTO codes (person_id, color, reason, since, until, notices, rule_version, seq, next_eval_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
         ON CONFLICT (person_id) DO UPDATE SET
           color = EXCLUDED.color, reason = EXCLUDED.reason, since = EXCLUDED.since, until = EXCLUDED.until,
           notices = EXCLUDED.notices, rule_version = EXCLUDED.rule_version, seq = EXCLUDED.seq,
           next_eval_at = EXCLUDED.next_eval_at, updated_at = now()`,
        [personId, body.color, reason, toDate(since), untilDate, noticesJson, ruleVersion, seq,
          nextEvalAt === null ? null : toDate(nextEvalAt)],
      );
      await tx.query(
        `INSERT INTO code_history (person_id, prev_color, color, reason, since, until, notices, rule_version, actor, seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)`,
        [personId, old.color, body.color, reason, toDate(since), untilDate, noticesJson, ruleVersion, actor, seq],
      );
      return { changed: true, seq, record: { ...body, seq } };
    });
  }

  /** Persons whose code is due for re-evaluation at `now` (unix seconds), earliest first. */
  async dueForReevaluation(now: number, limit: number): Promise<DueRow[]> {
    if (!isSeconds(now)) throw bad('now', 'must be unix seconds');
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw bad('limit', 'must be 1–100000');
    const r = await this.db.query<{ person_id: number; uid: Buffer; next_eval_at: Date }>(
      `SELECT c.person_id, p.uid, c.next_eval_at FROM codes c JOIN persons p ON p.id = c.person_id
        WHERE c.next_eval_at <= $1 ORDER BY c.next_eval_at, c.person_id LIMIT $2`,
      [toDate(now), limit],
    );
    return r.rows.map((x) => ({ personId: x.person_id, uid: x.uid, nextEvalAt: toSeconds(x.next_eval_at) }));
  }

  // -------------------------------------------------------------------------
  // Outbox
  // -------------------------------------------------------------------------

  /**
   * Appends one delta in the caller's transaction and returns its sequence.
   * The counter row stays locked until that transaction ends, so call it as
   * late as possible in the transaction (it serialises all writers).
   */
  async appendOutbox(tx: SqlClient, delta: DeltaInput): Promise<number> {
    if (!tx.inTransaction) {
      throw new MasterError('MASTER_ERR_TX_MISUSE', 'appendOutbox needs a transaction client: the delta must commit with its change');
    }
    const r = await tx.query<{ seq: number }>(
      `WITH c AS (UPDATE outbox_counter SET seq = seq + 1 RETURNING seq)
       INSERT INTO outbox (seq, type, payload) SELECT c.seq, $1, $2 FROM c RETURNING seq`,
      [delta.type, encodeVersioned(delta)],
    );
    return r.rows[0]!.seq;
  }

  /** Appends many deltas with one counter update; returns their sequences (consecutive). */
  async appendOutboxBatch(tx: SqlClient, deltas: readonly DeltaInput[]): Promise<number[]> {
    if (!tx.inTransaction) {
      throw new MasterError('MASTER_ERR_TX_MISUSE', 'appendOutboxBatch needs a transaction client');
    }
    if (deltas.length === 0) return [];
    const r = await tx.query<{ seq: number }>('UPDATE outbox_counter SET seq = seq + $1 RETURNING seq', [deltas.length]);
    const first = r.rows[0]!.seq - deltas.length + 1;
    for (let off = 0; off < deltas.length; off += OUTBOX_CHUNK) {
      const chunk = deltas.slice(off, off + OUTBOX_CHUNK);
      const values: string[] = [];
      const params: unknown[] = [];
      chunk.forEach((d, i) => {
        values.push(`($${3 * i + 1}::bigint, $${3 * i + 2}::text, $${3 * i + 3}::bytea)`);
        params.push(first + off + i, d.type, encodeVersioned(d));
      });
      await tx.query(`INSERT INTO outbox (seq, type, payload) VALUES ${values.join(', ')}`, params);
    }
    return deltas.map((_, i) => first + i);
  }

  /**
   * appendOutboxBatch for mass changes (a rule publish moving 100k+ codes):
   * same sequences and rows, but each chunk of OUTBOX_BULK_CHUNK rows is ONE
   * statement with ONE json parameter (payloads hex-encoded, decoded by the
   * server) instead of 3 bind parameters per row. Measured on PGlite, 100k
   * code deltas: 0.9 s this way, 3.7 s with 500-row parameter lists.
   */
  async appendOutboxBulk(tx: SqlClient, deltas: readonly DeltaInput[]): Promise<number[]> {
    if (!tx.inTransaction) {
      throw new MasterError('MASTER_ERR_TX_MISUSE', 'appendOutboxBulk needs a transaction client');
    }
    if (deltas.length === 0) return [];
    const r = await tx.query<{ seq: number }>('UPDATE outbox_counter SET seq = seq + $1 RETURNING seq', [deltas.length]);
    const first = r.rows[0]!.seq - deltas.length + 1;
    for (let off = 0; off < deltas.length; off += OUTBOX_BULK_CHUNK) {
      const end = Math.min(deltas.length, off + OUTBOX_BULK_CHUNK);
      const rows: { s: number; t: string; p: string }[] = [];
      for (let i = off; i < end; i++) rows.push({ s: first + i, t: deltas[i]!.type, p: encodeVersioned(deltas[i]).toString('hex') });
      await tx.query(
        `INSERT INTO outbox (seq, type, payload)
         SELECT x.s, x.t, decode(x.p, 'hex') FROM json_to_recordset($1::json) AS x(s bigint, t text, p text)`,
        [JSON.stringify(rows)],
      );
    }
    return deltas.map((_, i) => first + i);
  }

  /**
   * Deltas after `afterSeq`, at most `limit`, dense. Commit order is sequence
   * order (see migrations.ts), so a reader never skips a row that commits
   * later; a hole means rows were deleted and throws MASTER_ERR_OUTBOX_GAP.
   */
  async readOutbox(afterSeq: number, limit: number): Promise<Delta[]> {
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw bad('afterSeq', 'must be a non-negative integer');
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw bad('limit', 'must be 1–100000');
    const r = await this.db.query<{ seq: number; type: string; payload: Buffer }>(
      'SELECT seq, type, payload FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2',
      [afterSeq, limit],
    );
    const out: Delta[] = [];
    let expect = afterSeq + 1;
    for (const row of r.rows) {
      if (row.seq !== expect) throw new MasterError('MASTER_ERR_OUTBOX_GAP', `expected seq ${expect}, found ${row.seq}`);
      out.push(toDelta(row.seq, row.type, row.payload));
      expect++;
    }
    return out;
  }

  /** The last committed sequence (0 before the first change). */
  async maxOutboxSeq(): Promise<number> {
    const r = await this.db.query<{ seq: number }>('SELECT seq FROM outbox_counter');
    return r.rows[0]!.seq;
  }

  // -------------------------------------------------------------------------
  // Venues and risk areas
  // -------------------------------------------------------------------------

  /** Creates or changes a place code; an identical upsert changes nothing and publishes nothing. */
  async upsertVenue(venue: Venue): Promise<ChangeResult> {
    const v = checkVenueInput(venue);
    return this.inTx(async (tx) => {
      const r = await tx.query<{ disabled: boolean }>(
        `INSERT INTO venues (id, name, region, kind, entry_test_hours) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region, kind = EXCLUDED.kind,
           entry_test_hours = EXCLUDED.entry_test_hours, updated_at = now()
         WHERE (venues.name, venues.region, venues.kind, venues.entry_test_hours)
               IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.region, EXCLUDED.kind, EXCLUDED.entry_test_hours)
         RETURNING disabled_at IS NOT NULL AS disabled`,
        [v.id, v.name, v.region, v.kind, v.entryTestHours],
      );
      if (r.rows.length === 0) return { changed: false, seq: null };
      // a disabled venue is not on the edges: an edit waits for 恢复启用 (enableVenue publishes it)
      if (r.rows[0]!.disabled) return { changed: true, seq: null };
      return { changed: true, seq: await this.appendOutbox(tx, { type: 'venue', id: v.id, venue: v }) };
    });
  }

  async removeVenue(id: string): Promise<ChangeResult> {
    checkText('id', id);
    return this.inTx(async (tx) => {
      const r = await tx.query('DELETE FROM venues WHERE id = $1 RETURNING id', [id]);
      if (r.rows.length === 0) return { changed: false, seq: null };
      return { changed: true, seq: await this.appendOutbox(tx, { type: 'venue', id, venue: null }) };
    });
  }

  /**
   * 停用 (issue 15 item 4): the row stays with `disabled_at`, the edges get a
   * delete delta (a scan of it is refused there as an unknown place code).
   * Disabling a disabled or missing venue changes nothing.
   */
  async disableVenue(id: string): Promise<ChangeResult> {
    checkText('id', id);
    return this.inTx(async (tx) => {
      const r = await tx.query('UPDATE venues SET disabled_at = now(), updated_at = now() WHERE id = $1 AND disabled_at IS NULL RETURNING id', [id]);
      if (r.rows.length === 0) return { changed: false, seq: null };
      return { changed: true, seq: await this.appendOutbox(tx, { type: 'venue', id, venue: null }) };
    });
  }

  /** 恢复启用: the same place code back on the edges, as it is now (with any edit made while disabled). */
  async enableVenue(id: string): Promise<ChangeResult> {
    checkText('id', id);
    return this.inTx(async (tx) => {
      const r = await tx.query<{ id: string; name: string; region: string; kind: Venue['kind']; entry_test_hours: number | null }>(
        `UPDATE venues SET disabled_at = NULL, updated_at = now() WHERE id = $1 AND disabled_at IS NOT NULL
         RETURNING id, name, region, kind, entry_test_hours`,
        [id],
      );
      if (r.rows.length === 0) return { changed: false, seq: null };
      const x = r.rows[0]!;
      const venue: Venue = { id: x.id, name: x.name, region: x.region, kind: x.kind, entryTestHours: x.entry_test_hours };
      return { changed: true, seq: await this.appendOutbox(tx, { type: 'venue', id, venue }) };
    });
  }

  /** When the venue was disabled (unix s), null while in service or when there is no such venue. */
  async venueDisabledAt(id: string): Promise<number | null> {
    const r = await this.db.query<{ at: Date | null }>('SELECT disabled_at AS at FROM venues WHERE id = $1', [id]);
    const at = r.rows[0]?.at ?? null;
    return at === null ? null : Math.floor(new Date(at).getTime() / 1000);
  }

  async getVenue(id: string): Promise<Venue | null> {
    const r = await this.db.query<{ id: string; name: string; region: string; kind: Venue['kind']; entry_test_hours: number | null }>(
      'SELECT id, name, region, kind, entry_test_hours FROM venues WHERE id = $1',
      [id],
    );
    if (r.rows.length === 0) return null;
    const x = r.rows[0]!;
    return { id: x.id, name: x.name, region: x.region, kind: x.kind, entryTestHours: x.entry_test_hours };
  }

  /**
   * Fuzzy venue search for tracing: case-insensitive substring of the name
   * (ILIKE, wildcards in the input escaped), optionally within a region
   * prefix. No pg_trgm: see migrations.ts.
   */
  async searchVenues(text: string, opts: { regionPrefix?: string; limit?: number } = {}): Promise<Venue[]> {
    if (typeof text !== 'string' || text.trim().length === 0 || text.length > 100) throw bad('text', 'must be 1–100 characters');
    const limit = opts.limit ?? 50;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw bad('limit', 'must be 1–1000');
    const prefix = opts.regionPrefix ?? '';
    if (!/^[0-9]{0,12}$/.test(prefix)) throw bad('regionPrefix', 'must be up to 12 digits');
    const pattern = '%' + text.trim().replace(/[\\%_]/g, (ch) => '\\' + ch) + '%';
    const r = await this.db.query<{ id: string; name: string; region: string; kind: Venue['kind']; entry_test_hours: number | null }>(
      `SELECT id, name, region, kind, entry_test_hours FROM venues
        WHERE name ILIKE $1 ESCAPE '\\' AND region LIKE $2
        ORDER BY name, id LIMIT $3`,
      [pattern, prefix + '%', limit],
    );
    return r.rows.map((x) => ({ id: x.id, name: x.name, region: x.region, kind: x.kind, entryTestHours: x.entry_test_hours }));
  }

  async upsertRiskArea(area: RiskArea): Promise<ChangeResult> {
    const a = checkRiskAreaInput(area);
    return this.inTx(async (tx) => {
      const r = await tx.query(
        `INSERT INTO risk_areas (region, level, since) VALUES ($1, $2, $3)
         ON CONFLICT (region) DO UPDATE SET level = EXCLUDED.level, since = EXCLUDED.since, updated_at = now()
         WHERE (risk_areas.level, risk_areas.since) IS DISTINCT FROM (EXCLUDED.level, EXCLUDED.since)
         RETURNING region`,
        [a.region, a.level, toDate(a.since)],
      );
      if (r.rows.length === 0) return { changed: false, seq: null };
      return { changed: true, seq: await this.appendOutbox(tx, { type: 'risk_area', region: a.region, area: a }) };
    });
  }

  async removeRiskArea(region: string): Promise<ChangeResult> {
    if (typeof region !== 'string' || !REGION_ANY.test(region)) throw bad('region', 'must be a GB/T 2260 code of 6, 9 or 12 digits');
    return this.inTx(async (tx) => {
      const r = await tx.query('DELETE FROM risk_areas WHERE region = $1 RETURNING region', [region]);
      if (r.rows.length === 0) return { changed: false, seq: null };
      return { changed: true, seq: await this.appendOutbox(tx, { type: 'risk_area', region, area: null }) };
    });
  }

  async listRiskAreas(): Promise<RiskArea[]> {
    const r = await this.db.query<{ region: string; level: RiskArea['level']; since: Date }>(
      'SELECT region, level, since FROM risk_areas ORDER BY region',
    );
    return r.rows.map((x) => ({ region: x.region, level: x.level, since: toSeconds(x.since) }));
  }

  // -------------------------------------------------------------------------
  // Scans (partitioned by day)
  // -------------------------------------------------------------------------

  /**
   * Creates the day partitions of `scans` covering [from, to] (unix seconds,
   * UTC+8 days) that do not exist yet; returns how many it created. Call at
   * start and daily (migrate() does the start). Two processes may race: the
   * loser's "already exists" is ignored.
   */
  async ensureScanPartitions(from: number, to: number): Promise<number> {
    if (!isSeconds(from) || !isSeconds(to) || to < from) throw bad('range', 'must be unix seconds, from ≤ to');
    let created = 0;
    for (let day = dayOf(from); day <= dayOf(to); day++) {
      if (this.s.scanDays.has(day)) continue;
      const { ymd, start } = dayLabel(day);
      const name = `scans_p${ymd}`;
      const exists = await this.db.query<{ e: boolean }>('SELECT to_regclass($1) IS NOT NULL AS e', [name]);
      if (!exists.rows[0]!.e) {
        try {
          await this.db.query(
            `CREATE TABLE ${name} PARTITION OF scans FOR VALUES FROM ('${start}') TO ('${dayLabel(day + 1).start}')`,
          );
          created++;
        } catch (err) {
          // 42P07 duplicate_table; 23505 on pg_type when two sessions create it at once
          const code = (err as { code?: string }).code;
          if (code !== '42P07' && code !== '23505') throw err;
        }
      }
      this.s.scanDays.add(day);
    }
    return created;
  }

  /** Names of the existing day partitions, oldest first. */
  async listScanPartitions(): Promise<string[]> {
    const r = await this.db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'scans'::regclass ORDER BY c.relname`,
    );
    return r.rows.map((x) => x.name).filter((n) => PARTITION_NAME.test(n));
  }

  /** Drops whole days that end at or before `before` (unix seconds): retention of scan data. */
  async dropScanPartitionsBefore(before: number): Promise<string[]> {
    if (!isSeconds(before)) throw bad('before', 'must be unix seconds');
    const dropped: string[] = [];
    for (const name of await this.listScanPartitions()) {
      const day = partitionDay(name)!;
      if ((day + 1) * DAY - DAY_OFFSET <= before) {
        await this.db.query(`DROP TABLE ${name}`);
        this.s.scanDays.delete(day);
        dropped.push(name);
      }
    }
    return dropped;
  }

  /**
   * Stores scan events exactly once: an event already stored (same id and
   * time, as a spool resend carries) is skipped. Creates missing day
   * partitions first. All-or-nothing validation: a malformed event throws
   * MASTER_ERR_INVALID naming it before anything is written.
   */
  async insertScans(events: readonly ScanEvent[]): Promise<InsertScansResult> {
    if (!Array.isArray(events)) throw bad('events', 'must be an array');
    const maxAt = this.nowSeconds() + MAX_SCAN_AHEAD;
    const rows: { id: string; at: number; uid: string; venue_id: string | null; kind: ScanKind; node: string; color: number }[] = [];
    const days = new Set<number>();
    events.forEach((e, i) => {
      const f = `events[${i}]`;
      if (typeof e !== 'object' || e === null) throw bad(f, 'must be an object');
      checkText(`${f}.id`, e.id);
      if (!(e.uid instanceof Uint8Array) || e.uid.length !== 16) throw bad(`${f}.uid`, 'must be 16 bytes');
      if (e.venueId !== null) checkText(`${f}.venueId`, e.venueId);
      if (e.kind !== 'scan' && e.kind !== 'verify') throw bad(`${f}.kind`, "must be 'scan' or 'verify'");
      if (!isSeconds(e.at) || e.at < MIN_SCAN_AT || e.at > maxAt) {
        throw bad(`${f}.at`, 'must be unix seconds between 2020-01-01 and one day from now');
      }
      checkText(`${f}.node`, e.node);
      if (!COLORS.includes(e.color)) throw bad(`${f}.color`, "must be 'green', 'yellow' or 'red'");
      days.add(dayOf(e.at));
      rows.push({
        id: e.id,
        at: e.at,
        uid: Buffer.from(e.uid.buffer, e.uid.byteOffset, 16).toString('hex'),
        venue_id: e.venueId,
        kind: e.kind,
        node: e.node,
        color: colorByte(e.color),
      });
    });
    await this.ensureDays(days);
    let inserted = 0;
    for (let off = 0; off < rows.length; off += SCAN_CHUNK) {
      const json = JSON.stringify(rows.slice(off, off + SCAN_CHUNK));
      inserted += await this.insertScanChunk(json, days);
    }
    return { inserted, duplicates: rows.length - inserted };
  }

  private async ensureDays(days: Set<number>): Promise<void> {
    for (const day of days) {
      if (!this.s.scanDays.has(day)) await this.ensureScanPartitions(day * DAY - DAY_OFFSET, day * DAY - DAY_OFFSET);
    }
  }

  /** One statement per chunk: the batch travels as one jsonb parameter (no 65535-parameter limit). */
  private async insertScanChunk(json: string, days: Set<number>): Promise<number> {
    const sql = `INSERT INTO scans (id, at, uid, venue_id, kind, node, color)
      SELECT x.id, to_timestamp(x.at), decode(x.uid, 'hex'), x.venue_id, x.kind, x.node, x.color
        FROM jsonb_to_recordset($1::jsonb) AS x(id text, at bigint, uid text, venue_id text, kind text, node text, color smallint)
      ON CONFLICT (id, at) DO NOTHING`;
    try {
      return (await this.db.query(sql, [json])).rowCount;
    } catch (err) {
      // 23514: no partition for a row — one was dropped (retention) after we cached it
      if ((err as { code?: string }).code !== '23514') throw err;
      for (const d of days) this.s.scanDays.delete(d);
      await this.ensureDays(days);
      return (await this.db.query(sql, [json])).rowCount;
    }
  }
}
