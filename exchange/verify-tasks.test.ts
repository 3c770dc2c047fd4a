import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rid, startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { hostOf, residentId } from './test-helpers.common.js';
import { VerifyTasks } from './verify-tasks.js';

/**
 * The verification runner against a real master (PGlite): each kind of
 * mismatch, current vs history codes, risk-person expectations, region
 * scoping, stop / resume / re-run, and a runner that dies midway (the next
 * start resumes after the last committed chunk, the dead one cannot
 * double-count). The capability's own runner is not started: each test
 * drives the runners it creates.
 */
let f: Fixture;
let ex: ExchangeInstance;
const people: Record<string, number> = {};
const nowS = (): number => Math.floor(f.clock.ms / 1000);

async function person(key: string, idNo: string, name: string): Promise<number> {
  const r = await f.codes.register({ idType: 'resident', idNo, name, phone: `139${String(Object.keys(people).length).padStart(8, '0')}` });
  people[key] = r.personId;
  return r.personId;
}

/** A fact stored without re-evaluation: what an import that skipped the rule engine would leave. */
async function rawFact(pid: number, kind: string, at: number, source: string, result: string | null = null): Promise<void> {
  await f.db.query('INSERT INTO facts (person_id, kind, at, source, result) VALUES ($1, $2, to_timestamp($3), $4, $5)', [pid, kind, at, source, result]);
}

async function seqOf(pid: number): Promise<number> {
  return Number((await f.store.getCode(pid))!.seq);
}

function runner(opts: ConstructorParameters<typeof VerifyTasks>[2] = {}): VerifyTasks {
  return new VerifyTasks(hostOf(f), ex.verify.rules, { pollMs: 50, ...opts });
}

async function runToEnd(id: string, r = runner()): Promise<void> {
  await r.startRunner();
  await r.idle();
  await r.stopRunner();
  expect((await ex.verify.tasks.get(id, '')).status).toBe('done');
}

async function kinds(taskId: string): Promise<[string, string][]> {
  const r = await f.db.query<{ person_id: string; kind: string }>('SELECT person_id, kind FROM exchange_verify_mismatches WHERE task_id = $1 ORDER BY kind, person_id', [taskId]);
  const name = new Map(Object.entries(people).map(([k, v]) => [v, k]));
  return r.rows.map((x) => [name.get(Number(x.person_id)) ?? String(x.person_id), x.kind]);
}

beforeAll(async () => {
  f = await startAdmin({ capabilities: [exchangeCapability] });
  ex = f.instances.exchange as unknown as ExchangeInstance;
  const hourAgo = nowS() - 3600;
  const nat = { source: 'import:nat-result', sourceRef: 'b:1' };
  // A: positive, turned red by the rule engine, delta sent: consistent
  await f.codes.addFacts(await person('A', residentId(9001), '甲一'), [{ kind: 'nucleic_acid', at: hourAgo, result: 'positive' }], nat);
  // B: positive stored but never evaluated: still green
  await rawFact(await person('B', residentId(9002), '乙二'), 'nucleic_acid', hourAgo, 'import:nat-result', 'positive');
  // C: red test_positive written straight into codes, no fact, no delta
  await person('C', residentId(9003), '丙三');
  await f.db.query("UPDATE codes SET color = 'red', reason = 'test_positive', since = to_timestamp($2) WHERE person_id = $1", [people.C, nowS() - 60]);
  // D: positive and red, but the delta the edges got says green (its payload replaced by the registration's)
  const d = await person('D', residentId(9004), '丁四');
  const greenSeq = await seqOf(d);
  await f.codes.addFacts(d, [{ kind: 'nucleic_acid', at: hourAgo, result: 'positive' }], nat);
  await f.db.query('UPDATE outbox SET payload = (SELECT payload FROM outbox WHERE seq = $1) WHERE seq = $2', [greenSeq, await seqOf(d)]);
  // E: negative only: nothing to compare
  await f.codes.addFacts(await person('E', residentId(9005), '戊五'), [{ kind: 'nucleic_acid', at: hourAgo, result: 'negative' }], nat);
  // F: Luzhou resident, positive never evaluated
  await rawFact(await person('F', rid('51050219900101456'), '己六'), 'nucleic_acid', hourAgo, 'import:nat-result', 'positive');
  // G: positive five days ago: outside a one-day window
  await rawFact(await person('G', residentId(9007), '庚七'), 'nucleic_acid', nowS() - 5 * 86_400, 'import:nat-result', 'positive');
  // H: positive, red, then changed to green by hand: wrong now, right in the history
  const h = await person('H', residentId(9008), '辛八');
  await f.codes.addFacts(h, [{ kind: 'nucleic_acid', at: hourAgo, result: 'positive' }], nat);
  await f.codes.transcode(h, { color: 'green', reason: '人工复核', until: null }, 'operator');
  // I: positive and red, but its delta is unreadable
  const i = await person('I', residentId(9011), '子十一');
  await f.codes.addFacts(i, [{ kind: 'nucleic_acid', at: hourAgo, result: 'positive' }], nat);
  await f.db.query("UPDATE outbox SET payload = '\\x01ff'::bytea WHERE seq = $1", [await seqOf(i)]);
  // risk-person: a close contact 20 days ago (lapsed: not expected red now), a recent secondary contact never evaluated
  await rawFact(await person('R1', residentId(9009), '壬九'), 'close_contact', nowS() - 20 * 86_400, 'import:risk-person');
  await rawFact(await person('R2', residentId(9010), '癸十'), 'secondary_contact', nowS() - 7200, 'import:risk-person');
}, 60_000);

afterAll(async () => {
  await f?.close();
});

describe('mismatch detection', () => {
  it('finds each kind against the current codes and the distributed deltas', async () => {
    const rule = await ex.verify.rules.create({ name: '核酸阳性赋码核查', dataset: 'nat-result', windowDays: 1 }, '', 'operator');
    const t = await ex.verify.tasks.start(rule.id, '', 'operator');
    await runToEnd(t.id);
    expect(await kinds(t.id)).toEqual([
      ['C', 'assigned_not_distributed'],
      ['D', 'assigned_not_distributed'],
      ['I', 'assigned_not_distributed'],
      ['C', 'assigned_without_basis'],
      ['B', 'expected_not_assigned'],
      ['F', 'expected_not_assigned'],
      ['H', 'expected_not_assigned'],
    ]);
    const done = await ex.verify.tasks.get(t.id, '');
    expect(done.counts).toMatchObject({ checked: 7, expected: 6, consistent: 1, mismatches: 7 });
    const d = await f.db.query<{ assigned: string; distributed: string; detail: string }>(
      "SELECT assigned, distributed, detail FROM exchange_verify_mismatches WHERE task_id = $1 AND person_id = $2", [t.id, people.D],
    );
    expect(d.rows[0]).toEqual({ assigned: 'red', distributed: 'green', detail: '下发颜色与当前赋码不一致' });
    const i = await f.db.query<{ detail: string }>('SELECT detail FROM exchange_verify_mismatches WHERE task_id = $1 AND person_id = $2', [t.id, people.I]);
    expect(i.rows[0]!.detail).toBe('下发记录无法解析');
    const log = await ex.verify.tasks.runLog(t.id);
    expect(log.map((l) => l.message).join('\n')).toMatch(/任务完成：核查 7 人，发现不一致 7 条/);
  });

  it('history mode: a code that was red after the fact is consistent; no distribution check when switched off', async () => {
    const rule = await ex.verify.rules.create({ name: '历史赋码核查', dataset: 'nat-result', windowDays: 1, codeSource: 'history', checkDistribution: false }, '', 'operator');
    const t = await ex.verify.tasks.start(rule.id, '', 'operator');
    await runToEnd(t.id);
    const k = await kinds(t.id);
    expect(k.filter(([, kind]) => kind === 'expected_not_assigned').map(([p]) => p)).toEqual(['B', 'F']);
    expect(k.some(([, kind]) => kind === 'assigned_not_distributed')).toBe(false);
  });

  it('risk-person: a lapsed close contact is not expected red, a recent secondary contact is expected yellow', async () => {
    const rule = await ex.verify.rules.create({ name: '风险人员赋码核查', dataset: 'risk-person', windowDays: 30 }, '', 'operator');
    const t = await ex.verify.tasks.start(rule.id, '', 'operator');
    await runToEnd(t.id);
    expect(await kinds(t.id)).toEqual([['R2', 'expected_not_assigned']]);
    const m = await f.db.query<{ expected: string; fact_kind: string }>('SELECT expected, fact_kind FROM exchange_verify_mismatches WHERE task_id = $1', [t.id]);
    expect(m.rows[0]).toEqual({ expected: 'yellow', fact_kind: 'secondary_contact' });
  });

  it("a city officer's rule only looks at the city's residents", async () => {
    const rule = await ex.verify.rules.create({ name: '泸州核查', dataset: 'nat-result', windowDays: 1 }, '5105', 'city_officer_b');
    const t = await ex.verify.tasks.start(rule.id, '5105', 'city_officer_b');
    await runToEnd(t.id);
    expect(await kinds(t.id)).toEqual([['F', 'expected_not_assigned']]);
    await expect(ex.verify.tasks.get(t.id, '5101')).rejects.toMatchObject({ code: 'EXC_ERR_VERIFY_TASK_NOT_FOUND' });
    await expect(ex.verify.tasks.start(rule.id, '5101', 'city_officer')).rejects.toMatchObject({ code: 'EXC_ERR_VERIFY_RULE_NOT_FOUND' });
  });
});

describe('stop, resume, re-run, restart', () => {
  it('stops after the chunk in flight, resumes after the cursor, and a re-run is a new task with the same result', async () => {
    const rule = await ex.verify.rules.create({ name: '分批核查', dataset: 'nat-result', windowDays: 1 }, '', 'operator');
    const t = await ex.verify.tasks.start(rule.id, '', 'operator');
    let chunks = 0;
    const r = runner({
      chunkPersons: 2,
      onChunk: async (id) => {
        if (++chunks === 1) await ex.verify.tasks.stop(id, '', 'operator');
      },
    });
    await r.startRunner();
    await r.idle();
    await r.stopRunner();
    const stopped = await ex.verify.tasks.get(t.id, '');
    expect(stopped.status).toBe('stopped');
    expect(stopped.counts.checked).toBe(2);
    await expect(ex.verify.tasks.stop(t.id, '', 'operator')).rejects.toMatchObject({ code: 'EXC_ERR_VERIFY_TASK_STATE', statusCode: 409 });
    await expect(ex.verify.tasks.rerun(t.id, '', 'operator')).resolves.toMatchObject({ status: 'queued', rerunOf: t.id });

    await ex.verify.tasks.resume(t.id, '', 'operator');
    await expect(ex.verify.tasks.resume(t.id, '', 'operator')).rejects.toMatchObject({ code: 'EXC_ERR_VERIFY_TASK_STATE' });
    await runToEnd(t.id, runner({ chunkPersons: 2 }));
    const done = await ex.verify.tasks.get(t.id, '');
    expect(done.counts).toMatchObject({ checked: 7, mismatches: 7 });
    expect((await kinds(t.id)).length).toBe(7);
    const rerun = (await ex.verify.tasks.list('', rule.id)).find((x) => x.rerunOf === t.id)!;
    expect((await ex.verify.tasks.get(rerun.id, '')).counts).toMatchObject({ checked: 7, mismatches: 7 });
    const log = (await ex.verify.tasks.runLog(t.id)).map((l) => l.message).join('\n');
    expect(log).toMatch(/请求停止/);
    expect(log).toMatch(/任务已停止：已核查 2 人/);
    expect(log).toMatch(/继续执行任务/);
  });

  it('a runner that dies midway: the next start resumes after the last committed chunk and the dead one cannot commit', async () => {
    const rule = await ex.verify.rules.create({ name: '重启核查', dataset: 'nat-result', windowDays: 1 }, '', 'operator');
    const t = await ex.verify.tasks.start(rule.id, '', 'operator');
    let release!: () => void;
    const hung = new Promise<void>((res) => {
      release = res;
    });
    let reached!: () => void;
    const atChunk = new Promise<void>((res) => {
      reached = res;
    });
    const dying = runner({
      chunkPersons: 2,
      onChunk: async () => {
        reached();
        await hung; // the process "hangs" here after its first chunk committed
      },
    });
    await dying.startRunner();
    await atChunk;
    expect((await ex.verify.tasks.get(t.id, '')).status).toBe('running');

    const next = runner({ chunkPersons: 2 }); // same node (same data dir): a restart
    await next.startRunner();
    await next.idle();
    await next.stopRunner();
    const done = await ex.verify.tasks.get(t.id, '');
    expect(done.status).toBe('done');
    expect(done.counts).toMatchObject({ checked: 7, mismatches: 7 });
    const log = (await ex.verify.tasks.runLog(t.id)).map((l) => l.message).join('\n');
    expect(log).toMatch(/服务重启，任务从人员序号 \d+ 之后继续/);

    release(); // the old runner wakes up: its next chunk is fenced off
    await dying.stopRunner();
    expect((await ex.verify.tasks.get(t.id, '')).counts).toMatchObject({ checked: 7, mismatches: 7 });
  });

  it('walks sparse candidates in widening id windows: a candidate after 40 persons without any is still found', async () => {
    for (let n = 0; n < 40; n++) await f.codes.register({ idType: 'resident', idNo: residentId(9200 + n), name: '路人' });
    await rawFact(await person('J', residentId(9300), '丑十二'), 'nucleic_acid', nowS() - 600, 'import:nat-result', 'positive');
    const rule = await ex.verify.rules.create({ name: '稀疏核查', dataset: 'nat-result', windowDays: 1 }, '', 'operator');
    const t = await ex.verify.tasks.start(rule.id, '', 'operator');
    await runToEnd(t.id, runner({ chunkPersons: 1 }));
    const done = await ex.verify.tasks.get(t.id, '');
    expect(done.counts).toMatchObject({ checked: 8, mismatches: 8 });
    expect((await kinds(t.id)).filter(([p]) => p === 'J')).toEqual([['J', 'expected_not_assigned']]);
  });
});
