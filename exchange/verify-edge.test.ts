import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import { buildFullSnapshot } from '../sync/snapshot.js';
import { ReplicaWriter } from '../sync/replica-writer.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { loadExchangeConfig } from './config.js';
import { hostOf, residentId } from './test-helpers.common.js';
import { parseReplicaTargets } from './verify-edge.js';
import { taskReport } from './verify-report.js';
import { VerifyTasks } from './verify-tasks.js';

/**
 * What the nodes actually serve, compared with the assigned codes: a real
 * LMDB replica written by sync's own code (a full snapshot build of the
 * master, then a delta batch applied by the replica writer), read by the
 * verification through its reader process (dist/exchange/verify-edge-child.js).
 *
 *   A  positive, red, in the replica as on the master          consistent
 *   B  red on the master, the replica's record says green      节点实际赋码颜色与主库不一致
 *   E  red on the master, deleted from the replica             节点副本中没有该人员的赋码
 *   D  turned red at seq S+1, which the replica "applied" as
 *      something else (it still holds D's green record)        节点已越过该变更的序号但仍为旧赋码
 *   F  turned red after the replica's applied seq               pending (on its way), not reported
 */
let f: Fixture;
let ex: ExchangeInstance;
let dir: string;
let replica: string;
const people: Record<string, number> = {};
const nowS = (): number => Math.floor(f.clock.ms / 1000);
const nat = { source: 'import:nat-result', sourceRef: 'b:1' };

async function person(key: string, n: number): Promise<number> {
  const r = await f.codes.register({ idType: 'resident', idNo: residentId(n), name: `节点${key}`, phone: `1370000${String(n).padStart(4, '0')}` });
  people[key] = r.personId;
  return r.personId;
}

async function positive(key: string): Promise<void> {
  await f.codes.addFacts(people[key]!, [{ kind: 'nucleic_acid', at: nowS() - 3600, result: 'positive' }], nat);
}

async function uidOf(key: string): Promise<Buffer> {
  const r = await f.db.query<{ uid: Buffer }>('SELECT uid FROM persons WHERE id = $1', [people[key]]);
  return Buffer.from(r.rows[0]!.uid);
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability] });
  ex = f.instances.exchange as unknown as ExchangeInstance;
  dir = mkdtempSync(join(tmpdir(), 'verify-edge-'));
  replica = join(dir, 'replica');
  for (const [k, n] of [['A', 9401], ['B', 9402], ['E', 9403], ['D', 9404], ['F', 9405]] as const) await person(k, n);
  await positive('A');
  await positive('B');
  await positive('E');
  // the replica as sync's snapshot builder writes it: the master's state at seq S
  const built = await buildFullSnapshot(f.db, replica);
  const s = built.seq;
  const w = ReplicaWriter.open({ dir: replica });
  const bRec = w.code(await uidOf('B'))!;
  w.bulkLoadCodes([[await uidOf('B'), { ...bRec, color: 'green', reason: 'normal' }]]);
  // a batch that claims seq S+1 but deletes E (what a faulty apply would leave)
  w.applyBatch({ from: s + 1, to: s + 1, deltas: [{ seq: s + 1, type: 'code', uid: await uidOf('E'), record: null }] });
  await w.close();
  await positive('D');
  expect(Number((await f.store.getCode(people.D!))!.seq)).toBe(s + 1);
  await positive('F');
}, 90_000);

afterAll(async () => {
  await f?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('edge-applied comparison', () => {
  it('reports what the replica serves differently from the assigned codes, up to its applied seq', async () => {
    const tasks = new VerifyTasks(hostOf(f), ex.verify.rules, { pollMs: 50, replicas: [{ name: 'edge-1', dir: replica }] });
    const rule = await ex.verify.rules.create({ name: '节点数据核查', dataset: 'nat-result', windowDays: 1, checkEdges: true }, '', 'operator');
    expect(rule.checkEdges).toBe(true);
    const t = await tasks.start(rule.id, '', 'operator');
    await tasks.startRunner();
    await tasks.idle();
    await tasks.stopRunner();
    const done = await tasks.get(t.id, '');
    expect(done.status).toBe('done');
    const r = await f.db.query<{ person_id: string; kind: string; assigned: string; distributed: string | null; detail: string }>(
      'SELECT person_id, kind, assigned, distributed, detail FROM exchange_verify_mismatches WHERE task_id = $1 ORDER BY person_id', [t.id],
    );
    const name = new Map(Object.entries(people).map(([k, v]) => [v, k]));
    expect(r.rows.map((x) => [name.get(Number(x.person_id)), x.kind, x.assigned, x.distributed, x.detail])).toEqual([
      ['B', 'edge_not_applied', 'red', 'green', 'edge-1：节点实际赋码颜色与主库不一致'],
      ['E', 'edge_not_applied', 'red', null, 'edge-1：节点副本中没有该人员的赋码'],
      ['D', 'edge_not_applied', 'red', 'green', 'edge-1：节点已越过该变更的序号但仍为旧赋码'],
    ]);
    expect(done.edgePending).toBe(1);
    expect(done.edges).toEqual([{ name: 'edge-1', appliedSeq: Number((await f.store.getCode(people.D!))!.seq) }]);
    expect(done.counts).toMatchObject({ checked: 5, mismatches: 3, consistent: 2 });
    const log = (await tasks.runLog(t.id)).map((l) => l.message).join('\n');
    expect(log).toMatch(/比对边缘节点副本：edge-1（已应用至序号 \d+）/);
    const report = await taskReport(f.db, new PiiCrypto(f.secrets), done, { masked: true, rowLimit: 10, nowMs: f.clock.ms });
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'edge_not_applied', zh: '边缘节点实际数据与赋码不一致', count: 3 })]);
    expect(report.task).toMatchObject({ checkEdges: true, edgePending: 1, ruleVersion: expect.any(String) });
    expect(report.rows.find((x) => x.kind === 'edge_not_applied')!.kindZh).toBe('边缘节点实际数据与赋码不一致');
  });

  it('a replica that cannot be read fails the task with EXC_ERR_VERIFY_REPLICA', async () => {
    const tasks = new VerifyTasks(hostOf(f), ex.verify.rules, { pollMs: 50, replicas: [{ name: 'gone', dir: join(dir, 'no-such') }] });
    const rule = await ex.verify.rules.create({ name: '节点缺失', dataset: 'nat-result', windowDays: 1, checkEdges: true }, '', 'operator');
    const t = await tasks.start(rule.id, '', 'operator');
    await tasks.startRunner();
    await tasks.idle();
    await tasks.stopRunner();
    const failed = await tasks.get(t.id, '');
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'EXC_ERR_VERIFY_REPLICA', message: '无法读取边缘节点副本数据' } });
    expect((await tasks.runLog(t.id)).at(-1)!.message).toMatch(/无法读取边缘节点副本数据/);
    // no replica configured at all: the same coded failure, not a silent pass
    const none = new VerifyTasks(hostOf(f), ex.verify.rules, { pollMs: 50 });
    const t2 = await none.start(rule.id, '', 'operator');
    await none.startRunner();
    await none.idle();
    await none.stopRunner();
    expect((await none.get(t2.id, '')).error?.code).toBe('EXC_ERR_VERIFY_REPLICA');
  });

  it('EXCHANGE_VERIFY_REPLICAS and EXCHANGE_VERIFY_SCHEDULE_POLL_MS: defaults per mode, a list, and bad values naming the variable', () => {
    expect(parseReplicaTargets(undefined, '/data', 'embedded')).toEqual([
      { name: 'edge', dir: '/data/replica' }, { name: 'snapshot-follower', dir: '/data/snapshots/follower' },
    ]);
    expect(parseReplicaTargets('', '/data', 'cluster')).toEqual([{ name: 'snapshot-follower', dir: '/data/snapshots/follower' }]);
    expect(parseReplicaTargets('none', '/data', 'cluster')).toEqual([]);
    expect(parseReplicaTargets('edge-1=/mnt/e1/replica, edge-2=/mnt/e2/replica', '/d', 'cluster')).toEqual([
      { name: 'edge-1', dir: '/mnt/e1/replica' }, { name: 'edge-2', dir: '/mnt/e2/replica' },
    ]);
    for (const bad of ['edge', '=/x', 'edge=relative/dir', '节点=/x']) {
      expect(() => parseReplicaTargets(bad, '/d', 'cluster')).toThrow(expect.objectContaining({ code: 'EXC_ERR_CONFIG', field: 'EXCHANGE_VERIFY_REPLICAS' }));
    }
    // through the capability's config loader, with the schedule poll beside it
    expect(loadExchangeConfig({}, { dataDir: '/d', mode: 'cluster' })).toMatchObject({ verifyReplicas: [{ name: 'snapshot-follower', dir: '/d/snapshots/follower' }], verifySchedulePollMs: 30_000 });
    expect(() => loadExchangeConfig({ EXCHANGE_VERIFY_REPLICAS: 'x=rel' }, { dataDir: '/d' })).toThrow(expect.objectContaining({ code: 'EXC_ERR_CONFIG', field: 'EXCHANGE_VERIFY_REPLICAS' }));
    for (const bad of ['-1', 'soon', '3600001']) {
      expect(() => loadExchangeConfig({ EXCHANGE_VERIFY_SCHEDULE_POLL_MS: bad }, { dataDir: '/d' })).toThrow(expect.objectContaining({ code: 'EXC_ERR_CONFIG', field: 'EXCHANGE_VERIFY_SCHEDULE_POLL_MS' }));
    }
  });
});
