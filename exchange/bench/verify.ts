import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CapabilityHost } from '../../admin-api/capability.js';
import { migrateCapability } from '../../admin-api/capability.js';
import { residentIdCheckChar } from '../../core/identity.js';
import { AdminUsers } from '../../master/admin-users.js';
import { AuditLog } from '../../master/audit-log.js';
import { CodeService } from '../../master/code-service.js';
import { loadOrCreateSecrets } from '../../master/pii-crypto.js';
import { RuleVersions } from '../../master/rule-versions.js';
import { openPglite } from '../../master/sql-client.js';
import { MasterStore } from '../../master/store.js';
import { exchangeCapability } from '../capability.js';
import { DatasetStore } from '../dataset-store.js';
import { VerifyRules } from '../verify-rules.js';
import { VerifyTasks } from '../verify-tasks.js';
import { buildFullSnapshot } from '../../sync/snapshot.js';

/**
 * `npm run bench:verify` — the assignment verification's runner on the
 * embedded PGlite master: VERIFY_PERSONS persons (default 20,000) with a
 * positive nat-result in the last hour, turned red by the rule engine (the
 * master's own addFactsMany), of which every 100th is made a mismatch in
 * turn (a positive stored without evaluation; a red code written without a
 * fact or a delta). One verification task (current codes + distribution,
 * chunks of VERIFY_CHUNK persons, default 2000) runs to the end.
 *
 * Same-run baseline: ONE SQL statement that reads what the task reads for
 * the same persons (their facts, codes, persons and the outbox rows of the
 * codes' seqs, joined) — the floor a verification cannot go under on this
 * database. The ratio task / baseline is the runner's overhead (chunking,
 * decoding deltas, comparing, committing mismatches and progress).
 * VERIFY_EDGES=1 adds the comparison with a node replica (checkEdges). Last line:
 *
 *   verify: N persons checked in S s = R persons/s, mismatches M of K planted, baseline read B s, ratio X
 */
const N = Number(process.env.VERIFY_PERSONS ?? 20_000);
const CHUNK = Number(process.env.VERIFY_CHUNK ?? 2000);
/** VERIFY_EDGES=1: also compare a node replica (built by sync's full snapshot of the master, not timed) — the cost of checkEdges */
const EDGES = process.env.VERIFY_EDGES === '1';
if (!Number.isSafeInteger(N) || N < 200) throw new Error('VERIFY_PERSONS must be an integer ≥ 200');

function residentId(i: number): string {
  const seq = String(i % 1000).padStart(3, '0');
  const k = Math.floor(i / 1000);
  const first17 = `510104${1940 + Math.floor(k / 336)}${String(1 + (Math.floor(k / 28) % 12)).padStart(2, '0')}${String(1 + (k % 28)).padStart(2, '0')}${seq}`;
  return first17 + residentIdCheckChar(first17);
}

const dir = mkdtempSync(join(tmpdir(), 'hc-bench-verify-'));
try {
  const db = await openPglite();
  const secrets = loadOrCreateSecrets(dir, {});
  const store = new MasterStore(db, secrets);
  await store.migrate();
  await migrateCapability(db, exchangeCapability);
  const codes = new CodeService(store, { log: () => undefined });
  const host: CapabilityHost = {
    db, store, codes, rules: new RuleVersions(store, codes), audit: new AuditLog(store, secrets), users: new AdminUsers(store), secrets, dataDir: dir,
    mode: 'embedded', nowMs: () => Date.now(), log: (l) => console.error(l), committed: () => undefined,
  };
  const datasets = new DatasetStore(db);
  await datasets.seed();

  const t0 = Date.now();
  const ids: number[] = [];
  for (let i = 0; i < N; i++) ids.push((await store.upsertPerson({ idType: 'resident', idNo: residentId(i), name: '张三' })).personId);
  const hourAgo = Math.floor(Date.now() / 1000) - 3600;
  const evaluated = ids.filter((_, i) => i % 100 !== 0);
  await codes.addFactsMany(evaluated.map((personId) => ({ personId, facts: [{ kind: 'nucleic_acid' as const, at: hourAgo, result: 'positive' as const }] })), 'import:nat-result');
  // every 100th: half a positive never evaluated (registered green), half a red code with no fact and no delta
  let planted = 0;
  for (let i = 0; i < N; i += 100) {
    const pid = ids[i]!;
    await codes.register({ idType: 'resident', idNo: residentId(i), name: '张三' });
    if ((i / 100) % 2 === 0) {
      await db.query("INSERT INTO facts (person_id, kind, at, source, result) VALUES ($1, 'nucleic_acid', to_timestamp($2), 'import:nat-result', 'positive')", [pid, hourAgo]);
      planted += 1;
    } else {
      await db.query("UPDATE codes SET color = 'red', reason = 'test_positive', since = now() - interval '1 minute' WHERE person_id = $1", [pid]);
      planted += 2; // no basis, and not what was distributed
    }
  }
  console.log(`setup: ${N} persons, facts and codes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // baseline: one statement reading the same rows
  const b0 = process.hrtime.bigint();
  const base = await db.query<{ n: number }>(
    `SELECT count(DISTINCT p.id)::int AS n, sum(length(o.payload))::bigint AS bytes FROM persons p
       LEFT JOIN facts f ON f.person_id = p.id AND f.source = 'import:nat-result' AND f.at >= now() - interval '1 day'
       JOIN codes c ON c.person_id = p.id LEFT JOIN outbox o ON o.seq = c.seq`,
  );
  const baseS = Number(process.hrtime.bigint() - b0) / 1e9;
  console.log(`baseline: one join over ${base.rows[0]!.n} persons in ${baseS.toFixed(2)} s`);

  const rules = new VerifyRules(db, datasets, () => Date.now());
  const replicas = [];
  if (EDGES) {
    const built = await buildFullSnapshot(db, join(dir, 'replica'));
    console.log(`replica: ${built.counts.codes} codes at seq ${built.seq} (not timed)`);
    replicas.push({ name: 'bench-edge', dir: join(dir, 'replica') });
  }
  const tasks = new VerifyTasks(host, rules, { chunkPersons: CHUNK, pollMs: 1000, replicas });
  const rule = await rules.create({ name: 'bench', dataset: 'nat-result', windowDays: 1, checkEdges: EDGES }, '', 'bench');
  const r0 = process.hrtime.bigint();
  const t = await tasks.start(rule.id, '', 'bench');
  await tasks.startRunner();
  await tasks.idle();
  await tasks.stopRunner();
  const runS = Number(process.hrtime.bigint() - r0) / 1e9;
  const done = await tasks.get(t.id, '');
  if (done.status !== 'done') throw new Error(`task ${done.status}`);
  if (done.counts.checked !== N || done.counts.mismatches !== planted) {
    throw new Error(`checked ${done.counts.checked} of ${N}, mismatches ${done.counts.mismatches} of ${planted} planted`);
  }
  await db.close();
  console.log(
    `verify${EDGES ? ' (with the edge replica)' : ''}: ${N} persons checked in ${runS.toFixed(2)} s = ${Math.round(N / runS)} persons/s, mismatches ${done.counts.mismatches} of ${planted} planted, ` +
    `baseline read ${baseS.toFixed(2)} s, ratio ${(runS / baseS).toFixed(1)}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
