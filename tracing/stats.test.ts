import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { tracingCapability } from './capability.js';
import { redYellowPeriods } from './person-trace.js';
import { chinaDate, HOUR, seedTracing, type Seeded } from './seed.common.js';
import { dayRange } from './stats.js';

/**
 * Queries, lineage and statistics: a person's red/yellow history by
 * certificate, their lineage (fact sources, rule versions, outbox pushes,
 * scans, travel), daily assignment statistics per city/colour/reason/source,
 * venue and red/yellow statistics, the data-flow map — region-scoped and
 * masked by role.
 */
let f: Fixture;
let s: Seeded;

beforeAll(async () => {
  f = await startAdmin({ capabilities: [tracingCapability] });
  s = await seedTracing(f);
  const now = Math.floor(f.clock.ms / 1000);
  // a confirmed case from the hospital import (red by the rules), a close contact (yellow/red by rules), a manual change
  await f.codes.addFacts(s.persons.cd1!.id, [{ kind: 'confirmed', at: now - HOUR }], { source: 'import:hospital', sourceRef: 'b7:3' });
  await f.codes.addFacts(s.persons.lz1!.id, [{ kind: 'close_contact', at: now - HOUR }], { source: 'import:cdc', sourceRef: 'b8:1' });
  await f.codes.transcode(s.persons.cd2!.id, { color: 'yellow', reason: 'manual_review', until: null }, 'operator');
  await f.codes.transcode(s.persons.cd2!.id, { color: 'green', reason: 'manual_review', until: null }, 'operator2');
});
afterAll(async () => {
  await f?.close();
});

const get = (token: string, path: string) => f.call('GET', path, { token });

describe('person queries', () => {
  it('red/yellow history of one person by certificate, audited, masked for an analyst', async () => {
    const r = await f.call('POST', '/admin/v1/tracing/person/history', { token: f.tokens.operator, body: { idNo: s.persons.cd2!.idNo } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.periods).toHaveLength(1);
    expect(r.body.periods[0]).toMatchObject({ color: 'yellow', reason: 'manual_review', actor: 'operator' });
    expect(r.body.periods[0].to).not.toBeNull();
    expect(r.body.person.name).toBe('王芳');
    const audit = await f.audit.list({ action: 'tracing.person.history', order: 'desc', limit: 1 });
    expect(audit[0]!.target).toContain('*');
    expect(JSON.stringify(audit[0])).not.toContain(s.persons.cd2!.idNo);
    const masked = await f.call('POST', '/admin/v1/tracing/person/history', { token: f.tokens.analyst, body: { idNo: s.persons.cd2!.idNo } });
    expect(masked.body.person.name).not.toBe('王芳');
    expect(masked.body.person.idNo).toContain('*');
  });

  it('a person of another city is not found for a city officer, a malformed certificate is a coded 400', async () => {
    const other = await f.call('POST', '/admin/v1/tracing/person/history', { token: f.tokens.city_officer, body: { idNo: s.persons.lz1!.idNo } });
    expect(other.status).toBe(404);
    expect(other.body.error).toBe('TRC_ERR_PERSON_NOT_FOUND');
    const bad = await f.call('POST', '/admin/v1/tracing/person/history', { token: f.tokens.operator, body: { idNo: '510104198501011234' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^CORE_ERR_/);
  });

  it('the lineage of a confirmed person: fact sources, rule versions, outbox pushes, scans, travel, tasks', async () => {
    await f.call('POST', '/admin/v1/tracing/tasks', { token: f.tokens.operator, body: { name: '溯源任务', venues: [{ venueId: 'ven-a', from: s.t - HOUR, to: s.t + HOUR }] } });
    const r = await f.call('POST', '/admin/v1/tracing/person/trace', { token: f.tokens.operator, body: { idNo: s.persons.cd1!.idNo } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.facts[0]).toMatchObject({ kind: 'confirmed', source: 'import:hospital', sourceRef: 'b7:3' });
    expect(r.body.code.color).toBe('red');
    expect(r.body.history[0]).toMatchObject({ color: 'red', actor: 'import:hospital' });
    expect(r.body.history[0].ruleVersion).toBeTruthy();
    expect(r.body.pushes.map((p: { seq: number }) => p.seq)).toContain(r.body.history[0].seq);
    expect(r.body.scans).toHaveLength(2);
    expect(r.body.scans[0]).toMatchObject({ venueId: 'ven-a', venueName: '春熙路太古里' });
    expect(r.body.scans[0].regionName).toContain('锦江');
    expect(r.body.tracing.map((t: { taskName: string }) => t.taskName)).toContain('溯源任务');
    const lz = await f.call('POST', '/admin/v1/tracing/person/trace', { token: f.tokens.operator, body: { idNo: s.persons.lz1!.idNo } });
    expect(lz.body.travel[0]).toMatchObject({ mode: 'train', number: 'G1234', date: chinaDate(s.t), source: 'import:travel', sourceRef: 'b1:1' });
    // an analyst sees that there were scans, not where
    const masked = await f.call('POST', '/admin/v1/tracing/person/trace', { token: f.tokens.analyst, body: { idNo: s.persons.cd1!.idNo } });
    expect(masked.body.scans).toEqual({ count: 2 });
    expect(masked.body.facts[0].source).toBeUndefined();
  });
});

describe('statistics', () => {
  it('daily assignments per city, colour, reason and source', async () => {
    const r = await get(f.tokens.analyst, '/admin/v1/tracing/stats/daily');
    expect(r.status, r.text).toBe(200);
    const red = r.body.rows.find((x: { color: string; source: string }) => x.color === 'red' && x.source === 'import:hospital');
    expect(red).toMatchObject({ city: '5101', cityName: '成都市', assigned: 1 });
    const manual = r.body.rows.filter((x: { source: string }) => x.source.startsWith('operator'));
    expect(manual.length).toBeGreaterThan(0);
    // a city officer's statistics hold only their city
    const city = await get(f.tokens.city_officer_b, '/admin/v1/tracing/stats/daily');
    expect(city.body.rows.every((x: { city: string }) => x.city === '5105')).toBe(true);
    expect(city.body.rows.length).toBeGreaterThan(0);
  });

  it('red/yellow people now and the trend', async () => {
    const r = await get(f.tokens.operator, '/admin/v1/tracing/stats/red-yellow');
    const total = r.body.now.reduce((a: number, x: { people: number }) => a + x.people, 0);
    expect(total).toBe(2); // cd1 red (confirmed), lz1 (close contact); cd2 back to green
    expect(r.body.trend.reduce((a: number, x: { red: number; yellow: number }) => a + x.red + x.yellow, 0)).toBeGreaterThanOrEqual(3);
    const onlyRed = await get(f.tokens.operator, '/admin/v1/tracing/stats/red-yellow?color=red');
    expect(onlyRed.body.now.every((x: { color: string }) => x.color === 'red')).toBe(true);
  });

  it('venue statistics: registered per city and kind, scans per venue per day', async () => {
    const r = await get(f.tokens.operator, '/admin/v1/tracing/stats/venues');
    expect(r.body.venues).toEqual(expect.arrayContaining([{ city: '5101', cityName: '成都市', kind: 'normal', venues: 2 }]));
    const a = r.body.scans.find((x: { venueId: string }) => x.venueId === 'ven-a');
    expect(a).toMatchObject({ name: '春熙路太古里', scans: 5, people: 4, day: chinaDate(s.t) });
    const city = await get(f.tokens.city_officer, '/admin/v1/tracing/stats/venues');
    expect(city.body.scans.every((x: { region: string }) => x.region.startsWith('5101'))).toBe(true);
    expect(city.body.venues.every((x: { city: string }) => x.city === '5101')).toBe(true);
  });

  it('the data-flow map from real counts', async () => {
    const r = await get(f.tokens.operator, `/admin/v1/tracing/stats/flow?from=${chinaDate(s.t)}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.sources).toEqual(expect.arrayContaining([{ source: 'import:hospital', facts: 1, people: 1 }]));
    expect(r.body.travel).toEqual([{ source: 'import:travel', rows: 3 }]);
    expect(r.body.master.people).toBe(8);
    expect(r.body.outbox.find((x: { type: string }) => x.type === 'code').deltas).toBeGreaterThanOrEqual(3);
    expect(r.body.returns).toEqual([{ node: 'edge-test', scans: 7 }]);
    expect(r.body.anomalies).toMatchObject({ unknownVenueScans: 0, factsWithoutRegion: 0, failedTasks: 0 });
    expect(r.body.anomalies.newRed).toBeGreaterThanOrEqual(1);
  });

  it('file-level lineage: each source and batch with its facts, people and the code changes it made', async () => {
    const r = await get(f.tokens.operator, '/admin/v1/tracing/lineage/batches');
    expect(r.status, r.text).toBe(200);
    expect(r.body.batches).toEqual(expect.arrayContaining([
      expect.objectContaining({ source: 'import:hospital', batch: 'b7', facts: 1, people: 1, kinds: { confirmed: 1 }, codeChanges: 1 }),
      expect.objectContaining({ source: 'import:cdc', batch: 'b8', facts: 1, people: 1 }),
    ]));
    const one = await get(f.tokens.operator, '/admin/v1/tracing/lineage/batches?source=import:cdc');
    expect(one.body.batches.map((b: { source: string }) => b.source)).toEqual(['import:cdc']);
    // the Chengdu officer does not see the Luzhou contact's batch
    const city = await get(f.tokens.city_officer, '/admin/v1/tracing/lineage/batches');
    expect(city.body.batches.map((b: { source: string }) => b.source)).toEqual(['import:hospital']);
  });

  it('refuses bad ranges and regions with coded errors, and roles without stats.read', async () => {
    expect((await get(f.tokens.operator, '/admin/v1/tracing/stats/daily?from=2026-03-01&to=2026-02-01')).body.error).toBe('TRC_ERR_RANGE');
    expect((await get(f.tokens.operator, '/admin/v1/tracing/stats/daily?from=2024-01-01&to=2026-02-01')).body.error).toBe('TRC_ERR_RANGE');
    expect((await get(f.tokens.operator, '/admin/v1/tracing/stats/daily?from=yesterday')).body.error).toBe('TRC_ERR_RANGE');
    expect((await get(f.tokens.city_officer, '/admin/v1/tracing/stats/daily?region=5105')).body.error).toBe('TRC_ERR_REGION');
    expect((await get(f.tokens.hotline, '/admin/v1/tracing/stats/daily')).status).toBe(403);
    expect((await get(f.tokens.auditor, '/admin/v1/tracing/stats/flow')).status).toBe(403);
  });
});

describe('pure parts', () => {
  it('day ranges are China days', () => {
    const r = dayRange('2026-01-01', '2026-01-01', 0);
    expect(r.end - r.start).toBe(86_400);
    expect(new Date(r.start * 1000).toISOString()).toBe('2025-12-31T16:00:00.000Z');
  });

  it('red/yellow periods close when the colour or reason changes', () => {
    const h = (seq: number, color: 'green' | 'yellow' | 'red', reason = 'r') => ({ at: seq * 10, prevColor: null, color, reason, since: 0, until: null, ruleVersion: 'v1', actor: 'a', seq });
    expect(redYellowPeriods([h(1, 'yellow'), h(2, 'red'), h(3, 'green'), h(4, 'red')])).toEqual([
      { color: 'yellow', reason: 'r', from: 10, to: 20, ruleVersion: 'v1', actor: 'a' },
      { color: 'red', reason: 'r', from: 20, to: 30, ruleVersion: 'v1', actor: 'a' },
      { color: 'red', reason: 'r', from: 40, to: null, ruleVersion: 'v1', actor: 'a' },
    ]);
  });
});
