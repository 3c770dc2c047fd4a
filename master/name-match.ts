/**
 * Whether the name a citizen gave at login is the name the master keeps.
 *
 * Compared after the same cleaning core/identity.ts applies to names
 * (maskName): NFKC — full-width letters typed with a Chinese IME and the
 * U+3000 ideographic space become ASCII — and whitespace inside dropped, so
 * 「张 三」「张　三」 and 「张三」 are one name. Middle dots of transliterated
 * minority names (·・•) count as one separator, and Latin letters are
 * compared without case (passports print SMITH, people type Smith). Nothing
 * else is folded: 张三 and 张叁 are different names.
 */
export function nameKey(name: string): string {
  return name.normalize('NFKC').replace(/\s+/gu, '').replace(/[·・•]/gu, '·').toUpperCase();
}

export function sameName(given: string, stored: string): boolean {
  return nameKey(given) === nameKey(stored);
}
