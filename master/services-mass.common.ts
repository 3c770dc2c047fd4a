import { beforeAll, describe, expect, it } from 'vitest';
import { CodeService } from './code-service.js';
import { RuleVersions } from './rule-versions.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';
import { DAY, withLowRiskRule, type ServicesContext } from './services-fixture.common.js';

/** Part of the master services suite (master/services.common.ts): mass publish. */
export function describeMass(ctx: ServicesContext): void {
  describe('mass publish', () => {
    let db!: SqlClient; let store!: MasterStore; let codes!: CodeService;
    beforeAll(() => {
      ({ db, store, codes } = ctx.get());
    });
    const { clock } = ctx;
    const opts = ctx.opts;
    const name = ctx.name;
    const n = opts.massPersons ?? 100_000;

    it(`re-evaluates ${n} people on publish and rollback, counts equal to the dry run`, async () => {
      clock.t += 30 * DAY; // earlier tests' facts are out of every window
      const mass = new CodeService(store, { chunkSize: 5000 });
      const massRules = new RuleVersions(store, mass, { chunkSize: 5000 });
      await mass.tick(clock.t, 10_000);
      const active = (await massRules.active()).version;
      let t = Date.now();
      await db.query(
        `INSERT INTO persons (uid, phone_hash, phone_enc, name_masked, region)
         SELECT decode(md5('mass-uid-' || i), 'hex'), decode(md5('mass-phone-' || i), 'hex'), '\\x00'::bytea, '测*', '519999'
           FROM generate_series(1, $1::int) AS i`,
        [n],
      );
      await db.query(
        `INSERT INTO codes (person_id, color, reason, since, seq, rule_version)
         SELECT id, 'green', 'normal', to_timestamp($1), 0, $2 FROM persons WHERE region = '519999'`,
        [clock.t - DAY, active],
      );
      await db.query(
        `INSERT INTO facts (person_id, kind, at, source, level)
         SELECT id, 'risk_area_visit', to_timestamp($1), 'mass', 'low' FROM persons WHERE region = '519999'`,
        [clock.t - DAY],
      );
      const fixtureMs = Date.now() - t;
      await massRules.upload(withLowRiskRule('mass.1', 'mass_low'), 'admin');

      t = Date.now();
      const dry = await massRules.dryRun('mass.1');
      const dryMs = Date.now() - t;
      const massT = dry.transitions.find((x) => x.reason === 'mass_low');
      expect(massT).toEqual({ from: 'green', to: 'yellow', reason: 'mass_low', count: n });

      const before = await store.maxOutboxSeq();
      let progressCalls = 0;
      t = Date.now();
      const pub = await massRules.publish('mass.1', { actor: 'admin', onProgress: () => progressCalls++ });
      const pubMs = Date.now() - t;
      expect(pub.changed).toBe(dry.changed);
      expect(pub.transitions).toEqual(dry.transitions);
      expect(progressCalls).toBeGreaterThanOrEqual(Math.floor(n / 5000));
      const count = async (sql: string, params: unknown[] = []): Promise<number> =>
        (await db.query<{ n: number }>(sql, params)).rows[0]!.n;
      expect(await count("SELECT count(*)::int AS n FROM codes c JOIN persons p ON p.id = c.person_id WHERE p.region = '519999' AND c.color = 'yellow' AND c.reason = 'mass_low' AND c.rule_version = 'mass.1'")).toBe(n);
      expect(await store.maxOutboxSeq()).toBe(before + 1 + pub.changed);
      expect(await count("SELECT count(*)::int AS n FROM outbox WHERE seq > $1 AND type = 'code'", [before])).toBe(pub.changed);
      expect(await count("SELECT count(*)::int AS n FROM code_history WHERE seq > $1 AND reason = 'mass_low'", [before])).toBe(n);
      const page = await store.readOutbox(before + 1, 10);
      expect(page[0]).toMatchObject({ type: 'code', record: { color: 'yellow', reason: 'mass_low' } });

      t = Date.now();
      const rb = await massRules.rollback({ actor: 'admin' });
      const rbMs = Date.now() - t;
      expect(rb.transitions.find((x) => x.from === 'yellow' && x.reason === 'normal')!.count).toBeGreaterThanOrEqual(n);
      expect(await count("SELECT count(*)::int AS n FROM codes c JOIN persons p ON p.id = c.person_id WHERE p.region = '519999' AND c.color = 'green'")).toBe(n);
      opts.report?.(
        `${name}: mass ${n} people — fixture ${fixtureMs} ms, dry run ${dryMs} ms, publish ${pubMs} ms (${pub.changed} code deltas), rollback ${rbMs} ms`,
      );
    }, 240_000); // 100k people through publish and rollback: 73 s at load 8 on 2 cores (the suite default 60 s timed out)
  });
}
