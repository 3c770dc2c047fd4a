import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type SqlClient } from '../../master/sql-client.js';
import { PG_URL, pgAdminClient } from './pg-env.js';

/**
 * master/pg-failover.ts against the real PostgreSQL: a libpq multi-host URL
 * whose first host is dead picks the live one, keeps the search path and
 * runs transactions; a target nobody matches (`standby` on a lone primary)
 * ends in MASTER_ERR_UNAVAILABLE after the wait, not in a hang. The whole
 * failover (kill the primary, promote the replica) runs in test/fleet.
 */
const schema = `t_pgfo_${randomBytes(5).toString('hex')}`;

function twoHosts(attrs: string): string {
  const u = new URL(PG_URL);
  const live = `${u.hostname}:${u.port || '5432'}`;
  // port 1 on loopback: connection refused at once — a primary that is gone
  return `postgres://${u.username}${u.password === '' ? '' : `:${u.password}`}@127.0.0.1:1,${live}${u.pathname}?target_session_attrs=${attrs}`;
}

describe('PostgreSQL multi-host URLs (pg-failover.ts)', () => {
  let admin: SqlClient;
  beforeAll(async () => {
    admin = await pgAdminClient();
    await admin.query(`CREATE SCHEMA ${schema}`);
  });
  afterAll(async () => {
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin?.close();
  });

  it('read-write: skips the dead first host, keeps HC_DB_SCHEMA, commits and rolls back', async () => {
    const db = await openPostgres(twoHosts('read-write'), { max: 2, searchPath: schema, connectTimeoutMs: 1000 });
    try {
      await db.exec('CREATE TABLE t (id int PRIMARY KEY)');
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES ($1)', [1]);
      });
      await expect(db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES ($1)', [2]);
        throw new Error('roll back');
      })).rejects.toThrow('roll back');
      expect((await db.query<{ id: number }>('SELECT id FROM t')).rows).toEqual([{ id: 1 }]);
      expect((await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.t`)).rows[0]!.n).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('no host matches (standby wanted, only a primary): MASTER_ERR_UNAVAILABLE after the wait', async () => {
    const err = await openPostgres(twoHosts('standby'), { max: 1, connectTimeoutMs: 300 }).then(
      () => null,
      (e: unknown) => e as { code?: string },
    );
    expect(err?.code).toBe('MASTER_ERR_UNAVAILABLE');
  });

  it('prefer-standby with no standby up: falls back to the primary (read replica URL on a single server)', async () => {
    const db = await openPostgres(twoHosts('prefer-standby'), { max: 1, connectTimeoutMs: 1000 });
    try {
      expect((await db.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows).toEqual([{ r: false }]);
    } finally {
      await db.close();
    }
  });
});
