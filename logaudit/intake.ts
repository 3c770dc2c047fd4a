import { createServer, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import type { RawMessage } from './normalise.js';
import { SyslogFramer } from './tcp-framing.js';
import { UdpReader } from './udp-reader.js';

/**
 * Syslog listeners: UDP (RFC 5426), TCP (RFC 6587, octet counting or
 * newline framing) and TLS (RFC 5425), each on IPv4 or IPv6 (the host
 * decides: "::" or "::1" is IPv6). Every message goes to `sink`, which
 * answers whether the engine is congested: TCP/TLS connections are then
 * paused (real back-pressure — the sender's socket buffer fills and it slows
 * down) until `resume()`; UDP cannot be slowed, so the engine spools instead.
 */
export interface IntakeSink {
  /** returns true when the engine wants the senders to slow down */
  accept(m: RawMessage): boolean;
  count(outcome: 'framing_error' | 'connections', n?: number): void;
}

function peer(addr: string | undefined): string {
  if (!addr) return 'unknown';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

export class SyslogIntake {
  private readonly udp: UdpReader[] = [];
  private readonly servers: Server[] = [];
  private readonly paused = new Set<Socket>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly sink: IntakeSink, private readonly maxBytes: number, private readonly now: () => number = Date.now) {}

  async listenUdp(host: string, port: number): Promise<number> {
    const r = new UdpReader();
    const p = await r.listen(host, port, (msg, from, at) => {
      // a datagram is one message (RFC 5426); over the limit → kept cut, counted as oversized
      const truncated = msg.length > this.maxBytes;
      this.sink.accept({ bytes: truncated ? msg.subarray(0, this.maxBytes) : msg, from, transport: 'udp', receivedMs: this.clockIsReal ? at : this.now(), truncated });
    });
    this.udp.push(r);
    return p;
  }

  /** the reader thread stamps receive times with the real clock; a pinned test clock wins */
  private get clockIsReal(): boolean {
    return this.now === Date.now;
  }

  async listenTcp(host: string, port: number): Promise<number> {
    return this.listenStream(createServer(), host, port, 'tcp', 'connection');
  }

  async listenTls(host: string, port: number, tls: TlsOptions): Promise<number> {
    return this.listenStream(createTlsServer(tls), host, port, 'tls', 'secureConnection');
  }

  private async listenStream(server: Server, host: string, port: number, transport: 'tcp' | 'tls', ev: string): Promise<number> {
    server.on(ev, (sock: Socket) => {
      this.sink.count('connections');
      this.sockets.add(sock);
      const framer = new SyslogFramer(this.maxBytes);
      const from = peer(sock.remoteAddress);
      const deliver = (frames: { bytes: Buffer; truncated: boolean }[]): void => {
        const at = this.now();
        let congested = false;
        for (const f of frames) congested = this.sink.accept({ bytes: f.bytes, from, transport, receivedMs: at, truncated: f.truncated }) || congested;
        if (congested && !this.paused.has(sock)) { sock.pause(); this.paused.add(sock); }
      };
      sock.on('data', (chunk: Buffer) => {
        deliver(framer.push(chunk));
        if (framer.broken) {
          this.sink.count('framing_error');
          sock.destroy();
        }
      });
      sock.on('end', () => deliver(framer.end()));
      sock.on('error', () => undefined);
      sock.on('close', () => { this.sockets.delete(sock); this.paused.delete(sock); });
    });
    server.on('tlsClientError', () => this.sink.count('framing_error'));
    await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(port, host, () => { server.off('error', rej); res(); }); });
    this.servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  /** the engine has room again: let paused connections send */
  resume(): void {
    for (const s of this.paused) s.resume();
    this.paused.clear();
  }

  async close(): Promise<void> {
    for (const s of this.udp) await s.close();
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
    this.udp.length = 0;
    this.servers.length = 0;
  }
}
