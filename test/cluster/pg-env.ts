import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { openPostgres, type SqlClient } from '../../master/sql-client.js';

/**
 * The one preamble of the cluster tests that need PostgreSQL (issue 14;
 * redis-env.ts is its Redis twin): the URL, an admin connection that FAILS
 * LOUDLY when the database is not there — `npm run test:cluster` must never
 * pass by skipping — and a throw-away schema per run, first on every pooled
 * connection's search_path, dropped afterwards so runs never see each
 * other's rows.
 */
export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The URL without its password, for messages. */
export function redactedPgUrl(url: string = PG_URL): string {
  return url.replace(/:[^:@/]*@/, ':***@');
}

/** A one-connection admin client; an unreachable database is an error naming where it looked. */
export async function pgAdminClient(url: string = PG_URL): Promise<SqlClient> {
  try {
    return await openPostgres(url, { max: 1 });
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${redactedPgUrl(url)} (${(err as Error).message}). ` +
        'Start it or set DATABASE_URL; cluster tests never skip.',
      { cause: err },
    );
  }
}

export interface ThrowAwaySchema {
  /** `<prefix>_<12 hex>` */
  readonly name: string;
  /** the admin connection (opened by beforeAll, or on first use) */
  admin(): Promise<SqlClient>;
  /** a pool whose search_path starts with the schema */
  open(max?: number): Promise<SqlClient>;
}

/**
 * Registers beforeAll (admin connection, CREATE SCHEMA) and afterAll (DROP
 * SCHEMA … CASCADE, close) for a schema `<prefix>_<random>`.
 */
export function useThrowAwaySchema(prefix: string): ThrowAwaySchema {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  let admin: SqlClient | undefined;
  const getAdmin = async (): Promise<SqlClient> => (admin ??= await pgAdminClient());
  beforeAll(async () => {
    await (await getAdmin()).query(`CREATE SCHEMA ${name}`);
  });
  afterAll(async () => {
    if (admin === undefined) return;
    await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await admin.close();
  });
  return {
    name,
    admin: getAdmin,
    open: async (max = 10) => {
      await getAdmin();
      return openPostgres(PG_URL, { searchPath: name, max });
    },
  };
}
