import { createHmac } from 'node:crypto';
import { personKey, uidOf } from '../core/identity.js';
import { personColumns, type PersonColumns } from '../master/person-columns.js';
import type { PiiCrypto, Secrets } from '../master/pii-crypto.js';
import type { DatasetDef } from './datasets.js';
import { keyOf, type CheckedRow } from './row-check.js';

/**
 * The CPU half of a chunk, before any SQL: each accepted row's person as the
 * master stores it (person key, uid, keyed hashes, AES-GCM fields — the
 * master's own functions) and the keyed hash of its duplicate key. Pure, so
 * it runs in a worker thread (prepare-pool.ts) while the main thread writes
 * the previous chunk into the embedded database; the result is the same in
 * either place.
 */
export interface PersonPlan extends PersonColumns {
  readonly uid: Buffer;
}

export interface PreparedChunk {
  /** row → the person (datasets with persons) */
  readonly plans: Map<number, PersonPlan>;
  /** row → field the master's identity rules refused (the row is rejected, not the batch) */
  readonly refused: Map<number, string>;
  /** row → HMAC (hex) of the dataset id and the row's key fields: the duplicate check's key */
  readonly keys: Map<number, string>;
}

/**
 * The person of an accepted row, prepared exactly as MasterStore.upsertPerson
 * does (same person key and uid, and the same master/person-columns.ts), so a
 * person imported here is the one who logs in later.
 */
export function planPerson(v: Record<string, string | number>, secrets: Pick<Secrets, 'uidPepper'>, crypto: PiiCrypto, now: Date): PersonPlan {
  const input = { idType: v.idType as string | undefined, idNo: v.idNo as string | undefined, phone: v.phone as string | undefined };
  const key = personKey(input, now);
  const uid = uidOf(key, secrets.uidPepper);
  const given = { phone: typeof v.phone === 'string' ? v.phone : null, name: typeof v.name === 'string' ? v.name : null };
  return { uid, ...personColumns(key, uid, crypto, given) };
}

export function prepareChunk(
  def: DatasetDef, secrets: Pick<Secrets, 'uidPepper' | 'lookupKey'>, crypto: PiiCrypto, rows: readonly CheckedRow[], nowMs: number,
): PreparedChunk {
  const now = new Date(nowMs);
  const plans = new Map<number, PersonPlan>();
  const refused = new Map<number, string>();
  const keys = new Map<number, string>();
  for (const r of rows) {
    if (def.target !== 'carrier-stay') {
      try {
        plans.set(r.row, planPerson(r.values, secrets, crypto, now));
      } catch (err) {
        refused.set(r.row, (err as { field?: string }).field ?? 'idNo');
        continue;
      }
    }
    keys.set(r.row, createHmac('sha256', secrets.lookupKey).update(`${def.id}\u001e${keyOf(def, r)}`).digest('hex'));
  }
  return { plans, refused, keys };
}

/** One chunk's preparation from its slices (row numbers are distinct across slices). */
export function mergePrepared(parts: readonly PreparedChunk[]): PreparedChunk {
  if (parts.length === 1) return parts[0]!;
  const out: PreparedChunk = { plans: new Map(), refused: new Map(), keys: new Map() };
  for (const p of parts) {
    for (const [k, v] of p.plans) out.plans.set(k, v);
    for (const [k, v] of p.refused) out.refused.set(k, v);
    for (const [k, v] of p.keys) out.keys.set(k, v);
  }
  return out;
}
