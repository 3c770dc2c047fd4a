import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { EdgeError } from './errors.js';
import type { SignTask } from './sign-worker.js';

/**
 * The signing pool (DESIGN §4): TF1 signatures are made on piscina threads,
 * never on the event loop that answers requests.
 *
 * Requests made during one event-loop turn are gathered and sent as ONE task
 * per key (up to `maxBatch` tokens): piscina's message round trip costs more
 * than an Ed25519 signature (≈ 30 µs, FACTS), so a burst of misses — a code
 * change for a whole district, an edge that just bootstrapped — is signed at
 * the signature rate rather than the message rate. Threads are kept warm
 * (minThreads = maxThreads, idle timeout off): a cold thread costs tens of
 * milliseconds to start, on the display path of whoever triggers it.
 *
 * The worker always runs as compiled JS: `dist/edge/sign-worker.js` beside
 * this file in production, and the same built file when this module is
 * loaded from TypeScript source (vitest; test/global-setup.ts builds first).
 */
export interface SignRequest {
  readonly uid: Uint8Array;
  readonly color: 0 | 1 | 2;
  readonly iat: number;
  readonly exp: number;
}

export interface SignPoolOptions {
  readonly dataDir: string;
  readonly threads: number;
  /** tokens per task (default 256) */
  readonly maxBatch?: number;
}

interface Pending {
  readonly kid: number;
  readonly req: SignRequest;
  resolve(token: string): void;
  reject(err: Error): void;
}

/** Sign latency histogram bucket bounds, milliseconds (Prometheus `le`). */
export const SIGN_LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000] as const;

export function signWorkerFile(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../dist/edge/sign-worker.js', here) : new URL('./sign-worker.js', here);
  const path = fileURLToPath(url);
  if (!existsSync(path)) {
    throw new EdgeError('EDGE_ERR_SIGNING', `${path} is missing: run \`npm run build\` (the signing threads run compiled JS)`);
  }
  return path;
}

export class SignPool {
  private readonly pool: Piscina<SignTask, string[]>;
  private readonly maxBatch: number;
  private pending: Pending[] = [];
  private scheduled = false;
  private closed = false;
  /** histogram counts per SIGN_LATENCY_BUCKETS_MS bound, plus +Inf last */
  readonly latencyBuckets = new Float64Array(SIGN_LATENCY_BUCKETS_MS.length + 1);
  latencySumMs = 0;
  latencyCount = 0;
  signed = 0;
  tasks = 0;
  failures = 0;

  constructor(o: SignPoolOptions) {
    this.maxBatch = o.maxBatch ?? 256;
    this.pool = new Piscina<SignTask, string[]>({
      filename: signWorkerFile(),
      workerData: { dataDir: o.dataDir },
      minThreads: o.threads,
      maxThreads: o.threads,
      idleTimeout: 2 ** 31 - 1,
      // the task is synchronous and leaves nothing running: idle threads may block in Atomics.wait (FACTS: piscina)
      atomics: 'sync',
    });
  }

  /** Signs one token with node key `kid`; batched with every other request of this turn. */
  sign(kid: number, req: SignRequest): Promise<string> {
    if (this.closed) return Promise.reject(new EdgeError('EDGE_ERR_SIGNING', 'signing pool is closed'));
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ kid, req, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(flushPool, this);
      }
    });
  }

  /** Sends what was gathered: one task per kid per maxBatch tokens. @internal */
  flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    const byKid = new Map<number, Pending[]>();
    for (const p of all) {
      let list = byKid.get(p.kid);
      if (list === undefined) byKid.set(p.kid, (list = []));
      list.push(p);
    }
    for (const [kid, list] of byKid) {
      for (let i = 0; i < list.length; i += this.maxBatch) void this.runTask(kid, list.slice(i, i + this.maxBatch));
    }
  }

  private async runTask(kid: number, batch: Pending[]): Promise<void> {
    const n = batch.length;
    const uids = new Uint8Array(n * 16);
    const colors = new Uint8Array(n);
    const times = new Uint32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const r = batch[i]!.req;
      uids.set(r.uid, i * 16);
      colors[i] = r.color;
      times[2 * i] = r.iat;
      times[2 * i + 1] = r.exp;
    }
    const t0 = performance.now();
    this.tasks++;
    let tokens: string[];
    try {
      tokens = await this.pool.run({ kid, uids, colors, times });
    } catch (err) {
      this.failures += n;
      const e = err instanceof EdgeError ? err : new EdgeError('EDGE_ERR_SIGNING', (err as Error).message);
      for (const p of batch) p.reject(e);
      return;
    }
    this.observe(performance.now() - t0, n);
    for (let i = 0; i < n; i++) batch[i]!.resolve(tokens[i]!);
  }

  private observe(ms: number, n: number): void {
    let b = 0;
    while (b < SIGN_LATENCY_BUCKETS_MS.length && ms > SIGN_LATENCY_BUCKETS_MS[b]!) b++;
    this.latencyBuckets[b]! += n;
    this.latencySumMs += ms * n;
    this.latencyCount += n;
    this.signed += n;
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pending.length > 0) this.flush();
    await this.pool.destroy();
  }
}

function flushPool(pool: SignPool): void {
  pool.flush();
}
