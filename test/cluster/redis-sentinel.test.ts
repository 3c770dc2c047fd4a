import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCANS_START } from '../../sync/delta-bus.js';
import { testBatch } from '../../sync/delta-bus.common.js';
import { RedisDeltaBus } from '../../sync/bus-redis.js';
import { until } from '../stack-helpers.js';

/**
 * The delta bus through Redis Sentinel (sync/redis-connection.ts) on real
 * redis-server processes this test starts on loopback ports: a primary, a
 * replica and one sentinel (quorum 1). Where test/fleet kills the primary
 * (and needs network namespaces), this test covers what a kill does not: a
 * primary DEMOTED while alive (`SENTINEL FAILOVER`: the sentinel drops the
 * clients of the instances it reconfigures; a write that still reaches the
 * old primary gets READONLY, reconnects through the sentinel and is resent)
 * — and the WAIT for a replica before scans count as shipped.
 */
const dir = mkdtempSync(join(tmpdir(), 'hc-sentinel-'));
const procs: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function start(args: string[]): ChildProcess {
  const p = spawn('redis-server', args, { stdio: 'ignore' });
  p.once('error', (err) => {
    throw new Error(`redis-server could not start (${err.message}): the cluster tests need Debian's redis-server`);
  });
  procs.push(p);
  return p;
}

async function admin(port: number): Promise<Redis> {
  // reconnects: a sentinel kills client connections of the instances it reconfigures
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  r.on('error', () => undefined);
  await until(`redis on ${port}`, async () => {
    try {
      if (r.status !== 'ready') await r.connect();
      return (await r.ping()) === 'PONG' ? true : undefined;
    } catch {
      return undefined;
    }
  }, 15_000, 100);
  return r;
}

async function role(r: Redis): Promise<string> {
  return ((await r.call('ROLE')) as unknown[])[0] as string;
}

describe('delta bus through Redis Sentinel (real redis-server and redis-sentinel)', () => {
  let pa: number;
  let pb: number;
  let ps: number;
  let a: Redis;
  let b: Redis;
  let sentinel: Redis;
  let bus: RedisDeltaBus;

  beforeAll(async () => {
    [pa, pb, ps] = [await freePort(), await freePort(), await freePort()];
    const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
    start(['--port', String(pa), ...common]);
    start(['--port', String(pb), ...common, '--replicaof', '127.0.0.1', String(pa)]);
    a = await admin(pa);
    b = await admin(pb);
    await until('replica in sync', async () => (/master_link_status:up/.test(await b.info('replication')) ? true : undefined), 15_000, 100);
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, [
      'bind 127.0.0.1', `port ${ps}`, `dir ${dir}`,
      `sentinel monitor hc 127.0.0.1 ${pa} 1`, 'sentinel down-after-milliseconds hc 1000', 'sentinel failover-timeout hc 3000', '',
    ].join('\n'));
    start([conf, '--sentinel']);
    sentinel = await admin(ps);
    await until('sentinel sees the replica', async () => {
      const replicas = (await sentinel.call('SENTINEL', 'REPLICAS', 'hc')) as unknown[];
      return replicas.length === 1 ? true : undefined;
    }, 20_000, 200);
    bus = await RedisDeltaBus.connect({
      url: 'redis://sentinel/0',
      keyPrefix: 'hc-sentinel-test:',
      sentinel: { sentinels: [{ host: '127.0.0.1', port: ps }], name: 'hc' },
      waitReplicas: 1,
      connectionName: 'hc-sentinel-test',
    });
  }, 60_000);

  afterAll(async () => {
    await bus?.close();
    for (const r of [a, b, sentinel]) r?.disconnect();
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the primary through the sentinel; scans wait for the replica (WAIT 1)', async () => {
    expect(await role(a)).toBe('master');
    for (const [f, t] of [[1, 2], [3, 3]] as const) expect(await bus.publishDeltas(testBatch(f, t), f, t)).toBe('published');
    await bus.appendScans([Buffer.from('scan-1'), Buffer.from('scan-2')]);
    // the replica holds both: WAIT returned before appendScans did
    expect(await b.xlen('hc-sentinel-test:scans')).toBe(2);
  });

  it('a primary demoted while alive (SENTINEL FAILOVER): the bus follows to the new primary — the sentinel drops clients, a write still reaching the old one is refused READONLY and resent', async () => {
    await sentinel.call('SENTINEL', 'FAILOVER', 'hc');
    await until('the replica promoted', async () => ((await role(b)) === 'master' ? true : undefined), 20_000, 100);
    await until('the old primary follows it', async () => ((await role(a)) === 'slave' ? true : undefined), 20_000, 100);
    const r = await until('a publish after the switch', async () => {
      try {
        return await bus.publishDeltas(testBatch(4, 5), 4, 5);
      } catch {
        return undefined; // SYNC_ERR_BUS_UNAVAILABLE while the client moves: the publisher retries the same way
      }
    }, 20_000, 100);
    expect(r).toBe('published');
    expect((await bus.readDeltas(0, 100, 0)).map((e) => [e.fromSeq, e.toSeq])).toEqual([[1, 2], [3, 3], [4, 5]]);
    expect(await bus.lastDeltaSeq()).toBe(5);
    await until('scans shipped once the old primary replicates', async () => {
      try {
        await bus.appendScans([Buffer.from('scan-3')]);
        return true;
      } catch {
        return undefined;
      }
    }, 20_000, 200);
    expect((await bus.readScans(SCANS_START, 100, 0)).map((e) => e.payload.toString())).toEqual(['scan-1', 'scan-2', 'scan-3']);
    expect(await role(b)).toBe('master');
  }, 60_000);
});
