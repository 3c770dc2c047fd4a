import { createHmac, hkdfSync } from 'node:crypto';
import { MasterError } from './errors.js';
import type { Secrets } from './pii-crypto.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';

/**
 * The back office's append-only, tamper-evident audit log (DESIGN §7, GB/T
 * 35273: every write and every read of personal data — who, what, when, from
 * where, outcome). Tables audit_log + audit_head (migrations.ts v1).
 *
 * ## The chain
 *
 *   key    = HKDF-SHA256(ikm = HC_LOOKUP_KEY, salt = "", info = "healthcode/audit-chain/v1", L = 32)
 *   hash_n = HMAC-SM3(key, prev_hash_n ‖ UTF-8(canonical_n))          32 bytes
 *   prev_hash_1 = 32 zero bytes; prev_hash_n = hash_(n-1)
 *   canonical_n = JSON text of
 *     [1, seq, at_ms, actor, role, action, target|null, from_addr|null, outcome, details]
 *     with details' object keys sorted (recursively), so the text is the same
 *     after a jsonb round trip reorders them.
 *
 * - SM3 (GB/T 32905) because GM/T 0054 expects the national algorithms for
 *   integrity protection of audit records; node:crypto has it (OpenSSL 3).
 * - Keyed (HMAC), not a bare hash: someone with write access to the database
 *   alone could otherwise edit a row and recompute every later hash. The key
 *   is derived from a secret the database never holds (pii-crypto.ts), with
 *   HKDF (RFC 5869) so the look-up key itself is never used for a second
 *   purpose.
 * - audit_head holds the last seq and hash, moved in the same transaction as
 *   each append (SELECT … FOR UPDATE serialises writers: the chain cannot
 *   fork). verify() compares the chain's end with it, which catches a
 *   deleted or appended last row.
 *
 * What verify() finds: an edited row (its hash), a deleted row (a missing
 * seq), an inserted row (its hash — forging one needs the key — or, to keep
 * seq dense, renumbered rows whose hashes then fail), rows after the head.
 * What it cannot find alone: deleting the newest rows AND moving audit_head
 * back consistently. Anchor the head elsewhere for that (`head()` — e.g. log
 * it to the syslog intake every few minutes).
 *
 * Identities are masked by the caller (core/identity.ts maskIdNo, maskPhone,
 * maskName); append() refuses text that still looks like an 18/15-digit
 * certificate number or a mainland mobile number (MASTER_ERR_AUDIT_PII).
 */
export interface AuditInput {
  /** username, or 'system:…' */
  readonly actor: string;
  readonly role: string;
  /** e.g. 'code.transcode', 'code.query', 'login' */
  readonly action: string;
  /** what was acted on, ALREADY MASKED (张*三 / 5101**********106X / 138****5678) */
  readonly target?: string | null;
  /** client address */
  readonly fromAddr?: string | null;
  /** e.g. 'ok', 'denied', 'failed' */
  readonly outcome: string;
  /** JSON object (≤ 8 KiB), masked like target */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AuditEntry {
  readonly seq: number;
  /** ISO 8601, millisecond precision */
  readonly at: string;
  readonly actor: string;
  readonly role: string;
  readonly action: string;
  readonly target: string | null;
  readonly fromAddr: string | null;
  readonly outcome: string;
  readonly details: Record<string, unknown>;
  /** hex */
  readonly prevHash: string;
  /** hex */
  readonly hash: string;
}

export interface AuditVerifyResult {
  readonly ok: boolean;
  /** entries checked (those up to the head when verify began) */
  readonly entries: number;
  /** the first entry that fails, when !ok */
  readonly firstBadSeq?: number;
  readonly problem?: 'missing' | 'prev_hash' | 'hash' | 'head';
  readonly detail?: string;
}

export interface AuditListQuery {
  /** entries with seq > after (ascending pages) */
  readonly after?: number;
  /** entries with seq < before (descending pages) */
  readonly before?: number;
  /** 1–1000 (default 100) */
  readonly limit?: number;
  readonly actor?: string;
  readonly action?: string;
  /** default 'asc'; 'desc' = newest first */
  readonly order?: 'asc' | 'desc';
  /** entries at or after this time, unix seconds */
  readonly from?: number;
  /** entries before this time, unix seconds */
  readonly to?: number;
  /** exact outcome ('ok', 'failed', 'denied', …) */
  readonly outcome?: string;
}

export interface AuditLogOptions {
  /** clock, unix ms (default: the store's, else Date.now) */
  readonly now?: () => number;
  /** rows per verify page (default 5000) */
  readonly pageSize?: number;
}

const HASH_BYTES = 32;
const ZERO: Buffer = Buffer.alloc(HASH_BYTES);
const FORMAT = 1;
const MAX_DETAILS = 8192;
const MAX_DEPTH = 8;

/**
 * Shapes of identity numbers that must not appear in clear (after NFKC, so
 * full-width digits count). Bounded by anything but letters and digits, so
 * hex digests and long tokens do not trip them.
 */
const PII_PATTERNS: readonly { readonly name: string; readonly re: RegExp }[] = [
  { name: 'an 18-digit certificate number', re: /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/ },
  { name: 'a 15-digit certificate number', re: /(?<![0-9A-Za-z])\d{15}(?![0-9A-Za-z])/ },
  { name: 'a mobile number', re: /(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9A-Za-z])/ },
];

/** Throws MASTER_ERR_AUDIT_PII naming `field` when `text` looks like it holds an unmasked identity number. */
export function assertNoPii(field: string, text: string): void {
  const t = text.normalize('NFKC');
  for (const p of PII_PATTERNS) {
    if (p.re.test(t)) throw new MasterError('MASTER_ERR_AUDIT_PII', `${field} holds what looks like ${p.name}: mask it`, field);
  }
}

/** The chain key (see the header). */
export function auditChainKey(secrets: Pick<Secrets, 'lookupKey'>): Buffer {
  return Buffer.from(hkdfSync('sha256', secrets.lookupKey, Buffer.alloc(0), 'healthcode/audit-chain/v1', HASH_BYTES));
}

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

interface Row {
  seq: number;
  at: Date;
  actor: string;
  role: string;
  action: string;
  target_masked: string | null;
  from_addr: string | null;
  outcome: string;
  details: Record<string, unknown>;
  prev_hash: Buffer;
  hash: Buffer;
}

function entryHash(key: Buffer, prev: Buffer, r: Omit<Row, 'prev_hash' | 'hash'>): Buffer {
  const canonical = `[${FORMAT},${r.seq},${r.at.getTime()},${JSON.stringify(r.actor)},${JSON.stringify(r.role)},` +
    `${JSON.stringify(r.action)},${JSON.stringify(r.target_masked)},${JSON.stringify(r.from_addr)},` +
    `${JSON.stringify(r.outcome)},${canonicalJson(r.details)}]`;
  return createHmac('sm3', key).update(prev).update(canonical, 'utf8').digest();
}

function bad(field: string, detail: string): MasterError {
  return new MasterError('MASTER_ERR_INVALID', detail, field);
}

/** A string PostgreSQL text and jsonb can hold exactly: no NUL, no lone surrogate. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storable(s: string): boolean {
  return !s.includes('\u0000') && !LONE_SURROGATE.test(s);
}

function checkText(field: string, v: unknown, max: number, optional: boolean): string | null {
  if (v === undefined || v === null) {
    if (optional) return null;
    throw bad(field, 'is required');
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !storable(v)) {
    throw bad(field, `must be 1–${max} characters`);
  }
  return v;
}

/** Plain JSON only (what jsonb gives back unchanged): strings, finite numbers, booleans, null, arrays, plain objects. */
function checkJson(v: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw bad(path, `nests deeper than ${MAX_DEPTH}`);
  if (v === null || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw bad(path, 'numbers must be finite');
    return;
  }
  if (typeof v === 'string') {
    if (!storable(v)) throw bad(path, 'strings must not hold NUL or lone surrogates');
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkJson(x, `${path}[${i}]`, depth + 1));
    return;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) {
      if (!storable(k)) throw bad(path, 'keys must not hold NUL or lone surrogates');
      checkJson(x, `${path}.${k}`, depth + 1);
    }
    return;
  }
  throw bad(path, 'must be plain JSON');
}

function toEntry(r: Row): AuditEntry {
  return {
    seq: r.seq,
    at: r.at.toISOString(),
    actor: r.actor,
    role: r.role,
    action: r.action,
    target: r.target_masked,
    fromAddr: r.from_addr,
    outcome: r.outcome,
    details: r.details,
    prevHash: r.prev_hash.toString('hex'),
    hash: r.hash.toString('hex'),
  };
}

const COLUMNS = 'seq, at, actor, role, action, target_masked, from_addr, outcome, details, prev_hash, hash';

export class AuditLog {
  readonly db: SqlClient;
  private readonly key: Buffer;
  private readonly now: () => number;
  private readonly pageSize: number;

  /**
   * `new AuditLog(storeOrDb: MasterStore | SqlClient, secrets: {lookupKey}, {now?, pageSize?})`
   * — secrets as loadOrCreateSecrets returns them (the chain key derives from HC_LOOKUP_KEY).
   */
  constructor(storeOrDb: MasterStore | SqlClient, secrets: Pick<Secrets, 'lookupKey'>, opts: AuditLogOptions = {}) {
    const store = storeOrDb instanceof MasterStore ? storeOrDb : null;
    this.db = store === null ? (storeOrDb as SqlClient) : store.db;
    this.key = auditChainKey(secrets);
    this.now = opts.now ?? (store === null ? Date.now : () => store.nowMs());
    const page = opts.pageSize ?? 5000;
    if (!Number.isSafeInteger(page) || page < 1 || page > 100_000) throw bad('pageSize', 'must be 1–100000');
    this.pageSize = page;
  }

  /**
   * `append(entry, db?) → AuditEntry`
   *
   * Validates (MASTER_ERR_INVALID naming the field; MASTER_ERR_AUDIT_PII if
   * an identity number slipped through unmasked), then appends under the
   * head row's lock. Pass a transaction client as `db` to make the entry
   * commit with the change it records (CodeService.transcode's sameTx) —
   * as the LAST write of that transaction: the master's lock order is
   * rule_state → persons → outbox_counter → audit_head, and the head lock
   * serialises every audited request until commit.
   */
  async append(entry: AuditInput, db: SqlClient = this.db): Promise<AuditEntry> {
    if (typeof entry !== 'object' || entry === null) throw bad('entry', 'must be an object');
    const actor = checkText('actor', entry.actor, 128, false)!;
    const role = checkText('role', entry.role, 32, false)!;
    const action = checkText('action', entry.action, 64, false)!;
    const target = checkText('target', entry.target, 256, true);
    const fromAddr = checkText('fromAddr', entry.fromAddr, 64, true);
    const outcome = checkText('outcome', entry.outcome, 32, false)!;
    const details = entry.details ?? {};
    if (typeof details !== 'object' || details === null || Array.isArray(details)) throw bad('details', 'must be a JSON object');
    checkJson(details, 'details', 0);
    const detailsText = canonicalJson(details);
    if (detailsText.length > MAX_DETAILS) throw bad('details', `must be at most ${MAX_DETAILS} characters of JSON`);
    assertNoPii('actor', actor);
    if (target !== null) assertNoPii('target', target);
    if (fromAddr !== null) assertNoPii('fromAddr', fromAddr);
    assertNoPii('details', detailsText);
    // jsonb gives back what JSON.parse(canonical) gives: hash exactly that
    const stored = JSON.parse(detailsText) as Record<string, unknown>;
    const at = new Date(this.now());

    const run = async (tx: SqlClient): Promise<AuditEntry> => {
      const head = (await tx.query<{ seq: number; hash: Buffer }>('SELECT seq, hash FROM audit_head FOR UPDATE')).rows[0]!;
      const seq = head.seq + 1;
      const base = { seq, at, actor, role, action, target_masked: target, from_addr: fromAddr, outcome, details: stored };
      const hash = entryHash(this.key, head.hash, base);
      await tx.query(
        `INSERT INTO audit_log (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)`,
        [seq, at, actor, role, action, target, fromAddr, outcome, detailsText, head.hash, hash],
      );
      await tx.query('UPDATE audit_head SET seq = $1, hash = $2', [seq, hash]);
      return toEntry({ ...base, prev_hash: head.hash, hash });
    };
    return db.inTransaction ? run(db) : db.transaction(run);
  }

  /**
   * `list({after?, before?, limit?, actor?, action?, order?}) → AuditEntry[]`
   * Ascending from `after` by default; order 'desc' (with `before`) pages
   * newest first.
   */
  async list(q: AuditListQuery = {}): Promise<AuditEntry[]> {
    const limit = q.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw bad('limit', 'must be 1–1000');
    const order = q.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') throw bad('order', "must be 'asc' or 'desc'");
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.after !== undefined) {
      if (!Number.isSafeInteger(q.after) || q.after < 0) throw bad('after', 'must be a non-negative integer');
      params.push(q.after);
      where.push(`seq > $${params.length}`);
    }
    if (q.before !== undefined) {
      if (!Number.isSafeInteger(q.before) || q.before < 1) throw bad('before', 'must be a positive integer');
      params.push(q.before);
      where.push(`seq < $${params.length}`);
    }
    if (q.actor !== undefined) {
      params.push(checkText('actor', q.actor, 128, false));
      where.push(`actor = $${params.length}`);
    }
    if (q.action !== undefined) {
      params.push(checkText('action', q.action, 64, false));
      where.push(`action = $${params.length}`);
    }
    if (q.outcome !== undefined) {
      params.push(checkText('outcome', q.outcome, 32, false));
      where.push(`outcome = $${params.length}`);
    }
    for (const [k, op] of [['from', '>='], ['to', '<']] as const) {
      const t = q[k];
      if (t === undefined) continue;
      if (!Number.isSafeInteger(t) || t < 0) throw bad(k, 'must be unix seconds');
      params.push(new Date(t * 1000));
      where.push(`at ${op} $${params.length}`);
    }
    params.push(limit);
    const r = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY seq ${order === 'asc' ? 'ASC' : 'DESC'} LIMIT $${params.length}`,
      params,
    );
    return r.rows.map(toEntry);
  }

  /** `head() → {seq, hash}` — the chain's end, to anchor outside the database. */
  async head(): Promise<{ seq: number; hash: string }> {
    const h = (await this.db.query<{ seq: number; hash: Buffer }>('SELECT seq, hash FROM audit_head')).rows[0]!;
    return { seq: h.seq, hash: h.hash.toString('hex') };
  }

  /**
   * `verify({onProgress?}) → {ok, entries, firstBadSeq?, problem?, detail?}`
   *
   * Recomputes the chain from seq 1 to the head read at the start, in pages
   * (no long transaction: appends go on meanwhile and are checked next time).
   * Then looks for rows beyond the head: an append moves the head in the
   * same transaction, so a row past a head read AFTER it is not an append.
   */
  async verify(opts: { onProgress?: (checked: number, total: number) => void } = {}): Promise<AuditVerifyResult> {
    const head = (await this.db.query<{ seq: number; hash: Buffer }>('SELECT seq, hash FROM audit_head')).rows[0]!;
    let prev: Buffer = ZERO;
    let expect = 1;
    while (expect <= head.seq) {
      const r = await this.db.query<Row>(
        `SELECT ${COLUMNS} FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
        [expect, head.seq, this.pageSize],
      );
      if (r.rows.length === 0) break;
      for (const row of r.rows) {
        if (row.seq !== expect) {
          return { ok: false, entries: expect - 1, firstBadSeq: expect, problem: 'missing', detail: `entry ${expect} is missing` };
        }
        if (!row.prev_hash.equals(prev)) {
          return { ok: false, entries: expect - 1, firstBadSeq: expect, problem: 'prev_hash', detail: `entry ${expect} does not link to entry ${expect - 1}` };
        }
        if (!entryHash(this.key, prev, row).equals(row.hash)) {
          return { ok: false, entries: expect - 1, firstBadSeq: expect, problem: 'hash', detail: `entry ${expect} was altered` };
        }
        prev = row.hash;
        expect++;
      }
      opts.onProgress?.(expect - 1, head.seq);
    }
    if (expect <= head.seq) {
      return { ok: false, entries: expect - 1, firstBadSeq: expect, problem: 'missing', detail: `entries ${expect}–${head.seq} are missing` };
    }
    if (!prev.equals(head.hash)) {
      return { ok: false, entries: expect - 1, firstBadSeq: head.seq, problem: 'head', detail: 'the head does not match the last entry' };
    }
    const max = (await this.db.query<{ m: number | null }>('SELECT max(seq) AS m FROM audit_log')).rows[0]!.m ?? 0;
    const after = (await this.db.query<{ seq: number }>('SELECT seq FROM audit_head')).rows[0]!.seq;
    if (max > after) {
      return { ok: false, entries: head.seq, firstBadSeq: after + 1, problem: 'head', detail: `entries after the head (${after}) exist` };
    }
    return { ok: true, entries: head.seq };
  }
}
