import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { alertEventsAfter } from '../master/alert-events.js';
import { tracingCapability } from './capability.js';
import { HOUR, seedTracing, type Seeded } from './seed.common.js';

/**
 * Risk groups: a task's people become a group; one action asks for a code
 * change of all of them through the shell's bulk flow, which a second
 * official approves (outbox deltas for every edge); exports masked by role
 * and audited; later tasks can leave the group's people out.
 */
let f: Fixture;
let s: Seeded;

beforeAll(async () => {
  f = await startAdmin({ capabilities: [tracingCapability] });
  s = await seedTracing(f);
});
afterAll(async () => {
  await f?.close();
});

const windowA = () => ({ venueId: 'ven-a', from: s.t - HOUR, to: s.t + HOUR });

async function task(token: string, body: object): Promise<number> {
  const r = await f.call('POST', '/admin/v1/tracing/tasks', { token, body: { name: '任务', ...body } });
  expect(r.status, r.text).toBe(201);
  return r.body.id;
}

async function xlsxRows(buf: Buffer): Promise<unknown[][]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(buf as unknown as ArrayBuffer);
  const rows: unknown[][] = [];
  wb.worksheets[0]!.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
  return rows;
}

async function download(path: string, token: string): Promise<{ status: number; buf: Buffer; type: string }> {
  const res = await fetch(f.base + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, buf: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') ?? '' };
}

describe('risk groups', () => {
  let groupId: number;

  it('a task becomes a group once', async () => {
    const id = await task(f.tokens.operator, { venues: [windowA()] }); // cd1, lz1
    const g = await f.call('POST', `/admin/v1/tracing/tasks/${id}/group`, { token: f.tokens.operator, body: { name: '春熙路密接' } });
    expect(g.status, g.text).toBe(201);
    expect(g.body).toMatchObject({ taskId: id, name: '春熙路密接', people: 2, regionName: '全省' });
    groupId = g.body.id;
    const again = await f.call('POST', `/admin/v1/tracing/tasks/${id}/group`, { token: f.tokens.operator, body: {} });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('TRC_ERR_GROUP_EXISTS');
    const empty = await task(f.tokens.operator, { venues: [{ venueId: 'ven-b', from: s.t + HOUR, to: s.t + 2 * HOUR }] });
    expect((await f.call('POST', `/admin/v1/tracing/tasks/${empty}/group`, { token: f.tokens.operator, body: {} })).body.error).toBe('TRC_ERR_GROUP_EMPTY');
    const people = await f.call('GET', `/admin/v1/tracing/groups/${groupId}/people`, { token: f.tokens.operator });
    expect(people.body.people.map((p: { personId: number }) => p.personId).sort()).toEqual([s.persons.cd1!.id, s.persons.lz1!.id].sort());
  });

  it('one action changes the whole group\'s code, applied only when a second official approves', async () => {
    const outboxBefore = await f.store.maxOutboxSeq();
    const alertsBefore = await alertEventsAfter(f.db, 0);
    const r = await f.call('POST', `/admin/v1/tracing/groups/${groupId}/change`, { token: f.tokens.operator, body: { color: 'red', reason: 'close_contact' } });
    expect(r.status, r.text).toBe(202);
    expect(r.body).toMatchObject({ groupId, status: 'pending', count: 2 });
    const bulkId = r.body.bulkRequestId as string;
    // nothing applied yet; a second request while one is pending is refused
    expect(await f.store.maxOutboxSeq()).toBe(outboxBefore);
    const twice = await f.call('POST', `/admin/v1/tracing/groups/${groupId}/change`, { token: f.tokens.operator, body: { color: 'yellow', reason: 'x' } });
    expect(twice.body.error).toBe('TRC_ERR_CHANGE_PENDING');
    // the shell's bulk flow: listed for approvers, not approvable by the requester
    const list = await f.call('GET', '/admin/v1/codes/bulk', { token: f.tokens.operator2 });
    expect(list.body.requests.map((b: { id: string }) => b.id)).toContain(bulkId);
    expect(list.body.requests.find((b: { id: string }) => b.id === bulkId).targets.every((t: string) => t.includes('*'))).toBe(true);
    const self = await f.call('POST', `/admin/v1/codes/bulk/${bulkId}/approve`, { token: f.tokens.operator, body: {} });
    expect(self.body.error).toBe('ADM_ERR_SAME_APPROVER');
    const ok = await f.call('POST', `/admin/v1/codes/bulk/${bulkId}/approve`, { token: f.tokens.operator2, body: {} });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ applied: 2, changed: 2 });
    // every member is red, with an outbox delta each for the edges
    expect((await f.store.getCode(s.persons.cd1!.id))!.color).toBe('red');
    expect((await f.store.getCode(s.persons.lz1!.id))!.color).toBe('red');
    const deltas = await f.store.readOutbox(outboxBefore, 100);
    const uids = deltas.flatMap((d) => (d.type === 'code' ? [Buffer.from(d.uid).toString('hex')] : []));
    expect(uids).toEqual(expect.arrayContaining([s.persons.cd1!.uid.toString('hex'), s.persons.lz1!.uid.toString('hex')]));
    const view = await f.call('GET', `/admin/v1/tracing/groups/${groupId}`, { token: f.tokens.operator });
    expect(view.body.colours).toEqual({ red: 2 });
    expect(view.body.changes).toMatchObject([{ bulkRequestId: bulkId, color: 'red', status: 'decided', requestedBy: 'operator', people: 2 }]);
    // the alerting capability hears of it (its SMS hook); no identity in it
    const alerts = (await alertEventsAfter(f.db, alertsBefore.at(-1)?.id ?? 0)).filter((a) => a.kind === 'tracing.group.change_requested');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.summary).toContain('红码');
    expect(JSON.stringify(alerts[0])).not.toContain(s.persons.cd1!.idNo);
    // and the audit log has the request, the approval and each transcode
    const actions = (await f.audit.list({ order: 'desc', limit: 10 })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['codes.bulk.request', 'codes.bulk.approve', 'codes.transcode']));
  });

  it('refuses a change with an until in the past and roles that may not change codes', async () => {
    const past = await f.call('POST', `/admin/v1/tracing/groups/${groupId}/change`, { token: f.tokens.operator, body: { color: 'red', reason: 'x', until: 1000 } });
    expect(past.body).toMatchObject({ error: 'TRC_ERR_UNTIL_PAST', field: 'until' });
    expect((await f.call('POST', `/admin/v1/tracing/groups/${groupId}/change`, { token: f.tokens.analyst, body: { color: 'red', reason: 'x' } })).status).toBe(403);
  });

  it('exports the group as XLSX, in full for an operator and masked for an analyst, audited', async () => {
    const full = await download(`/admin/v1/tracing/groups/${groupId}/export.xlsx`, f.tokens.operator);
    expect(full.status).toBe(200);
    expect(full.type).toContain('spreadsheetml');
    const rows = await xlsxRows(full.buf);
    expect(rows[0]).toEqual(['序号', '姓名', '证件号码', '手机号码', '所属地区', '当前码色', '关联场所次数', '同乘车次数']);
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r[2])).toContain(s.persons.cd1!.idNo);
    expect(rows.map((r) => r[1])).toContain('李小明');
    expect(rows[1]![5]).toBe('红码');
    const masked = await xlsxRows((await download(`/admin/v1/tracing/groups/${groupId}/export.xlsx`, f.tokens.analyst)).buf);
    expect(masked.map((r) => r[2])).not.toContain(s.persons.cd1!.idNo);
    expect(masked.slice(1).every((r) => String(r[2]).includes('*'))).toBe(true);
    expect(masked.map((r) => r[1])).not.toContain('李小明');
    const audit = await f.audit.list({ action: 'tracing.group.export', order: 'desc', limit: 2 });
    expect(audit.map((e) => [e.actor, (e.details as { masked: boolean }).masked])).toEqual([['analyst', true], ['operator', false]]);
  });

  it('a later task leaves out the people already in earlier groups', async () => {
    const body = { venues: [{ venueId: 'ven-a', from: s.t - HOUR, to: s.t + 3 * HOUR }] }; // cd1, lz1 (grouped), cd2, cd3
    const all = await f.call('POST', '/admin/v1/tracing/tasks', { token: f.tokens.operator, body: { name: '全部', ...body } });
    expect(all.body).toMatchObject({ people: 4, excluded: 0 });
    const rest = await f.call('POST', '/admin/v1/tracing/tasks', { token: f.tokens.operator, body: { name: '排除', ...body, exclude: 'all' } });
    expect(rest.body).toMatchObject({ people: 2, excluded: 2 });
    const listed = await f.call('POST', '/admin/v1/tracing/tasks', { token: f.tokens.operator, body: { name: '排除指定', ...body, exclude: [groupId] } });
    expect(listed.body).toMatchObject({ people: 2, excluded: 2 });
  });

  it('a city officer sees only groups of their city', async () => {
    const id = await task(f.tokens.city_officer, { venues: [windowA()] }); // only cd1 in Chengdu
    const g = await f.call('POST', `/admin/v1/tracing/tasks/${id}/group`, { token: f.tokens.city_officer, body: {} });
    expect(g.body).toMatchObject({ people: 1, regionPrefix: '5101' });
    expect((await f.call('GET', `/admin/v1/tracing/groups/${g.body.id}`, { token: f.tokens.city_officer_b })).body.error).toBe('TRC_ERR_GROUP_NOT_FOUND');
    const change = await f.call('POST', `/admin/v1/tracing/groups/${g.body.id}/change`, { token: f.tokens.city_officer_b, body: { color: 'red', reason: 'x' } });
    expect(change.status).toBe(404);
    expect((await download(`/admin/v1/tracing/groups/${g.body.id}/export.xlsx`, f.tokens.city_officer_b)).status).toBe(404);
    // the province-wide group is not the city officer's either
    expect((await f.call('GET', `/admin/v1/tracing/groups/${groupId}`, { token: f.tokens.city_officer })).status).toBe(404);
    const mine = await f.call('GET', '/admin/v1/tracing/groups', { token: f.tokens.city_officer });
    expect(mine.body.groups.map((x: { id: number }) => x.id)).toEqual([g.body.id]);
  });
});
