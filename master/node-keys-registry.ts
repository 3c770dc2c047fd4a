import { KeySet } from '../core/key-set.js';
import { parsePublicKeyInfo, type AlgName, type PublicKeyInfo } from '../core/signing-key.js';
import { MasterError } from './errors.js';
import type { MasterStore } from './store.js';

/**
 * The edges' public verification keys (DESIGN §4, key custody). Each edge
 * generates its signing keys itself (edge/node-keys.ts) and registers only
 * the public halves here; every change writes ONE `keys` delta carrying the
 * whole current public set `{keys: PublicKeyInfo[]}` — exactly the
 * GET /v1/keys body, which the edge stores as it is (sync/replica-writer.ts)
 * and parses with KeySet.fromPublicJson. Whole set, not a diff: an edge just
 * replaces its set, and a lost or reordered delta cannot leave a retired key
 * behind.
 *
 * A kid names one key forever (core/key-set.ts): registering a different
 * key, or the same key for another node, under a known kid is refused, and
 * so is bringing back a retired kid. Registering the same key again with a
 * new window (an extended notAfter) updates it.
 *
 * Retiring a node's kids (a compromised node) is one publish: its tokens stop
 * verifying everywhere, nobody else's do.
 *
 * Concurrency: every change takes one advisory lock before reading the set,
 * so two registrations cannot each publish a set missing the other's key.
 */
export interface NodeKey extends PublicKeyInfo {
  readonly node: string;
  /** unix seconds, or null while in the published set */
  readonly retiredAt: number | null;
}

export interface KeysChange {
  /** kids that changed (added, window updated, or retired) */
  readonly kids: number[];
  /** outbox sequence of the `keys` delta, null when nothing changed */
  readonly seq: number | null;
}

/** pg_advisory_xact_lock key: ASCII "hcnodeky". */
const NODE_KEYS_LOCK = '7521977227343653753';
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_KEYS = 256;

function bad(field: string, detail: string): MasterError {
  return new MasterError('MASTER_ERR_INVALID', detail, field);
}

interface Row {
  kid: number;
  node: string;
  alg: AlgName;
  public_key: Buffer;
  not_before: number;
  not_after: number;
  retired_at: number | null;
}

const COLUMNS = `kid, node, alg, public_key, extract(epoch FROM not_before)::bigint AS not_before,
  extract(epoch FROM not_after)::bigint AS not_after, extract(epoch FROM retired_at)::bigint AS retired_at`;

function toKey(r: Row): NodeKey {
  return {
    kid: r.kid, alg: r.alg, publicKey: r.public_key.toString('base64url'), notBefore: r.not_before, notAfter: r.not_after,
    node: r.node, retiredAt: r.retired_at,
  };
}

export class NodeKeysRegistry {
  readonly store: MasterStore;

  /** `new NodeKeysRegistry(store)` */
  constructor(store: MasterStore) {
    this.store = store;
  }

  /**
   * `register(node, keys: PublicKeyInfo[]) → {kids, seq}`
   * Keys are checked like /v1/keys entries (CORE_ERR_KEY_INVALID with
   * `keys[i].…`); conflicts → MASTER_ERR_KEY_CONFLICT. Nothing new → no delta.
   */
  async register(node: string, keys: readonly PublicKeyInfo[]): Promise<KeysChange> {
    if (typeof node !== 'string' || !NODE_NAME.test(node)) throw bad('node', '1–64 of A-Z a-z 0-9 . _ -');
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_KEYS) throw bad('keys', `must be 1–${MAX_KEYS} keys`);
    const parsed: PublicKeyInfo[] = [];
    const seen = new Set<number>();
    keys.forEach((k, i) => {
      const o = k as unknown as Record<string, unknown>;
      // only the public fields: a SigningKey's privateKey is dropped, never stored
      const info = parsePublicKeyInfo(
        typeof o === 'object' && o !== null ? { kid: o.kid, alg: o.alg, publicKey: o.publicKey, notBefore: o.notBefore, notAfter: o.notAfter } : o,
        `keys[${i}]`,
      );
      if (seen.has(info.kid)) throw bad(`keys[${i}].kid`, `kid ${info.kid} appears twice`);
      seen.add(info.kid);
      parsed.push(info);
    });
    return this.store.transaction(async (s) => {
      const tx = s.db;
      await tx.query(`SELECT pg_advisory_xact_lock(${NODE_KEYS_LOCK})`);
      const existing = await tx.query<Row>(
        `SELECT ${COLUMNS} FROM node_keys WHERE kid IN (SELECT value::int FROM jsonb_array_elements_text($1::jsonb))`,
        [JSON.stringify([...seen])],
      );
      const byKid = new Map(existing.rows.map((r) => [r.kid, r]));
      const changed: number[] = [];
      for (const k of parsed) {
        const old = byKid.get(k.kid);
        const raw = Buffer.from(k.publicKey, 'base64url');
        if (old === undefined) {
          await tx.query(
            `INSERT INTO node_keys (kid, node, alg, public_key, not_before, not_after) VALUES ($1, $2, $3, $4, to_timestamp($5), to_timestamp($6))`,
            [k.kid, node, k.alg, raw, k.notBefore, k.notAfter],
          );
          changed.push(k.kid);
          continue;
        }
        if (old.retired_at !== null) throw new MasterError('MASTER_ERR_KEY_CONFLICT', `kid ${k.kid} was retired`, 'kid');
        if (old.node !== node || old.alg !== k.alg || !old.public_key.equals(raw)) {
          throw new MasterError('MASTER_ERR_KEY_CONFLICT', `kid ${k.kid} already names another key or node`, 'kid');
        }
        if (old.not_before !== k.notBefore || old.not_after !== k.notAfter) {
          await tx.query('UPDATE node_keys SET not_before = to_timestamp($2), not_after = to_timestamp($3) WHERE kid = $1', [
            k.kid, k.notBefore, k.notAfter,
          ]);
          changed.push(k.kid);
        }
      }
      if (changed.length === 0) return { kids: [], seq: null };
      return { kids: changed.sort((a, b) => a - b), seq: await this.publish(s) };
    });
  }

  /**
   * `retire(kids: number[]) → {kids, seq}`
   * Removes the keys from the published set for good. Unknown kid →
   * MASTER_ERR_KEY_NOT_FOUND (nothing retired); already retired → no change.
   */
  async retire(kids: readonly number[]): Promise<KeysChange> {
    if (!Array.isArray(kids) || kids.length === 0 || kids.length > MAX_KEYS) throw bad('kids', `must be 1–${MAX_KEYS} key ids`);
    kids.forEach((k, i) => {
      if (!Number.isSafeInteger(k) || k < 0 || k > 0xffff) throw bad(`kids[${i}]`, 'must be an integer 0–65535');
    });
    const want = [...new Set(kids)];
    return this.store.transaction(async (s) => {
      const tx = s.db;
      await tx.query(`SELECT pg_advisory_xact_lock(${NODE_KEYS_LOCK})`);
      const rows = await tx.query<{ kid: number; retired: boolean }>(
        `SELECT kid, retired_at IS NOT NULL AS retired FROM node_keys WHERE kid IN (SELECT value::int FROM jsonb_array_elements_text($1::jsonb))`,
        [JSON.stringify(want)],
      );
      const known = new Map(rows.rows.map((r) => [r.kid, r.retired]));
      const missing = want.find((k) => !known.has(k));
      if (missing !== undefined) throw new MasterError('MASTER_ERR_KEY_NOT_FOUND', `kid ${missing}`, 'kids');
      const fresh = want.filter((k) => known.get(k) === false).sort((a, b) => a - b);
      if (fresh.length === 0) return { kids: [], seq: null };
      await tx.query(
        'UPDATE node_keys SET retired_at = $2 WHERE kid IN (SELECT value::int FROM jsonb_array_elements_text($1::jsonb))',
        [JSON.stringify(fresh), new Date(this.store.nowMs())],
      );
      return { kids: fresh, seq: await this.publish(s) };
    });
  }

  /** `retireNode(node) → {kids, seq}` — every key of a node (cutting off a compromised node in one publish). */
  async retireNode(node: string): Promise<KeysChange> {
    if (typeof node !== 'string' || !NODE_NAME.test(node)) throw bad('node', '1–64 of A-Z a-z 0-9 . _ -');
    const r = await this.store.db.query<{ kid: number }>('SELECT kid FROM node_keys WHERE node = $1 AND retired_at IS NULL', [node]);
    if (r.rows.length === 0) return { kids: [], seq: null };
    return this.retire(r.rows.map((x) => x.kid));
  }

  /** `list({includeRetired?}) → NodeKey[]` by kid. */
  async list(opts: { includeRetired?: boolean } = {}): Promise<NodeKey[]> {
    const r = await this.store.db.query<Row>(
      `SELECT ${COLUMNS} FROM node_keys ${opts.includeRetired === true ? '' : 'WHERE retired_at IS NULL'} ORDER BY kid`,
    );
    return r.rows.map(toKey);
  }

  /** `publicSet() → {keys: PublicKeyInfo[]}` — what the last `keys` delta carried. */
  async publicSet(): Promise<{ keys: PublicKeyInfo[] }> {
    return setOf(await this.list());
  }

  /** Reads the current set in the transaction and appends it as a `keys` delta. */
  private async publish(s: MasterStore): Promise<number> {
    const r = await s.db.query<Row>(`SELECT ${COLUMNS} FROM node_keys WHERE retired_at IS NULL ORDER BY kid`);
    return s.appendOutbox(s.db, { type: 'keys', keys: setOf(r.rows.map(toKey)) });
  }
}

/** Validated through KeySet, so the delta is exactly what an edge's KeySet.fromPublicJson accepts. */
function setOf(keys: readonly PublicKeyInfo[]): { keys: PublicKeyInfo[] } {
  return new KeySet(keys).toPublicJson();
}
