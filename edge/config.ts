import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { SESSION_MIN_KEY_BYTES } from '../core/session-token.js';
import { EdgeError } from './errors.js';

/**
 * Edge configuration (DESIGN §5 operating contract, deploy/ reference).
 * Read from the environment ONCE at the entry point and validated there, so
 * a typo fails the start with a message naming the variable instead of a
 * surprise under load. Everything below the entry point takes an EdgeConfig.
 *
 * | variable               | default            | meaning |
 * | ---------------------- | ------------------ | ------- |
 * | EDGE_HOST              | 127.0.0.1          | listen address |
 * | EDGE_PORT              | 8080               | listen port (0 = any free port, single worker only) |
 * | EDGE_WORKERS           | cores              | server processes sharing the port (SO_REUSEPORT) |
 * | HC_DATA_DIR            | ./data             | replica/, spool/, node-keys.json, session.key |
 * | HC_SESSION_KEY         | (file)             | hex, ≥ 32 bytes; else `<data dir>/session.key`, created 0600 on first start |
 * | EDGE_MAX_LAG_SEC       | 120                | replica lag past which /readyz fails and displays carry a stale notice |
 * | TOKEN_TTL_SEC          | 3600               | lifetime of a TF1 token the node signs |
 * | EDGE_SIGN_ALG          | Ed25519            | algorithm of the node's own keys: Ed25519 or SM2 |
 * | EDGE_KEY_LIFETIME_DAYS | 30                 | validity window of a newly generated node key |
 * | EDGE_SIGN_THREADS      | 1                  | piscina signing threads per server process |
 * | EDGE_APP_SESSION_URL   | auto               | where the citizen page's login form posts: `auto` (same host, port 8081), `:<port>/v1/session` (same host, that port), a URL, or `none` (no form); the embedded stack sets `:<ADMIN_PORT>/v1/session` |
 * | EDGE_SESSION_CACHE     | 131072             | verified sessions held in the fixed session table (64-byte slots plus the token text, ≈ 128–256 B each, allocated at start; ≤ 16777216) |
 * | EDGE_SCAN_GATHER_MS    | 0                  | ms a scan group gathers before its fdatasync'ed write (edge/scan-spool.ts); 0 = the end of the tick |
 * | EDGE_DISPLAY_CACHE     | = EDGE_SESSION_CACHE | display bodies kept in memory per server process (512 B each, allocated at start; 0 = serve every display from LMDB; edge/display-cache.ts) |
 *
 * EDGE_MAX_LAG_SEC = 120: long enough to ride out a Redis failover or a
 * publisher restart (tens of seconds) without the whole fleet flapping out of
 * the load balancer, short enough that a code turned red reaches every
 * scanner within two minutes or the node says it cannot vouch for it.
 */
export interface EdgeConfig {
  readonly host: string;
  readonly port: number;
  readonly workers: number;
  readonly dataDir: string;
  /** shared with admin-api, which issues the sessions (core/session-token.ts) */
  readonly sessionKey: Buffer;
  readonly maxLagSec: number;
  readonly tokenTtlSec: number;
  readonly signAlg: 'Ed25519' | 'SM2';
  readonly keyLifetimeDays: number;
  readonly signThreads: number;
  readonly sessionCacheSize: number;
  /** display bodies held in memory per server process (edge/display-cache.ts); 0 = none; absent = sessionCacheSize */
  readonly displayCacheSize?: number;
  /** EDGE_APP_SESSION_URL: the citizen page's login endpoint (app-assets.ts `sessionUrl`); undefined = as built ("auto") */
  readonly appSessionUrl?: string | null;
  /** scan group commit window, ms (edge/scan-spool.ts); absent = 0 */
  readonly scanGatherMs?: number;
}

/** `<data dir>/session.key`: the session HMAC key, 64 hex characters and a newline, mode 0600. */
export const SESSION_KEY_FILE = 'session.key';

type Env = Readonly<Record<string, string | undefined>>;

function bad(name: string, expected: string, got: string): never {
  throw new EdgeError('EDGE_ERR_CONFIG', `${name} must be ${expected}, got ${JSON.stringify(got)}`, name);
}

function intVar(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw.trim())) bad(name, `an integer ${min}–${max}`, raw);
  const n = Number(raw.trim());
  if (n < min || n > max) bad(name, `an integer ${min}–${max}`, raw);
  return n;
}

function strVar(env: Env, name: string, dflt: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? dflt : raw;
}

function hexKey(name: string, raw: string): Buffer {
  const t = raw.trim();
  if (!/^([0-9a-fA-F]{2})+$/.test(t) || t.length < SESSION_MIN_KEY_BYTES * 2) {
    bad(name, `hex of at least ${SESSION_MIN_KEY_BYTES} bytes (${SESSION_MIN_KEY_BYTES * 2} hex characters)`, t.length > 8 ? `${t.slice(0, 4)}…(${t.length} chars)` : t);
  }
  return Buffer.from(t, 'hex');
}

/**
 * The session key from `<dataDir>/session.key`, creating it with a random
 * 32-byte key on first start. Created with O_EXCL so that edge and admin-api
 * starting together cannot each write a different key: the loser of the race
 * reads the winner's file. Mode 0600 — whoever reads it can mint sessions.
 */
export function loadOrCreateSessionKey(dataDir: string): Buffer {
  const path = join(dataDir, SESSION_KEY_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // A racing creator may not have written yet: an empty file is retried briefly.
  for (let i = 0; ; i++) {
    const text = readFileSync(path, 'utf8');
    if (text.trim() !== '' || i === 50) return hexKey(path, text);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

/** Reads and validates the edge configuration. Throws EDGE_ERR_CONFIG naming the variable. */
export function loadEdgeConfig(env: Env = process.env): EdgeConfig {
  const host = strVar(env, 'EDGE_HOST', '127.0.0.1');
  if (/\s/.test(host)) bad('EDGE_HOST', 'a host name or address', host);
  const port = intVar(env, 'EDGE_PORT', 8080, 0, 65535);
  const workers = intVar(env, 'EDGE_WORKERS', availableParallelism(), 1, 1024);
  if (port === 0 && workers > 1) bad('EDGE_PORT', 'a fixed port when EDGE_WORKERS > 1 (each server would pick its own)', '0');
  const dataDir = resolve(strVar(env, 'HC_DATA_DIR', './data'));
  const maxLagSec = intVar(env, 'EDGE_MAX_LAG_SEC', 120, 1, 86_400 * 7);
  const tokenTtlSec = intVar(env, 'TOKEN_TTL_SEC', 3600, 60, 86_400 * 7);
  const algRaw = strVar(env, 'EDGE_SIGN_ALG', 'Ed25519');
  const signAlg = algRaw.toLowerCase() === 'ed25519' ? 'Ed25519' : algRaw.toLowerCase() === 'sm2' ? 'SM2' : bad('EDGE_SIGN_ALG', 'Ed25519 or SM2', algRaw);
  const keyLifetimeDays = intVar(env, 'EDGE_KEY_LIFETIME_DAYS', 30, 1, 3650);
  if (keyLifetimeDays * 86_400 < tokenTtlSec * 4) {
    bad('EDGE_KEY_LIFETIME_DAYS', `at least 4 × TOKEN_TTL_SEC (${tokenTtlSec} s)`, String(keyLifetimeDays));
  }
  const signThreads = intVar(env, 'EDGE_SIGN_THREADS', 1, 1, 64);
  const sessionCacheSize = intVar(env, 'EDGE_SESSION_CACHE', 131_072, 1, 1 << 24);
  const displayCacheSize = intVar(env, 'EDGE_DISPLAY_CACHE', sessionCacheSize, 0, 1 << 24);
  const scanGatherMs = intVar(env, 'EDGE_SCAN_GATHER_MS', 0, 0, 50);
  const rawKey = env.HC_SESSION_KEY;
  const sessionKey = rawKey !== undefined && rawKey !== '' ? hexKey('HC_SESSION_KEY', rawKey) : loadOrCreateSessionKey(dataDir);
  const appSessionUrl = appSessionUrlVar(env);
  return { host, port, workers, dataDir, sessionKey, maxLagSec, tokenTtlSec, signAlg, keyLifetimeDays, signThreads, sessionCacheSize, displayCacheSize, scanGatherMs, appSessionUrl };
}

/** EDGE_APP_SESSION_URL: unset/auto → undefined (as built), none → null, `:<port>/path`, `/path` or an http(s) URL. */
function appSessionUrlVar(env: Env): string | null | undefined {
  const raw = env.EDGE_APP_SESSION_URL?.trim();
  if (raw === undefined || raw === '' || raw === 'auto') return undefined;
  if (raw === 'none') return null;
  if (/^:[0-9]{1,5}\/[A-Za-z0-9/._-]*$/.test(raw) && Number(raw.slice(1, raw.indexOf('/'))) <= 65535) return raw;
  if (/^\/[A-Za-z0-9/._-]*$/.test(raw)) return raw;
  try {
    const u = new URL(raw);
    if (u.protocol === 'http:' || u.protocol === 'https:') return raw;
  } catch {
    // falls through to the error
  }
  return bad('EDGE_APP_SESSION_URL', 'auto, none, :<port>/<path>, /<path> or an http(s) URL', raw);
}
