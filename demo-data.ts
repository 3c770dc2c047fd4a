import type { Fact } from './core/facts.js';
import { maskName, residentIdCheckChar, uidOf } from './core/identity.js';
import type { RiskArea, Venue } from './core/code-record.js';
import type { CodeService } from './master/code-service.js';
import { PiiCrypto, type Secrets } from './master/pii-crypto.js';
import type { DeltaInput, MasterStore } from './master/store.js';

/**
 * Demo data for the embedded stack's first start (DESIGN §5: "demo data on
 * first start"): people with codes, venues (some of them entry venues,
 * 入川即检) and risk areas, deterministic for a seed.
 *
 * People go in through the same paths production uses, only batched:
 *  - identities as MasterStore.upsertPerson stores them (uid = HMAC of the
 *    person key, keyed lookup hashes, AES-256-GCM ciphertexts — no plaintext
 *    identity in the database), inserted 5 000 per statement;
 *  - codes by the rule engine: CodeService.addFactsMany, which evaluates the
 *    rule set in force and writes codes, history and outbox deltas in chunk
 *    transactions. Most people get no facts (green); about 3 % get close-
 *    contact, high-risk-area or confirmed facts and turn yellow or red by
 *    the rules, not by fiat.
 *
 * Demo identities are resident IDs of Sichuan districts (51xxxx) with valid
 * GB 11643 check characters; person i is `demoResidentId(i)` so a load test
 * can mint sessions for the same people (POST /v1/session).
 */
export interface DemoSizes {
  readonly people: number;
  readonly venues: number;
  /** unix ms clock (tests pin it) */
  readonly seed?: number;
}

export type DemoProgress = (phase: 'people' | 'codes' | 'venues' | 'risk', done: number, total: number) => void;

export interface DemoResult {
  readonly people: number;
  readonly nonGreen: number;
  readonly venues: number;
  readonly entryVenues: number;
  readonly riskAreas: number;
  readonly ms: number;
  /** one entry venue id and one normal venue id, for the banner's "try it" */
  readonly sampleEntryVenue: string | null;
  readonly sampleVenue: string | null;
}

/** Sichuan districts and cities (GB/T 2260). */
const REGIONS = [
  '510104', '510105', '510106', '510107', '510108', '510112', '510113', '510114', '510115', '510116',
  '510302', '510402', '510502', '510603', '510703', '510802', '510903', '511002', '511102', '511302',
  '511402', '511502', '511602', '511702', '511802', '511902', '512002',
];
const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN = '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强志明文涛海燕红梅丹玉兰凤英春梅晓东晓明俊杰浩然子涵欣怡雨涵梓涵一诺宇轩';
const VENUE_KINDS = ['超市', '商场', '医院', '学校', '餐厅', '小区', '地铁站', '公园', '药店', '银行'];
const ENTRY_KINDS = ['机场', '火车站', '高速收费站', '汽车客运站'];

/** Small deterministic PRNG (mulberry32): the same demo for the same seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Person i's resident ID, unique per i: district = i mod 27, then q = ⌊i / 27⌋
 * gives the sequence (q mod 1000) and the birth date (⌊q / 1000⌋ days after
 * 1950-01-01, so always a real date), then the GB 11643 check char.
 * Unique up to 27 × 1000 × 21 900 days ≈ 590M people.
 */
export function demoResidentId(i: number): string {
  const region = REGIONS[i % REGIONS.length]!;
  const q = Math.floor(i / REGIONS.length);
  const birth = new Date(Date.UTC(1950, 0, 1) + Math.floor(q / 1000) * 86_400_000);
  const ymd = `${birth.getUTCFullYear()}${String(birth.getUTCMonth() + 1).padStart(2, '0')}${String(birth.getUTCDate()).padStart(2, '0')}`;
  const first17 = `${region}${ymd}${String(q % 1000).padStart(3, '0')}`;
  return first17 + residentIdCheckChar(first17);
}

export function demoName(i: number): string {
  const r = rng(i * 104729 + 3);
  const s = SURNAMES[Math.floor(r() * SURNAMES.length)]!;
  const g1 = GIVEN[Math.floor(r() * GIVEN.length)]!;
  const g2 = r() < 0.6 ? GIVEN[Math.floor(r() * GIVEN.length)]! : '';
  return s + g1 + g2;
}

const PERSON_CHUNK = 5000;

interface PersonRowIn {
  uid: string;
  ch: string;
  ce: string;
  ne: string;
  nm: string;
  rg: string;
}

/** Inserts people [from, to) as upsertPerson would (certificate key, resident region, name). Returns their ids by index. */
async function insertPeople(store: MasterStore, crypto: PiiCrypto, pepper: Uint8Array, from: number, to: number): Promise<number[]> {
  const rows: PersonRowIn[] = [];
  for (let i = from; i < to; i++) {
    const idNo = demoResidentId(i);
    const key = `C:resident:${idNo}`;
    const uid = uidOf(key, pepper);
    const name = demoName(i);
    rows.push({
      uid: uid.toString('hex'),
      ch: crypto.lookupHash(key).toString('hex'),
      ce: crypto.encrypt('cert', uid, idNo).toString('hex'),
      ne: crypto.encrypt('name', uid, name).toString('hex'),
      nm: maskName(name),
      rg: idNo.slice(0, 6),
    });
  }
  const r = await store.db.query<{ id: number; uid: Buffer }>(
    `INSERT INTO persons (uid, cert_type, cert_hash, cert_enc, name_enc, name_masked, region)
     SELECT decode(x.uid, 'hex'), 'resident', decode(x.ch, 'hex'), decode(x.ce, 'hex'), decode(x.ne, 'hex'), x.nm, x.rg
       FROM jsonb_to_recordset($1::jsonb) AS x(uid text, ch text, ce text, ne text, nm text, rg text)
     ON CONFLICT (uid) DO NOTHING
     RETURNING id, uid`,
    [JSON.stringify(rows)],
  );
  const byUid = new Map(r.rows.map((x) => [x.uid.toString('hex'), x.id]));
  return rows.map((x) => byUid.get(x.uid) ?? 0);
}

/** Facts that make person i non-green (about 3 %), or none. */
function demoFacts(i: number, now: number): Fact[] {
  const r = rng(i * 31337 + 11)();
  if (r < 0.02) return [{ kind: 'close_contact', at: now - 3600 * (1 + (i % 48)) }];
  if (r < 0.028) return [{ kind: 'risk_area_visit', at: now - 3600 * (1 + (i % 72)), level: 'high', region: '510107' }];
  if (r < 0.03) return [{ kind: 'confirmed', at: now - 86_400 * (1 + (i % 5)) }];
  return [];
}

export function demoVenues(n: number): Venue[] {
  const out: Venue[] = [];
  const entryEvery = 20; // 5 % entry venues
  for (let i = 0; i < n; i++) {
    const region = `${REGIONS[i % REGIONS.length]!}${String(1 + (i % 30)).padStart(3, '0')}`;
    if (i % entryEvery === 0) {
      const kind = ENTRY_KINDS[(i / entryEvery) % ENTRY_KINDS.length]!;
      out.push({ id: `E${String(i).padStart(7, '0')}`, name: `${kind} ${i / entryEvery + 1} 号入口`, region, kind: 'entry', entryTestHours: 24 });
    } else {
      const kind = VENUE_KINDS[i % VENUE_KINDS.length]!;
      out.push({ id: `V${String(i).padStart(7, '0')}`, name: `${kind}${i}`, region, kind: 'normal', entryTestHours: null });
    }
  }
  return out;
}

export function demoRiskAreas(now: number): RiskArea[] {
  return [
    { region: '510107', level: 'high', since: now - 86_400 },
    { region: '510104001', level: 'medium', since: now - 86_400 * 2 },
    { region: '511302', level: 'medium', since: now - 86_400 * 3 },
    { region: '510116', level: 'low', since: now - 86_400 * 5 },
  ];
}

const VENUE_CHUNK = 2000;

async function insertVenues(store: MasterStore, venues: readonly Venue[]): Promise<void> {
  await store.transaction(async (s) => {
    const rows = venues.map((v) => ({ i: v.id, n: v.name, r: v.region, k: v.kind, h: v.entryTestHours }));
    const r = await s.db.query<{ id: string }>(
      `INSERT INTO venues (id, name, region, kind, entry_test_hours)
       SELECT x.i, x.n, x.r, x.k, x.h FROM jsonb_to_recordset($1::jsonb) AS x(i text, n text, r text, k text, h int)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [JSON.stringify(rows)],
    );
    const added = new Set(r.rows.map((x) => x.id));
    const deltas: DeltaInput[] = venues.filter((v) => added.has(v.id)).map((v) => ({ type: 'venue', id: v.id, venue: v }));
    await store.appendOutboxBatch(s.db, deltas);
  });
}

/** True when the master holds no person yet (a first start). */
export async function masterIsEmpty(store: MasterStore): Promise<boolean> {
  const r = await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT 1 FROM persons LIMIT 1) x');
  return r.rows[0]!.n === 0;
}

/**
 * Generates the demo: `sizes.people` people (codes by the rules), venues,
 * risk areas. Each chunk commits on its own; call it on an empty master.
 */
export async function generateDemoData(
  store: MasterStore,
  codes: CodeService,
  secrets: Secrets,
  sizes: DemoSizes,
  onProgress?: DemoProgress,
): Promise<DemoResult> {
  const t0 = Date.now();
  const now = Math.floor(store.nowMs() / 1000);
  const crypto = new PiiCrypto(secrets);
  let nonGreen = 0;
  for (let from = 0; from < sizes.people; from += PERSON_CHUNK) {
    const to = Math.min(sizes.people, from + PERSON_CHUNK);
    const ids = await insertPeople(store, crypto, secrets.uidPepper, from, to);
    onProgress?.('people', to, sizes.people);
    const items: { personId: number; facts: Fact[] }[] = [];
    for (let k = 0; k < ids.length; k++) {
      if (ids[k] === 0) continue; // already there (a re-run)
      const facts = demoFacts(from + k, now);
      if (facts.length > 0) nonGreen++;
      items.push({ personId: ids[k]!, facts });
    }
    if (items.length > 0) await codes.addFactsMany(items, { source: 'demo', sourceRef: 'demo-data.ts', actor: 'system:demo' });
    onProgress?.('codes', to, sizes.people);
  }
  const venues = demoVenues(sizes.venues);
  for (let off = 0; off < venues.length; off += VENUE_CHUNK) {
    await insertVenues(store, venues.slice(off, off + VENUE_CHUNK));
    onProgress?.('venues', Math.min(venues.length, off + VENUE_CHUNK), venues.length);
  }
  const areas = demoRiskAreas(now);
  for (const a of areas) await store.upsertRiskArea(a);
  onProgress?.('risk', areas.length, areas.length);
  const entry = venues.find((v) => v.kind === 'entry');
  const normal = venues.find((v) => v.kind === 'normal');
  return {
    people: sizes.people,
    nonGreen,
    venues: venues.length,
    entryVenues: venues.filter((v) => v.kind === 'entry').length,
    riskAreas: areas.length,
    ms: Date.now() - t0,
    sampleEntryVenue: entry?.id ?? null,
    sampleVenue: normal?.id ?? null,
  };
}
