import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isConnectionError, mapDbError, openPglite, openPostgres } from './sql-client.js';

const root = mkdtempSync(join(tmpdir(), 'hc-sqlclient-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string; statusCode?: number }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string; statusCode?: number };
  }
  throw new Error('expected an error');
}

/** A TCP port with nobody listening: bind an ephemeral port, then free it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('PostgreSQL client, no server needed', () => {
  it('maps a refused connection to MASTER_ERR_UNAVAILABLE (503) at open', async () => {
    const port = await deadPort();
    const e = await codeOf(openPostgres(`postgres://postgres@127.0.0.1:${port}/x`));
    expect(e.code).toBe('MASTER_ERR_UNAVAILABLE');
    expect(e.statusCode).toBe(503);
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('maps a server that accepts but never answers to MASTER_ERR_UNAVAILABLE after the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const e = await codeOf(openPostgres(`postgres://postgres@127.0.0.1:${port}/x`, { connectTimeoutMs: 300 }));
      expect(e.code).toBe('MASTER_ERR_UNAVAILABLE');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('refuses a search path that is not a plain identifier', async () => {
    const e = await codeOf(openPostgres('postgres://127.0.0.1:1/x', { searchPath: 'x; DROP TABLE y' }));
    expect(e.code).toBe('MASTER_ERR_INVALID');
  });

  it('classifies connection errors by errno, SQLSTATE class and message', () => {
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('password authentication failed'), { code: '28P01' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new AggregateError([
      Object.assign(new Error('a'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('b'), { code: 'ECONNREFUSED' }),
    ]))).toBe(true);
    const unique = Object.assign(new Error('duplicate key'), { code: '23505' });
    expect(isConnectionError(unique)).toBe(false);
    expect(mapDbError(unique)).toBe(unique);
    expect(isConnectionError(null)).toBe(false);
    expect(isConnectionError('ECONNREFUSED')).toBe(false);
  });
});

describe('PGlite client on a data directory', () => {
  const dir = join(root, 'db');

  it('persists across reopen, locks the directory, and is unavailable once closed', async () => {
    const db = await openPglite(dir);
    await db.exec('CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)');
    expect(readFileSync(`${dir}.lock`, 'utf8')).toBe(String(process.pid));
    // a second open of the same directory in this process would corrupt it (FACTS: one process only)
    const locked = await codeOf(openPglite(dir));
    expect(locked.code).toBe('MASTER_ERR_LOCKED');
    expect(locked.message).toContain('this one');

    await db.close();
    await db.close(); // idempotent
    expect(existsSync(`${dir}.lock`)).toBe(false);
    for (const p of [db.query('SELECT 1'), db.exec('SELECT 1'), db.transaction(async () => 1)]) {
      const e = await codeOf(p);
      expect(e.code).toBe('MASTER_ERR_UNAVAILABLE');
      expect(e.statusCode).toBe(503);
    }

    // a lock left by a process that is gone is stale and taken over
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(`${dir}.lock`, gone.stdout);
    const again = await openPglite(dir);
    try {
      expect((await again.query<{ x: number }>('SELECT x FROM kept')).rows).toEqual([{ x: 42 }]);
    } finally {
      await again.close();
    }
  });
});
