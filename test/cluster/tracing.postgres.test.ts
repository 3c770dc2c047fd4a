import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../../admin-api/admin-fixture.common.js';
import type { SqlClient } from '../../master/sql-client.js';
import { tracingCapability } from '../../tracing/capability.js';
import { rollupDoneThrough, ScanRollup } from '../../tracing/scan-rollup.js';
import { addScan, chinaDate, HOUR, seedTracing, type Seeded } from '../../tracing/seed.common.js';
import { VenueIndex } from '../../tracing/venue-index.js';
import { useThrowAwaySchema } from './pg-env.js';

// Tracing (issue 11) on a real PostgreSQL: the SQL of co-presence (per-window
// range scans over the day-partitioned scans table), 同乘, region scoping and
// the group's bulk change differ enough between PGlite and pg (parameter
// types, bigint as text, partition pruning) to be worth one cheap pass.
// A fresh schema per run, dropped afterwards; unreachable database → FAIL.
const schema = useThrowAwaySchema('trc');
let db: SqlClient | undefined;
let f: Fixture;
let s: Seeded;

beforeAll(async () => {
  db = await schema.open(5);
  f = await startAdmin({ db, capabilities: [tracingCapability] });
  s = await seedTracing(f);
});

// runs before the schema's own afterAll (hooks unwind in reverse order)
afterAll(async () => {
  await f?.close();
  await db?.close();
});

const windowA = () => ({ venueId: 'ven-a', from: s.t - HOUR, to: s.t + HOUR });

describe('tracing on PostgreSQL', () => {
  it('runs on PostgreSQL', () => {
    expect(f.db.kind).toBe('postgres');
  });

  it('finds co-present people with 后推 and fellow passengers', async () => {
    const r = await f.call('POST', '/admin/v1/tracing/tasks', {
      token: f.tokens.operator,
      body: { name: '春熙路', venues: [{ ...windowA(), before: 0, after: 30 * 60 }], trips: [{ mode: 'train', number: 'G1234', date: chinaDate(s.t) }] },
    });
    expect(r.status, r.text).toBe(201);
    const people = await f.call('GET', `/admin/v1/tracing/tasks/${r.body.id}/people`, { token: f.tokens.operator });
    expect(people.status, people.text).toBe(200);
    const ids = people.body.people.map((p: { personId: number }) => p.personId).sort();
    // cd1, lz1 at A in the window, cd2 inside the 30-min 后推, cd5 + lz1 on G1234; not cd3 (2 h later), cd6 (next day)
    expect(ids).toEqual([s.persons.cd1!.id, s.persons.cd2!.id, s.persons.cd5!.id, s.persons.lz1!.id].sort());
  });

  it('scopes a city officer to their city', async () => {
    const mine = await f.call('POST', '/admin/v1/tracing/tasks', { token: f.tokens.city_officer, body: { name: '成都', venues: [windowA()] } });
    expect(mine.status, mine.text).toBe(201);
    const people = await f.call('GET', `/admin/v1/tracing/tasks/${mine.body.id}/people`, { token: f.tokens.city_officer });
    expect(people.body.people.map((p: { personId: number }) => p.personId)).toEqual([s.persons.cd1!.id]);
    const foreign = await f.call('POST', '/admin/v1/tracing/tasks', { token: f.tokens.city_officer, body: { name: '泸州', venues: [{ venueId: 'ven-c', from: s.t - HOUR, to: s.t + HOUR }] } });
    expect(foreign.body).toMatchObject({ error: 'TRC_ERR_VENUE_NOT_FOUND', field: 'venues[0].venueId' });
    expect((await f.call('GET', `/admin/v1/tracing/tasks/${mine.body.id}`, { token: f.tokens.city_officer_b })).status).toBe(404);
  });

  it('changes a group\'s codes through one request a second official approves', async () => {
    const t = await f.call('POST', '/admin/v1/tracing/tasks', { token: f.tokens.operator, body: { name: '组', venues: [windowA()] } });
    const g = await f.call('POST', `/admin/v1/tracing/tasks/${t.body.id}/group`, { token: f.tokens.operator, body: { name: '密接' } });
    expect(g.status, g.text).toBe(201);
    expect(g.body.people).toBe(2);
    const seq0 = await f.store.maxOutboxSeq();
    const r = await f.call('POST', `/admin/v1/tracing/groups/${g.body.id}/change`, { token: f.tokens.operator, body: { color: 'red', reason: 'close_contact' } });
    expect(r.status, r.text).toBe(202);
    const twice = await f.call('POST', `/admin/v1/tracing/groups/${g.body.id}/change`, { token: f.tokens.operator, body: { color: 'yellow', reason: 'x' } });
    expect(twice.body.error).toBe('TRC_ERR_CHANGE_PENDING');
    const ok = await f.call('POST', `/admin/v1/codes/bulk/${r.body.bulkRequestId}/approve`, { token: f.tokens.operator2, body: {} });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ applied: 2, changed: 2 });
    expect((await f.store.getCode(s.persons.lz1!.id))!.color).toBe('red');
    expect((await f.store.maxOutboxSeq()) - seq0).toBeGreaterThanOrEqual(2);
    const view = await f.call('GET', `/admin/v1/tracing/groups/${g.body.id}`, { token: f.tokens.operator });
    expect(view.body.colours).toEqual({ red: 2 });
  });

  it('rolls finished days and the dashboard answers the same from the rollup', async () => {
    const range = `from=${chinaDate(s.t)}&to=${chinaDate(Math.floor(f.clock.ms / 1000))}`;
    const live = (await f.call('GET', `/admin/v1/tracing/stats/venues?${range}`, { token: f.tokens.operator })).body;
    const rollup = new ScanRollup(f.db, { intervalMs: 0, lagHours: 2, retentionDays: 30 }, () => f.clock.ms);
    expect(await rollup.runOnce()).toContain(chinaDate(s.t));
    expect(await rollupDoneThrough(f.db)).toBe(rollup.lastRollableDay());
    const rolled = (await f.call('GET', `/admin/v1/tracing/stats/venues?${range}`, { token: f.tokens.operator })).body;
    expect(rolled.scans).toEqual(live.scans);
    expect(rolled.scans.find((x: { venueId: string }) => x.venueId === 'ven-a')).toMatchObject({ scans: 5, people: 4 });
    // a late upload for the rolled day: migration 3's statement trigger (a
    // transition table on the partitioned scans) marks it, the next pass re-rolls it
    await addScan(f, s.persons.cd6!.uid, 'ven-a', s.t + 40);
    expect(await rollup.dirtyDays()).toEqual([{ day: chinaDate(s.t), scans: 1 }]);
    expect(await rollup.runOnce()).toEqual([chinaDate(s.t)]);
    const again = (await f.call('GET', `/admin/v1/tracing/stats/venues?${range}`, { token: f.tokens.operator })).body;
    expect(again.scans.find((x: { venueId: string }) => x.venueId === 'ven-a')).toMatchObject({ scans: 6, people: 5 });
  });

  it('searches venues on the gram table in the database when there are more than TRACING_INDEX_MAX_VENUES', async () => {
    const idx = new VenueIndex(f.db, { refreshMs: 0, maxVenues: 1 });
    expect((await idx.search('春熙路太古理')).map((v) => v.id)).toEqual(['ven-a']); // misspelt
    expect(idx.mode).toBe('sql');
    expect((await idx.search('kzxz')).map((v) => v.id)).toEqual(['ven-b']); // 宽窄巷子 by pinyin initials
    expect((await idx.search('瀘州萬象匯', { regionPrefix: '5105' })).map((v) => v.id)).toEqual(['ven-c']); // traditional
    expect(await idx.search('瀘州萬象匯', { regionPrefix: '5101' })).toEqual([]);
  });
});
