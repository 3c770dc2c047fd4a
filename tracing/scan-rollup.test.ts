import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { tracingCapability } from './capability.js';
import { rollupDoneThrough, ScanRollup } from './scan-rollup.js';
import { addScan, chinaDate, seedTracing, type Seeded } from './seed.common.js';

/**
 * The daily scan rollup: finished China days are rolled whole into
 * tracing_venue_day / tracing_node_day from a cursor; the dashboard reads
 * them for those days and the live scans table for the rest (today).
 */
let f: Fixture;
let s: Seeded;
let rollup: ScanRollup;

beforeAll(async () => {
  // the background job is off here: the test rolls by hand to see each step
  f = await startAdmin({ capabilities: [tracingCapability], capabilityEnv: { tracing: { TRACING_ROLLUP_INTERVAL_MS: '0' } } });
  s = await seedTracing(f);
  // a scan of a place code the master does not know, on the same day
  await f.store.insertScans([{ id: randomBytes(8).toString('hex'), uid: s.persons.cd1!.uid, venueId: 'ven-gone', kind: 'scan', at: s.t + 60, node: 'edge-2', color: 'green' }]);
  rollup = new ScanRollup(f.db, { intervalMs: 0, lagHours: 2, retentionDays: 30 }, () => f.clock.ms);
});
afterAll(async () => {
  await f?.close();
});

const get = (path: string, token = f.tokens.operator) => f.call('GET', path, { token });
const venueA = (body: { scans: { venueId: string; day: string; scans: number; people: number }[] }, day: string) =>
  body.scans.find((x) => x.venueId === 'ven-a' && x.day === day);

describe('daily scan rollup', () => {
  it('rolls every finished day from the cursor, and the dashboard answers the same from it', async () => {
    const day = chinaDate(s.t);
    const range = `from=${chinaDate(s.t - 86_400)}&to=${chinaDate(Math.floor(f.clock.ms / 1000))}`;
    const liveVenues = (await get(`/admin/v1/tracing/stats/venues?${range}`)).body;
    const liveFlow = (await get(`/admin/v1/tracing/stats/flow?${range}`)).body;
    expect(venueA(liveVenues, day)).toMatchObject({ scans: 5, people: 4 });
    expect(liveFlow.anomalies.unknownVenueScans).toBe(1);
    expect(await rollupDoneThrough(f.db)).toBeNull();

    const days = await rollup.runOnce();
    // from retention back to the last day that ended at least 2 h ago: 30 days, or 29 when the
    // test runs in the first 2 h of a China day (the day before has not passed its lag yet)
    const first = chinaDate(Math.floor(f.clock.ms / 1000) - 30 * 86_400);
    const span = (Date.parse(rollup.lastRollableDay()) - Date.parse(first)) / 86_400_000 + 1;
    expect(span === 30 || span === 29).toBe(true);
    expect(days).toHaveLength(span);
    expect(days[0]).toBe(first);
    expect(days).toContain(day);
    expect(days.at(-1)).toBe(rollup.lastRollableDay());
    expect(await rollupDoneThrough(f.db)).toBe(rollup.lastRollableDay());
    const rows = await f.db.query<{ venue_id: string; scans: number; people: number }>(
      'SELECT venue_id, scans::int AS scans, people::int AS people FROM tracing_venue_day WHERE day = $1::date ORDER BY venue_id', [day]);
    expect(rows.rows).toEqual([
      { venue_id: 'ven-a', scans: 5, people: 4 }, { venue_id: 'ven-b', scans: 1, people: 1 },
      { venue_id: 'ven-c', scans: 1, people: 1 }, { venue_id: 'ven-gone', scans: 1, people: 1 },
    ]);
    // nothing more to do until another day ends
    expect(await rollup.runOnce()).toEqual([]);

    const rolledVenues = (await get(`/admin/v1/tracing/stats/venues?${range}`)).body;
    const rolledFlow = (await get(`/admin/v1/tracing/stats/flow?${range}`)).body;
    expect(rolledVenues.scans).toEqual(liveVenues.scans);
    expect(rolledFlow.returns).toEqual(liveFlow.returns);
    expect(rolledFlow.returns).toEqual([{ node: 'edge-test', scans: 7 }, { node: 'edge-2', scans: 1 }]);
    expect(rolledFlow.anomalies).toEqual(liveFlow.anomalies);
    // region scoping still applies to the rolled days
    const city = (await get(`/admin/v1/tracing/stats/venues?${range}`, f.tokens.city_officer)).body;
    expect(city.scans.map((x: { venueId: string }) => x.venueId).sort()).toEqual(['ven-a', 'ven-b']);
    expect((await get(`/admin/v1/tracing/stats/flow?${range}`, f.tokens.city_officer)).body.anomalies.unknownVenueScans).toBe(0);
  });

  it('re-rolls a rolled day when late scans arrive for it; reads today live', async () => {
    const day = chinaDate(s.t);
    const today = chinaDate(Math.floor(f.clock.ms / 1000));
    const range = `from=${day}&to=${today}`;
    // a scan uploaded late for a rolled day marks that day dirty (migration 3's trigger) …
    expect(await rollup.dirtyDays()).toEqual([]);
    await addScan(f, s.persons.cd3!.uid, 'ven-a', s.t + 30);
    await addScan(f, s.persons.cd6!.uid, 'ven-a', s.t + 40);
    expect(await rollup.dirtyDays()).toEqual([{ day, scans: 2 }]);
    // … the same event resent (ON CONFLICT skips it) marks nothing more
    const again = { id: 'late-1', uid: s.persons.cd6!.uid, venueId: 'ven-b', kind: 'scan' as const, at: s.t + 50, node: 'edge-test', color: 'green' as const };
    expect((await f.store.insertScans([again])).inserted).toBe(1);
    expect((await f.store.insertScans([again])).duplicates).toBe(1);
    expect(await rollup.dirtyDays()).toEqual([{ day, scans: 3 }]);
    expect(venueA((await get(`/admin/v1/tracing/stats/venues?${range}`)).body, day)).toMatchObject({ scans: 5, people: 4 });
    // … and the next pass re-rolls it (nothing else is due), recounting distinct people
    expect(await rollup.runOnce()).toEqual([day]);
    expect(await rollup.dirtyDays()).toEqual([]);
    expect(venueA((await get(`/admin/v1/tracing/stats/venues?${range}`)).body, day)).toMatchObject({ scans: 7, people: 5 });
    expect(await rollup.runOnce()).toEqual([]);
    // rollDay by hand still works (and is what the pass calls)
    await rollup.rollDay(day);
    expect(venueA((await get(`/admin/v1/tracing/stats/venues?${range}`)).body, day)).toMatchObject({ scans: 7, people: 5 });
    // re-rolling an old day never moves the cursor back
    expect(await rollupDoneThrough(f.db)).toBe(rollup.lastRollableDay());
    // today's scans are counted at once, from the live table, and mark nothing (today is not rolled)
    await addScan(f, s.persons.cd3!.uid, 'ven-b', Math.floor(f.clock.ms / 1000) - 60);
    expect(await rollup.dirtyDays()).toEqual([]);
    expect((await get(`/admin/v1/tracing/stats/venues?${range}`)).body.scans.find((x: { venueId: string; day: string }) => x.venueId === 'ven-b' && x.day === today))
      .toMatchObject({ scans: 1, people: 1 });
  });

  it('runs in the background from the capability\'s start() and stops with it', async () => {
    const g = await startAdmin({ capabilities: [tracingCapability], capabilityEnv: { tracing: { TRACING_ROLLUP_INTERVAL_MS: '20', TRACING_ROLLUP_LAG_HOURS: '0', TRACING_RETENTION_DAYS: '3' } }, startCapabilities: true });
    try {
      const want = chinaDate(Math.floor(g.clock.ms / 1000) - 86_400);
      for (let i = 0; i < 500 && (await rollupDoneThrough(g.db)) !== want; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await rollupDoneThrough(g.db)).toBe(want);
    } finally {
      await g.close();
    }
  });

  it('refuses a bad interval or lag, naming the variable', async () => {
    const { loadTracingConfig } = await import('./config.js');
    expect(() => loadTracingConfig({ TRACING_ROLLUP_INTERVAL_MS: '-1' })).toThrow(expect.objectContaining({ code: 'TRC_ERR_CONFIG', field: 'TRACING_ROLLUP_INTERVAL_MS' }));
    expect(() => loadTracingConfig({ TRACING_ROLLUP_LAG_HOURS: '100' })).toThrow(expect.objectContaining({ code: 'TRC_ERR_CONFIG', field: 'TRACING_ROLLUP_LAG_HOURS' }));
  });
});
