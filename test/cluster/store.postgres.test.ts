import { describe, expect, it } from 'vitest';
import { openPostgres } from '../../master/sql-client.js';
import { runStoreSuite } from '../../master/store.common.js';
import { PG_URL as url, useThrowAwaySchema } from './pg-env.js';

// The shared store suite on a real PostgreSQL (15+). Each run works in a
// fresh schema t_<random> (first on every pooled connection's search_path)
// and drops it afterwards, so runs never see each other's rows.
// Unreachable database → the suite FAILS with a message saying where it
// looked: a cluster test that skips proves nothing.
const schema = useThrowAwaySchema('t');

runStoreSuite('PostgreSQL', () => schema.open(10));

describe('PostgreSQL connection loss', () => {
  it('maps a backend killed mid-transaction to MASTER_ERR_UNAVAILABLE and recovers', async () => {
    const admin = await schema.admin();
    const db = await openPostgres(url, { max: 1 });
    try {
      const e = await db
        .transaction(async (tx) => {
          const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
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
