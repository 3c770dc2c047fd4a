import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRequests, openLoop } from './edge-open-loop.js';

/**
 * The open-loop generator frames answers by their bytes (any header case,
 * bodies split across reads, pipelined answers in one read) and counts
 * non-2xx answers. (openLoopInChild runs this same function in a process of
 * its own from the compiled dist/ file: exercised by bench:edge.)
 */
let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = req.headers.authorization === 'Bearer bad' ? '{"error":"x"}' : JSON.stringify({ ok: true, pad: 'p'.repeat(3000) });
    res.statusCode = req.headers.authorization === 'Bearer bad' ? 404 : 200;
    // Node writes "Content-Length" in this case; the generator must not care
    res.setHeader('CONTENT-length', Buffer.byteLength(body));
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('open-loop generator', () => {
  it('answers every request sent at a modest rate and counts error statuses', async () => {
    const run = await openLoop({ host: '127.0.0.1', port, requests: getRequests('/x', 'h', ['Bearer ok', 'Bearer bad']), rate: 400, durationSec: 0.5, connections: 3 });
    expect(run.completed).toBe(run.sent);
    expect(run.sent).toBeGreaterThan(150);
    expect(run.statusErrors).toBeGreaterThan(0);
    expect(run.socketErrors).toBe(0);
  });
});
