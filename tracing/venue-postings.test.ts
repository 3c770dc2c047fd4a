import { describe, expect, it } from 'vitest';
import { VenuePostings } from './venue-postings.js';
import { initialsOf, initialsWhole, normaliseName, queryGrams } from './venue-text.js';

/**
 * The in-memory index's data structure without the database: its ranking
 * must match an exhaustive scan (every name scored against every query gram)
 * for the names that matter — reading only the rarest grams' posting lists
 * may skip weak names, never a close one — across bulk build, names added
 * later (per-gram tail lists), compaction, renames and deletions.
 */
const PLACES = ['春熙路', '太古里', '天府广场', '宽窄巷子', '人民公园', '双流', '九眼桥', '建设路'];
const SHOPS = '张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟';
const KINDS = ['广场', '购物中心', '超市', '酒店', '火锅', '茶馆', '银行', '长途汽车站', '乐园'];
function name(i: number): string {
  const h = (i * 2_654_435_761) >>> 0;
  return `${PLACES[i % PLACES.length]}${SHOPS[h % SHOPS.length]}${SHOPS[(h >>> 8) % SHOPS.length]}记${KINDS[(h >>> 16) % KINDS.length]}${i % 7 === 0 ? `${i % 50}号店` : ''}`;
}

/** every live name scored against every query gram: the definition the index approximates */
function exhaustive(names: Map<string, { n: string; ini: string }>, text: string): { id: string; s: number }[] {
  const norm = normaliseName(text);
  const q = queryGrams(norm);
  const out: { id: string; s: number }[] = [];
  for (const [id, { n, ini }] of names) {
    let s = 0;
    for (const [g, w] of q.grams) if (g.startsWith('~') ? ini.includes(g.slice(1)) : n.includes(g)) s += w;
    out.push({ id, s: s / q.total });
  }
  return out.sort((a, b) => b.s - a.s);
}

describe('venue postings', () => {
  it('reads pinyin initials per character only where no character has readings with different initials', () => {
    for (const n of ['春熙路kfc', '工商银行春熙路支行', '重庆火锅', '长安街乐园', '乐山大佛', '都江堰', '银行12号', '人民公园鹤鸣茶社']) {
      expect(initialsOf(normaliseName(n))).toBe(initialsWhole(normaliseName(n)));
    }
    for (let i = 0; i < 2000; i++) expect(initialsOf(normaliseName(name(i)))).toBe(initialsWhole(normaliseName(name(i))));
    expect(initialsOf('工商银行')).toBe('gsyh');
  });

  it('ranks like an exhaustive scan, across bulk build, later names, compaction, renames and deletions', () => {
    const p = new VenuePostings();
    const names = new Map<string, { n: string; ini: string }>();
    const put = (id: string, n: string): void => {
      p.put(id, normaliseName(n), id.endsWith('3') ? '510502' : '510104');
      names.set(id, { n: normaliseName(n), ini: initialsOf(normaliseName(n)) });
    };
    p.beginBulk();
    for (let i = 0; i < 3000; i++) put(`b${i}`, name(i));
    p.endBulk();
    // more than 4096 later names: their tail lists are compacted into the posting lists on the way
    for (let i = 3000; i < 8000; i++) put(`b${i}`, name(i));
    put('b17', '天府国际机场T2航站楼');
    p.remove('b18');
    names.delete('b18');
    for (let i = 8000; i < 8100; i++) put(`b${i}`, name(i)); // some in a tail again
    const check = (text: string): void => {
      const want = exhaustive(names, text);
      const got = p.rank(normaliseName(text), '', 20);
      expect(got.length).toBeGreaterThan(0);
      // the best score is the exhaustive best, and every name returned is scored as the scan scores it
      expect(got[0]!.score).toBeCloseTo(Math.min(1, want[0]!.s), 5);
      const exact = new Map(want.map((w) => [w.id, w.s]));
      for (const g of got) expect(g.score).toBeCloseTo(Math.min(1, exact.get(g.id)!), 5);
      // names as close as the best (one wrong character) are all found, up to the limit
      const close = want.filter((w) => w.s >= want[0]!.s - 1e-9).length;
      expect(got.filter((g) => g.score >= got[0]!.score - 1e-9).length).toBe(Math.min(20, close));
    };
    for (let i = 0; i < 8100; i += 397) {
      const n = [...name(i)];
      check(n.slice(1, 6).join('')); // partial
      check(n.map((c, j) => (j === 3 ? '黄' : c)).join('')); // one wrong character
      check(initialsOf(normaliseName(n.slice(0, 6).join('')))); // initials
    }
    check('天府国际机场');
    expect(p.rank(normaliseName('天府国际机场'), '', 3)[0]!.id).toBe('b17');
    expect(p.rank(normaliseName(name(18)), '', 50).map((h) => h.id)).not.toContain('b18');
    // the old name of a renamed venue is gone, region scope holds, one character is a substring
    expect(p.rank(normaliseName(name(17)), '', 50).map((h) => h.id)).not.toContain('b17');
    expect(p.rank(normaliseName('春熙路'), '5105', 50).every((h) => h.id.endsWith('3'))).toBe(true);
    expect(p.rank('航', '', 5).map((h) => h.id)).toEqual(['b17']);
    expect(p.size).toBe(8099);
  });
});
