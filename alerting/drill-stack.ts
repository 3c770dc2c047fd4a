import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlertingError } from './errors.js';

/**
 * The stack an emergency drill (安全应急演练) breaks: a real cluster-mode
 * deployment on this machine, every part a process of its own so a fault
 * is a real fault —
 *
 *   redis-server   private port, its own data dir (AOF: a restart keeps the stream)
 *   master         node dist/main.js HC_ROLE=master, PGlite in its own data dir,
 *                  admin-api + publisher + snapshots + capabilities (alerting included)
 *   edge 1…n       node dist/main.js HC_ROLE=edge, each with its own LMDB replica
 *
 * — the same entry point and environment variables an operator uses
 * (deploy/README.md), so what is drilled is what ships. Nothing here touches
 * the machine's shared PostgreSQL or Redis: the drill stops only what it
 * started. Process logs go to <dir>/<name>.log.
 */
export interface DrillStackOptions {
  /** a fresh directory for data and logs */
  readonly dir: string;
  readonly edges: number;
  readonly demoPeople: number;
  /** the SMS platform the master's alerting sends to (the simulator) */
  readonly smsGatewayUrl: string;
  readonly smsGatewayKey: string;
  readonly alertPhones: string;
  /** extra master environment (tick and sampling periods of a drill) */
  readonly masterEnv?: Readonly<Record<string, string>>;
  /** run the master watchdog (master-watchdog.ts) in every edge, probing this stack's master, paging the same gateway */
  readonly edgeWatchdog?: { readonly forSec: number; readonly intervalMs: number };
  readonly log: (line: string) => void;
  /** how long a process may take to be ready (PGlite + demo data on a loaded machine) */
  readonly startTimeoutMs?: number;
}

/** The compiled entry point next to this file's own output, or dist/ when run from source (vitest). */
export function mainScript(): string {
  const here = fileURLToPath(import.meta.url);
  const root = join(dirname(here), '..');
  return here.endsWith('.ts') ? join(root, 'dist', 'main.js') : join(root, 'main.js');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** One RESP PING on a fresh connection: true when Redis answers +PONG. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v: boolean): void => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

export class DrillStack {
  readonly sessionKey = randomBytes(32).toString('hex');
  readonly syncToken = randomBytes(32).toString('hex');
  readonly redisPrefix = 'drill:';
  redisPort = 0;
  adminPort = 0;
  syncPort = 0;
  readonly edgePorts: number[] = [];
  private redis: Proc | null = null;
  private master: Proc | null = null;
  private readonly edges: (Proc | null)[] = [];
  private readonly logs = new Map<string, WriteStream>();

  private constructor(private readonly o: DrillStackOptions) {}

  static async start(o: DrillStackOptions): Promise<DrillStack> {
    const s = new DrillStack(o);
    try {
      if (!existsSync(mainScript())) throw new AlertingError('ALR_ERR_DRILL_STACK', `${mainScript()} is missing: build first (npm run build)`, 'dist');
      s.redisPort = await freePort();
      s.adminPort = await freePort();
      s.syncPort = await freePort();
      for (let i = 0; i < o.edges; i++) {
        s.edgePorts.push(await freePort());
        s.edges.push(null);
      }
      await s.startRedis();
      await s.startMaster();
      for (let i = 0; i < o.edges; i++) await s.startEdge(i);
      return s;
    } catch (err) {
      await s.close();
      throw err;
    }
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  edgeUrl(i: number): string {
    return `http://127.0.0.1:${this.edgePorts[i]!}`;
  }

  edgeRunning(i: number): boolean {
    return this.edges[i] !== null;
  }

  logPath(name: string): string {
    return join(this.o.dir, `${name}.log`);
  }

  private logStream(name: string): WriteStream {
    let w = this.logs.get(name);
    if (w === undefined) {
      w = createWriteStream(this.logPath(name), { flags: 'a' });
      this.logs.set(name, w);
    }
    return w;
  }

  private track(name: string, child: ChildProcess): Proc {
    const w = this.logStream(name);
    child.stdout?.pipe(w, { end: false });
    child.stderr?.pipe(w, { end: false });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited };
  }

  /** A child's environment: only what the drill says (the caller's DATABASE_URL or REDIS_URL must not leak in). */
  private baseEnv(): NodeJS.ProcessEnv {
    const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR'];
    const env: NodeJS.ProcessEnv = {};
    for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
    return env;
  }

  // ── Redis ───────────────────────────────────────────────────────────────

  async startRedis(): Promise<void> {
    const dir = join(this.o.dir, 'redis');
    mkdirSync(dir, { recursive: true });
    const child = spawn('redis-server', ['--port', String(this.redisPort), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.baseEnv(),
    });
    const p = this.track('redis', child);
    const failed = new Promise<never>((_, reject) => {
      child.on('error', (err) => reject(new AlertingError('ALR_ERR_DRILL_STACK', `redis-server did not start: ${err.message}`, 'redis')));
    });
    this.redis = p;
    await Promise.race([this.waitUntil('redis', async () => ((await redisPing(this.redisPort)) ? true : undefined), 15_000), failed]);
    this.o.log(`drill: redis-server on 127.0.0.1:${this.redisPort} (pid ${child.pid})`);
  }

  /** SIGTERM: Redis writes its AOF and exits, as `systemctl stop redis` does. */
  async stopRedis(): Promise<void> {
    const r = this.redis;
    if (r === null) return;
    this.redis = null;
    r.child.kill('SIGTERM');
    await r.exited;
  }

  // ── master ──────────────────────────────────────────────────────────────

  private forkMain(name: string, env: NodeJS.ProcessEnv): Promise<Proc> {
    const child = fork(mainScript(), [], { env: { ...this.baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const p = this.track(name, child);
    const timeout = this.o.startTimeoutMs ?? 180_000;
    return new Promise<Proc>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new AlertingError('ALR_ERR_DRILL_STACK', `not ready within ${timeout} ms (log: ${this.logPath(name)})`, name));
      }, timeout);
      child.on('message', (m: { type?: string }) => {
        if (m?.type !== 'ready') return;
        clearTimeout(timer);
        resolve(p);
      });
      void p.exited.then((code) => {
        clearTimeout(timer);
        reject(new AlertingError('ALR_ERR_DRILL_STACK', `exited with ${code} before it was ready (log: ${this.logPath(name)})`, name));
      });
    });
  }

  async startMaster(): Promise<void> {
    const edgeUrls = this.edgePorts.map((_, i) => this.edgeUrl(i)).join(',');
    this.master = await this.forkMain('master', {
      HC_ROLE: 'master',
      HC_DATA_DIR: join(this.o.dir, 'master'),
      REDIS_URL: `redis://127.0.0.1:${this.redisPort}`,
      HC_REDIS_PREFIX: this.redisPrefix,
      ADMIN_HOST: '127.0.0.1',
      ADMIN_PORT: String(this.adminPort),
      SYNC_HOST: '127.0.0.1',
      SYNC_PORT: String(this.syncPort),
      HC_SYNC_TOKEN: this.syncToken,
      HC_SESSION_KEY: this.sessionKey,
      HC_NODE_ID: 'drill-master',
      HC_DEMO_PEOPLE: String(this.o.demoPeople),
      HC_DEMO_VENUES: '40',
      ADMIN_LOG_LEVEL: 'warn',
      // the province's nginx sits in front of the back office: client addresses come as X-Forwarded-For
      ADMIN_TRUST_PROXY: '127.0.0.1',
      SESSION_RATE_PER_MIN: '100000',
      SMS_GATEWAY_URL: this.o.smsGatewayUrl,
      SMS_GATEWAY_KEY: this.o.smsGatewayKey,
      ALERT_PHONES: this.o.alertPhones,
      ALERT_EDGE_URLS: edgeUrls,
      ALERT_SYNC_STATUS_URL: `http://127.0.0.1:${this.syncPort}/sync/v1/status`,
      ...this.o.masterEnv,
    });
    this.o.log(`drill: master (PGlite, admin-api ${this.adminUrl}, sync :${this.syncPort}, pid ${this.master.child.pid})`);
  }

  /** SIGKILL: the master's machine is gone, nothing is flushed or closed. */
  async killMaster(): Promise<void> {
    const m = this.master;
    if (m === null) return;
    this.master = null;
    m.child.kill('SIGKILL');
    await m.exited;
  }

  // ── edges ───────────────────────────────────────────────────────────────

  async startEdge(i: number): Promise<void> {
    const name = `edge-${i + 1}`;
    const p = await this.forkMain(name, {
      HC_ROLE: 'edge',
      HC_DATA_DIR: join(this.o.dir, name),
      REDIS_URL: `redis://127.0.0.1:${this.redisPort}`,
      HC_REDIS_PREFIX: this.redisPrefix,
      HC_SYNC_URL: `http://127.0.0.1:${this.syncPort}`,
      HC_SYNC_TOKEN: this.syncToken,
      HC_SESSION_KEY: this.sessionKey,
      HC_NODE_ID: name,
      EDGE_HOST: '127.0.0.1',
      EDGE_PORT: String(this.edgePorts[i]!),
      EDGE_WORKERS: '1',
      ...(this.o.edgeWatchdog === undefined
        ? {}
        : {
            WATCHDOG_MASTER_URL: `${this.adminUrl}/healthz`,
            WATCHDOG_FOR_SEC: String(this.o.edgeWatchdog.forSec),
            WATCHDOG_INTERVAL_MS: String(this.o.edgeWatchdog.intervalMs),
            SMS_GATEWAY_URL: this.o.smsGatewayUrl,
            SMS_GATEWAY_KEY: this.o.smsGatewayKey,
            ALERT_PHONES: this.o.alertPhones,
          }),
    });
    this.edges[i] = p;
    this.o.log(`drill: ${name} on ${this.edgeUrl(i)} (pid ${p.child.pid})`);
  }

  /** SIGKILL: a crashed edge machine. */
  async killEdge(i: number): Promise<void> {
    const p = this.edges[i];
    if (p === null || p === undefined) return;
    this.edges[i] = null;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  private async waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new AlertingError('ALR_ERR_DRILL_STACK', `not ready within ${timeoutMs} ms`, what);
      await sleep(100);
    }
  }

  /** Stops everything it started: edges, master (SIGTERM, then SIGKILL after 20 s), Redis. */
  async close(): Promise<void> {
    const term = async (p: Proc | null): Promise<void> => {
      if (p === null || p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
      await p.exited;
      clearTimeout(t);
    };
    await Promise.all(this.edges.map((e, i) => {
      this.edges[i] = null;
      return term(e);
    }));
    const m = this.master;
    this.master = null;
    await term(m);
    const r = this.redis;
    this.redis = null;
    await term(r);
    await Promise.all([...this.logs.values()].map((w) => new Promise<void>((resolve) => w.end(() => resolve()))));
    this.logs.clear();
  }
}
