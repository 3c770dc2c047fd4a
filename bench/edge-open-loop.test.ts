import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import uWS from '@trufflesuite/uws-js-unofficial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLoopBinary, runLoad, type LoadOptions } from './edge-open-loop.js';

/**
 * bench/open-loop.c, compiled by the wrapper as bench:edge does, against
 * loopback servers: every request in the measured window is answered and
 * counted, answers are framed by Content-Length in any header case (Node
 * writes "Content-Length", uWS "content-length") and with bodies split
 * across reads, non-2xx answers are counted, the JSON has the fields the
 * bench reads. No timing assertions.
 */
let dir: string;
let authFile: string;
let node: Server;
let nodePort = 0;
let app: uWS.TemplatedApp;
let listen: uWS.us_listen_socket | false = false;
let uwsPort = 0;
const seen = new Set<string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'open-loop-'));
  authFile = join(dir, 'auth.txt');
  writeFileSync(authFile, 'Bearer ok1\nBearer ok2\r\n\nBearer bad\n');
  node = createServer((req, res) => {
    seen.add(req.headers.authorization ?? '');
    if (req.headers.authorization === 'Bearer hang') return; // never answered
    const bad = req.headers.authorization === 'Bearer bad';
    // a body larger than one TCP segment on loopback is still one read; 70 kB is not
    const body = bad ? '{"error":"x"}' : JSON.stringify({ ok: true, pad: 'p'.repeat(70_000) });
    res.statusCode = bad ? 404 : 200;
    res.setHeader('CONTENT-length', Buffer.byteLength(body));
    res.end(body);
  });
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r));
  nodePort = (node.address() as AddressInfo).port;
  app = uWS.App();
  const body = Buffer.from(JSON.stringify({ ok: true, pad: 'q'.repeat(3000) }));
  app.get('/v1/code', (res) => {
    res.writeHeader('content-type', 'application/json').end(body);
  });
  await new Promise<void>((r) =>
    app.listen('127.0.0.1', 0, (s) => {
      listen = s;
      uwsPort = s === false ? 0 : uWS.us_socket_local_port(s);
      r();
    }),
  );
});

afterAll(async () => {
  if (listen !== false) uWS.us_listen_socket_close(listen);
  await new Promise((r) => node.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const base = (port: number): Omit<LoadOptions, 'rate'> => ({ host: '127.0.0.1', port, authFile, path: '/v1/code', durationSec: 0.5, warmupSec: 0.2, connections: 3 });

describe('open-loop generator (bench/open-loop.c)', () => {
  it('compiles once per source version', () => {
    expect(openLoopBinary()).toBe(openLoopBinary());
    expect(openLoopBinary()).toMatch(/bench\/out\/open-loop-[0-9a-f]{12}$/);
  });

  it('open loop: answers every scheduled request, counts error statuses (Node, 70 kB bodies)', async () => {
    const r = await runLoad({ ...base(nodePort), rate: 400 });
    expect(r.mode).toBe('open');
    expect(r.sent).toBe(200); // 400/s × 0.5 s in the window
    expect(r.completed).toBe(r.sent);
    expect(r.unanswered).toBe(0);
    expect(r.statusErrors).toBeGreaterThan(0);
    expect(r.statusErrors).toBeLessThan(r.completed);
    expect(r.socketErrors + r.parseErrors).toBe(0);
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p99).toBeGreaterThanOrEqual(r.p50);
    expect(r.max).toBeGreaterThanOrEqual(r.p999);
    expect(r.cpuSec).toBeGreaterThan(0);
    // every Authorization line (blank lines and CR skipped) was sent
    expect([...seen].sort()).toEqual(['Bearer bad', 'Bearer ok1', 'Bearer ok2']);
  });

  it('open loop against uWS, requests pipelined on 2 connections', async () => {
    const r = await runLoad({ ...base(uwsPort), rate: 4000, connections: 2 });
    expect(r.sent).toBe(2000);
    expect(r.completed).toBe(2000);
    expect(r.statusErrors + r.socketErrors + r.parseErrors + r.unanswered).toBe(0);
  });

  it('closed loop (--rate 0) with 4 requests in flight per connection', async () => {
    const r = await runLoad({ ...base(uwsPort), rate: 0, depth: 4 });
    expect(r.mode).toBe('closed');
    expect(r.completed).toBeGreaterThan(0);
    expect(r.completed).toBe(r.sent);
    expect(r.statusErrors + r.socketErrors + r.parseErrors).toBe(0);
  });

  it('counts requests that are never answered, and puts their wait into the percentiles', async () => {
    const hangFile = join(dir, 'hang.txt');
    writeFileSync(hangFile, 'Bearer hang\n');
    const r = await runLoad({ ...base(nodePort), authFile: hangFile, rate: 100, connections: 1 });
    expect(r.sent).toBe(50);
    expect(r.completed).toBe(0);
    expect(r.unanswered).toBe(50);
    // each waited at least the 2 s drain
    expect(r.p50).toBeGreaterThanOrEqual(2_000_000);
  });

  it('refuses a bad rate and a missing file with a message', async () => {
    await expect(runLoad({ ...base(uwsPort), rate: -5 })).rejects.toThrow(/code 2\).*--rate needs a number/);
    await expect(runLoad({ ...base(uwsPort), rate: 10, authFile: join(dir, 'none.txt') })).rejects.toThrow(/code 1\).*none\.txt: No such file/);
  });
});
