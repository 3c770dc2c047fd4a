import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type SqlClient } from '../../master/sql-client.js';
import { runStoreSuite } from '../../master/store.common.js';

// The shared store suite on a real PostgreSQL (15+). Each run works in a
// fresh schema t_<random> (first on every pooled connection's search_path)
// and drops it afterwards, so runs never see each other's rows.
// Unreachable database → the suite FAILS with a message saying where it
// looked: a cluster test that skips proves nothing.
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `t_${randomBytes(6).toString('hex')}`;
let admin: SqlClient | undefined;

async function adminClient(): Promise<SqlClient> {
  try {
    return await openPostgres(url, { max: 1 });
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${url.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}). ` +
        'Start it or set DATABASE_URL; cluster tests never skip.',
      { cause: err },
    );
  }
}

beforeAll(async () => {
  admin = await adminClient();
  await admin.query(`CREATE SCHEMA ${schema}`);
});

runStoreSuite('PostgreSQL', async () => {
  if (admin === undefined) admin = await adminClient();
  return openPostgres(url, { searchPath: schema, max: 10 });
});

afterAll(async () => {
  if (admin === undefined) return;
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.close();
});

describe('PostgreSQL connection loss', () => {
  it('maps a backend killed mid-transaction to MASTER_ERR_UNAVAILABLE and recovers', async () => {
    if (admin === undefined) admin = await adminClient();
    const db = await openPostgres(url, { max: 1 });
    try {
      const e = await db
        .transaction(async (tx) => {
          const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
          await admin!.query('SELECT pg_terminate_backend($1)', [pid]);
          await tx.query('SELECT 1');
        })
        .then(
          () => undefined,
          (err: { code: string; statusCode: number }) => err,
        );
      expect(e?.code).toBe('MASTER_ERR_UNAVAILABLE');
      expect(e?.statusCode).toBe(503);
      // the broken connection was discarded, not pooled: the next query gets a fresh one
      expect((await db.query<{ v: number }>('SELECT 1 AS v')).rows).toEqual([{ v: 1 }]);
    } finally {
      await db.close();
    }
  });
});
