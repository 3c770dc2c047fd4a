import * as OpenCC from 'opencc-js';
import { performance } from 'node:perf_hooks';
import { openPglite, openPostgres, type SqlClient } from '../../master/sql-client.js';
import { loadOrCreateSecrets } from '../../master/pii-crypto.js';
import { MasterStore } from '../../master/store.js';
import { runMigrations } from '../../master/migrations.js';
import { migrationsTableOf } from '../../admin-api/capability.js';
import { searchCopresence } from '../copresence.js';
import { TRACING_MIGRATIONS } from '../migrations.js';
import { VenueIndex } from '../venue-index.js';
import { dayLabel, dayOf } from '../../master/scan-days.js';
import { initialsOf, normaliseName } from '../venue-text.js';
import { COUNTIES, venueName } from './venue-names.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envCount } from './bench-env.js';

/**
 * `npm run bench:tracing` — co-presence (时空伴随) and fuzzy venue search at
 * scale (issue 11 "Numbers"). Never a test: prints numbers, the LAST line is
 *
 *   copresence: N scans, p50 X ms, p99 Y ms, Z people
 *
 * Where:
 *   TRACING_BENCH_PG=1   PostgreSQL at TRACING_BENCH_PG_URL (default
 *                        postgres://postgres@127.0.0.1:5432/test), in its own
 *                        schema trc_bench (re-used when already seeded with
 *                        the same sizes; TRACING_BENCH_RESEED=1 starts over)
 *   otherwise            PGlite in memory, a small set
 * Sizes (env): TRACING_BENCH_SCANS (PG 20,000,000 / PGlite 200,000),
 *   TRACING_BENCH_VENUES (1,000,000 / 20,000), TRACING_BENCH_PEOPLE
 *   (2,000,000 / 20,000), TRACING_BENCH_DAYS (30), TRACING_BENCH_RUNS (50);
 *   TRACING_BENCH_SEARCH=0 skips the fuzzy search (its 1M-venue in-memory
 *   index takes minutes to build); TRACING_BENCH_SEARCH=table runs it on the
 *   database gram table instead (the fallback above TRACING_INDEX_MAX_VENUES).
 *
 * On PostgreSQL the co-presence runs two ways on the same data, taking turns
 * run by run (other windows each): as the service runs it (index-only scans
 * of migration 4's tracing_scans_venue_at_uid_ix) and, as the same-run
 * baseline, with index-only scans off (a heap fetch per scan, as before).
 *
 * The data: scans over the last DAYS days in day partitions (the master's
 * own table and indexes), venue popularity skewed (venue index ~ U³: a few
 * malls, many corner shops), people uniform. Each run picks 5 of the 200
 * busiest venues, a random 2-hour window each, ±30 min margins, and runs the
 * exact query a tracing task runs (copresence.ts), scans → persons join
 * included. Fuzzy search: partial, misspelt, traditional and pinyin-initials
 * forms of real names over the in-memory index of all venues.
 */
const env = process.env;
const PG = env.TRACING_BENCH_PG === '1';
const num = (name: string, def: number): number => envCount(env, name, def);
const SCANS = num('TRACING_BENCH_SCANS', PG ? 20_000_000 : 200_000);
const VENUES = num('TRACING_BENCH_VENUES', PG ? 1_000_000 : 20_000);
const PEOPLE = num('TRACING_BENCH_PEOPLE', PG ? 2_000_000 : 20_000);
const DAYS = num('TRACING_BENCH_DAYS', 30);
const RUNS = num('TRACING_BENCH_RUNS', 50);
const DAY = 86_400;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
const ms = (x: number): string => x.toFixed(1);
const log = (s: string): void => void process.stdout.write(`${s}\n`);

/** uid, venue, kind, node, colour of a generated scan row ($5 people, $6 venues; venue popularity ~ U³) */
const SCAN_COLUMNS = `decode(md5(floor(random() * $5)::bigint::text), 'hex'),
              'v' || floor(power(random(), 3) * $6)::bigint, 'scan', 'edge-' || (i % 21), 0`;

/**
 * PostgreSQL: each China day that has no partition yet is loaded as a plain
 * table WITHOUT indexes (one INSERT … SELECT generate_series, server-side:
 * no rows cross the wire), then indexed in one sort per index and ATTACHed
 * as the day partition — the indexes match the parent's, so ATTACH adopts
 * them instead of building new ones. Building a B-tree from a sort is several
 * times cheaper than 20M random inserts into three live B-trees (the uid
 * index is random order), and two days load at once (two connections).
 * Days the store already made (today, tomorrow: `migrate`) get a plain INSERT.
 * The end state is exactly the master's: same partitions, names, indexes.
 */
async function seedScansPg(db: SqlClient, start: number, nowSec: number, t0: number): Promise<void> {
  const days: { day: number; from: number; to: number; off: number; n: number }[] = [];
  let off = 0;
  for (let day = dayOf(start); day <= dayOf(nowSec - 1); day++) {
    const from = Math.max(start, day * DAY - 8 * 3600);
    const to = Math.min(nowSec, (day + 1) * DAY - 8 * 3600);
    const n = day === dayOf(nowSec - 1) ? SCANS - off : Math.round((SCANS * (to - from)) / (DAYS * DAY));
    days.push({ day, from, to, off, n });
    off += n;
  }
  let done = 0;
  const loadDay = async (d: (typeof days)[number]): Promise<void> => {
    const { ymd, start: lo } = dayLabel(d.day);
    const name = `scans_p${ymd}`;
    const params = [d.off, d.off + d.n - 1, d.from, d.to - d.from, PEOPLE, VENUES];
    const insert = (into: string): string => `INSERT INTO ${into} (id, at, uid, venue_id, kind, node, color)
      SELECT 'b' || i, to_timestamp($3 + random() * $4), ${SCAN_COLUMNS}
        FROM generate_series($1::bigint, $2::bigint) i`;
    const exists = await db.query<{ e: boolean }>('SELECT to_regclass($1) IS NOT NULL AS e', [name]);
    if (exists.rows[0]!.e) {
      await db.query(insert('scans'), params);
    } else {
      await db.query(`CREATE TABLE ${name} (LIKE scans INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
      await db.query(insert(name), params);
      await db.query(`ALTER TABLE ${name} ADD PRIMARY KEY (id, at)`);
      await db.query(`CREATE INDEX ${name}_uid_at_idx ON ${name} (uid, at)`);
      await db.query(`CREATE INDEX ${name}_venue_id_at_uid_idx ON ${name} (venue_id, at) INCLUDE (uid)`);
      // the bound check of ATTACH scans the day once: cheap next to the load
      await db.query(`ALTER TABLE scans ATTACH PARTITION ${name} FOR VALUES FROM ('${lo}') TO ('${dayLabel(d.day + 1).start}')`);
    }
    done += d.n;
    log(`seed: ${done} / ${SCANS} scans (${name}, ${ms((performance.now() - t0) / 1000)} s)`);
  };
  const queue = [...days];
  const worker = async (): Promise<void> => {
    for (let d = queue.shift(); d !== undefined; d = queue.shift()) await loadDay(d);
  };
  await Promise.all([worker(), worker()]);
}

async function seed(db: SqlClient, store: MasterStore, nowSec: number): Promise<void> {
  const t0 = performance.now();
  await db.query('CREATE TABLE IF NOT EXISTS trc_bench_meta (scans bigint, venues bigint, people bigint, days int, at timestamptz)');
  const meta = await db.query<{ scans: number; venues: number; people: number; days: number; at: Date }>('SELECT * FROM trc_bench_meta');
  const m = meta.rows[0];
  if (m !== undefined && Number(m.scans) === SCANS && Number(m.venues) === VENUES && Number(m.people) === PEOPLE && m.days === DAYS
      && nowSec - m.at.getTime() / 1000 < 2 * DAY) {
    log(`seed: re-using ${SCANS} scans, ${VENUES} venues, ${PEOPLE} people seeded at ${m.at.toISOString()}`);
    return;
  }
  if (m !== undefined) throw new Error('trc_bench schema holds another size: TRACING_BENCH_RESEED=1 to start over');
  const start = nowSec - DAYS * DAY;
  // people: pseudonymous uid = md5(i) (16 bytes) as the edges would send; identity columns are placeholders
  for (let off = 0; off < PEOPLE; off += 500_000) {
    const n = Math.min(500_000, PEOPLE - off);
    await db.query(
      `INSERT INTO persons (uid, phone_hash, phone_enc, name_masked, region)
       SELECT decode(md5(i::text), 'hex'), decode(md5('p' || i), 'hex'), '\\x00'::bytea, '张*', $3::jsonb ->> (i % $4)::int
         FROM generate_series($1::bigint, $2::bigint) i`,
      [off, off + n - 1, JSON.stringify(COUNTIES), COUNTIES.length],
    );
  }
  log(`seed: ${PEOPLE} people (${ms((performance.now() - t0) / 1000)} s)`);
  for (let off = 0; off < VENUES; off += 50_000) {
    const rows = [];
    for (let i = off; i < Math.min(VENUES, off + 50_000); i++) rows.push({ id: `v${i}`, name: venueName(i), region: COUNTIES[i % COUNTIES.length] });
    await db.query(
      `INSERT INTO venues (id, name, region, kind) SELECT x.id, x.name, x.region, 'normal' FROM jsonb_to_recordset($1::jsonb) AS x(id text, name text, region text)`,
      [JSON.stringify(rows)],
    );
  }
  log(`seed: ${VENUES} venues (${ms((performance.now() - t0) / 1000)} s)`);
  if (PG) await seedScansPg(db, start, nowSec, t0);
  else {
    await store.ensureScanPartitions(start, nowSec);
    const CHUNK = 100_000;
    for (let off = 0; off < SCANS; off += CHUNK) {
      const n = Math.min(CHUNK, SCANS - off);
      await db.query(
        `INSERT INTO scans (id, at, uid, venue_id, kind, node, color)
         SELECT 'b' || i, to_timestamp($3 + random() * $4), ${SCAN_COLUMNS}
           FROM generate_series($1::bigint, $2::bigint) i`,
        [off, off + n - 1, start, DAYS * DAY, PEOPLE, VENUES],
      );
      log(`seed: ${off + n} / ${SCANS} scans (${ms((performance.now() - t0) / 1000)} s)`);
    }
  }
  // VACUUM, not only ANALYZE: marks the loaded pages all-visible, as autovacuum's
  // insert pass does for a finished day, so index-only scans need no heap visits
  if (PG) await db.query('VACUUM (ANALYZE)');
  await db.query('INSERT INTO trc_bench_meta VALUES ($1, $2, $3, $4, $5)', [SCANS, VENUES, PEOPLE, DAYS, new Date(nowSec * 1000)]);
  log(`seed: done in ${ms((performance.now() - t0) / 1000)} s`);
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trc-bench-'));
  const url = env.TRACING_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  let db: SqlClient;
  if (PG) {
    const admin = await openPostgres(url, { max: 1 });
    if (env.TRACING_BENCH_RESEED === '1') await admin.query('DROP SCHEMA IF EXISTS trc_bench CASCADE');
    await admin.query('CREATE SCHEMA IF NOT EXISTS trc_bench');
    await admin.close();
    db = await openPostgres(url, { max: 4, searchPath: 'trc_bench' });
  } else {
    db = await openPglite();
  }
  const nowSec = Math.floor(Date.now() / 1000);
  const store = new MasterStore(db, loadOrCreateSecrets(dataDir, {}), { scanDaysAhead: 1 });
  await store.migrate();
  await runMigrations(db, TRACING_MIGRATIONS, migrationsTableOf('tracing'));
  log(`bench:tracing on ${PG ? 'PostgreSQL (schema trc_bench)' : 'PGlite (in memory)'}: ${SCANS} scans over ${DAYS} days, ${VENUES} venues, ${PEOPLE} people`);
  await seed(db, store, nowSec);

  // ---- fuzzy venue search ----
  if (env.TRACING_BENCH_SEARCH !== '0') await searchBench(db, env.TRACING_BENCH_SEARCH === 'table');
  else log('search: skipped (TRACING_BENCH_SEARCH=0)');

  // ---- co-presence ----
  let rng = 7;
  const rand = (n: number): number => {
    rng = (rng * 1_103_515_245 + 12_345) % 2 ** 31;
    return rng % n;
  };
  // PostgreSQL: the service's query and the same-run baseline take turns, run
  // by run (other windows each), so both meet the same cache and machine load
  // (persons' pages warmed by one run help the next, whichever it is)
  const base = PG ? await openPostgres(url, { max: 1, searchPath: 'trc_bench' }) : null;
  if (base !== null) await base.query('SET enable_indexonlyscan = off');
  const svc = { cp: [] as number[], people: [] as number[], scans: [] as number[] };
  const bl: number[] = [];
  const span = DAYS * DAY - 4 * 3600;
  for (let r = 0; r < RUNS + 3; r++) {
    for (const on of base === null ? [db] : [db, base]) {
      const windows = Array.from({ length: 5 }, () => {
        const from = nowSec - DAYS * DAY + 3600 + rand(span);
        return { venueId: `v${rand(Math.min(200, VENUES))}`, from, to: from + 2 * 3600, before: 1800, after: 1800 };
      });
      const t = performance.now();
      const res = await searchCopresence(on, windows, '');
      const dt = performance.now() - t;
      if (r < 3) continue; // warm-up: plans and caches
      if (on === base) bl.push(dt);
      else {
        svc.cp.push(dt);
        svc.people.push(res.people.size);
        svc.scans.push(res.scans);
      }
    }
  }
  for (const a of [svc.cp, svc.people, svc.scans, bl]) a.sort((x, y) => x - y);
  if (base !== null) {
    await base.close();
    log(`copresence baseline (same data, runs interleaved, index-only scans off = a heap fetch per scan): p50 ${ms(quantile(bl, 0.5))} ms, p99 ${ms(quantile(bl, 0.99))} ms; p50 ratio baseline/service ${(quantile(bl, 0.5) / quantile(svc.cp, 0.5)).toFixed(1)}×, p99 ${(quantile(bl, 0.99) / quantile(svc.cp, 0.99)).toFixed(1)}×`);
  }
  log(`copresence: matched scans per task p50 ${quantile(svc.scans, 0.5)}, max ${svc.scans[svc.scans.length - 1]}; ${RUNS} runs of 5 venues × 2 h ± 30 min`);
  await db.close();
  log(`copresence: ${SCANS} scans, p50 ${ms(quantile(svc.cp, 0.5))} ms, p99 ${ms(quantile(svc.cp, 0.99))} ms, ${quantile(svc.people, 0.5)} people`);
}

async function searchBench(db: SqlClient, table: boolean): Promise<void> {
  // table: maxVenues 0 puts the index in its database mode (venue-text-table.ts)
  const idx = new VenueIndex(db, { refreshMs: 3_600_000, ...(table ? { maxVenues: 0 } : {}) });
  const tb = performance.now();
  await idx.build();
  const mem = process.memoryUsage().heapUsed / 2 ** 20;
  log(table
    ? `search: gram table of ${VENUES} venues synced in ${ms((performance.now() - tb) / 1000)} s (mode ${idx.mode})`
    : `search: index of ${idx.size} venues built in ${ms((performance.now() - tb) / 1000)} s (heap ${mem.toFixed(0)} MB + typed arrays ${(idx.typedBytes / 2 ** 20).toFixed(0)} MB)`);
  const toTrad = OpenCC.Converter({ from: 'cn', to: 'hk' });
  const forms = ['partial', 'misspelt', 'traditional', 'initials'] as const;
  const times: number[] = [];
  let found = 0;
  let rng = 42;
  const rand = (n: number): number => {
    rng = (rng * 1_103_515_245 + 12_345) % 2 ** 31;
    return rng % n;
  };
  const SEARCHES = Math.max(40, RUNS * 4);
  for (let k = 0; k < SEARCHES; k++) {
    const i = rand(VENUES);
    const name = venueName(i);
    const form = forms[k % forms.length]!;
    const chars = [...name];
    let q: string;
    if (form === 'partial') q = chars.slice(2, 8).join('');
    else if (form === 'misspelt') q = chars.map((c, j) => (j === 3 ? '乐' : c)).join('');
    else if (form === 'traditional') q = toTrad(name);
    else q = initialsOf(normaliseName(chars.slice(0, 7).join('')));
    const t = performance.now();
    const hits = await idx.search(q, { limit: 20 });
    times.push(performance.now() - t);
    if (hits.some((h) => h.id === `v${i}` || h.name === name)) found++;
  }
  times.sort((a, b) => a - b);
  log(`search: ${SEARCHES} searches (partial, misspelt, traditional, initials) over ${VENUES} venues (${idx.mode}): p50 ${ms(quantile(times, 0.5))} ms, p99 ${ms(quantile(times, 0.99))} ms; the venue asked for in the top 20: ${found}/${SEARCHES}`);

}

main().catch((err: unknown) => {
  process.stderr.write(`bench:tracing failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
