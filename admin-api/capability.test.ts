import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEventsAfter, raiseAlertEvent } from '../master/alert-events.js';
import { runMigrations } from '../master/migrations.js';
import { startAdmin, type Fixture } from './admin-fixture.common.js';
import { defineCapability, migrateCapability, migrationsTableOf, type CapabilityHost } from './capability.js';

/**
 * The capability plug-in contract (capability.ts): own migrations in their
 * own bookkeeping table, config read once, routes on the shell with its
 * access checks and audit, background work started and stopped, and the
 * alert-event table every capability raises into.
 */
const calls: string[] = [];
let seenHost: CapabilityHost | null = null;

const probe = defineCapability<{ greeting: string }>({
  name: 'probe-cap',
  migrations: [
    { version: 1, name: 'notes', sql: 'CREATE TABLE probe_notes (id serial PRIMARY KEY, text text NOT NULL)' },
    { version: 2, name: 'notes-at', sql: 'ALTER TABLE probe_notes ADD COLUMN at timestamptz NOT NULL DEFAULT now()' },
  ],
  config(env) {
    const g = env.PROBE_GREETING ?? '你好';
    if (g.length > 10) throw new Error('PROBE_GREETING must be at most 10 characters');
    return { greeting: g };
  },
  create(host, config) {
    seenHost = host;
    return {
      routes(app, ctx) {
        app.post('/admin/v1/probe-cap/notes', { config: { access: 'exchange.write' } }, async (req) => {
          const text = (req.body as { text: string }).text;
          return host.db.transaction(async (tx) => {
            const r = await tx.query<{ id: number }>('INSERT INTO probe_notes (text) VALUES ($1) RETURNING id', [text]);
            await ctx.audit(req, { action: 'probe.note', outcome: 'ok', details: { id: r.rows[0]!.id } }, tx);
            return { id: r.rows[0]!.id, greeting: config.greeting };
          });
        });
      },
      async start() {
        calls.push('start');
      },
      async stop() {
        calls.push('stop');
      },
    };
  },
});

let f: Fixture;
beforeAll(async () => {
  f = await startAdmin({ capabilities: [probe], capabilityEnv: { 'probe-cap': { PROBE_GREETING: '您好' } }, startCapabilities: true });
});
afterAll(async () => {
  await f?.close();
  expect(calls).toEqual(['start', 'stop']);
});

describe('capability plug-in', () => {
  it('migrates into its own bookkeeping table, idempotently', async () => {
    const r = await f.db.query<{ version: number }>(`SELECT version FROM ${migrationsTableOf('probe-cap')} ORDER BY version`);
    expect(r.rows.map((x) => x.version)).toEqual([1, 2]);
    expect((await migrateCapability(f.db, probe)).applied).toEqual([]);
    // the master's own history is untouched by it
    const m = await f.db.query<{ n: string | number }>('SELECT count(*) AS n FROM schema_migrations');
    expect(Number(m.rows[0]!.n)).toBeGreaterThanOrEqual(3);
  });

  it('refuses a bad capability name for its table', () => {
    expect(() => migrationsTableOf('Bad Name')).toThrow(/bad capability name/);
    expect(migrationsTableOf('citizen-services')).toBe('citizen_services_migrations');
  });

  it('gets the host with the fixture clock and its validated config', () => {
    expect(seenHost!.nowMs()).toBe(f.clock.ms);
    expect(calls[0]).toBe('start');
  });

  it('routes sit behind the shell: no token → 401, a role without the permission → 403, allowed → audited', async () => {
    expect((await f.call('POST', '/admin/v1/probe-cap/notes', { body: { text: 'a' } })).status).toBe(401);
    expect((await f.call('POST', '/admin/v1/probe-cap/notes', { token: f.tokens.auditor, body: { text: 'a' } })).status).toBe(403);
    const ok = await f.call('POST', '/admin/v1/probe-cap/notes', { token: f.tokens.operator, body: { text: 'a' } });
    expect(ok.status).toBe(200);
    expect(ok.body.greeting).toBe('您好');
    const audit = await f.audit.list({ limit: 5, order: 'desc' });
    expect(audit.some((e) => e.action === 'probe.note' && e.actor === 'operator')).toBe(true);
  });

  it('a changed migration of a capability is refused like the master\'s', async () => {
    const changed = [{ ...probe.migrations[0]!, sql: 'CREATE TABLE other (id int)' }, probe.migrations[1]!];
    await expect(runMigrations(f.db, changed, migrationsTableOf('probe-cap'))).rejects.toMatchObject({ code: 'MASTER_ERR_MIGRATION_CHANGED' });
  });
});

describe('alert events', () => {
  it('are raised in the cause\'s transaction: a rollback raises nothing', async () => {
    const before = await alertEventsAfter(f.db, 0);
    await expect(
      f.db.transaction(async (tx) => {
        await raiseAlertEvent(tx, { source: 'probe-cap', kind: 'probe.lost', severity: 'warning', key: 'k', summary: '不应出现' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const id = await f.db.transaction((tx) =>
      raiseAlertEvent(tx, {
        source: 'probe-cap', kind: 'probe.threshold', severity: 'critical', key: 'dept-1', summary: '导入拒绝率超过阈值',
        details: { rejected: 12 }, region: '5101',
      }),
    );
    const after = await alertEventsAfter(f.db, before.length === 0 ? 0 : before[before.length - 1]!.id);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id, source: 'probe-cap', kind: 'probe.threshold', severity: 'critical', key: 'dept-1', details: { rejected: 12 }, region: '5101' });
    expect(Math.abs(after[0]!.atMs - Date.now())).toBeLessThan(60_000);
  });

  it('refuses malformed events with the field named', async () => {
    const base = { source: 'probe-cap', kind: 'probe.x', severity: 'info' as const, key: 'k', summary: '摘要' };
    await expect(raiseAlertEvent(f.db, { ...base, source: 'Bad Source' })).rejects.toMatchObject({ code: 'MASTER_ERR_INVALID', field: 'source' });
    await expect(raiseAlertEvent(f.db, { ...base, kind: '' })).rejects.toMatchObject({ field: 'kind' });
    await expect(raiseAlertEvent(f.db, { ...base, severity: 'fatal' as 'info' })).rejects.toMatchObject({ field: 'severity' });
    await expect(raiseAlertEvent(f.db, { ...base, summary: '' })).rejects.toMatchObject({ field: 'summary' });
    await expect(raiseAlertEvent(f.db, { ...base, region: '51x' })).rejects.toMatchObject({ field: 'region' });
  });

  it('are append-only', async () => {
    await expect(f.db.query('DELETE FROM alert_events')).rejects.toThrow(/append-only/);
  });
});
