import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLICA_DIR } from '../../core/replica-layout.js';
import { ReplicaReader } from '../../edge/replica-reader.js';
import { loadPeople, writeDecisions } from '../../master/code-batch.js';
import { loadOrCreateSecrets } from '../../master/pii-crypto.js';
import type { SqlClient } from '../../master/sql-client.js';
import { MasterStore } from '../../master/store.js';
import { adminCredentials, masterCodes } from '../stack-helpers.js';
import { EDGES, Fleet, IPS, REDIS_IPS, waitFor, type EdgeNode, type RedisNode } from './fleet-harness.js';
import { netnsAllowed, sweepStaleNamespaces } from './netns.js';

/**
 * Issue 17 §3: the fleet as separate machines on this one, faults injected
 * by the suite, and after each fault the same four promises checked:
 *
 *   1. every edge served throughout — the client machine asks each edge for
 *      a display every 50 ms; an edge the test did not kill must answer
 *      every single one with 200 (stale is fine, an error is not);
 *   2. every edge converges to the master's sequence (its /readyz
 *      appliedSeq = the master's highest outbox seq) and shows the last
 *      acknowledged colour of every watched person;
 *   3. no scan lost or doubled — each edge has its own scanning person; every
 *      scan the edge acknowledged is in the master's scans table exactly once
 *      (a scan whose answer was lost — the edge killed under it — may or may
 *      not be there, never twice);
 *   4. no code change lost — a back-office writer keeps changing codes
 *      (POST /admin/v1/codes/transcode) through every fault, retrying what
 *      failed as an operator would; every acknowledged change is on the
 *      master and on every edge.
 *
 * At the end, every edge's replica is compared code by code with the master
 * and a table of faults survived and times to converge is printed.
 * `npm run test:fleet`; needs root and `ip netns` (.ci/run checks first).
 */
const PEOPLE = Number(process.env.HC_FLEET_PEOPLE ?? 10_000);
const WATCHED = 12;
const COLORS = ['yellow', 'red', 'green'] as const;

interface Row {
  fault: string;
  edgesServing: string;
  displayProbes: number;
  longestGapMs: number;
  writeOutageMs: number;
  changes: number;
  convergeMs: number;
  scans: string;
  note: string;
}

interface Person {
  phone: string;
  token: string;
  id: number;
  uid: Buffer;
}

const allowed = netnsAllowed();

describe('fleet: edges, Redis Sentinel, PostgreSQL primary + replica, each in its own network namespace', () => {
  let f: Fleet;
  let db: SqlClient;
  let store: MasterStore;
  let adminToken = '';
  let venue = '';
  const watched: Person[] = [];
  const scanners = new Map<EdgeNode, Person>();
  const expected = new Map<string, string>();
  const rows: Row[] = [];
  let changeNo = 0;

  beforeAll(async () => {
    if (!allowed.ok) {
      throw new Error(`network namespaces are not available here (${allowed.why}): the fleet suite needs root and \`ip netns\``);
    }
    sweepStaleNamespaces();
    f = new Fleet(PEOPLE);
    await f.startAgent();
    await f.startPostgres();
    await f.startRedisHa();
    f.startMaster();
    await f.masterReady();
    for (const e of EDGES) f.startEdge(e);
    for (const e of EDGES) await f.edgeReady(e);
    db = await f.openDb();
    store = new MasterStore(db, loadOrCreateSecrets(f.masterDir(), {}));
    await login();
    const v = await db.query<{ id: string }>("SELECT id FROM venues WHERE kind = 'normal' ORDER BY id LIMIT 1");
    venue = v.rows[0]!.id;
    for (let i = 0; i < WATCHED; i++) watched.push(await person(`1390000${String(i).padStart(4, '0')}`));
    for (const e of EDGES) scanners.set(e, await person(`1380000${String(EDGES.indexOf(e)).padStart(4, '0')}`));
    for (const p of watched) expected.set(p.phone, 'green');
    // every person on every edge before the probes start
    await converge();
    await f.agent('POST', '/targets', EDGES.map((e) => ({
      name: e, url: f.edgeUrl(e), token: watched[0]!.token, scanToken: scanners.get(e)!.token, venue,
    })));
  }, 420_000);

  afterAll(async () => {
    if (rows.length > 0) process.stdout.write(`\n${table(rows)}\n`);
    await db?.close().catch(() => undefined);
    await f?.destroy();
  }, 60_000);

  async function login(): Promise<void> {
    const r = await f.http('POST', `${f.adminUrl()}/admin/v1/login`, adminCredentials(f.masterDir()));
    if (r.status !== 200) throw new Error(`admin login: ${r.status} ${r.text}`);
    adminToken = r.body.token as string;
  }

  async function person(phone: string): Promise<Person> {
    const r = await f.http('POST', `${f.adminUrl()}/v1/session`, { phone });
    if (r.status !== 200) throw new Error(`session for a person: ${r.status} ${r.text}`);
    const [row] = await store.findPersonsByPhone(phone);
    return { phone, token: r.body.token as string, id: row!.id, uid: row!.uid };
  }

  /** The back-office writer: one 转码 after another, each retried until acknowledged (an operator does not give up). */
  function startWriter(): { stop(): Promise<{ changes: number; outageMs: number }> } {
    let stop = false;
    let changes = 0;
    let outageMs = 0;
    const done = (async () => {
      while (!stop) {
        const i = changeNo++;
        const p = watched[i % WATCHED]!;
        const color = COLORS[Math.floor(i / WATCHED) % COLORS.length]!;
        const t0 = Date.now();
        for (;;) {
          const r = await f.http('POST', `${f.adminUrl()}/admin/v1/codes/transcode`, { phone: p.phone, color, reason: `fleet_${i}` }, adminToken, 25_000);
          if (r.status === 200) {
            expected.set(p.phone, color);
            changes++;
            // from the first attempt to the acknowledgement: a request that waited
            // (a failover, a partition) counts as much as one that was retried
            outageMs = Math.max(outageMs, Date.now() - t0);
            break;
          }
          if (r.status === 401) await login().catch(() => undefined);
          await new Promise((res) => setTimeout(res, 200));
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    return {
      stop: async () => {
        stop = true;
        await done;
        return { changes, outageMs };
      },
    };
  }

  /** Until every edge holds the master's sequence and shows every watched colour; the master holds them too. */
  async function converge(timeoutMs = 120_000): Promise<number> {
    await waitFor('every edge at the master\'s sequence, showing the acknowledged colours', async () => {
      const max = await store.maxOutboxSeq();
      await Promise.all(EDGES.map(async (e) => {
        const r = await f.http('GET', `${f.edgeUrl(e)}/readyz`, undefined, undefined, 3000);
        if (r.body.appliedSeq !== max) throw new Error(`${e} at ${String(r.body.appliedSeq)} (${r.status} ${r.error ?? ''}), master at ${max}`);
      }));
      for (const p of watched) {
        const want = expected.get(p.phone)!;
        const code = await store.getCode(p.id);
        if (code?.color !== want) throw new Error(`master shows ${code?.color} for a watched person, expected ${want}`);
        await Promise.all(EDGES.map(async (e) => {
          const r = await f.http('GET', `${f.edgeUrl(e)}/v1/code`, undefined, p.token, 3000);
          if (r.body.color !== want) throw new Error(`${e} shows ${String(r.body.color)} (${r.status}), expected ${want}`);
        }));
      }
      return true;
    }, timeoutMs, 100);
    return Date.now();
  }

  /** Stops scanning, waits for what the edges acknowledged to reach the master, checks exactly-once, scans on again. */
  async function scansExactlyOnce(): Promise<string> {
    await f.agent('POST', '/scans', { on: false });
    try {
      const stats = (await f.agent('GET', '/stats')) as Record<string, { scansAcked: number; scansUnsure: number }>;
      const parts: string[] = [];
      for (const e of EDGES) {
        const s = stats[e]!;
        const uid = scanners.get(e)!.uid;
        const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM scans WHERE uid = $1', [uid])).rows[0]!.n;
        const n = await waitFor(`${e}'s ${s.scansAcked} acknowledged scans in the master`, async () => {
          const c = await count();
          return c >= s.scansAcked ? c : undefined;
        }, 90_000, 200);
        const ids = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT id FROM scans WHERE uid = $1 GROUP BY id HAVING count(*) > 1) d', [uid]);
        expect(ids.rows[0]!.n, `${e}: a scan stored twice`).toBe(0);
        expect(n, `${e}: more scans stored than made`).toBeLessThanOrEqual(s.scansAcked + s.scansUnsure);
        parts.push(s.scansUnsure === 0 ? `${n}/${s.scansAcked}` : `${n}/${s.scansAcked}+${s.scansUnsure}?`);
      }
      return parts.join(' ');
    } finally {
      await f.agent('POST', '/scans', { on: true });
    }
  }

  /**
   * One fault: counters reset, the writer runs, `inject` breaks something and
   * repairs it (returning when the repair was made), then the four checks.
   * `down` lists the edges the fault itself takes away (killed on purpose):
   * only they may miss displays.
   */
  async function fault(name: string, inject: () => Promise<{ down?: EdgeNode[]; note?: string }>): Promise<void> {
    await f.agent('POST', '/reset');
    const writer = startWriter();
    let result: { down?: EdgeNode[]; note?: string } = {};
    let w = { changes: 0, outageMs: 0 };
    try {
      result = await inject();
    } finally {
      // the writer is stopped in any case (its last change lands first)
      w = await writer.stop();
    }
    const repairedAt = Date.now();
    const convergedAt = await converge();
    const stats = (await f.agent('GET', '/stats')) as Record<string, { probes: number; ok: number; fail: number; longestGapMs: number; lastError: string }>;
    const down = new Set(result.down ?? []);
    let probes = 0;
    let gap = 0;
    for (const e of EDGES) {
      const s = stats[e]!;
      probes += s.probes;
      if (down.has(e)) continue;
      gap = Math.max(gap, s.longestGapMs);
      expect(s.fail, `${name}: ${e} failed ${s.fail} of ${s.probes} displays (last: ${s.lastError})`).toBe(0);
      expect(s.ok).toBeGreaterThan(0);
    }
    const scans = await scansExactlyOnce();
    rows.push({
      fault: name,
      edgesServing: `${EDGES.length - down.size}/${EDGES.length}${down.size > 0 ? ` (+ ${[...down].join(',')} restarted)` : ''}`,
      displayProbes: probes,
      longestGapMs: gap,
      writeOutageMs: w.outageMs,
      changes: w.changes,
      convergeMs: convergedAt - repairedAt,
      scans,
      note: result.note ?? '',
    });
  }

  /** A mass change of every unwatched person (one transaction, written by the test as a second master process would). */
  async function massChange(color: 'yellow' | 'green', reason: string): Promise<number> {
    const keep = new Set([...watched, ...scanners.values()].map((p) => p.id));
    const ids = (await db.query<{ id: number }>('SELECT person_id AS id FROM codes ORDER BY person_id')).rows.map((r) => r.id).filter((id) => !keep.has(id));
    const now = Math.floor(Date.now() / 1000);
    await store.transaction(async (s) => {
      const people = await loadPeople(s.db, ids, true);
      const decision = { color, reason, until: null, notices: [], nextEvalAt: null, overridden: false };
      await writeDecisions(s, people.map((row) => ({ row, decision })), 'fleet-test', 'fleet-test', now);
    });
    return ids.length;
  }

  async function appliedSeq(e: EdgeNode): Promise<number> {
    const r = await f.http('GET', `${f.edgeUrl(e)}/readyz`, undefined, undefined, 2000);
    return typeof r.body.appliedSeq === 'number' ? r.body.appliedSeq : -1;
  }

  it('steady state (baseline)', async () => {
    await fault('none (baseline, 4 s of load)', async () => {
      await new Promise((r) => setTimeout(r, 4000));
      return {};
    });
  }, 180_000);

  it('an edge partitioned from Redis (and its sentinels) for 8 s keeps serving, spools scans, catches up', async () => {
    await fault('e1 partitioned from Redis 8 s', async () => {
      f.net.partition('e1', REDIS_IPS);
      await new Promise((r) => setTimeout(r, 8000));
      const behind = await appliedSeq('e1');
      const max = await store.maxOutboxSeq();
      f.net.heal('e1', REDIS_IPS);
      return { note: `e1 was ${max - behind} seqs behind at heal` };
    });
  }, 240_000);

  it('the Redis primary killed: Sentinel promotes the replica, everyone follows, the old primary rejoins as a replica', async () => {
    await fault('Redis primary kill -9 (Sentinel failover)', async () => {
      const before = (await f.redisPrimary())!;
      const other: RedisNode = before === 'rd1' ? 'rd2' : 'rd1';
      const t0 = Date.now();
      await f.kill9(before);
      const after = await waitFor('a new Redis primary', async () => ((await f.redisPrimary()) === other ? other : undefined), 30_000, 100);
      const failoverMs = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 2000)); // traffic on the new primary, scans waiting for a replica
      f.startRedis(before, IPS[after]);
      return { note: `${before}→${after} promoted in ${failoverMs} ms; ${before} back as replica` };
    });
  }, 240_000);

  it('the PostgreSQL primary killed, the replica promoted: the master follows, nothing acknowledged is lost', async () => {
    let rebuildMs = 0;
    await fault('PostgreSQL primary kill -9, replica promoted', async () => {
      const old = f.pgPrimary;
      const next = old === 'pg1' ? 'pg2' : 'pg1';
      await new Promise((r) => setTimeout(r, 1500));
      f.killPgPrimary();
      await new Promise((r) => setTimeout(r, 1500)); // the operator (or Patroni) notices
      await f.promote(next);
      await db.close().catch(() => undefined);
      db = await f.openDb();
      store = new MasterStore(db, loadOrCreateSecrets(f.masterDir(), {}));
      return { note: `${old}→${next}` };
    });
    // redundancy back: the old primary's machine rebuilt as a synchronous standby of the new one
    const t0 = Date.now();
    await f.addStandby(f.pgPrimary === 'pg1' ? 'pg2' : 'pg1', f.pgPrimary);
    rebuildMs = Date.now() - t0;
    rows[rows.length - 1]!.note += `; old primary rebuilt as sync standby in ${(rebuildMs / 1000).toFixed(1)} s`;
  }, 300_000);

  it('the master cut off from the PostgreSQL primary for 6 s (packets dropped, not refused): it resumes without a restart', async () => {
    await fault('master partitioned from PostgreSQL 6 s', async () => {
      const ips = [IPS.pg1, IPS.pg2];
      f.net.partition('m1', ips);
      await new Promise((r) => setTimeout(r, 6000));
      f.net.heal('m1', ips);
      return { note: 'silence, not resets: in-flight queries wait for TCP to retransmit' };
    });
  }, 300_000);

  it('kill -9 of an edge in the middle of applying a mass change: it restarts where it stopped', async () => {
    await fault('e2 kill -9 mid-apply (mass change), restarted', async () => {
      const from = await appliedSeq('e2');
      const n = await massChange('yellow', 'fleet_mass_1');
      const target = await store.maxOutboxSeq();
      const at = await waitFor('e2 applying', async () => {
        const s = await appliedSeq('e2');
        return s > from ? s : undefined;
      }, 60_000, 5);
      await f.agent('POST', '/pause', { name: 'e2' });
      await f.killNode('e2');
      f.startEdge('e2');
      await f.edgeReady('e2');
      await f.agent('POST', '/resume', { name: 'e2' });
      return { down: ['e2'], note: `${n} codes; killed at seq ${at} of ${from}→${target}${at < target ? ' (mid-apply)' : ' (apply had finished)'}` };
    });
  }, 300_000);

  it('kill -9 of the master while it publishes a mass change: restarted, the publisher resumes from the stream top', async () => {
    await fault('master kill -9 mid-publish, restarted', async () => {
      const from = await appliedSeq('e3');
      const n = await massChange('green', 'fleet_mass_2');
      const target = await store.maxOutboxSeq();
      const at = await waitFor('publishing started', async () => {
        const s = await appliedSeq('e3');
        return s > from ? s : undefined;
      }, 60_000, 5);
      await f.killNode('m1');
      f.startMaster();
      await f.masterReady();
      return { note: `${n} codes; master killed with e3 at seq ${at} of ${from}→${target}` };
    });
  }, 300_000);

  it('an edge whose clock runs 5 minutes ahead (libfaketime) serves, converges, and its scans arrive once', async () => {
    let note = '';
    await fault('e3 clock +300 s (libfaketime)', async () => {
      await f.agent('POST', '/pause', { name: 'e3' });
      const p = f.procs.get('e3')!;
      p.child.kill('SIGTERM'); // a clean stop: the supervisor stops its servers
      await p.exited;
      f.startEdge('e3', '+300s');
      const ready = await f.edgeReady('e3');
      await f.agent('POST', '/resume', { name: 'e3' });
      await new Promise((r) => setTimeout(r, 3000));
      // what the skew does to tokens: one signed on e3, verified on e1, and the other way round
      const p0 = watched[1]!;
      const onE3 = await f.http('GET', `${f.edgeUrl('e3')}/v1/code`, undefined, p0.token);
      const onE1 = await f.http('GET', `${f.edgeUrl('e1')}/v1/code`, undefined, p0.token);
      const atE1 = await f.http('POST', `${f.edgeUrl('e1')}/v1/verify`, { token: onE3.body.token, venue });
      const atE3 = await f.http('POST', `${f.edgeUrl('e3')}/v1/verify`, { token: onE1.body.token, venue });
      const said = (r: { status: number; body: Record<string, unknown> }) => (r.status === 200 ? 'valid' : String(r.body.error ?? r.status));
      note = `e3 readyz lag ${String(ready.lagSec)} s; e3's token at e1: ${said(atE1)}; e1's token at e3: ${said(atE3)}`;
      return { down: ['e3'], note };
    });
  }, 300_000);

  it('afterwards every edge replica equals the master, code by code', async () => {
    const want = await masterCodes(db, store);
    for (const e of EDGES) {
      const reader = ReplicaReader.open(join(f.edgeDir(e), REPLICA_DIR));
      try {
        let same = 0;
        for (const [uidHex, rec] of want) {
          expect(reader.code(Buffer.from(uidHex, 'hex')), `${e}: code of ${uidHex}`).toEqual(rec);
          same++;
        }
        expect(same).toBe(want.size);
      } finally {
        await reader.close();
      }
    }
  }, 300_000);
});

function table(rows: readonly Row[]): string {
  const head = ['fault', 'edges serving', 'display probes', 'longest display gap', 'longest 转码 (waits + retries)', 'changes acked', 'time to converge', 'scans stored/acked', 'note'];
  const body = rows.map((r) => [
    r.fault, r.edgesServing, String(r.displayProbes), `${r.longestGapMs} ms`, `${(r.writeOutageMs / 1000).toFixed(1)} s`, String(r.changes),
    `${(r.convergeMs / 1000).toFixed(2)} s`, r.scans, r.note,
  ]);
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((c) => `| ${c.join(' | ')} |`)];
  return ['fleet faults survived (issue 17):', ...lines, `${rows.length} faults survived`].join('\n');
}
