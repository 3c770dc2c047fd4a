import { CoreError } from './errors.js';
import { parsePublicKeyInfo, verifierFor, type PublicKeyInfo, type SigningKey, type PublicKeyVerifier } from './signing-key.js';

/**
 * The public keys a verifier trusts — exactly what `GET /v1/keys` serves
 * (DESIGN §5): `{"keys": [{"kid", "alg", "publicKey", "notBefore", "notAfter"}]}`.
 *
 * Immutable: every change returns a new set, so an edge can swap the set it
 * verifies with in one assignment when sync delivers a new one. Entries (and
 * the verification material cached in them: node KeyObjects, SM2 points with
 * their precomputed tables) are shared between a set and the sets derived
 * from it, and built lazily on the first verification with each key.
 *
 * A kid names one key forever: adding a different key under a kid already in
 * the set is refused; the same key with a changed window replaces the entry.
 */

interface Entry {
  readonly info: PublicKeyInfo;
  /** built on first use; shared by every KeySet holding this entry */
  verifier: PublicKeyVerifier | null;
}

function setError(field: string, detail: string): CoreError {
  return new CoreError('CORE_ERR_KEY_SET_INVALID', detail, field);
}

function isUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export class KeySet {
  /** by kid, ascending */
  private readonly entries: ReadonlyMap<number, Entry>;

  /**
   * Validates each key (CORE_ERR_KEY_INVALID, field `keys[i].…`) and refuses a
   * repeated kid (CORE_ERR_KEY_SET_INVALID). Only the five public fields are
   * kept, so passing SigningKeys never puts a private key into toPublicJson().
   */
  constructor(keys: readonly PublicKeyInfo[]) {
    if (!Array.isArray(keys)) throw setError('keys', 'keys must be an array');
    this.entries = sortedMap(parseEntries(keys, pickPublic));
  }

  /**
   * Parses a `/v1/keys` body strictly: an object with exactly one field
   * `keys`, an array of keys each with exactly the five public fields
   * (an unknown field anywhere → error, see parsePublicKeyInfo).
   */
  static fromPublicJson(json: unknown): KeySet {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw setError('$', 'key set must be an object {"keys": [...]}');
    }
    for (const name of Object.keys(json)) {
      if (name !== 'keys') throw setError(name, 'unknown field');
    }
    const keys = (json as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) throw setError('keys', 'keys must be an array');
    return KeySet.of(parseEntries(keys, asIs));
  }

  /** Builds a set from already-validated entries (no re-validation, caches kept). */
  private static of(list: readonly Entry[]): KeySet {
    const ks: KeySet = Object.create(KeySet.prototype);
    (ks as unknown as { entries: ReadonlyMap<number, Entry> }).entries = sortedMap(list);
    return ks;
  }

  get size(): number {
    return this.entries.size;
  }

  get(kid: number): PublicKeyInfo | undefined {
    return this.entries.get(kid)?.info;
  }

  /** Verification material for `kid`, built on first use and cached in the entry. */
  verifier(kid: number): PublicKeyVerifier | undefined {
    const e = this.entries.get(kid);
    if (e === undefined) return undefined;
    return e.verifier ?? (e.verifier = verifierFor(e.info));
  }

  /**
   * Builds the verification material of every key now (an SM2 point's table
   * takes ~10 ms) so the first request with each key does not pay for it.
   */
  warm(): this {
    for (const e of this.entries.values()) if (e.verifier === null) e.verifier = verifierFor(e.info);
    return this;
  }

  /** Exactly the `/v1/keys` body, keys by ascending kid; fresh objects the caller may keep. */
  toPublicJson(): { keys: PublicKeyInfo[] } {
    const keys: PublicKeyInfo[] = [];
    for (const { info } of this.entries.values()) {
      keys.push({ kid: info.kid, alg: info.alg, publicKey: info.publicKey, notBefore: info.notBefore, notAfter: info.notAfter });
    }
    return { keys };
  }

  toJSON(): { keys: PublicKeyInfo[] } {
    return this.toPublicJson();
  }

  /**
   * The keys still needed to verify at `now`: notAfter + maxTokenLifetime >= now.
   * DESIGN §4: old keys stay published until every token signed with them has
   * expired. verifyTf1 already refuses tokens with exp > notAfter, so a key's
   * last token is gone by notAfter; the extra maxTokenLifetime is slack for
   * clocks and for a key whose window was shortened after it signed.
   */
  prune(now: number, maxTokenLifetimeSec: number): KeySet {
    if (!isUint(now)) throw setError('now', 'now must be unix seconds');
    if (!isUint(maxTokenLifetimeSec)) throw setError('maxTokenLifetimeSec', 'must be a non-negative integer');
    const kept: Entry[] = [];
    for (const e of this.entries.values()) {
      if (e.info.notAfter + maxTokenLifetimeSec >= now) kept.push(e);
    }
    return kept.length === this.entries.size ? this : KeySet.of(kept);
  }

  /**
   * Adds a key, or replaces the window of the same key (same alg and public
   * key). A different key under an existing kid → CORE_ERR_KEY_SET_INVALID.
   */
  withKey(k: PublicKeyInfo): KeySet {
    const info = parsePublicKeyInfo(pickPublic(k), 'key');
    const old = this.entries.get(info.kid);
    if (old !== undefined && (old.info.alg !== info.alg || old.info.publicKey !== info.publicKey)) {
      throw setError('key.kid', `kid ${info.kid} already names a different key`);
    }
    const list: Entry[] = [];
    for (const e of this.entries.values()) if (e.info.kid !== info.kid) list.push(e);
    list.push({ info, verifier: old?.verifier ?? null });
    return KeySet.of(list);
  }

  /** Removes a key (retiring a compromised node's key: its tokens stop verifying). */
  without(kid: number): KeySet {
    if (!this.entries.has(kid)) return this;
    const list: Entry[] = [];
    for (const e of this.entries.values()) if (e.info.kid !== kid) list.push(e);
    return KeySet.of(list);
  }
}

function parseEntries(keys: readonly unknown[], prepare: (k: unknown) => unknown): Entry[] {
  const list: Entry[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < keys.length; i++) {
    const info = parsePublicKeyInfo(prepare(keys[i]), `keys[${i}]`);
    if (seen.has(info.kid)) throw setError(`keys[${i}].kid`, `kid ${info.kid} appears twice`);
    seen.add(info.kid);
    list.push({ info, verifier: null });
  }
  return list;
}

function asIs(k: unknown): unknown {
  return k;
}

function sortedMap(list: readonly Entry[]): ReadonlyMap<number, Entry> {
  const sorted = [...list].sort((a, b) => a.info.kid - b.info.kid);
  return new Map(sorted.map((e) => [e.info.kid, e]));
}

/** Drops a SigningKey's privateKey (and anything else) before strict validation. */
function pickPublic(k: unknown): unknown {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) return k;
  const o = k as Record<string, unknown>;
  return { kid: o.kid, alg: o.alg, publicKey: o.publicKey, notBefore: o.notBefore, notAfter: o.notAfter };
}

/**
 * Rotation: the key to sign with at `now` is the newest one in force — the
 * highest notBefore ≤ now among keys with notAfter > now (ties: highest kid).
 * A node registers its next key (through sync, so every verifier has it)
 * before that key's notBefore; from then on new tokens use it while tokens of
 * the old key keep verifying until they expire.
 *
 * The caller still caps a token's exp at the key's notAfter (signTf1 refuses
 * otherwise), so the next key should start at least one token lifetime
 * before the current one ends.
 */
export function activeSigningKey(keys: readonly SigningKey[], now: number): SigningKey | undefined {
  let best: SigningKey | undefined;
  for (const k of keys) {
    if (k.notBefore > now || k.notAfter <= now) continue;
    if (best === undefined || k.notBefore > best.notBefore || (k.notBefore === best.notBefore && k.kid > best.kid)) best = k;
  }
  return best;
}
