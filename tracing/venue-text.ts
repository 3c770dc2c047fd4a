import * as OpenCC from 'opencc-js';
import { pinyin } from 'pinyin-pro';

/**
 * How a venue name and a search text are made comparable (精准找人 reads
 * names off an epidemiological report: partial, misspelt, in traditional
 * characters, or typed as pinyin initials on a phone).
 *
 *   normaliseName('春熙路 購物中心（一期）') → '春熙路购物中心一期'
 *     NFKC (full-width → half-width), lower case, traditional → simplified
 *     (OpenCC hk→cn), then only Han characters, a–z and 0–9 are kept:
 *     spaces, punctuation and emoji carry no meaning for a place name.
 *   initialsOf('春熙路kfc') → 'cxlkfc'  (pinyin-pro first letters)
 *
 * Grams are what the index stores: character bigrams of the name, and of
 * its initials prefixed with '~' (a Latin name's initials are itself), so
 * 'cx' typed by hand and '春熙' read as 'cx' meet. A
 * homophone typo (春西路 for 春熙路) still shares every initials gram.
 */
const toSimplified = OpenCC.Converter({ from: 'hk', to: 'cn' });

const KEEP = /[\p{Script=Han}a-z0-9]/u;
const HAN = /\p{Script=Han}/u;

export function normaliseName(s: string): string {
  const simplified = toSimplified(s.normalize('NFKC').toLowerCase());
  let out = '';
  for (const ch of simplified) if (KEEP.test(ch)) out += ch;
  return out;
}

/** Pinyin initials of a normalised name; digits and Latin letters stay as they are. */
export function initialsOf(normalised: string): string {
  if (normalised === '') return '';
  if (!HAN.test(normalised)) return normalised;
  return fastInitials(normalised) ?? initialsWhole(normalised);
}

/** The definition for a name with Han characters: pinyin-pro reads it whole. */
export function initialsWhole(normalised: string): string {
  const parts = pinyin(normalised, { pattern: 'first', toneType: 'none', type: 'array' });
  return parts.join('').toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * The same initials character by character, when no character of the name
 * has readings with different initials (then the reading pinyin-pro picks in
 * context cannot change the initial); null for a name holding 行 (x/h), 长
 * (c/z), 重 (z/c), 乐 (l/y) … — read whole, so 银行 stays yh. Why: pinyin-pro
 * on the whole name is ~11.5 µs a bench name, this ~5.8 µs (100k names,
 * both warm, load ≈ 3; 43% of the bench names still go whole);
 * normalisation (OpenCC + NFKC, ~2.5–4 µs) was left as it is.
 * venue-search.test.ts compares both on bench-like and tricky names.
 */
function fastInitials(normalised: string): string | null {
  let out = '';
  for (const ch of normalised) {
    const cp = ch.codePointAt(0)!;
    if (cp < 128) {
      out += ch;
      continue;
    }
    let m = INITIAL.get(cp);
    if (m === undefined) {
      const all = new Set(
        pinyin(ch, { pattern: 'first', toneType: 'none', type: 'array', multiple: true }).map((x) => x.toLowerCase().replace(/[^a-z0-9]/g, '')),
      );
      m = all.size === 1 ? [...all][0]! : null;
      INITIAL.set(cp, m);
    }
    if (m === null) return null;
    out += m;
  }
  return out;
}
const INITIAL = new Map<number, string | null>();

export function hasHan(s: string): boolean {
  return HAN.test(s);
}

/** Bigrams of a string (by code point); a one-character string is its own gram. */
export function bigrams(s: string): string[] {
  const cps = [...s];
  if (cps.length === 0) return [];
  if (cps.length === 1) return [cps[0]!];
  const out: string[] = [];
  for (let i = 0; i + 1 < cps.length; i++) out.push(cps[i]! + cps[i + 1]!);
  return out;
}

/** The distinct grams a venue name is indexed under. */
export function nameGrams(normalised: string): string[] {
  const set = new Set<string>(bigrams(normalised));
  for (const g of bigrams(initialsOf(normalised))) set.add('~' + g);
  return [...set];
}

export interface QueryGrams {
  /** gram → weight */
  readonly grams: ReadonlyMap<string, number>;
  readonly total: number;
  readonly normalised: string;
}

/**
 * The grams of a search text with their weights: the text's own bigrams
 * count 1; its initials count 0.5 when it is Chinese (a homophone typo is
 * weaker evidence than the right character) and 1 when the text itself is
 * Latin (then initials are what the official typed).
 */
export function queryGrams(normalised: string): QueryGrams {
  const grams = new Map<string, number>();
  if (hasHan(normalised)) {
    for (const g of bigrams(normalised)) grams.set(g, 1);
    for (const g of bigrams(initialsOf(normalised))) grams.set('~' + g, 0.5);
  } else {
    // Latin letters and digits: initials typed by hand, or a Latin name —
    // every name is indexed under its initials grams, a Latin name's
    // initials being the name itself
    for (const g of bigrams(normalised)) grams.set('~' + g, 1);
  }
  let total = 0;
  for (const w of grams.values()) total += w;
  return { grams, total, normalised };
}
