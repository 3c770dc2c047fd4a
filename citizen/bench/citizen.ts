import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { migrateCapability, type CapabilityHost } from '../../admin-api/capability.js';
import { residentIdCheckChar } from '../../core/identity.js';
import { AdminUsers } from '../../master/admin-users.js';
import { AuditLog } from '../../master/audit-log.js';
import { CodeService } from '../../master/code-service.js';
import { loadOrCreateSecrets, PiiCrypto } from '../../master/pii-crypto.js';
import { RuleVersions } from '../../master/rule-versions.js';
import { openPglite } from '../../master/sql-client.js';
import { MasterStore } from '../../master/store.js';
import { CITIZEN, type CitizenInstance } from '../capability.js';

/**
 * `npm run bench:citizen` — the citizen services on the embedded master
 * (PGlite, in process), measured in one run:
 *
 *   kb search     the bigram index (cit_kb_terms) against the baseline a
 *                 first version would use: `ILIKE '%q%'` over every
 *                 published body (which also cannot rank, fold 繁体 or
 *                 match a question that is not a substring); same queries
 *   appeals       filing rate (validation, flood guard under a row lock,
 *                 encrypted contact, insert + event in one transaction)
 *   travel card   building a 14-day card with the risk join per phone
 *
 * Size: CITIZEN_BENCH_ARTICLES (default 2000; quick: 300), CITIZEN_BENCH_N
 * (appeals and cards, default 300; quick: 50). The last line is the summary.
 */
const ARTICLES = Number(process.env.CITIZEN_BENCH_ARTICLES ?? 2000);
const N = Number(process.env.CITIZEN_BENCH_N ?? 300);

const WORDS = ['健康码', '核酸检测', '行程卡', '入川即检', '黄码', '红码', '绿码', '隔离', '风险地区', '疫苗', '申诉', '采样点', '结果', '出行', '报备',
  '社区', '返乡', '学校', '务工', '航班', '列车', '高速', '酒店', '商场', '医院', '发热', '门诊', '证明', '快递', '冷链'];

function text(seed: number, n: number): string {
  let s = '';
  let x = seed * 2654435761 % 4294967296;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    s += WORDS[x % WORDS.length] + (i % 7 === 6 ? '。' : '，');
  }
  return s;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cit-bench-'));
  const db = await openPglite();
  try {
    const secrets = loadOrCreateSecrets(dir, {});
    const store = new MasterStore(db, secrets);
    await store.migrate();
    const codes = new CodeService(store, { log: () => undefined });
    const host: CapabilityHost = {
      db, store, codes, rules: new RuleVersions(store, codes), audit: new AuditLog(store, secrets), users: new AdminUsers(store), secrets,
      dataDir: dir, mode: 'embedded', nowMs: () => Date.now(), log: () => undefined, committed: () => undefined,
    };
    await migrateCapability(db, CITIZEN);
    const cit = (await CITIZEN.create(host, CITIZEN.config({ CITIZEN_APPEALS_PER_DAY: '100' }, { dataDir: dir, mode: 'embedded' }))) as unknown as CitizenInstance;

    // ---- knowledge base ----
    let t0 = performance.now();
    for (let i = 0; i < ARTICLES; i++) {
      const a = await cit.kb.create({ category: 'faq', title: `问题${i}：${text(i, 3)}`, body: text(i + 7, 60) }, 'bench-author');
      await cit.kb.transition(a.id, 'submit', 'bench-author', async () => undefined);
      await cit.kb.transition(a.id, 'publish', 'bench-reviewer', async () => undefined);
    }
    const publishMs = (performance.now() - t0) / ARTICLES;
    const queries = ['健康码黄码', '核酸检测结果', '行程卡航班', '入川即检采样点', '冷链快递', '医院发热门诊证明', '返乡报备社区', '疫苗'];
    const idx: number[] = [];
    const base: number[] = [];
    let hits = 0;
    for (let r = 0; r < 5; r++) {
      for (const q of queries) {
        t0 = performance.now();
        hits += (await cit.kb.search(q)).length;
        idx.push(performance.now() - t0);
        t0 = performance.now();
        await db.query(
          `SELECT a.id FROM cit_kb_articles a JOIN cit_kb_versions v ON v.article_id = a.id AND v.version = a.published_version
            WHERE v.title ILIKE $1 OR v.body ILIKE $1 LIMIT 20`,
          [`%${q}%`],
        );
        base.push(performance.now() - t0);
      }
    }
    console.log(`kb: ${ARTICLES} articles published (${publishMs.toFixed(1)} ms each incl. indexing); search p50 ${pct(idx, 0.5).toFixed(1)} ms p95 ${pct(idx, 0.95).toFixed(1)} ms (${hits} hits); baseline ILIKE scan p50 ${pct(base, 0.5).toFixed(1)} ms p95 ${pct(base, 0.95).toFixed(1)} ms`);

    // ---- appeals ----
    const persons = [];
    for (let i = 0; i < N; i++) {
      const f17 = `510104199001${String(i % 28 + 1).padStart(2, '0')}${String(100 + (i % 900)).padStart(3, '0')}`;
      const id = f17 + residentIdCheckChar(f17);
      const p = await store.upsertPerson({ idType: 'resident', idNo: id, name: '测试人', region: '510104' }).catch(() => null);
      if (p !== null) persons.push((await store.getPerson(p.personId))!);
    }
    t0 = performance.now();
    for (const [i, p] of persons.entries()) {
      await cit.appeals.file(p, { type: 'code_wrong', text: `第${i}号申诉：${text(i, 10)}`, contact: '13900000000' }, { channel: 'page', filedBy: 'citizen' });
    }
    const fileMs = performance.now() - t0;
    const perSec = persons.length / (fileMs / 1000);
    console.log(`appeals: ${persons.length} filed in ${fileMs.toFixed(0)} ms = ${perSec.toFixed(0)}/s`);

    // ---- travel card ----
    const pii = new PiiCrypto(secrets);
    await db.query("INSERT INTO risk_areas (region, level, since) VALUES ('420106', 'high', now())");
    const today = Date.now();
    for (let i = 0; i < N; i++) {
      const h = pii.lookupHash(`P:139${String(i).padStart(8, '0')}`);
      for (let d = 0; d < 14; d++) {
        await db.query("INSERT INTO carrier_stays (phone_hash, carrier, region, day, source) VALUES ($1, 'cmcc', $2, $3::date, 'bench')",
          [h, d % 5 === 0 ? '4201' : '5101', new Date(today - d * 86_400_000 + 8 * 3600_000).toISOString().slice(0, 10)]);
      }
    }
    const cards: number[] = [];
    for (let i = 0; i < Math.min(N, persons.length); i++) {
      const phone = `139${String(i).padStart(8, '0')}`;
      t0 = performance.now();
      await cit.travel.build(persons[i]!, pii.lookupHash(`P:${phone}`), phone, today);
      cards.push(performance.now() - t0);
    }
    console.log(`travel card: ${cards.length} cards (14 days, risk join, risk facts on first view) p50 ${pct(cards, 0.5).toFixed(1)} ms p95 ${pct(cards, 0.95).toFixed(1)} ms`);
    console.log(`citizen bench: kb search p50 ${pct(idx, 0.5).toFixed(1)} ms vs ILIKE ${pct(base, 0.5).toFixed(1)} ms over ${ARTICLES} articles; appeals ${perSec.toFixed(0)}/s; travel card p50 ${pct(cards, 0.5).toFixed(1)} ms`);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
