import * as OpenCC from 'opencc-js';
import { pinyin } from 'pinyin-pro';

/**
 * Full-text search terms for Chinese without a database extension (zhparser
 * / pg_jieba are not on the domestic PostgreSQL servers nor in PGlite):
 * overlapping character bigrams of every run of Han characters (the classic
 * CJK n-gram index, as Lucene's CJKAnalyzer does), plus whole Latin / digit
 * words. Traditional characters are folded to simplified first (opencc-js,
 * hk → cn), so a caller from Hong Kong typing 核酸檢測 finds 核酸检测.
 *
 * A one-character Han run yields the character itself so that 码 alone
 * still finds something. pinyin initials (pinyin-pro) of a title let a
 * hotline seat type "hsjc" for 核酸检测.
 */
const toSimplified = OpenCC.Converter({ from: 'hk', to: 'cn' });
const HAN = /\p{Script=Han}+/gu;
const WORD = /[a-z0-9]{2,}/g;

export function normaliseText(s: string): string {
  return toSimplified(s.normalize('NFKC')).toLowerCase();
}

/** Distinct terms of a text. */
export function terms(text: string): string[] {
  const s = normaliseText(text);
  const out = new Set<string>();
  for (const m of s.matchAll(HAN)) {
    const run = m[0];
    const chars = [...run];
    if (chars.length === 1) out.add(chars[0]!);
    for (let i = 0; i + 1 < chars.length; i++) out.add(chars[i]! + chars[i + 1]!);
  }
  for (const m of s.replace(HAN, ' ').matchAll(WORD)) out.add(m[0]);
  return [...out];
}

/** 'hsjc' for 核酸检测 (other characters kept as they are, lower case). */
export function initials(text: string): string {
  const s = normaliseText(text);
  return pinyin(s, { pattern: 'first', toneType: 'none', type: 'array', nonZh: 'consecutive' })
    .join('')
    .replace(/[^a-z0-9]/g, '');
}
