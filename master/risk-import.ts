import type { RiskArea, RiskLevel } from '../core/code-record.js';
import { MasterError } from './errors.js';
import type { MasterStore } from './store.js';

/**
 * The national risk-area list (DESIGN §3: region codes down to street level,
 * with a level, synced from the national list) imported as a diff: the back
 * office shows added / changed / removed areas, an operator confirms, and
 * applyRiskAreas publishes exactly that diff — one outbox delta per area, all
 * in one transaction (a half-applied list would show edges a mix of two
 * days' lists).
 *
 * The incoming list is the WHOLE national list: an area of the current list
 * that is absent from it is removed (it is no longer a risk area).
 */
export interface RiskAreaChange {
  readonly region: string;
  readonly from: RiskArea;
  readonly to: RiskArea;
}

export interface RiskAreaDiff {
  /** by region */
  readonly added: RiskArea[];
  readonly changed: RiskAreaChange[];
  readonly removed: RiskArea[];
  /** areas present and identical in both */
  readonly unchanged: number;
}

export interface ApplyRiskAreasResult {
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  /** outbox sequences written, ascending (empty when the diff changed nothing) */
  readonly seqs: number[];
}

const REGION = /^[0-9]{6}(?:[0-9]{3}(?:[0-9]{3})?)?$/;
const LEVELS: readonly RiskLevel[] = ['high', 'medium', 'low'];
const MAX_AREAS = 200_000;

function bad(field: string, detail: string): MasterError {
  return new MasterError('MASTER_ERR_INVALID', detail, field);
}

function checkArea(x: unknown, path: string): RiskArea {
  if (typeof x !== 'object' || x === null) throw bad(path, 'must be { region, level, since }');
  const o = x as Record<string, unknown>;
  if (typeof o.region !== 'string' || !REGION.test(o.region)) throw bad(`${path}.region`, 'must be a GB/T 2260 code of 6, 9 or 12 digits');
  if (!LEVELS.includes(o.level as RiskLevel)) throw bad(`${path}.level`, "must be 'high', 'medium' or 'low'");
  if (typeof o.since !== 'number' || !Number.isSafeInteger(o.since) || o.since < 0 || o.since > 0xffff_ffff) {
    throw bad(`${path}.since`, 'must be unix seconds');
  }
  return { region: o.region, level: o.level as RiskLevel, since: o.since };
}

function byRegion(a: RiskArea, b: RiskArea): number {
  return a.region < b.region ? -1 : a.region > b.region ? 1 : 0;
}

/**
 * `diffRiskAreas(current: RiskArea[], incoming: unknown[]) → {added, changed, removed, unchanged}`
 *
 * Pure. `incoming` is validated (MASTER_ERR_INVALID with `incoming[i].field`;
 * a region listed twice is an error, not a silent pick). Changed = same
 * region, different level or since. Lists sorted by region.
 */
export function diffRiskAreas(current: readonly RiskArea[], incoming: readonly unknown[]): RiskAreaDiff {
  if (!Array.isArray(current)) throw bad('current', 'must be an array');
  if (!Array.isArray(incoming)) throw bad('incoming', 'must be an array');
  if (incoming.length > MAX_AREAS) throw bad('incoming', `at most ${MAX_AREAS} areas`);
  const next = new Map<string, RiskArea>();
  incoming.forEach((x, i) => {
    const a = checkArea(x, `incoming[${i}]`);
    if (next.has(a.region)) throw bad(`incoming[${i}].region`, `${a.region} is listed twice`);
    next.set(a.region, a);
  });
  const cur = new Map<string, RiskArea>();
  current.forEach((x, i) => cur.set(x.region, checkArea(x, `current[${i}]`)));
  const added: RiskArea[] = [];
  const changed: RiskAreaChange[] = [];
  const removed: RiskArea[] = [];
  let unchanged = 0;
  for (const [region, to] of next) {
    const from = cur.get(region);
    if (from === undefined) added.push(to);
    else if (from.level !== to.level || from.since !== to.since) changed.push({ region, from, to });
    else unchanged++;
  }
  for (const [region, from] of cur) if (!next.has(region)) removed.push(from);
  added.sort(byRegion);
  removed.sort(byRegion);
  changed.sort((a, b) => byRegion(a.to, b.to));
  return { added, changed, removed, unchanged };
}

/**
 * `applyRiskAreas(store, diff) → {added, changed, removed, seqs}`
 *
 * Publishes a diff in one transaction: upserts for added and changed,
 * removals, each with its `risk_area` delta (MasterStore does both). Safe to
 * apply twice or after a concurrent change: an upsert equal to what is
 * stored writes nothing, removing an absent area writes nothing, so the
 * counts are what really changed.
 */
export async function applyRiskAreas(store: MasterStore, diff: RiskAreaDiff): Promise<ApplyRiskAreasResult> {
  if (typeof diff !== 'object' || diff === null || !Array.isArray(diff.added) || !Array.isArray(diff.changed) || !Array.isArray(diff.removed)) {
    throw bad('diff', 'must be { added, changed, removed }');
  }
  const upserts = [
    ...diff.added.map((a, i) => checkArea(a, `added[${i}]`)),
    ...diff.changed.map((c, i) => checkArea(c?.to, `changed[${i}].to`)),
  ];
  const removals = diff.removed.map((a, i) => checkArea(a, `removed[${i}]`).region);
  return store.transaction(async (s) => {
    const seqs: number[] = [];
    let added = 0;
    let changed = 0;
    let removed = 0;
    const before = new Set((await s.listRiskAreas()).map((a) => a.region));
    for (const a of upserts) {
      const r = await s.upsertRiskArea(a);
      if (r.changed) {
        seqs.push(r.seq!);
        if (before.has(a.region)) changed++;
        else added++;
      }
    }
    for (const region of removals) {
      const r = await s.removeRiskArea(region);
      if (r.changed) {
        seqs.push(r.seq!);
        removed++;
      }
    }
    return { added, changed, removed, seqs };
  });
}

/** `importRiskAreas(store, incoming) → {diff, result}` — diff against the stored list and apply it. */
export async function importRiskAreas(
  store: MasterStore, incoming: readonly unknown[],
): Promise<{ diff: RiskAreaDiff; result: ApplyRiskAreasResult }> {
  const diff = diffRiskAreas(await store.listRiskAreas(), incoming);
  return { diff, result: await applyRiskAreas(store, diff) };
}
