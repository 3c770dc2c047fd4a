import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PGlite, type Transaction as PgliteTransaction } from '@electric-sql/pglite';
import pg from 'pg';
import { MasterError } from './errors.js';
import { openPgPool } from './pg-failover.js';

/**
 * The ONE interface the master's data-access layer talks to (DESIGN §1: any
 * PostgreSQL-protocol database in production, PGlite embedded). Both backends
 * run the same SQL text with `$n` parameters and hand back the same JS types:
 *
 *   SQL type      JS value (both backends)
 *   int2/int4     number
 *   int8          number (bigint if beyond 2^53 — ids and sequences never are)
 *   numeric       string
 *   bytea         Buffer
 *   timestamptz   Date
 *   date          string 'YYYY-MM-DD' (pg would build a local-midnight Date)
 *   json/jsonb    parsed value
 *
 * Parameters: pass Buffer/Uint8Array for bytea, Date or numbers for
 * timestamps, and `JSON.stringify(x)` with a `$n::jsonb` cast for JSON —
 * never a JS array or object (pg turns arrays into PostgreSQL array literals,
 * PGlite serialises by the described parameter type: only strings agree).
 *
 * Connection failures of either backend become MASTER_ERR_UNAVAILABLE (503);
 * every other database error passes through with its SQLSTATE in `code`.
 */
export interface QueryResult<T> {
  rows: T[];
  /** rows inserted/updated/deleted/returned by the statement */
  rowCount: number;
}

export interface SqlClient {
  readonly kind: 'pglite' | 'postgres';
  /** true on the client handed to a `transaction` callback */
  readonly inTransaction: boolean;
  /** One statement, `$1…$n` parameters (extended protocol on both backends). */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Several statements, no parameters (simple protocol): migrations. */
  exec(sql: string): Promise<void>;
  /**
   * Runs `fn` in a transaction on a dedicated connection: COMMIT when it
   * resolves, ROLLBACK when it throws. On a transaction client this nests as a
   * SAVEPOINT. Use only `tx` inside `fn`: a query on the outer client would
   * wait for this very transaction on PGlite (one connection) and run outside
   * it on PostgreSQL, so it throws MASTER_ERR_TX_MISUSE instead.
   * Do not run two nested transactions of one `tx` concurrently.
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /** Idempotent. Afterwards every call throws MASTER_ERR_UNAVAILABLE. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Error mapping
// ---------------------------------------------------------------------------

/** Socket-level failures (Node's errno codes). */
const NET_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT',
  'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
]);

/**
 * SQLSTATEs that mean "the database is not there for us" (PostgreSQL
 * Appendix A): class 08 connection exception, class 28 invalid authorization,
 * 3D000 no such database, 53300 too many connections, 57P01–57P03 shutdown /
 * cannot connect now. All are operator problems: a client gets 503, not 500.
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('28') || code === '3D000' || code === '53300' ||
    code === '57P01' || code === '57P02' || code === '57P03';
}

/** pg reports some connection failures only in the message. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is closed/;

export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (NET_CODES.has(e.code) || isUnavailableSqlState(e.code))) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  // Node's happy-eyeballs connect (localhost → ::1 and 127.0.0.1) rejects with an AggregateError
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every(isConnectionError)) return true;
  return false;
}

/** Connection failures → MASTER_ERR_UNAVAILABLE (with the cause); anything else unchanged. */
export function mapDbError(err: unknown): unknown {
  if (err instanceof MasterError) return err;
  if (!isConnectionError(err)) return err;
  const e = err as { message?: unknown; code?: unknown };
  const msg = typeof e.message === 'string' && e.message !== '' ? e.message : String(e.code ?? err);
  const out = new MasterError('MASTER_ERR_UNAVAILABLE', msg);
  (out as Error).cause = err;
  return out;
}

/**
 * THE error mapping of this file (issue 14: one place, not one per method):
 * every driver call of both clients runs through it, so a connection
 * failure surfaces as MASTER_ERR_UNAVAILABLE (503) wherever it happens and
 * anything else passes unchanged.
 */
async function mapped<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw mapDbError(err);
  }
}

function pgResult<T>(r: { rows: unknown[]; rowCount: number | null }): QueryResult<T> {
  return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
}

// ---------------------------------------------------------------------------
// Transaction scope guard
// ---------------------------------------------------------------------------

interface TxScope {
  readonly owner: object;
  open: boolean;
}

/** Which client's transaction the current async context runs inside (if any). */
const txScope = new AsyncLocalStorage<TxScope>();

function assertNotInOwnTransaction(owner: object): void {
  const s = txScope.getStore();
  if (s !== undefined && s.open && s.owner === owner) {
    throw new MasterError('MASTER_ERR_TX_MISUSE');
  }
}

function unavailableClosed(kind: string): MasterError {
  return new MasterError('MASTER_ERR_UNAVAILABLE', `${kind} client is closed`);
}

/** SAVEPOINT-based nesting shared by both transaction clients. */
async function nestedTransaction<T>(tx: SqlClient & { depth: number }, fn: (tx: SqlClient) => Promise<T>): Promise<T> {
  const name = `hc_sp_${++tx.depth}`;
  try {
    await tx.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(tx);
      await tx.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      // If the connection itself is gone this fails too; the outer ROLLBACK handles that.
      await tx.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw err;
    }
  } finally {
    tx.depth--;
  }
}

// ---------------------------------------------------------------------------
// Type parsers (same JS types from both backends, see the table above)
// ---------------------------------------------------------------------------

const OID_BYTEA = 17;
const OID_INT8 = 20;
const OID_DATE = 1082;

function parseInt8(s: string): number | bigint {
  const n = Number(s);
  // Never throw inside a parser: pg runs it in a socket callback.
  return Number.isSafeInteger(n) ? n : BigInt(s);
}

function parseDate(s: string): string {
  return s;
}

/** PGlite's own bytea parser builds the array byte by byte with parseInt; Buffer.from(hex) is native. */
function parseBytea(s: string): Buffer {
  return Buffer.from(s.slice(2), 'hex');
}

const PGLITE_PARSERS = { [OID_INT8]: parseInt8, [OID_DATE]: parseDate, [OID_BYTEA]: parseBytea };

function pgTypeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === OID_INT8) return parseInt8;
  if (oid === OID_DATE) return parseDate;
  return (pg.types.getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(oid, format);
}

/** Per-pool parsers: leaves the process-wide `pg.types` alone. */
const PG_TYPES = { getTypeParser: pgTypeParser } as unknown as pg.CustomTypesConfig;

// ---------------------------------------------------------------------------
// PGlite (embedded)
// ---------------------------------------------------------------------------

interface PgliteResultLike {
  rows: unknown[];
  rowCount?: number;
  affectedRows?: number;
}

function pgliteResult<T>(r: PgliteResultLike): QueryResult<T> {
  return { rows: r.rows as T[], rowCount: r.rowCount ?? r.affectedRows ?? r.rows.length };
}

class PgliteTxClient implements SqlClient {
  readonly kind = 'pglite' as const;
  readonly inTransaction = true;
  depth = 0;
  constructor(private readonly tx: PgliteTransaction) {}

  async query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    return mapped(async () => pgliteResult<T>(await this.tx.query<T>(text, params as unknown[] | undefined)));
  }

  async exec(sql: string): Promise<void> {
    await mapped(() => this.tx.exec(sql));
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return nestedTransaction(this, fn);
  }

  async close(): Promise<void> {
    throw new MasterError('MASTER_ERR_TX_MISUSE', 'close() on a transaction client');
  }
}

class PgliteClient implements SqlClient {
  readonly kind = 'pglite' as const;
  readonly inTransaction = false;
  private closed = false;
  constructor(private readonly db: PGlite, private readonly lockPath: string | undefined) {}

  async query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    if (this.closed) throw unavailableClosed('PGlite');
    assertNotInOwnTransaction(this);
    return mapped(async () => pgliteResult<T>(await this.db.query<T>(text, params as unknown[] | undefined)));
  }

  async exec(sql: string): Promise<void> {
    if (this.closed) throw unavailableClosed('PGlite');
    assertNotInOwnTransaction(this);
    await mapped(() => this.db.exec(sql));
  }

  /**
   * PGlite has one connection; its `transaction()` holds a mutex that every
   * other query and transaction waits on, so transactions are serialised
   * (the outbox counter relies on nothing more).
   */
  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.closed) throw unavailableClosed('PGlite');
    assertNotInOwnTransaction(this);
    const scope: TxScope = { owner: this, open: true };
    try {
      return await mapped(() => this.db.transaction((t) => txScope.run(scope, () => fn(new PgliteTxClient(t)))));
    } finally {
      scope.open = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.db.close();
    } finally {
      if (this.lockPath !== undefined) releaseDirLock(this.lockPath);
    }
  }
}

/**
 * PGlite is one process only (FACTS): two processes on one data directory
 * would corrupt it, and PGlite itself takes no lock. `<dir>.lock` holds the
 * owner's pid, created with O_EXCL; a lock whose process is gone is stale and
 * taken over.
 */
function takeDirLock(dir: string): string {
  const lockPath = `${dir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) {
        throw new MasterError(
          'MASTER_ERR_LOCKED',
          `${dir} is held by process ${pid}${pid === process.pid ? ' (this one: open it once)' : ''}; lock file ${lockPath}`,
        );
      }
      unlinkSync(lockPath); // stale: its process is gone
    }
  }
  throw new MasterError('MASTER_ERR_LOCKED', `could not take ${lockPath}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseDirLock(lockPath: string): void {
  try {
    unlinkSync(lockPath);
  } catch {
    // already gone: nothing to release
  }
}

/**
 * Opens the embedded master. `dir` undefined → in memory (tests). Opening a
 * new directory runs initdb (≈ 3.4 s here, FACTS): open once per process.
 */
export async function openPglite(dir?: string): Promise<SqlClient> {
  let lockPath: string | undefined;
  let path: string | undefined;
  if (dir !== undefined) {
    path = resolve(dir);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    lockPath = takeDirLock(path);
  }
  try {
    const db = path === undefined
      ? await PGlite.create({ parsers: PGLITE_PARSERS })
      : await PGlite.create(path, { parsers: PGLITE_PARSERS });
    return new PgliteClient(db, lockPath);
  } catch (err) {
    if (lockPath !== undefined) releaseDirLock(lockPath);
    const out = new MasterError('MASTER_ERR_UNAVAILABLE', `PGlite at ${path ?? 'memory'}: ${(err as Error).message}`);
    (out as Error).cause = err;
    throw out;
  }
}

// ---------------------------------------------------------------------------
// PostgreSQL (cluster)
// ---------------------------------------------------------------------------

class PgTxClient implements SqlClient {
  readonly kind = 'postgres' as const;
  readonly inTransaction = true;
  depth = 0;
  constructor(private readonly client: pg.PoolClient) {}

  async query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    return mapped(async () => pgResult<T>(await this.client.query(text, params as unknown[] | undefined)));
  }

  async exec(sql: string): Promise<void> {
    await mapped(() => this.client.query(sql)); // no parameters → simple protocol, several statements allowed
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return nestedTransaction(this, fn);
  }

  async close(): Promise<void> {
    throw new MasterError('MASTER_ERR_TX_MISUSE', 'close() on a transaction client');
  }
}

class PgClient implements SqlClient {
  readonly kind = 'postgres' as const;
  readonly inTransaction = false;
  private closed = false;
  constructor(private readonly pool: pg.Pool) {}

  async query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    if (this.closed) throw unavailableClosed('PostgreSQL');
    assertNotInOwnTransaction(this);
    return mapped(async () => pgResult<T>(await this.pool.query(text, params as unknown[] | undefined)));
  }

  async exec(sql: string): Promise<void> {
    if (this.closed) throw unavailableClosed('PostgreSQL');
    assertNotInOwnTransaction(this);
    await mapped(() => this.pool.query(sql));
  }

  /** A dedicated pooled connection: BEGIN … COMMIT, ROLLBACK on any error. */
  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.closed) throw unavailableClosed('PostgreSQL');
    assertNotInOwnTransaction(this);
    const client = await mapped(() => this.pool.connect());
    const scope: TxScope = { owner: this, open: true };
    let broken: Error | undefined;
    // pg guards only idle clients: a checked-out client whose backend dies
    // (server restart, pg_terminate_backend) emits 'error', and an 'error'
    // event without a listener kills the process. The pending query rejects
    // with the same error, so here it only marks the connection as broken.
    const onError = (err: Error): void => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const tx = new PgTxClient(client);
      const result = await txScope.run(scope, () => fn(tx));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error; // the connection is unusable: destroy it instead of pooling it
      }
      throw mapDbError(err);
    } finally {
      scope.open = false;
      client.off('error', onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

export interface PostgresOptions {
  /** pool size (default 10) */
  max?: number;
  /** schema to put first on every connection's search_path (tests: a throw-away schema) */
  searchPath?: string;
  /** how long to wait for a connection before MASTER_ERR_UNAVAILABLE (default 5000 ms) */
  connectTimeoutMs?: number;
  /** called with errors of idle pooled connections (server restart); the pool replaces them */
  onIdleError?: (err: Error) => void;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Opens a pool against any PostgreSQL-protocol database and checks it answers
 * (`SELECT 1`), so a wrong DATABASE_URL fails at start with
 * MASTER_ERR_UNAVAILABLE rather than on the first request.
 */
export async function openPostgres(url: string, opts: PostgresOptions = {}): Promise<SqlClient> {
  if (opts.searchPath !== undefined && !IDENT.test(opts.searchPath)) {
    throw new MasterError('MASTER_ERR_INVALID', `not a plain lower-case identifier: ${opts.searchPath}`, 'searchPath');
  }
  // several hosts / target_session_attrs: pg-failover.ts (issue 17); one host: a plain pg.Pool
  const pool = openPgPool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'healthcode-master',
    types: PG_TYPES,
    ...(opts.searchPath === undefined ? {} : { options: `-c search_path=${opts.searchPath}` }),
  });
  // Without a listener an idle connection's error (server restart) crashes the process.
  pool.on('error', (err) => opts.onIdleError?.(err));
  const client = new PgClient(pool);
  try {
    await client.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return client;
}
