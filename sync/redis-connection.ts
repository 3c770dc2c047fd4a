import type { RedisOptions } from 'ioredis';

/**
 * How a process reaches Redis when Redis is highly available (issue 17):
 * Redis Sentinel — the stock failover engine of Redis, nothing home-made.
 *
 *   edges, masters ──(1) SENTINEL get-master-addr-by-name hc──▶ sentinels (≥ 3, quorum 2)
 *        │                                                       │ watch, vote, promote
 *        └──(2) XADD / XREAD … ──▶ current primary ──replication──▶ replica(s)
 *
 * ioredis does (1) itself when given `sentinels` + `name` (its
 * SentinelConnector): it asks the sentinels in turn for the primary's
 * address, checks with ROLE that the node it reached really is the primary,
 * and on every reconnect asks again. What this file adds:
 *
 *  - `reconnectOnError` for READONLY / "-MASTERDOWN": reconnect (through the
 *    sentinels) and RESEND the command (return 2). Safe for every command we
 *    send: a rejected write was not applied, and the delta publish script
 *    re-checks the stream top on every (re)send (bus-redis.ts). This is how a
 *    primary that was demoted but not killed is left: its sockets stay open,
 *    its first refused write sends us to the new one. (A blocked XREAD on it
 *    keeps reading what it now replicates: the same stream, slightly later.)
 *  - NOT ioredis' `failoverDetector` (its +switch-master subscription):
 *    measured in the fleet suite (test/fleet), ioredis 6.0.0's detector of
 *    the previous connection can fire while the client is already
 *    reconnecting through the sentinels; its `connector.disconnect()` then
 *    aborts that connect, and the client ends for good ("Connection is
 *    closed." on every later command — master and edges stopped syncing
 *    after a Redis primary kill). Reconnecting on the error is enough.
 *  - the configuration, read once by stack-config.ts:
 *
 *    | variable                  | meaning                                                     |
 *    | ------------------------- | ----------------------------------------------------------- |
 *    | REDIS_SENTINELS           | `host:port,host:port,…` (port default 26379); Sentinel mode |
 *    | REDIS_SENTINEL_NAME       | the monitored primary's name (`sentinel monitor <name> …`)  |
 *    | REDIS_SENTINEL_PASSWORD   | the sentinels' own `requirepass`, if set                    |
 *    | HC_REDIS_WAIT_REPLICAS    | replicas that must hold scans before an edge drops them     |
 *
 *    With REDIS_SENTINELS, REDIS_URL is optional: when given, only its
 *    password, user name, database number and `rediss:` (TLS) are used —
 *    where the primary is comes from the sentinels.
 *
 * Why WAIT for scans (HC_REDIS_WAIT_REPLICAS, default 1 with Sentinel):
 * Redis replication is asynchronous (FACTS), so a primary that dies right
 * after acknowledging an XADD may take it along, and the promoted replica
 * never saw it. Deltas can afford that — the master's outbox is the source of
 * truth and the publisher re-publishes the hole — but a scan lives only in
 * the edge's spool until the stream acknowledges it, and the edge deletes it
 * then. `WAIT 1` makes the acknowledgement mean "on two machines" (Redis
 * docs, WAIT: it does not make Redis strongly consistent, but a failover
 * promotes the replica with the best offset, which holds every entry WAIT
 * confirmed). While no replica is up, scans stay in the edges' spools
 * (durable, fsync'd) and ship once one is back: slower, never lost.
 */

export interface SentinelAddress {
  readonly host: string;
  readonly port: number;
}

export interface RedisSentinelConfig {
  readonly sentinels: readonly SentinelAddress[];
  /** the primary's name as the sentinels monitor it */
  readonly name: string;
  readonly password?: string;
}

export interface RedisHaConfig {
  /** null: REDIS_URL names the one Redis server to use */
  readonly sentinel: RedisSentinelConfig | null;
  /** replicas that must acknowledge appended scans (WAIT), 0 = don't wait */
  readonly waitReplicas: number;
}

type Env = Readonly<Record<string, string | undefined>>;
/** stack-config.ts's error helper: throws SYNC_ERR_CONFIG naming the variable */
type Bad = (name: string, detail: string) => never;

const SENTINEL_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})$/;

function value(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** `host[:port]` → address; IPv6 in brackets (`[fd00::1]:26379`). */
function parseSentinel(item: string, bad: Bad): SentinelAddress {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(item);
  if (m === null || !HOST.test(m[1]!)) bad('REDIS_SENTINELS', `has a bad entry ${JSON.stringify(item)}: expected host:port, e.g. 10.0.3.31:26379`);
  const port = m[2] === undefined ? 26379 : Number(m[2]);
  if (port < 1 || port > 65535) bad('REDIS_SENTINELS', `has a bad port in ${JSON.stringify(item)}`);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port };
}

/** Reads REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_SENTINEL_PASSWORD and HC_REDIS_WAIT_REPLICAS (see the table above). */
export function loadRedisHa(env: Env, bad: Bad): RedisHaConfig {
  const list = value(env, 'REDIS_SENTINELS');
  const name = value(env, 'REDIS_SENTINEL_NAME');
  const password = value(env, 'REDIS_SENTINEL_PASSWORD');
  let sentinel: RedisSentinelConfig | null = null;
  if (list === undefined) {
    if (name !== undefined) bad('REDIS_SENTINEL_NAME', 'is set but REDIS_SENTINELS is not: list the sentinels (host:port,host:port,…)');
    if (password !== undefined) bad('REDIS_SENTINEL_PASSWORD', 'is set but REDIS_SENTINELS is not');
  } else {
    const sentinels = list.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => parseSentinel(s, bad));
    if (sentinels.length === 0) bad('REDIS_SENTINELS', 'lists no sentinel');
    const seen = new Set(sentinels.map((s) => `${s.host}:${s.port}`));
    if (seen.size !== sentinels.length) bad('REDIS_SENTINELS', 'lists a sentinel twice');
    if (name === undefined) bad('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS: the name the sentinels monitor the primary under (`sentinel monitor <name> …`)');
    if (!SENTINEL_NAME.test(name)) bad('REDIS_SENTINEL_NAME', 'must be 1–64 of A–Z a–z 0–9 . _ -');
    sentinel = { sentinels, name, ...(password === undefined ? {} : { password }) };
  }
  const waitRaw = value(env, 'HC_REDIS_WAIT_REPLICAS');
  let waitReplicas = sentinel === null ? 0 : 1;
  if (waitRaw !== undefined) {
    if (!/^\d{1,2}$/.test(waitRaw) || Number(waitRaw) > 16) bad('HC_REDIS_WAIT_REPLICAS', `must be a whole number 0–16, got ${JSON.stringify(waitRaw)}`);
    waitReplicas = Number(waitRaw);
  }
  return { sentinel, waitReplicas };
}

/**
 * The URL stack-config uses when REDIS_SENTINELS is set without REDIS_URL:
 * ioredis ignores a URL's host and port in Sentinel mode, so it only says
 * "Redis, no password, database 0" — and reads well in logs.
 */
export function sentinelPlaceholderUrl(s: RedisSentinelConfig): string {
  return `redis://${s.name}.sentinel/0`;
}

/** READONLY (a demoted primary) and MASTERDOWN (a replica cut off from its primary) → reconnect through the sentinels and resend. */
export function reconnectOnFailover(err: Error): 2 | false {
  return /^(READONLY|MASTERDOWN)\b/.test(err.message) ? 2 : false;
}

/** ioredis options for Sentinel mode, on top of a connection's own options; `sentinel` null → `base` unchanged. */
export function withSentinel(base: RedisOptions, sentinel: RedisSentinelConfig | null | undefined): RedisOptions {
  if (sentinel === null || sentinel === undefined) return base;
  return {
    ...base,
    sentinels: sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: sentinel.name,
    role: 'master',
    ...(sentinel.password === undefined ? {} : { sentinelPassword: sentinel.password }),
    // a sentinel that does not answer within this long is skipped for the next one
    sentinelCommandTimeout: 1000,
    // ask the sentinels again soon and forever: a failover takes seconds (down-after-milliseconds + election)
    sentinelRetryStrategy: (times: number) => Math.min(100 + times * 100, 1000),
    // sentinels learn of each other (`+sentinel`): keep the list current
    updateSentinels: true,
    reconnectOnError: reconnectOnFailover,
  };
}

/** Where the bus is, for the operator's log line (no password). */
export function describeSentinel(s: RedisSentinelConfig): string {
  return `Sentinel "${s.name}" via ${s.sentinels.map((x) => (x.host.includes(':') ? `[${x.host}]:${x.port}` : `${x.host}:${x.port}`)).join(', ')}`;
}
