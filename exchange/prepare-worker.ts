import { parentPort, workerData } from 'node:worker_threads';
import { PiiCrypto, type Secrets } from '../master/pii-crypto.js';
import type { DatasetDef } from './datasets.js';
import { prepareChunk } from './prepare-chunk.js';
import type { CheckedRow } from './row-check.js';

/**
 * Worker thread of prepare-pool.ts: prepares chunks (prepare-chunk.ts) with
 * the master's secrets, handed over in workerData (same process, never
 * written anywhere). Answers `{ id, plans, refused, keys }` as arrays, or
 * `{ id, error }` with the error's name only (no personal data crosses back
 * in a message).
 */
interface Task { readonly id: number; readonly def: DatasetDef; readonly rows: readonly CheckedRow[]; readonly nowMs: number }

const s = workerData as { piiKeys: Map<number, Uint8Array>; piiKeyVersion: number; lookupKey: Uint8Array; uidPepper: Uint8Array };
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const secrets = {
  piiKeys: new Map([...s.piiKeys].map(([v, k]) => [v, buf(k)])), piiKeyVersion: s.piiKeyVersion,
  lookupKey: buf(s.lookupKey), uidPepper: buf(s.uidPepper),
} as Pick<Secrets, 'piiKeys' | 'piiKeyVersion' | 'lookupKey' | 'uidPepper'>;
const crypto = new PiiCrypto(secrets);

parentPort!.on('message', (t: Task) => {
  try {
    const p = prepareChunk(t.def, secrets, crypto, t.rows, t.nowMs);
    parentPort!.postMessage({ id: t.id, plans: [...p.plans], refused: [...p.refused], keys: [...p.keys] });
  } catch (err) {
    parentPort!.postMessage({ id: t.id, error: `${(err as Error).name} ${(err as { code?: string }).code ?? ''}` });
  }
});
