import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openPglite } from './sql-client.js';
import { runStoreSuite } from './store.common.js';

// The shared store suite on embedded PGlite. A data directory on disk rather
// than memory, so the suite can also search the database files for plaintext.
// One instance for the whole file: opening a new directory costs ≈ 3 s.
const root = mkdtempSync(join(tmpdir(), 'hc-pglite-'));
const dataDir = join(root, 'master');

runStoreSuite('PGlite', () => openPglite(dataDir), { dataDir });

afterAll(() => rmSync(root, { recursive: true, force: true }));
