import { timingSafeEqual } from 'node:crypto';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import type { RawMessage } from './normalise.js';
import { Spool } from './spool.js';

/**
 * Two tiers (二级日志审计接入): a collector near the devices buffers every
 * message to its own disk spool and forwards it to the central system over
 * TLS, store-and-forward:
 *
 *   devices ─syslog/SNMP/files─▶ collector spool ──TLS batch {seq, items}──▶ central
 *                                      ▲                                      │ appends to
 *                                      └──────────── {ack: seq} ◀─────────────┘ its own spool
 *
 * A batch leaves the collector's spool only when the central system has it
 * on disk (ack); until then — central down, network cut, collector
 * restarted — it is resent, so nothing is lost (at least once). The central
 * side accepts several collectors (shared token), and keeps each one's
 * health: connected, last seen, batches, events, the backlog it reports.
 *
 * Wire: newline-delimited JSON. hello {id, token} → {ok} | {error};
 * batch {seq, backlog, items: [from, receivedMs, transport, base64, truncated][]}
 * → {ack: seq} | {nack: seq, error}.
 */
type Item = [string, number, RawMessage['transport'], string, 0 | 1];

export interface CollectorHealth {
  id: string;
  remote: string;
  connected: boolean;
  lastSeenMs: number;
  batches: number;
  events: number;
  backlogBytes: number;
}

function lines(sock: TLSSocket, onLine: (l: string) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (l) onLine(l);
    }
    if (buf.length > 64 * 1024 * 1024) sock.destroy(); // a batch cannot be this large
  });
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Central side: where collectors connect. */
export class ForwardServer {
  readonly collectors = new Map<string, CollectorHealth>();
  private server: Server | null = null;
  private readonly socks = new Set<TLSSocket>();

  constructor(
    private readonly o: { tls: TlsOptions; token: string | null; accept: (items: RawMessage[]) => boolean; now: () => number; onHello?: (c: CollectorHealth) => void },
  ) {}

  async listen(host: string, port: number): Promise<number> {
    const srv = createTlsServer(this.o.tls, (sock) => {
      this.socks.add(sock);
      let col: CollectorHealth | null = null;
      const send = (o: unknown): void => { sock.write(JSON.stringify(o) + '\n'); };
      lines(sock, (l) => {
        let msg: { hello?: { id?: unknown; token?: unknown }; seq?: number; backlog?: number; items?: Item[] };
        try { msg = JSON.parse(l) as typeof msg; } catch { sock.destroy(); return; }
        if (!col) {
          const id = msg.hello?.id;
          const tok = msg.hello?.token;
          if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9-]{0,40}$/.test(id) || (this.o.token !== null && (typeof tok !== 'string' || !sameToken(tok, this.o.token)))) {
            send({ error: 'LOG_ERR_FORWARD', message: 'unknown collector or bad token' });
            sock.end();
            return;
          }
          col = this.collectors.get(id) ?? { id, remote: '', connected: true, lastSeenMs: 0, batches: 0, events: 0, backlogBytes: 0 };
          col.remote = sock.remoteAddress ?? '';
          col.connected = true;
          col.lastSeenMs = this.o.now();
          this.collectors.set(id, col);
          this.o.onHello?.(col);
          send({ ok: true });
          return;
        }
        if (typeof msg.seq !== 'number' || !Array.isArray(msg.items)) { sock.destroy(); return; }
        const c = col;
        const items: RawMessage[] = msg.items.map(([from, receivedMs, , b64, tr]) => ({
          bytes: Buffer.from(b64, 'base64'), from, receivedMs, transport: 'forward', truncated: tr === 1, via: c.id,
        }));
        if (this.o.accept(items)) {
          c.batches++;
          c.events += items.length;
          c.backlogBytes = msg.backlog ?? 0;
          c.lastSeenMs = this.o.now();
          send({ ack: msg.seq });
        } else send({ nack: msg.seq, error: 'LOG_ERR_SPOOL_FULL' });
      });
      sock.on('error', () => undefined);
      sock.on('close', () => {
        this.socks.delete(sock);
        if (col) col.connected = false;
      });
    });
    await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen(port, host, () => { srv.off('error', rej); res(); }); });
    this.server = srv;
    return (srv.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

export interface CollectorOptions {
  id: string;
  dataDir: string;
  spoolMaxBytes: number;
  central: { host: string; port: number };
  ca: string | Buffer | null;
  token: string | null;
  now?: () => number;
  batchSize?: number;
  log?: (l: string) => void;
}

/** Collector side: everything to the spool, forwarded in acknowledged batches. */
export class Collector {
  readonly spool: Spool;
  readonly counters = { received: 0, shed: 0, forwarded: 0, batches: 0, reconnects: 0, nacks: 0 };
  connected = false;
  private stopped = false;
  private sock: TLSSocket | null = null;
  private seq = 0;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly o: CollectorOptions) {
    this.spool = new Spool(join(o.dataDir, 'logaudit', 'collector-spool'), o.spoolMaxBytes);
  }

  /** Intake sink: never pauses senders (the disk is the buffer); a full spool sheds and counts. */
  accept(m: RawMessage): boolean {
    this.counters.received++;
    if (!this.spool.append(m)) this.counters.shed++;
    this.wake?.();
    return false;
  }

  start(): void {
    this.loop = this.run();
  }

  private async connect(): Promise<{ sock: TLSSocket; next: () => Promise<Record<string, unknown>> }> {
    const sock = tlsConnect({ host: this.o.central.host, port: this.o.central.port, ...(this.o.ca ? { ca: this.o.ca } : {}), servername: 'localhost' });
    const queue: Record<string, unknown>[] = [];
    let waiter: ((v: Record<string, unknown> | null) => void) | null = null;
    let closed = false;
    lines(sock, (l) => {
      let m: Record<string, unknown>;
      try { m = JSON.parse(l) as Record<string, unknown>; } catch { sock.destroy(); return; }
      if (waiter) { const w = waiter; waiter = null; w(m); } else queue.push(m);
    });
    const onGone = (): void => { closed = true; if (waiter) { const w = waiter; waiter = null; w(null); } };
    sock.on('close', onGone);
    sock.on('error', onGone);
    await new Promise<void>((res, rej) => { sock.once('secureConnect', () => res()); sock.once('error', rej); });
    const next = (): Promise<Record<string, unknown>> => new Promise((res, rej) => {
      if (queue.length > 0) { res(queue.shift()!); return; }
      if (closed) { rej(new Error('connection closed')); return; }
      const t = setTimeout(() => { waiter = null; rej(new Error('no acknowledgement within 30 s')); }, 30_000);
      waiter = (v) => { clearTimeout(t); if (v) res(v); else rej(new Error('connection closed')); };
    });
    sock.write(JSON.stringify({ hello: { id: this.o.id, token: this.o.token } }) + '\n');
    const hi = await next();
    if (!hi.ok) throw new Error(`central refused: ${String(hi.message ?? hi.error)}`);
    return { sock, next };
  }

  private async run(): Promise<void> {
    let backoff = 200;
    while (!this.stopped) {
      try {
        const { sock, next } = await this.connect();
        this.sock = sock;
        this.connected = true;
        backoff = 200;
        while (!this.stopped) {
          const items = this.spool.read(this.o.batchSize ?? 1000);
          if (items.length === 0) {
            await new Promise<void>((r) => { this.wake = r; setTimeout(r, 500).unref(); });
            this.wake = null;
            continue;
          }
          const seq = ++this.seq;
          const wire: Item[] = items.map((m) => [m.from, m.receivedMs, m.transport, m.bytes.toString('base64'), m.truncated ? 1 : 0]);
          sock.write(JSON.stringify({ seq, backlog: Math.max(0, this.spool.bytes), items: wire }) + '\n');
          const r = await next();
          if (r.ack === seq) {
            this.spool.commit();
            this.counters.forwarded += items.length;
            this.counters.batches++;
          } else {
            this.counters.nacks++;
            await new Promise((res) => setTimeout(res, 1000));
          }
        }
        sock.end();
      } catch (e) {
        this.connected = false;
        if (this.stopped) break;
        this.counters.reconnects++;
        this.o.log?.(`logaudit collector: ${(e as Error).message}; retrying`);
        this.sock?.destroy();
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
    this.connected = false;
  }

  /** Resolves when the spool is empty (everything acknowledged) or the time is up. */
  async drained(timeoutMs = 30_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.spool.empty && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.spool.empty;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.sock?.destroy();
    await this.loop?.catch(() => undefined);
    this.spool.close();
  }
}
