import { EventEmitter } from 'node:events';
import pg from 'pg';

/**
 * PostgreSQL with a streaming replica and failover (issue 17), on the client
 * side: libpq's multi-host connection strings, which node-postgres does not
 * understand (its parser takes one host), done here the way libpq does them
 * (PostgreSQL docs §34.1.1.3 "Specifying Multiple Hosts", §34.1.2
 * `target_session_attrs`):
 *
 *   DATABASE_URL=postgres://hc:…@10.0.4.41:5432,10.0.4.42:5432/healthcode?target_session_attrs=read-write
 *
 *   connect() ──▶ known primary? ── yes ─▶ its pg.Pool ─▶ connection
 *                      │ no (start, or the last one failed)
 *                      ▼
 *          probe every host at once:  SELECT pg_is_in_recovery(),
 *                                     current_setting('transaction_read_only')
 *          first host in URL order that matches target_session_attrs
 *          ──▶ new pg.Pool for it (the old one is ended)
 *          none matches (primary dead, replica not promoted yet)
 *          ──▶ probe again with backoff, up to `waitMs`, then fail
 *              (→ MASTER_ERR_UNAVAILABLE, 503: the caller retries)
 *
 * What is retried, and why only that: acquiring a connection — nothing has
 * been sent, so waiting for the new primary and then going on is always
 * safe, and a request that arrives during a failover just takes a few
 * seconds longer. A statement that was in flight when the primary died is
 * NOT re-sent: its COMMIT may or may not have happened (the ambiguity every
 * client of every database has). It fails with MASTER_ERR_UNAVAILABLE, and
 * the layers above retry what is idempotent — the publisher re-reads the
 * outbox from the bus's top, the scan importer deduplicates on the scan id,
 * a back-office user's 转码 sets a colour (setting it twice is setting it
 * once). A write that reaches a demoted server (SQLSTATE 25006
 * read_only_sql_transaction) also means "the primary moved": the pool
 * forgets it and the error is reported as a lost connection (SQLSTATE 08006)
 * so the caller sees 503, not 500.
 *
 * Failover itself is the database's and the operator's (or Patroni's / the
 * cloud's) job: `pg_ctl promote` / `pg_promote()` on the replica. Run the
 * primary with `synchronous_standby_names` naming the replica and
 * `synchronous_commit = on` (deploy/postgresql/): a commit the master
 * acknowledged is then on both servers, and promotion loses none. Fence the
 * old primary (never restart it as a primary): two writable hosts in one URL
 * would be split brain, and this pool would follow whichever answers first.
 *
 * Read replicas: the same URL syntax with `target_session_attrs=prefer-standby`
 * (or `standby`, `read-only`, `any`) for DATABASE_READ_URL.
 */

export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';
const ATTRS: readonly TargetSessionAttrs[] = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'];

export interface PgHost {
  readonly host: string;
  readonly port: number;
}

export interface ParsedPgUrl {
  readonly hosts: readonly PgHost[];
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** whether target_session_attrs was written in the URL */
  readonly explicitAttrs: boolean;
  /** one single-host URL per host, in order, without target_session_attrs (what node-postgres understands) */
  readonly hostUrls: readonly string[];
}

/**
 * Parses `postgres[ql]://[user[:password]@]host[:port][,host[:port]…][/db][?params]`.
 * Throws an Error whose message says what is wrong (never the password).
 */
export function parsePostgresUrl(raw: string): ParsedPgUrl {
  const m = /^(postgres(?:ql)?):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?$/.exec(raw);
  if (m === null) throw new Error('must be postgres://[user[:password]@]host[:port][,host[:port]…]/database[?…]');
  const [, scheme, authority, path, query] = m as unknown as [string, string, string, string, string | undefined];
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? '' : authority.slice(0, at + 1);
  const hostList = at < 0 ? authority : authority.slice(at + 1);
  if (hostList === '') throw new Error('names no host');
  const hosts: PgHost[] = hostList.split(',').map((h) => {
    const hm = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._%-]+)(?::(\d{1,5}))?$/.exec(h);
    if (hm === null) throw new Error(`has a bad host ${JSON.stringify(h)}`);
    const port = hm[2] === undefined ? 5432 : Number(hm[2]);
    if (port < 1 || port > 65535) throw new Error(`has a bad port in ${JSON.stringify(h)}`);
    return { host: hm[1]!, port };
  });
  const params = new URLSearchParams(query === undefined ? '' : query.slice(1));
  const attrsRaw = params.get('target_session_attrs');
  if (attrsRaw !== null && !(ATTRS as readonly string[]).includes(attrsRaw)) {
    throw new Error(`has target_session_attrs=${attrsRaw}: must be one of ${ATTRS.join(', ')}`);
  }
  params.delete('target_session_attrs');
  const rest = params.toString();
  const hostUrls = hosts.map((h) => `${scheme}://${userinfo}${h.host}:${h.port}${path}${rest === '' ? '' : `?${rest}`}`);
  for (const u of hostUrls) {
    try {
      new URL(u);
    } catch {
      throw new Error('is not a URL once split per host (check the percent-encoding of user and password)');
    }
  }
  return { hosts, targetSessionAttrs: (attrsRaw ?? 'any') as TargetSessionAttrs, explicitAttrs: attrsRaw !== null, hostUrls };
}

/** For stack-config.ts: null when `raw` is a usable DATABASE_URL / DATABASE_READ_URL, else what is wrong. */
export function databaseUrlProblem(raw: string): string | null {
  try {
    parsePostgresUrl(raw);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Several hosts, or target_session_attrs: the failover pool is needed (node-postgres alone would misread the URL). */
export function needsFailoverPool(url: string): boolean {
  try {
    const p = parsePostgresUrl(url);
    return p.hosts.length > 1 || p.explicitAttrs;
  } catch {
    return false;
  }
}

/** Errors after which the host we used may be gone: rediscover before the next connection. */
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const LOST_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection error/;

function hostLost(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string') {
    if (NET_CODES.has(e.code) || e.code.startsWith('08') || e.code === '57P01' || e.code === '57P02' || e.code === '57P03' || e.code === '25006') return true;
  }
  if (typeof e.message === 'string' && LOST_MESSAGE.test(e.message)) return true;
  return Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every(hostLost);
}

/** 25006 from a demoted primary → reported as a lost connection (08006), see the header. */
function asLost(err: unknown, host: string): unknown {
  const e = err as { code?: unknown; message?: unknown };
  if (e?.code !== '25006') return err;
  return Object.assign(new Error(`${host} no longer accepts writes (it is not the primary any more): ${String(e.message)}`), { code: '08006', cause: err });
}

interface Probe {
  readonly index: number;
  readonly standby: boolean;
  readonly readOnly: boolean;
}

export interface FailoverPoolOptions {
  /** how long connect() keeps looking for a matching host before failing (default 3 × connectionTimeoutMillis: 15 s at the master's 5 s) */
  readonly waitMs?: number;
  /** per-host probe timeout (default: the pool's connectionTimeoutMillis, else 3000 ms) */
  readonly probeTimeoutMs?: number;
  /** one line when the pool switches hosts */
  readonly log?: (line: string) => void;
}

type PoolConfig = Omit<pg.PoolConfig, 'connectionString' | 'host' | 'port'>;

/**
 * A pg.Pool look-alike over several hosts (the subset sql-client.ts uses:
 * query, connect, end, 'error' events). Exactly one underlying pg.Pool is
 * live: the one of the host that matched last.
 */
export class FailoverPool extends EventEmitter {
  private readonly parsed: ParsedPgUrl;
  private current: { index: number; pool: pg.Pool } | null = null;
  private discovering: Promise<{ index: number; pool: pg.Pool } | null> | null = null;
  private ended = false;
  private readonly waitMs: number;
  private readonly probeTimeoutMs: number;
  private readonly log: (line: string) => void;
  /** host switches so far (tests, metrics) */
  switches = 0;

  constructor(url: string, private readonly config: PoolConfig, opts: FailoverPoolOptions = {}) {
    super();
    this.parsed = parsePostgresUrl(url);
    this.waitMs = opts.waitMs ?? 3 * (config.connectionTimeoutMillis ?? 5000);
    this.probeTimeoutMs = opts.probeTimeoutMs ?? config.connectionTimeoutMillis ?? 3000;
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  /** host:port of the host in use, or null while none is known */
  currentHost(): string | null {
    if (this.current === null) return null;
    const h = this.parsed.hosts[this.current.index]!;
    return `${h.host}:${h.port}`;
  }

  private hostName(index: number): string {
    const h = this.parsed.hosts[index]!;
    return `${h.host}:${h.port}`;
  }

  private async probe(index: number): Promise<Probe | null> {
    const client = new pg.Client({
      connectionString: this.parsed.hostUrls[index]!,
      connectionTimeoutMillis: this.probeTimeoutMs,
      ...(this.config.application_name === undefined ? {} : { application_name: this.config.application_name }),
    });
    client.on('error', () => undefined); // a probe that dies is just "not this host"
    try {
      await client.connect();
      const r = await client.query<{ standby: boolean; ro: string }>(
        "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro",
      );
      const row = r.rows[0]!;
      return { index, standby: row.standby, readOnly: row.ro === 'on' };
    } catch {
      return null;
    } finally {
      client.end().catch(() => undefined);
    }
  }

  /** libpq's rule: the first host in URL order that satisfies target_session_attrs (prefer-standby: any host when no standby answers). */
  private choose(probes: readonly (Probe | null)[]): number | null {
    const up = probes.filter((p): p is Probe => p !== null);
    const first = (pred: (p: Probe) => boolean): number | null => up.find(pred)?.index ?? null;
    switch (this.parsed.targetSessionAttrs) {
      case 'any': return first(() => true);
      case 'read-write': return first((p) => !p.readOnly);
      case 'read-only': return first((p) => p.readOnly);
      case 'primary': return first((p) => !p.standby);
      case 'standby': return first((p) => p.standby);
      case 'prefer-standby': return first((p) => p.standby) ?? first(() => true);
    }
  }

  private discover(): Promise<{ index: number; pool: pg.Pool } | null> {
    this.discovering ??= (async () => {
      try {
        const probes = await Promise.all(this.parsed.hosts.map((_, i) => this.probe(i)));
        const index = this.choose(probes);
        if (index === null || this.ended) return null;
        const pool = new pg.Pool({ ...this.config, connectionString: this.parsed.hostUrls[index]! });
        pool.on('error', (err) => {
          if (hostLost(err)) this.forget(pool);
          this.emit('error', err);
        });
        const before = this.current;
        this.current = { index, pool };
        if (before !== null && before.pool !== pool) void before.pool.end().catch(() => undefined);
        this.switches++;
        this.log(`master: PostgreSQL ${this.parsed.targetSessionAttrs} host is ${this.hostName(index)}${this.switches > 1 ? ` (switch ${this.switches - 1})` : ''}`);
        return this.current;
      } finally {
        this.discovering = null;
      }
    })();
    return this.discovering;
  }

  /** The host behind `pool` failed: the next connect() probes again. */
  private forget(pool: pg.Pool): void {
    if (this.current?.pool !== pool) return;
    this.log(`master: lost PostgreSQL host ${this.hostName(this.current.index)}; looking for the ${this.parsed.targetSessionAttrs} host again`);
    this.current = null;
    void pool.end().catch(() => undefined);
  }

  /** A connection of the matching host, waiting up to waitMs for one to appear (see the header: only this phase is retried). */
  async connect(): Promise<pg.PoolClient> {
    const deadline = Date.now() + this.waitMs;
    let last: unknown = null;
    for (let attempt = 0; ; attempt++) {
      if (this.ended) throw new Error('Cannot use a pool after calling end on the pool');
      const cur = this.current ?? (await this.discover());
      if (cur !== null) {
        try {
          return this.wrap(await cur.pool.connect(), cur.pool, cur.index);
        } catch (err) {
          if (!hostLost(err)) throw err;
          last = err;
          this.forget(cur.pool);
        }
      }
      if (Date.now() >= deadline) {
        const why = last === null ? '' : `: ${(last as Error).message}`;
        throw Object.assign(
          new Error(`no PostgreSQL host of ${this.parsed.hosts.length} is ${this.parsed.targetSessionAttrs} after ${this.waitMs} ms${why}`),
          { code: '08001' },
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1000)));
    }
  }

  /** The client as sql-client.ts uses it, with failures observed on the way out. */
  private wrap(client: pg.PoolClient, pool: pg.Pool, index: number): pg.PoolClient {
    const host = this.hostName(index);
    const observe = (err: unknown): unknown => {
      if (hostLost(err)) this.forget(pool);
      return asLost(err, host);
    };
    // A checked-out client whose server dies emits 'error'; pg.Pool guards only
    // idle clients, and an 'error' without a listener kills the process (seen in
    // the fleet suite when the primary lost power under a query). Listen for the
    // whole checkout; the query in flight rejects with the same error anyway.
    const onError = (err: Error): void => {
      observe(err);
    };
    client.on('error', onError);
    const facade = {
      query: (text: string, params?: unknown[]) => client.query(text, params).catch((err: unknown) => Promise.reject(observe(err))),
      on: (event: string, fn: (...args: unknown[]) => void) => {
        client.on(event as 'error', fn);
        return facade;
      },
      off: (event: string, fn: (...args: unknown[]) => void) => {
        client.off(event as 'error', fn);
        return facade;
      },
      release: (err?: Error | boolean) => {
        client.off('error', onError);
        client.release(err);
      },
    };
    return facade as unknown as pg.PoolClient;
  }

  async query(text: string, params?: unknown[]): Promise<pg.QueryResult> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      return await client.query(text, params);
    } catch (err) {
      if (hostLost(err)) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    this.ended = true;
    const cur = this.current;
    this.current = null;
    if (cur !== null) await cur.pool.end();
  }
}

/**
 * `new pg.Pool(config)` for sql-client.ts, or a FailoverPool when the URL
 * names several hosts or target_session_attrs — typed as pg.Pool because it
 * answers the calls sql-client.ts makes.
 */
export function openPgPool(config: pg.PoolConfig & { connectionString: string }, opts: FailoverPoolOptions = {}): pg.Pool {
  if (!needsFailoverPool(config.connectionString)) return new pg.Pool(config);
  const { connectionString, ...rest } = config;
  return new FailoverPool(connectionString, rest, opts) as unknown as pg.Pool;
}
