import { randomInt } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { activeSigningKey } from '../core/key-set.js';
import { generateSigningKey, signingKeyFromPrivate, type AlgName, type PublicKeyInfo, type SigningKey } from '../core/signing-key.js';
import { EdgeError } from './errors.js';

/**
 * This node's own TF1 signing keys (DESIGN §4, key custody).
 *
 * Generated ON the node from the OS CSPRNG and kept only in
 * `<dataDir>/node-keys.json`, mode 0600, never copied off the node: a leaked
 * signing key lets anyone mint green codes (the EU DCC keys leaked in 2021),
 * so each node holds keys of its own and cutting off a node is one publish
 * that retires its kids. Only the public halves leave the node (registered
 * with the master by sync; they come back to every node in the replica's
 * `keys` meta and are served at GET /v1/keys).
 *
 * File (JSON, so an operator can read the public halves and windows):
 *
 *   { "format": 1, "keys": [ SigningKey, … ] }     SigningKey = core/signing-key.ts
 *
 * The file is refused (EDGE_ERR_KEY_FILE) when group or others can read it —
 * like ssh refusing a world-readable private key.
 *
 * Rotation without restart: `rotateNodeKey` appends a new key and rewrites
 * the file atomically (write temp, fsync, rename, fsync dir). Server
 * processes notice the new mtime (NodeKeyWatcher) and sign with the new key
 * once it is in force AND published; signing threads get the kid with each
 * task and reload the file when they meet a kid they do not know. Old keys
 * stay in the file until their notAfter has passed — no token of theirs
 * outlives it (signTf1 caps exp at notAfter) — and are pruned afterwards.
 *
 * One rotator per node: the supervisor (edge/main.ts) or the single embedded
 * process. Creation on first start is race-free across processes (hard link
 * of a complete temp file: exactly one creator wins).
 */
export const NODE_KEYS_FILE = 'node-keys.json';
const FORMAT = 1;

export interface NodeKeyOptions {
  readonly alg: AlgName;
  /** validity window of a new key, seconds */
  readonly lifetimeSec: number;
  /** unix seconds */
  readonly now: number;
  /** when the new key may start signing (default `now`); set it ahead to give the public half time to reach every node */
  readonly notBefore?: number;
  /** kids already used anywhere (the replica's published key set): a kid names one key forever */
  readonly avoidKids?: Iterable<number>;
}

export function nodeKeysPath(dataDir: string): string {
  return join(dataDir, NODE_KEYS_FILE);
}

function fileError(path: string, detail: string): EdgeError {
  return new EdgeError('EDGE_ERR_KEY_FILE', `${path}: ${detail}`);
}

/** Reads and checks the key file; null when it does not exist. */
export function readNodeKeys(dataDir: string): SigningKey[] | null {
  const path = nodeKeysPath(dataDir);
  let text: string;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) throw fileError(path, `mode ${(st.mode & 0o777).toString(8)} lets others read it; chmod 600`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof EdgeError) throw err;
    throw fileError(path, (err as Error).message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw fileError(path, 'not JSON');
  }
  const o = json as { format?: unknown; keys?: unknown };
  if (typeof o !== 'object' || o === null || o.format !== FORMAT || !Array.isArray(o.keys)) {
    throw fileError(path, `expected {"format": ${FORMAT}, "keys": [...]}`);
  }
  const seen = new Set<number>();
  return o.keys.map((k: unknown, i: number) => {
    const r = k as Record<string, unknown>;
    let key: SigningKey;
    try {
      // re-derives the public half from the private one: a hand-edited public key cannot slip in
      key = signingKeyFromPrivate(r.alg as AlgName, r.kid as number, r.privateKey as string, r.notBefore as number, r.notAfter as number);
    } catch (err) {
      throw fileError(path, `keys[${i}]: ${(err as Error).message}`);
    }
    if (seen.has(key.kid)) throw fileError(path, `kid ${key.kid} appears twice`);
    seen.add(key.kid);
    return key;
  });
}

function serialise(keys: readonly SigningKey[]): string {
  const list = keys.map((k) => ({ kid: k.kid, alg: k.alg, publicKey: k.publicKey, notBefore: k.notBefore, notAfter: k.notAfter, privateKey: k.privateKey }));
  return `${JSON.stringify({ format: FORMAT, keys: list }, null, 2)}\n`;
}

function writeTemp(path: string, text: string): string {
  const tmp = `${path}.tmp-${process.pid}-${randomInt(1 << 30)}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function pickKid(taken: ReadonlySet<number>): number {
  // uint16 kid space; 0 is left unused so that a zeroed field never names a key
  for (let i = 0; i < 64; i++) {
    const kid = randomInt(1, 0x10000);
    if (!taken.has(kid)) return kid;
  }
  // a crowded space: draw among what is left
  const free: number[] = [];
  for (let kid = 1; kid < 0x10000; kid++) if (!taken.has(kid)) free.push(kid);
  if (free.length === 0) throw new EdgeError('EDGE_ERR_KEY_FILE', 'all 65535 key ids are taken');
  return free[randomInt(free.length)]!;
}

function newKey(existing: readonly SigningKey[], o: NodeKeyOptions): SigningKey {
  if (!Number.isInteger(o.lifetimeSec) || o.lifetimeSec <= 0) throw new RangeError(`lifetimeSec ${o.lifetimeSec}`);
  const taken = new Set<number>(o.avoidKids ?? []);
  for (const k of existing) taken.add(k.kid);
  const notBefore = o.notBefore ?? o.now;
  return generateSigningKey(o.alg, pickKid(taken), notBefore, notBefore + o.lifetimeSec);
}

/**
 * The node's keys, creating the file with one fresh key on first start.
 * Safe when several processes start at once: each writes a complete temp
 * file and hard-links it into place; link() fails for all but the first,
 * and the losers read the winner's file.
 */
export function ensureNodeKeys(dataDir: string, o: NodeKeyOptions): SigningKey[] {
  const existing = readNodeKeys(dataDir);
  if (existing !== null) return existing;
  const path = nodeKeysPath(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = writeTemp(path, serialise([newKey([], o)]));
  try {
    linkSync(tmp, path);
    fsyncDir(dirname(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return readNodeKeys(dataDir)!;
}

/**
 * Adds a new key (in force from `o.notBefore ?? o.now`) and drops keys whose
 * notAfter has passed. Returns the new key. The caller then registers its
 * public half (sync) — until it is published, servers keep signing with the
 * previous key (see chooseSigningKey).
 */
export function rotateNodeKey(dataDir: string, o: NodeKeyOptions): SigningKey {
  const existing = readNodeKeys(dataDir) ?? [];
  const key = newKey(existing, o);
  const kept = existing.filter((k) => k.notAfter > o.now);
  const path = nodeKeysPath(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  renameSync(writeTemp(path, serialise([...kept, key])), path);
  fsyncDir(dirname(path));
  return key;
}

/**
 * Rotates when the newest key ends within a third of the key lifetime. The
 * new key starts `lead` seconds ahead (a tenth of the lifetime, at most a
 * day) so that its public half can reach every node through sync before the
 * first token signed with it does.
 */
export function rotateIfDue(dataDir: string, o: NodeKeyOptions): SigningKey | null {
  const keys = readNodeKeys(dataDir) ?? [];
  const newestEnd = keys.reduce((m, k) => Math.max(m, k.notAfter), 0);
  if (newestEnd - o.now > o.lifetimeSec / 3) return null;
  const lead = Math.min(86_400, Math.floor(o.lifetimeSec / 10));
  return rotateNodeKey(dataDir, { ...o, notBefore: Math.max(o.now, Math.min(o.now + lead, newestEnd - lead)) });
}

/** The public halves, for registration with the master. */
export function publicNodeKeys(keys: readonly SigningKey[]): PublicKeyInfo[] {
  return keys.map((k) => ({ kid: k.kid, alg: k.alg, publicKey: k.publicKey, notBefore: k.notBefore, notAfter: k.notAfter }));
}

/**
 * The key to sign with at `now`: the newest own key in force whose public
 * half is published (`isPublished(kid, publicKey)`: present in the replica's
 * key set with the same public key) — a token signed with an unpublished key
 * would not verify anywhere. When no own key is published yet (a node before
 * its first registration, the embedded stack before sync ran) the newest own
 * key in force is used and `published` is false (a metric, readyz detail).
 */
export function chooseSigningKey(
  keys: readonly SigningKey[],
  now: number,
  isPublished: (kid: number, publicKey: string) => boolean,
): { key: SigningKey; published: boolean } | null {
  const published = activeSigningKey(keys.filter((k) => isPublished(k.kid, k.publicKey)), now);
  if (published !== undefined) return { key: published, published: true };
  const any = activeSigningKey(keys, now);
  return any === undefined ? null : { key: any, published: false };
}

/**
 * Re-reads the key file when its mtime changes (servers call `current()` at
 * most once a second from a timer, never per request).
 */
export class NodeKeyWatcher {
  private mtimeMs = -1;
  private size = -1;
  private keys: SigningKey[] = [];

  constructor(private readonly dataDir: string) {
    this.refresh();
  }

  /** Re-reads the file if it changed; returns whether it did. */
  refresh(): boolean {
    let st;
    try {
      st = statSync(nodeKeysPath(this.dataDir));
    } catch {
      return false;
    }
    if (st.mtimeMs === this.mtimeMs && st.size === this.size) return false;
    const keys = readNodeKeys(this.dataDir);
    this.mtimeMs = st.mtimeMs;
    this.size = st.size;
    this.keys = keys ?? [];
    return true;
  }

  current(): readonly SigningKey[] {
    return this.keys;
  }
}
