import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { runBulkFactsSuite } from './bulk-facts.common.js';
import { openPglite } from './sql-client.js';

// master/bulk-facts.ts on embedded PGlite (the same suite runs on PostgreSQL
// in test/cluster/bulk-facts.postgres.test.ts).
const root = mkdtempSync(join(tmpdir(), 'hc-bulk-facts-pglite-'));

runBulkFactsSuite('PGlite', () => openPglite(join(root, 'master')));

afterAll(() => rmSync(root, { recursive: true, force: true }));
