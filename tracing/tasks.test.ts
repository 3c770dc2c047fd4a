import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { tracingCapability } from './capability.js';
import { chinaDate, HOUR, seedTracing, type Seeded } from './seed.common.js';

/**
 * 精准找人 step 2: tasks over several venues with their own windows and
 * 前推/后推 margins (co-presence from the master's scans) and trips (同乘
 * from travel_segments); the query, result and state kept; bad windows and
 * oversized tasks refused by code; a city officer limited to their city.
 */
let f: Fixture;
let s: Seeded;

beforeAll(async () => {
  f = await startAdmin({ capabilities: [tracingCapability], capabilityEnv: { tracing: { TRACING_RETENTION_DAYS: '30' } } });
  s = await seedTracing(f);
});
afterAll(async () => {
  await f?.close();
});

const create = (token: string, body: unknown) => f.call('POST', '/admin/v1/tracing/tasks', { token, body });
const windowA = () => ({ venueId: 'ven-a', from: s.t - HOUR, to: s.t + HOUR, before: 0, after: 30 * 60 });

async function peopleOf(token: string, id: number): Promise<{ personId: number; name: string; evidence: any }[]> {
  const r = await f.call('GET', `/admin/v1/tracing/tasks/${id}/people`, { token });
  expect(r.status, r.text).toBe(200);
  return r.body.people;
}

describe('tracing tasks', () => {
  it('finds everyone at a venue inside its window and margins, and co-travellers of a trip', async () => {
    const r = await create(f.tokens.operator, { name: '病例1 关联场所', venues: [windowA()], trips: [{ mode: 'train', number: 'g 1234', date: chinaDate(s.t) }] });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ state: 'done', people: 4, scans: 4, excluded: 0, createdBy: 'operator' });
    expect(r.body.query.trips[0].number).toBe('G1234'); // normalised as kept
    const people = await peopleOf(f.tokens.operator, r.body.id);
    const ids = people.map((p) => p.personId).sort((a, b) => a - b);
    const P = s.persons;
    expect(ids).toEqual([P.cd1!.id, P.cd2!.id, P.lz1!.id, P.cd5!.id].sort((a, b) => a - b));
    const cd1 = people.find((p) => p.personId === P.cd1!.id)!;
    expect(cd1.name).toBe('李小明');
    expect(cd1.evidence.venues).toEqual([{ venueId: 'ven-a', first: s.t, last: s.t + 600, scans: 2 }]);
    const lz1 = people.find((p) => p.personId === P.lz1!.id)!;
    expect(lz1.evidence.trips).toEqual([{ mode: 'train', number: 'G1234', date: chinaDate(s.t), seat: '05车12A' }]);
    // the task keeps its query, state and counts
    const again = await f.call('GET', `/admin/v1/tracing/tasks/${r.body.id}`, { token: f.tokens.operator });
    expect(again.body).toMatchObject({ id: r.body.id, state: 'done', people: 4, venueNames: { 'ven-a': '春熙路太古里' } });
    const list = await f.call('GET', '/admin/v1/tracing/tasks', { token: f.tokens.analyst });
    expect(list.body.tasks.map((t: { id: number }) => t.id)).toContain(r.body.id);
    // creating and reading people are audited
    const audit = await f.audit.list({ actor: 'operator', order: 'desc', limit: 5 });
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['tracing.task.create', 'tracing.task.people']));
  });

  it('without the 后推 margin the late scan is outside; several venues each keep their own window', async () => {
    const r = await create(f.tokens.operator, {
      name: '两个场所',
      venues: [{ venueId: 'ven-a', from: s.t - HOUR, to: s.t + HOUR }, { venueId: 'ven-b', from: s.t - 60, to: s.t + 60 }],
    });
    expect(r.body).toMatchObject({ people: 3 }); // cd1, lz1 at A; cd4 at B; not cd2 (80 min) nor cd3
    const before = await create(f.tokens.operator, { name: '前推', venues: [{ venueId: 'ven-a', from: s.t + 3 * HOUR, to: s.t + 4 * HOUR, before: 2 * HOUR }] });
    expect(before.body.people).toBe(2); // cd2 (t+80m) and cd3 (t+2h) inside [t+1h, t+4h)
  });

  it('an analyst reads the people masked, without places', async () => {
    const r = await create(f.tokens.operator, { name: '脱敏', venues: [windowA()] });
    const people = await peopleOf(f.tokens.analyst, r.body.id);
    const cd1 = people.find((p) => p.personId === s.persons.cd1!.id)!;
    expect(cd1.name).not.toBe('李小明');
    expect((cd1 as unknown as { idNo: string }).idNo).toContain('*');
    expect(cd1.evidence).toEqual({ venues: 1, trips: 0 });
    const page = await f.call('GET', `/admin/v1/tracing/tasks/${r.body.id}/people?offset=1&limit=1`, { token: f.tokens.operator });
    expect(page.body).toMatchObject({ total: 3, offset: 1 });
    expect(page.body.people).toHaveLength(1);
  });

  it('scans keep one (venue_id, at) index: the covering one of migration 4 replaces the master\'s (migration 6)', async () => {
    const r = await f.db.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'scans' AND indexdef LIKE '%(venue_id, at)%'",
    );
    expect(r.rows.map((x) => x.indexname)).toEqual(['tracing_scans_venue_at_uid_ix']);
    expect(r.rows[0]!.indexdef).toMatch(/INCLUDE \(uid\)/);
  });

  it('an analyst may not create a task', async () => {
    expect((await create(f.tokens.analyst, { name: 'x', venues: [windowA()] })).status).toBe(403);
  });
});

describe('region scoping (a city officer sees only their city)', () => {
  it('finds only their city\'s people, and another city\'s venue is answered as not found', async () => {
    const r = await create(f.tokens.city_officer, { name: '成都', venues: [windowA()], trips: [{ mode: 'train', number: 'G1234', date: chinaDate(s.t) }] });
    expect(r.status).toBe(201);
    expect(r.body.people).toBe(3); // cd1, cd2, cd5 — not the Luzhou resident lz1
    const people = await peopleOf(f.tokens.city_officer, r.body.id);
    expect(people.every((p) => (p as unknown as { region: string }).region.startsWith('5101'))).toBe(true);
    const other = await create(f.tokens.city_officer, { name: '泸州', venues: [{ venueId: 'ven-c', from: s.t - HOUR, to: s.t + HOUR }] });
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ error: 'TRC_ERR_VENUE_NOT_FOUND', field: 'venues[0].venueId' });
    const nothing = await create(f.tokens.city_officer, { name: '无', venues: [{ venueId: 'ven-zzz', from: s.t - HOUR, to: s.t + HOUR }] });
    expect(nothing.body.error).toBe('TRC_ERR_VENUE_NOT_FOUND');
    // the Luzhou officer cannot see the Chengdu task; the province can
    expect((await f.call('GET', `/admin/v1/tracing/tasks/${r.body.id}`, { token: f.tokens.city_officer_b })).body.error).toBe('TRC_ERR_TASK_NOT_FOUND');
    expect((await f.call('GET', `/admin/v1/tracing/tasks/${r.body.id}/people`, { token: f.tokens.city_officer_b })).status).toBe(404);
    const list = await f.call('GET', '/admin/v1/tracing/tasks', { token: f.tokens.city_officer_b });
    expect(list.body.tasks.map((t: { id: number }) => t.id)).not.toContain(r.body.id);
    expect((await f.call('GET', `/admin/v1/tracing/tasks/${r.body.id}`, { token: f.tokens.admin })).status).toBe(200);
  });
});

describe('bad tasks are refused with coded errors, and nothing is written', () => {
  const now = () => Math.floor(f.clock.ms / 1000);
  const cases: [string, () => unknown, string, string | undefined][] = [
    ['an inverted window', () => ({ venues: [{ venueId: 'ven-a', from: s.t, to: s.t - 1 }] }), 'TRC_ERR_WINDOW_INVERTED', 'venues[0].to'],
    ['an empty window', () => ({ venues: [{ venueId: 'ven-a', from: s.t, to: s.t }] }), 'TRC_ERR_WINDOW_INVERTED', 'venues[0].to'],
    ['a window longer than the retention', () => ({ venues: [{ venueId: 'ven-a', from: now() - 29 * 86_400, to: now() + 2 * 86_400 }] }), 'TRC_ERR_WINDOW_TOO_LONG', 'venues[0].from'],
    ['margins making it longer than the retention', () => ({ venues: [{ venueId: 'ven-a', from: now() - 20 * 86_400, to: now() - 10 * 86_400, before: 14 * 86_400, after: 14 * 86_400 }] }), 'TRC_ERR_WINDOW_TOO_LONG', 'venues[0].from'],
    ['a window older than the retention', () => ({ venues: [{ venueId: 'ven-a', from: now() - 40 * 86_400, to: now() - 39 * 86_400 }] }), 'TRC_ERR_WINDOW_EXPIRED', 'venues[0].from'],
    ['a window in the future', () => ({ venues: [{ venueId: 'ven-a', from: now() + 86_400, to: now() + 2 * 86_400 }] }), 'TRC_ERR_WINDOW_EXPIRED', 'venues[0].from'],
    ['a negative margin', () => ({ venues: [{ venueId: 'ven-a', from: s.t, to: s.t + 60, before: -1 }] }), 'TRC_ERR_MARGIN', 'venues[0].before'],
    ['a 15-day margin', () => ({ venues: [{ venueId: 'ven-a', from: s.t, to: s.t + 60, after: 15 * 86_400 }] }), 'TRC_ERR_MARGIN', 'venues[0].after'],
    ['10,000 venues', () => ({ venues: Array.from({ length: 10_000 }, (_, i) => ({ venueId: `v${i}`, from: s.t, to: s.t + 60 })) }), 'TRC_ERR_TOO_MANY_VENUES', 'venues'],
    ['no venue and no trip', () => ({ venues: [], trips: [] }), 'TRC_ERR_NO_TARGETS', 'venues'],
    ['a trip by rocket', () => ({ trips: [{ mode: 'rocket', number: 'X1', date: '2026-01-01' }] }), 'TRC_ERR_TRIP', 'trips[0].mode'],
    ['a trip on 2026-02-30', () => ({ trips: [{ mode: 'train', number: 'G1', date: '2026-02-30' }] }), 'TRC_ERR_TRIP', 'trips[0].date'],
    ['a blank trip number', () => ({ trips: [{ mode: 'train', number: '  ', date: '2026-01-01' }] }), 'TRC_ERR_TRIP', 'trips[0].number'],
    ['excluding an unknown group', () => ({ venues: [{ venueId: 'ven-a', from: s.t, to: s.t + 60 }], exclude: [999999] }), 'TRC_ERR_GROUP_NOT_FOUND', 'exclude[0]'],
    ['an unknown field', () => ({ venues: [], hack: 1 }), 'ADM_ERR_VALIDATION', 'hack'],
  ];
  it.each(cases)('%s', async (_label, body, code, field) => {
    const before = await f.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tracing_tasks');
    const r = await create(f.tokens.operator, { name: '坏任务', ...(body() as object) });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.error).toBe(code);
    if (field !== undefined) expect(r.body.field).toBe(field);
    if (code.startsWith('TRC_')) expect(r.body.zh).toMatch(/[\u4e00-\u9fff]/);
    const after = await f.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tracing_tasks');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });
});
