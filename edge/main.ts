import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KeySet } from '../core/key-set.js';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { loadEdgeConfig, type EdgeConfig } from './config.js';
import { EdgeError } from './errors.js';
import { ensureNodeKeys, rotateIfDue } from './node-keys.js';
import { ReplicaReader } from './replica-reader.js';

/**
 * `node dist/edge/main.js`: the edge node's supervisor. Validates the
 * configuration once, creates the node's signing key if there is none
 * (before any server starts, so servers never race to create it), then forks
 * EDGE_WORKERS server processes (dist/edge/worker.js) that share EDGE_PORT
 * through SO_REUSEPORT and each open the replica themselves (FACTS: lmdb —
 * separate reader processes, never an env used across fork()).
 *
 * Processes rather than worker threads: each server gets its own event loop,
 * heap and GC, and a crash takes down one server, not the node. A crashed
 * server is restarted (backoff doubling from 0.5 s to 30 s while it keeps
 * dying within 10 s of starting). SIGINT/SIGTERM stop every server cleanly
 * (SIGKILL after 10 s) and then the supervisor, exit code 0.
 *
 * The supervisor also rotates the node's keys when due (hourly check): one
 * rotator per node (edge/node-keys.ts).
 */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const STABLE_AFTER_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const ROTATION_CHECK_MS = 3_600_000;

export function workerFile(): string {
  const here = import.meta.url;
  return fileURLToPath(here.endsWith('.ts') ? new URL('../dist/edge/worker.js', here) : new URL('./worker.js', here));
}

interface Slot {
  child: ChildProcess | null;
  startedAt: number;
  backoffMs: number;
  timer: NodeJS.Timeout | null;
}

export interface EdgeSupervisor {
  /** pids of the running servers */
  pids(): number[];
  /** resolves once every server has reported ready (the first time) */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/** Fails with EDGE_ERR_CONFIG if something already listens on host:port (a second node, another program). */
export function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(new EdgeError('EDGE_ERR_CONFIG', `${host}:${port} is not available (${err.code ?? err.message})`, 'EDGE_PORT'));
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function publishedKids(dataDir: string): number[] {
  try {
    const reader = ReplicaReader.open(join(dataDir, REPLICA_DIR));
    try {
      const raw = reader.keys();
      return raw === undefined || raw === null ? [] : KeySet.fromPublicJson(raw).toPublicJson().keys.map((k) => k.kid);
    } finally {
      void reader.close();
    }
  } catch {
    return [];
  }
}

export async function superviseEdge(config: EdgeConfig, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<EdgeSupervisor> {
  await checkPortFree(config.host, config.port);
  const keyOpts = () => ({
    alg: config.signAlg,
    lifetimeSec: config.keyLifetimeDays * 86_400,
    now: Math.floor(Date.now() / 1000),
    avoidKids: publishedKids(config.dataDir),
  });
  ensureNodeKeys(config.dataDir, keyOpts());
  const rotation = setInterval(() => {
    try {
      const k = rotateIfDue(config.dataDir, keyOpts());
      if (k !== null) log(`edge: generated node key ${k.kid}, in force from ${k.notBefore}: register its public half`);
    } catch (err) {
      log(`edge: key rotation failed: ${(err as Error).message}`);
    }
  }, ROTATION_CHECK_MS);
  rotation.unref();

  const file = workerFile();
  let stopping = false;
  let readyCount = 0;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const slots: Slot[] = Array.from({ length: config.workers }, () => ({ child: null, startedAt: 0, backoffMs: RESTART_MIN_MS, timer: null }));

  function start(slot: Slot, index: number): void {
    slot.timer = null;
    if (stopping) return;
    slot.startedAt = Date.now();
    const child = fork(file, [], { env: { ...process.env, HC_EDGE_WORKER: String(index) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    slot.child = child;
    let reported = false;
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'ready' && !reported) {
        reported = true;
        log(`edge: server ${index} (pid ${child.pid}) listening on ${config.host}:${m.port}`);
        if (++readyCount === config.workers) markReady();
      }
    });
    child.on('exit', (code, signal) => {
      slot.child = null;
      if (stopping) return;
      const lived = Date.now() - slot.startedAt;
      slot.backoffMs = lived > STABLE_AFTER_MS ? RESTART_MIN_MS : Math.min(slot.backoffMs * 2, RESTART_MAX_MS);
      log(`edge: server ${index} (pid ${child.pid}) exited (${signal ?? `code ${code}`}); restarting in ${slot.backoffMs} ms`);
      slot.timer = setTimeout(start, slot.backoffMs, slot, index);
    });
  }
  slots.forEach(start);

  async function stop(): Promise<void> {
    stopping = true;
    clearInterval(rotation);
    await Promise.all(
      slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            if (slot.timer !== null) clearTimeout(slot.timer);
            const child = slot.child;
            if (child === null || child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }

  return {
    pids: () => slots.flatMap((s) => (s.child?.pid === undefined ? [] : [s.child.pid])),
    ready,
    stop,
  };
}

async function main(): Promise<void> {
  let config: EdgeConfig;
  try {
    config = loadEdgeConfig();
  } catch (err) {
    process.stderr.write(`edge: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const sup = await superviseEdge(config);
  let signalled = false;
  const onSignal = (sig: string) => {
    if (signalled) return;
    signalled = true;
    process.stderr.write(`edge: ${sig}, stopping ${config.workers} server(s)\n`);
    void sup.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  await sup.ready;
  process.send?.({ type: 'ready', pids: sup.pids() });
  process.stderr.write(`edge: ${config.workers} server(s) ready on ${config.host}:${config.port}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`edge: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  });
}
