import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { runServicesSuite } from '../../master/services.common.js';
import { openPostgres, type SqlClient } from '../../master/sql-client.js';

// The shared services suite (master/services.common.ts) on a real
// PostgreSQL, in a throw-away schema s_<random> that is dropped afterwards.
// Unreachable database → the suite FAILS saying where it looked: a cluster
// test that skips proves nothing. The mass test moves 100 000 codes.
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `s_${randomBytes(6).toString('hex')}`;
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

runServicesSuite('PostgreSQL', async () => {
  if (admin === undefined) admin = await adminClient();
  return openPostgres(url, { searchPath: schema, max: 10 });
}, { report: (line) => console.log(line) });

afterAll(async () => {
  if (admin === undefined) return;
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.close();
});
