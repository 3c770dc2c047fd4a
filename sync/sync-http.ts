import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { PublicKeyInfo } from '../core/signing-key.js';
import { CodedError } from '../core/coded-error.js';
import type { KeyRegistrar } from './edge-daemon.js';
import { SyncError } from './errors.js';
import { sendSyncError, SNAPSHOT_PATH, snapshotHandler, syncAuthorized, type SnapshotService, type SyncAuth } from './snapshot.js';

/**
 * The master's sync endpoint (its own port, SYNC_PORT, default 8082 on
 * 127.0.0.1; deploy/README.md): what edge daemons on other machines call.
 *
 *   GET  /sync/v1/snapshot[?minSeq=N]   snapshot.ts snapshotHandler (bootstrap)
 *   POST /sync/v1/node-keys             {node, keys: PublicKeyInfo[]} → registry (DESIGN §4)
 *   GET  /sync/v1/status                publisher / snapshot / importer metrics (JSON)
 *
 * Its own port rather than a route of admin-api: the back office is for
 * people with accounts and roles, behind its own rate limits and audit; this
 * is machine-to-machine traffic of the trusted node fleet (it streams
 * gigabytes, and registering a key is what lets a node's tokens verify).
 * With HC_SYNC_TOKEN set every call needs `Authorization: Bearer <token>`;
 * bind it to an internal interface either way.
 */
export interface SyncHttpOptions extends SyncAuth {
  readonly host: string;
  /** 0 = any free port */
  readonly port: number;
  readonly snapshots: SnapshotService;
  readonly registerKeys?: KeyRegistrar;
  readonly status?: () => unknown;
}

export interface SyncHttpServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const MAX_KEYS_BODY = 64 * 1024;
export const NODE_KEYS_PATH = '/sync/v1/node-keys';
export const STATUS_PATH = '/sync/v1/status';

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new SyncError('SYNC_ERR_BAD_REQUEST', `body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Errors of other layers (the registry's MASTER_ERR_*, core's CORE_ERR_KEY_*) keep their code and status. */
function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof CodedError && !(err instanceof SyncError)) {
    sendJson(res, err.statusCode, { error: err.code, message: err.message, ...(err.field === undefined ? {} : { field: err.field }) });
    return;
  }
  sendSyncError(res, err);
}

async function registerHandler(register: KeyRegistrar | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (register === undefined) throw new SyncError('SYNC_ERR_KEY_REGISTRATION', 'this sync endpoint does not register keys');
    const body = await readBody(req, MAX_KEYS_BODY);
    let json: { node?: unknown; keys?: unknown };
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json;
    } catch {
      throw new SyncError('SYNC_ERR_BAD_REQUEST', 'body is not JSON');
    }
    if (typeof json !== 'object' || json === null || typeof json.node !== 'string' || !Array.isArray(json.keys)) {
      throw new SyncError('SYNC_ERR_BAD_REQUEST', 'body must be {"node": string, "keys": [PublicKeyInfo…]}');
    }
    await register(json.node, json.keys as PublicKeyInfo[]);
    sendJson(res, 200, { ok: true });
  } catch (err) {
    sendError(res, err);
  }
}

export function startSyncHttp(opts: SyncHttpOptions): Promise<SyncHttpServer> {
  const snapshot = snapshotHandler(opts.snapshots, opts);
  const server: Server = createServer(function route(req, res) {
    const path = (req.url ?? '/').split('?')[0];
    if (path === SNAPSHOT_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      snapshot(req, res);
      return;
    }
    if (!syncAuthorized(req, opts)) {
      sendSyncError(res, new SyncError('SYNC_ERR_UNAUTHORIZED'));
      return;
    }
    if (path === NODE_KEYS_PATH && req.method === 'POST') {
      void registerHandler(opts.registerKeys, req, res);
      return;
    }
    if (path === STATUS_PATH && req.method === 'GET') {
      sendJson(res, 200, { snapshots: opts.snapshots.metrics(), ...(opts.status?.() as object | undefined) });
      return;
    }
    sendJson(res, 404, { error: 'SYNC_ERR_BAD_REQUEST', message: `no route ${req.method} ${path}` });
  });
  // a snapshot of gigabytes to a slow node: no request timeout (Node's default is 300 s)
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new SyncError('SYNC_ERR_CONFIG', `cannot listen on ${opts.host}:${opts.port}: ${err.code ?? err.message}`, 'SYNC_PORT')),
    );
    server.listen(opts.port, opts.host, () => {
      const port = (server.address() as AddressInfo).port;
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      resolve({
        port,
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * The edge side of key registration in a cluster: POST the node's public
 * keys to the master's sync endpoint (`syncUrl` = http://master:8082).
 */
export function httpKeyRegistrar(syncUrl: string, token?: string): KeyRegistrar {
  return async function registerOverHttp(node: string, keys: PublicKeyInfo[]): Promise<void> {
    let res;
    try {
      res = await request(new URL(NODE_KEYS_PATH, syncUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }) },
        body: JSON.stringify({ node, keys }),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
    } catch (err) {
      throw new SyncError('SYNC_ERR_KEY_REGISTRATION', `${syncUrl}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new SyncError('SYNC_ERR_KEY_REGISTRATION', `${syncUrl} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  };
}
