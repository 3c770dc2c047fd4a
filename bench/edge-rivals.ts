import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import uWS from '@trufflesuite/uws-js-unofficial';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

/**
 * The two servers bench/edge.ts measures the edge against, each run as its
 * own process (pinned to the same core as the edge, driven by the same wrk
 * script):
 *
 *   hello    the ceiling: uWS answering GET /v1/code with one fixed display
 *            body and the same Content-Type the edge sends — the same bytes
 *            on the wire, no session, no lookup.
 *   fastify  the baseline "what a team would otherwise write": Fastify 5 +
 *            ioredis, one Redis GET per request. Deliberately generous: it
 *            does NOT verify the session (the key is the bearer token
 *            itself, loaded by the bench), and ioredis auto-pipelining is on
 *            (ioredis README: 35–50 % for many small commands).
 *
 *   node dist/bench/edge-rivals.js hello   --body-file <f>
 *   node dist/bench/edge-rivals.js fastify --prefix <redis key prefix> [--redis redis://127.0.0.1:6379]
 *
 * Each listens on an ephemeral loopback port and reports it over IPC:
 * `{ type: 'ready', port, pid }`. SIGTERM or losing the parent ends it.
 */
const HOST = '127.0.0.1';
const JSON_TYPE = 'application/json';

function arg(argv: readonly string[], name: string): string | undefined {
  const k = argv.indexOf(name);
  return k < 0 ? undefined : argv[k + 1];
}

function ready(port: number): void {
  process.send?.({ type: 'ready', port, pid: process.pid });
}

function onHello(body: Buffer, res: uWS.HttpResponse): void {
  res.writeHeader('content-type', JSON_TYPE).end(body);
}

function startHello(argv: readonly string[]): void {
  const file = arg(argv, '--body-file');
  if (file === undefined) throw new Error('hello needs --body-file');
  const body = readFileSync(file);
  const app = uWS.App();
  app.get('/v1/code', (res) => onHello(body, res));
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end();
  });
  app.listen(HOST, 0, (socket) => {
    if (socket === false) throw new Error('hello: cannot listen');
    ready(uWS.us_socket_local_port(socket));
  });
  const stop = (): void => {
    (app as unknown as { close(): void }).close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}

async function startFastify(argv: readonly string[]): Promise<void> {
  const prefix = arg(argv, '--prefix');
  if (prefix === undefined || prefix === '') throw new Error('fastify needs --prefix');
  const redis = new Redis(arg(argv, '--redis') ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true, lazyConnect: false });
  const app = Fastify({ logger: false });
  app.get('/v1/code', async (req, reply) => {
    const auth = req.headers.authorization;
    if (auth === undefined || !auth.startsWith('Bearer ')) {
      reply.code(401);
      return { error: 'EDGE_ERR_UNAUTHENTICATED' };
    }
    const body = await redis.getBuffer(prefix + auth.slice(7));
    if (body === null) {
      reply.code(401);
      return { error: 'EDGE_ERR_UNAUTHENTICATED' };
    }
    reply.header('content-type', JSON_TYPE);
    return body;
  });
  await app.listen({ host: HOST, port: 0 });
  const addr = app.server.address();
  ready(typeof addr === 'object' && addr !== null ? addr.port : 0);
  const stop = (): void => {
    void app.close().finally(() => {
      redis.disconnect();
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'hello') startHello(argv);
  else if (argv[0] === 'fastify') await startFastify(argv);
  else throw new Error('usage: edge-rivals.js hello --body-file <f> | fastify --prefix <p>');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`edge-rivals: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
