import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyText } from './bulk-facts.js';
import { runBulkFactsSuite } from './bulk-facts.common.js';
import { openPglite } from './sql-client.js';

// master/bulk-facts.ts on embedded PGlite (the same suite runs on PostgreSQL
// in test/cluster/bulk-facts.postgres.test.ts).
const root = mkdtempSync(join(tmpdir(), 'hc-bulk-facts-pglite-'));

runBulkFactsSuite('PGlite', () => openPglite(join(root, 'master')));

describe('copyText + SqlClient.copyFromBlob (PGlite)', () => {
  it('tabs, newlines, CR, backslashes, nulls, numbers and bytes come back exactly as sent', async () => {
    const db = await openPglite(join(root, 'copy'));
    try {
      const rows: [string | null, number, Buffer | null][] = [
        ['a\tb\nc\rd\\e\\N', 1, Buffer.from([0, 1, 0xfe, 0xff])],
        [null, -2, null],
        ['张*三 \\x00', 3, Buffer.alloc(0)],
      ];
      const got = await db.transaction(async (tx) => {
        await tx.query('CREATE TEMP TABLE copy_t (s text, n int, b bytea)');
        expect(await tx.copyFromBlob!("COPY copy_t FROM '/dev/blob'", copyText(rows))).toBe(3);
        return (await tx.query<{ s: string | null; n: number; b: Buffer | null }>('SELECT s, n, b FROM copy_t ORDER BY n DESC')).rows;
      });
      expect(got.map((r) => [r.s, r.n, r.b === null ? null : Buffer.from(r.b)])).toEqual([rows[2], rows[0], rows[1]]);
    } finally {
      await db.close();
    }
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));
