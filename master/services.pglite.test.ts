import { afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServicesSuite } from './services.common.js';
import { openPglite } from './sql-client.js';

// The shared services suite on embedded PGlite (one instance for the file:
// opening a data directory costs ≈ 3 s). The mass test moves 100 000 codes
// and prints its timings.
const root = mkdtempSync(join(tmpdir(), 'hc-services-pglite-'));

runServicesSuite('PGlite', () => openPglite(join(root, 'master')), {
  massPersons: Number(process.env.HC_MASS_PERSONS ?? 100_000),
  report: (line) => console.log(line),
});

afterAll(() => rmSync(root, { recursive: true, force: true }));
