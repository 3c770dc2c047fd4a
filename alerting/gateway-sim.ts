import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { maskPhone } from '../core/identity.js';
import { AlertingError } from './errors.js';
import { parseMessage, SIG_HEADER, TS_HEADER, verifySignature, type SmsMessage } from './sms-protocol.js';

/**
 * A simulator of the province SMS platform (SMS-PROTOCOL.md), a real HTTP
 * server: the tests and the bench send to it, and `npm start` without
 * SMS_GATEWAY_URL uses it so an operator sees the messages in the log.
 * It checks signatures and the replay window, sends each id at most once,
 * and can be told to misbehave like a real platform does:
 *
 *   ok       200 {ok, id, duplicate, accepted}
 *   down     the connection is cut (a stopped platform / firewall reset)
 *   slow     accepts, answers after `slowMs` (the client times out and retries)
 *   error500 500 without accepting
 *   garbage  accepts, answers 200 with HTML (a proxy's error page)
 */
export type GatewayMode = 'ok' | 'down' | 'slow' | 'error500' | 'garbage';

export interface DeliveredSms extends SmsMessage {
  readonly atMs: number;
}

export interface GatewaySim {
  readonly url: string;
  mode: GatewayMode;
  slowMs: number;
  /** accepted messages, each id once, in arrival order */
  readonly delivered: DeliveredSms[];
  /** every request that reached it (retries included) */
  requests: number;
  /** called for every accepted message (bench: latency at the gateway) */
  onDeliver: ((m: DeliveredSms) => void) | null;
  close(): Promise<void>;
}

export interface GatewaySimOptions {
  readonly key: string;
  readonly replayWindowSec?: number;
  readonly port?: number;
  /** one line per accepted message, phones masked */
  readonly log?: (line: string) => void;
}

function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startGatewaySim(opts: GatewaySimOptions): Promise<GatewaySim> {
  const seen = new Set<string>();
  const windowSec = opts.replayWindowSec ?? 300;
  const sim: GatewaySim = {
    url: '',
    mode: 'ok',
    slowMs: 2000,
    delivered: [],
    requests: 0,
    onDeliver: null,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: 'ALR_ERR_GATEWAY_UNAVAILABLE', message: 'internal' });
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    sim.requests++;
    if (sim.mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (req.method !== 'POST') {
      send(res, 404, { error: 'ALR_ERR_GATEWAY_BAD_REQUEST', message: 'POST a message' });
      return;
    }
    const body = await readBody(req, 64 * 1024);
    if (body === null) return;
    if (sim.mode === 'error500') {
      send(res, 500, { error: 'ALR_ERR_GATEWAY_UNAVAILABLE', message: 'platform error' });
      return;
    }
    let msg: SmsMessage;
    try {
      verifySignature(opts.key, { ts: header(req, TS_HEADER), sig: header(req, SIG_HEADER) }, body, Date.now(), windowSec);
      msg = parseMessage(body);
    } catch (err) {
      if (err instanceof AlertingError) send(res, err.statusCode, err.toJSON());
      else throw err;
      return;
    }
    const duplicate = seen.has(msg.id);
    if (!duplicate) {
      seen.add(msg.id);
      const d: DeliveredSms = { ...msg, atMs: Date.now() };
      sim.delivered.push(d);
      opts.log?.(`短信网关(模拟): 发往 ${msg.phones.map(maskPhone).join('、')}: ${msg.text}`);
      sim.onDeliver?.(d);
    }
    if (sim.mode === 'slow') await new Promise((r) => setTimeout(r, sim.slowMs));
    if (sim.mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>502 Bad Gateway</body></html>');
      return;
    }
    if (res.destroyed) return;
    send(res, 200, { ok: true, id: msg.id, duplicate, accepted: msg.phones.length });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
  (sim as { url: string }).url = `http://127.0.0.1:${addr.port}/sms/v1/send`;
  sim.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return sim;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
