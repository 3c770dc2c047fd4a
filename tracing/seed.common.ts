import { randomBytes } from 'node:crypto';
import { rid, type Fixture } from '../admin-api/admin-fixture.common.js';
import type { Color } from '../core/code-record.js';

/**
 * Test data of the tracing tests (not built: *.common.ts): venues in
 * Chengdu (5101) and Luzhou (5105), residents of both, scans at given
 * times through the master's own insertScans, trips as the exchange
 * writes them (a direct INSERT: tracing only reads travel_segments).
 */
export const HOUR = 3600;

export interface Seeded {
  /** unix seconds, the anchor of the scans: 10:00 China time two China days before the fixture clock */
  readonly t: number;
  readonly persons: Record<string, { id: number; uid: Buffer; idNo: string }>;
}

let seq = 0;

export async function addPerson(f: Fixture, key: string, first15: string, name: string): Promise<{ id: number; uid: Buffer; idNo: string }> {
  // 15 digits of region + birth date, then a 2-digit sequence, then the check character
  const idNo = rid(first15 + String(10 + (seq++ % 90)));
  const r = await f.store.upsertPerson({ idType: 'resident', idNo, name });
  void key;
  return { id: r.personId, uid: r.uid, idNo };
}

export async function addScan(f: Fixture, uid: Buffer, venueId: string, at: number, color: Color = 'green'): Promise<void> {
  await f.store.insertScans([{ id: randomBytes(8).toString('hex'), uid, venueId, kind: 'scan', at, node: 'edge-test', color }]);
}

export async function addTrip(f: Fixture, personId: number, mode: string, number: string, date: string, seat: string | null): Promise<void> {
  await f.db.query(
    `INSERT INTO travel_segments (person_id, mode, number, travel_date, seat, source, source_ref)
     VALUES ($1, $2, $3, $4, $5, 'import:travel', 'b1:1')`,
    [personId, mode, number, date, seat],
  );
}

/**
 * Venues A, B (Chengdu 510104) and C (Luzhou 510502); at time t (10:00 China time, two days ago):
 *   cd1 scanned A at t, cd2 at t + 80 min (inside a 30-min 后推 of a
 *   [t−1h, t+1h) window), cd3 at t + 2 h (outside), lz1 (a Luzhou resident)
 *   at t, cd4 at B; lz2 at C. cd5 rode train G1234 on the day of t with
 *   lz1; cd6 rode it the next day.
 */
export async function seedTracing(f: Fixture): Promise<Seeded> {
  // 10:00 China time, two China days before the fixture clock: the scans up
  // to t + 2 h stay on one China day whatever the time of the run (t = now − 2
  // days put t + 2 h on the next day when the tests ran after 22:00 China time)
  const now = Math.floor(f.clock.ms / 1000);
  const t = Math.floor((now + 8 * HOUR) / 86_400) * 86_400 - 8 * HOUR - 2 * 86_400 + 10 * HOUR;
  for (const [id, name, region] of [['ven-a', '春熙路太古里', '510104'], ['ven-b', '宽窄巷子', '510104'], ['ven-c', '泸州万象汇', '510502']] as const) {
    await f.store.upsertVenue({ id, name, region, kind: 'normal', entryTestHours: null });
  }
  const persons: Seeded['persons'] = {};
  const people: [string, string, string][] = [
    ['cd1', '510104198501011', '李小明'], ['cd2', '510104199002021', '王芳'], ['cd3', '510104197003031', '赵强'],
    ['cd4', '510105198804041', '陈晨'], ['cd5', '510106199105051', '刘洋'], ['cd6', '510107199206061', '孙丽'],
    ['lz1', '510502198807071', '周杰'], ['lz2', '510503199508081', '吴敏'],
  ];
  for (const [k, first15, name] of people) persons[k] = await addPerson(f, k, first15.slice(0, 15), name);
  await addScan(f, persons.cd1!.uid, 'ven-a', t);
  await addScan(f, persons.cd1!.uid, 'ven-a', t + 600);
  await addScan(f, persons.cd2!.uid, 'ven-a', t + 80 * 60);
  await addScan(f, persons.cd3!.uid, 'ven-a', t + 2 * HOUR);
  await addScan(f, persons.lz1!.uid, 'ven-a', t + 300, 'yellow');
  await addScan(f, persons.cd4!.uid, 'ven-b', t);
  await addScan(f, persons.lz2!.uid, 'ven-c', t);
  const day = chinaDate(t);
  await addTrip(f, persons.cd5!.id, 'train', 'G1234', day, '05车12F');
  await addTrip(f, persons.lz1!.id, 'train', 'G1234', day, '05车12A');
  await addTrip(f, persons.cd6!.id, 'train', 'G1234', chinaDate(t + 86_400), null);
  return { t, persons };
}

export function chinaDate(unixSec: number): string {
  return new Date((unixSec + 8 * HOUR) * 1000).toISOString().slice(0, 10);
}
