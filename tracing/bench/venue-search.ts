import * as OpenCC from 'opencc-js';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { openPglite, type SqlClient } from '../../master/sql-client.js';
import { loadOrCreateSecrets } from '../../master/pii-crypto.js';
import { MasterStore } from '../../master/store.js';
import { runMigrations } from '../../master/migrations.js';
import { migrationsTableOf } from '../../admin-api/capability.js';
import { TRACING_MIGRATIONS } from '../migrations.js';
import { VenueIndex } from '../venue-index.js';
import { initialsOf, normaliseName, queryGrams } from '../venue-text.js';
import { COUNTIES, POOL, venueName } from './venue-names.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envCount } from './bench-env.js';

/**
 * `npm run bench:tracing-search` — fuzzy venue search (精准找人 step 1) over
 * 1M venues in memory (issue 11: p99 ≤ 50 ms). Never a test: prints
 * numbers, the LAST line is
 *
 *   search: N venues, p50 X ms, p99 Y ms (naive scan p50 A ms, p99 B ms), build S s (stall ≤ T ms), heap H MB, found F/Q
 *
 * Venues (the bench names of venue-names.ts) are loaded into PGlite in
 * memory; the index is built from the table as the service builds it
 * (keyset pages) and each search is the service's whole path
 * (VenueIndex.search: normalise, rank, verify the hits against `venues`).
 * Queries are drawn as an epidemiological report gives names: a partial
 * name, one wrong character, pinyin initials of the first characters, the
 * name in traditional characters (taking turns).
 *
 * Same-run baseline: a naive linear scan over all names (each name's
 * normalised text and initials tested for each query gram with `includes`,
 * the same weights, best 25) followed by the same verification query;
 * interleaved with the service query by query on every BASELINE_EVERY-th
 * query (it takes ~0.5 s a query), ratios on that same subset.
 *
 * Env: TRACING_BENCH_VENUES (1,000,000), TRACING_BENCH_QUERIES (200),
 * TRACING_BENCH_BASELINE_EVERY (4). Run with --expose-gc for the heap figure.
 */
const env = process.env;
const num = (name: string, def: number): number => envCount(env, name, def);
const VENUES = num('TRACING_BENCH_VENUES', 1_000_000);
const QUERIES = num('TRACING_BENCH_QUERIES', 200);
const BASELINE_EVERY = num('TRACING_BENCH_BASELINE_EVERY', 4);

const log = (s: string): void => void process.stdout.write(`${s}\n`);
const ms = (x: number): string => x.toFixed(1);
const mb = (x: number): string => (x / 2 ** 20).toFixed(0);
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function seed(db: SqlClient): Promise<void> {
  const t0 = performance.now();
  for (let off = 0; off < VENUES; off += 50_000) {
    const rows = [];
    for (let i = off; i < Math.min(VENUES, off + 50_000); i++) rows.push({ id: `v${i}`, name: venueName(i), region: COUNTIES[i % COUNTIES.length] });
    await db.query(
      `INSERT INTO venues (id, name, region, kind) SELECT x.id, x.name, x.region, 'normal' FROM jsonb_to_recordset($1::jsonb) AS x(id text, name text, region text)`,
      [JSON.stringify(rows)],
    );
  }
  log(`seed: ${VENUES} venues in PGlite (${ms((performance.now() - t0) / 1000)} s)`);
}

/** the baseline: every name tested for every query gram, no index */
class NaiveScan {
  private readonly norms: string[] = [];
  private readonly inits: string[] = [];
  private readonly ids: string[] = [];
  add(id: string, name: string): void {
    const n = normaliseName(name);
    this.ids.push(id);
    this.norms.push(n);
    this.inits.push(initialsOf(n));
  }
  rank(norm: string, limit: number): string[] {
    const q = queryGrams(norm);
    const grams = [...q.grams].map(([g, w]) => ({ initials: g.startsWith('~'), g: g.startsWith('~') ? g.slice(1) : g, w }));
    const best: { i: number; s: number; len: number }[] = [];
    for (let i = 0; i < this.norms.length; i++) {
      let s = 0;
      const n = this.norms[i]!;
      const ini = this.inits[i]!;
      for (const x of grams) if ((x.initials ? ini : n).includes(x.g)) s += x.w;
      if (s < q.total * 0.5) continue;
      if (best.length === limit && (s < best[limit - 1]!.s || (s === best[limit - 1]!.s && n.length >= best[limit - 1]!.len))) continue;
      best.push({ i, s, len: n.length });
      best.sort((a, b) => b.s - a.s || a.len - b.len);
      if (best.length > limit) best.pop();
    }
    return best.map((b) => this.ids[b.i]!);
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trc-search-bench-'));
  const db = await openPglite();
  const store = new MasterStore(db, loadOrCreateSecrets(dataDir, {}), { scanDaysAhead: 1 });
  await store.migrate();
  await runMigrations(db, TRACING_MIGRATIONS, migrationsTableOf('tracing'));
  await seed(db);

  gc();
  const before = process.memoryUsage();
  const idx = new VenueIndex(db, { refreshMs: 3_600_000 });
  // the longest the event loop waited during the build: on a running
  // admin-api every request waits that long (PGlite's own page reads included)
  const stall = monitorEventLoopDelay({ resolution: 5 });
  stall.enable();
  const tb = performance.now();
  await idx.build();
  const buildS = (performance.now() - tb) / 1000;
  stall.disable();
  const stallMs = stall.max / 1e6;
  gc();
  const after = process.memoryUsage();
  const heap = after.heapUsed - before.heapUsed;
  const typed = idx.typedBytes;
  log(`search: index of ${idx.size} venues built in ${ms(buildS)} s, longest event-loop stall ${ms(stallMs)} ms; heap +${mb(heap)} MB, typed arrays ${mb(typed)} MB (off-heap), total ${mb(heap + typed)} MB`);

  const naive = new NaiveScan();
  for (let i = 0; i < VENUES; i++) naive.add(`v${i}`, venueName(i));

  const toTrad = OpenCC.Converter({ from: 'cn', to: 'hk' });
  const forms = ['partial', 'misspelt', 'initials', 'traditional'] as const;
  let rng = 42;
  const rand = (n: number): number => {
    rng = (rng * 1_103_515_245 + 12_345) % 2 ** 31;
    return rng % n;
  };
  const svc: number[] = [];
  const svcSub: number[] = [];
  const rankOnly: number[] = [];
  const base: number[] = [];
  const byForm = new Map<string, number[]>();
  let found = 0;
  let baseFound = 0;
  let baseRuns = 0;
  for (let k = 0; k < QUERIES + 10; k++) {
    const i = rand(VENUES);
    const name = venueName(i);
    const chars = [...name];
    const form = forms[k % forms.length]!;
    let q: string;
    if (form === 'partial') {
      const from = rand(3);
      q = chars.slice(from, from + 3 + rand(4)).join('');
    } else if (form === 'misspelt') {
      const at = 1 + rand(chars.length - 1);
      q = chars.map((c, j) => (j === at ? POOL[rand(POOL.length)]! : c)).join('');
    } else if (form === 'initials') q = initialsOf(normaliseName(chars.slice(0, 4 + rand(4)).join('')));
    else q = toTrad(name);
    const t = performance.now();
    const hits = await idx.search(q, { limit: 20 });
    const dt = performance.now() - t;
    const tr = performance.now();
    idx.rank(normaliseName(q), '', 25);
    const dr = performance.now() - tr;
    if (k < 10) continue; // warm-up
    svc.push(dt);
    rankOnly.push(dr);
    if (!byForm.has(form)) byForm.set(form, []);
    byForm.get(form)!.push(dt);
    if (hits.some((h) => h.id === `v${i}` || h.name === name)) found++;
    if ((k >> 2) % BASELINE_EVERY === 0) { // four queries in a row: every form
      const tn = performance.now();
      const ids = naive.rank(normaliseName(q), 25);
      await db.query('SELECT id, name, region, kind FROM venues WHERE id = ANY($1::text[])', [ids]);
      base.push(performance.now() - tn);
      svcSub.push(dt);
      baseRuns++;
      if (ids.slice(0, 20).some((id) => id === `v${i}` || venueName(Number(id.slice(1))) === name)) baseFound++;
    }
  }
  for (const a of [svc, svcSub, base, rankOnly]) a.sort((x, y) => x - y);
  for (const [form, a] of byForm) {
    a.sort((x, y) => x - y);
    log(`search: ${form}: ${a.length} queries, p50 ${ms(quantile(a, 0.5))} ms, p99 ${ms(quantile(a, 0.99))} ms, max ${ms(a[a.length - 1]!)} ms`);
  }
  log(`search: ranking alone (in memory, no verification query): p50 ${ms(quantile(rankOnly, 0.5))} ms, p99 ${ms(quantile(rankOnly, 0.99))} ms`);
  log(`search: naive scan baseline on ${baseRuns} of the queries (same run, interleaved): p50 ${ms(quantile(base, 0.5))} ms, p99 ${ms(quantile(base, 0.99))} ms `
    + `vs index on the same queries p50 ${ms(quantile(svcSub, 0.5))} ms, p99 ${ms(quantile(svcSub, 0.99))} ms: `
    + `${(quantile(base, 0.5) / quantile(svcSub, 0.5)).toFixed(0)}× / ${(quantile(base, 0.99) / quantile(svcSub, 0.99)).toFixed(0)}×; `
    + `the venue asked for in the top 20: index ${found}/${QUERIES}, naive scan ${baseFound}/${baseRuns}`);
  await db.close();
  log(`search: ${idx.size} venues, p50 ${ms(quantile(svc, 0.5))} ms, p99 ${ms(quantile(svc, 0.99))} ms (naive scan p50 ${ms(quantile(base, 0.5))} ms, p99 ${ms(quantile(base, 0.99))} ms), build ${ms(buildS)} s (stall ≤ ${ms(stallMs)} ms), heap ${mb(heap + typed)} MB, found ${found}/${QUERIES}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:tracing-search failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
