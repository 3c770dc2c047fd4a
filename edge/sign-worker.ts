import { workerData } from 'node:worker_threads';
import type { SigningKey } from '../core/signing-key.js';
import { signTf1 } from '../core/token.js';
import { EdgeError } from './errors.js';
import { readNodeKeys } from './node-keys.js';

/**
 * A piscina signing thread (DESIGN §4: signing never runs on the event loop
 * that answers requests). Loaded by edge/sign-pool.ts as compiled JS
 * (dist/edge/sign-worker.js).
 *
 * One task = one batch of tokens, all with the same key: a message round
 * trip per signature would cost more than the Ed25519 signature itself
 * (FACTS: piscina, batch tasks). The task names the key by kid; the thread
 * keeps the node's keys in memory and re-reads `<dataDir>/node-keys.json`
 * when it meets a kid it does not know — that is how a rotated key reaches a
 * running pool without a restart.
 *
 * Task layout (structured-clone friendly: three typed arrays, no objects per token):
 *
 *   kid     uint16 of the node key to sign with
 *   uids    n × 16 bytes, back to back
 *   colors  n bytes: 0 green, 1 yellow, 2 red
 *   times   2n uint32: iat0, exp0, iat1, exp1, …
 *
 * Result: n TF1 texts in task order.
 */
export interface SignTask {
  readonly kid: number;
  readonly uids: Uint8Array;
  readonly colors: Uint8Array;
  readonly times: Uint32Array;
}

const dataDir = (workerData as { dataDir?: string } | undefined)?.dataDir;
const keys = new Map<number, SigningKey>();

function load(): void {
  if (typeof dataDir !== 'string') throw new EdgeError('EDGE_ERR_SIGNING', 'sign worker started without workerData.dataDir');
  keys.clear();
  for (const k of readNodeKeys(dataDir) ?? []) keys.set(k.kid, k);
}

function keyFor(kid: number): SigningKey {
  let k = keys.get(kid);
  if (k === undefined) {
    load();
    k = keys.get(kid);
    if (k === undefined) throw new EdgeError('EDGE_ERR_SIGNING', `kid ${kid} is not in this node's key file`);
  }
  return k;
}

export default function signBatch(task: SignTask): string[] {
  const key = keyFor(task.kid);
  const n = task.colors.length;
  const out = new Array<string>(n);
  const uids = Buffer.from(task.uids.buffer, task.uids.byteOffset, task.uids.byteLength);
  for (let i = 0; i < n; i++) {
    out[i] = signTf1(key, {
      uid: uids.subarray(i * 16, i * 16 + 16),
      color: task.colors[i] as 0 | 1 | 2,
      iat: task.times[2 * i]!,
      exp: task.times[2 * i + 1]!,
    });
  }
  return out;
}
