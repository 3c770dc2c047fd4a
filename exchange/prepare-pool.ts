import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PiiCrypto, Secrets } from '../master/pii-crypto.js';
import type { DatasetDef } from './datasets.js';
import { prepareChunk, type PersonPlan, type PreparedChunk } from './prepare-chunk.js';
import type { CheckedRow } from './row-check.js';

/**
 * One worker thread that prepares the next chunk (hashing and encryption,
 * prepare-chunk.ts) while the main thread writes the current one: the
 * embedded database (PGlite, WASM) runs on the main thread, so without a
 * second thread the crypto and the SQL take turns on one core.
 *
 * The thread runs compiled JS (dist/exchange/prepare-worker.js, as the
 * edge's signing threads do); where it is not built (a bundled script, a
 * source checkout before `npm run build`) chunks are prepared in-process —
 * the same function, the same result, only without the overlap.
 */
export function prepareWorkerFile(): string | null {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../dist/exchange/prepare-worker.js', here) : new URL('./prepare-worker.js', here);
  const path = fileURLToPath(url);
  return existsSync(path) ? path : null;
}

interface Answer {
  readonly id: number;
  readonly plans?: [number, Record<keyof PersonPlan, unknown>][];
  readonly refused?: [number, string][];
  readonly keys?: [number, string][];
  readonly error?: string;
}

const asBuffer = (u: unknown): Buffer | null => (u instanceof Uint8Array ? Buffer.from(u.buffer, u.byteOffset, u.byteLength) : null);

export class PreparePool {
  private worker: Worker | null = null;
  private readonly file: string | null;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (p: PreparedChunk) => void; reject: (e: Error) => void }>();

  constructor(private readonly secrets: Secrets, private readonly crypto: PiiCrypto, file: string | null = prepareWorkerFile()) {
    this.file = file;
  }

  /** true when chunks go to the worker thread */
  get threaded(): boolean {
    return this.file !== null;
  }

  prepare(def: DatasetDef, rows: readonly CheckedRow[], nowMs: number): Promise<PreparedChunk> {
    if (this.file === null) {
      try {
        return Promise.resolve(prepareChunk(def, this.secrets, this.crypto, rows, nowMs));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const w = this.start(this.file);
    const id = this.next++;
    return new Promise<PreparedChunk>((resolve, reject) => {
      if (this.pending.size === 0) w.ref(); // a chunk in the thread keeps the process alive until it is answered
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, def, rows, nowMs });
    });
  }

  /** Ends the thread (pending chunks fail); a later prepare() starts a new one. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w !== null) await w.terminate();
    this.failAll(new Error('prepare thread closed'));
  }

  private start(file: string): Worker {
    if (this.worker !== null) return this.worker;
    const s = this.secrets;
    const w = new Worker(file, {
      workerData: { piiKeys: s.piiKeys, piiKeyVersion: s.piiKeyVersion, lookupKey: s.lookupKey, uidPepper: s.uidPepper },
    });
    w.unref(); // an idle thread never keeps the master alive
    w.on('message', (a: Answer) => {
      const p = this.pending.get(a.id);
      if (p === undefined) return;
      this.pending.delete(a.id);
      if (this.pending.size === 0) w.unref();
      if (a.error !== undefined) {
        p.reject(new Error(`prepare thread: ${a.error}`));
        return;
      }
      const plans = new Map<number, PersonPlan>();
      for (const [row, x] of a.plans!) {
        plans.set(row, {
          uid: asBuffer(x.uid)!, certType: x.certType as PersonPlan['certType'], certHash: asBuffer(x.certHash), certEnc: asBuffer(x.certEnc),
          phoneHash: asBuffer(x.phoneHash), phoneEnc: asBuffer(x.phoneEnc), nameEnc: asBuffer(x.nameEnc),
          nameMasked: x.nameMasked as string | null, region: x.region as string | null,
        });
      }
      p.resolve({ plans, refused: new Map(a.refused), keys: new Map(a.keys) });
    });
    const died = (err: Error): void => {
      if (this.worker === w) this.worker = null;
      this.failAll(err);
    };
    w.on('error', died);
    w.on('exit', (code) => died(new Error(`prepare thread exited (${code})`)));
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}
