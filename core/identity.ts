import { createHmac } from 'node:crypto';
import { CoreError } from './errors.js';

/**
 * Identity normalisation and pseudonymous ids (DESIGN §2).
 *
 * Everything that turns what a person or a department typed into the one
 * canonical person key lives here, so the master, the importers and the
 * session issuer can never disagree on who is who. Only the 16-byte uid
 * derived from that key (HMAC with a secret pepper) ever leaves the master.
 *
 * Error fields: every error names the input field it concerns — 'idNo',
 * 'idType', 'phone', 'name', 'pepper' or 'personKey' — so the admin API can
 * point at the right form field (CodedError.toJSON carries it).
 */

export type IdType = 'resident' | 'passport' | 'hk_macau' | 'taiwan' | 'foreign_permanent';
export const ID_TYPES: readonly IdType[] = Object.freeze([
  'resident',
  'passport',
  'hk_macau',
  'taiwan',
  'foreign_permanent',
] as const);

export interface Certificate {
  readonly type: IdType;
  readonly number: string;
}

// ---------------------------------------------------------------------------
// Resident ID — GB 11643-1999 公民身份号码
//
//   index     0      6        14  17
//             ┌──────┬────────┬───┬─┐
//             │AAAAAA│YYYYMMDD│SSS│C│   18 characters
//             └──────┴────────┴───┴─┘
//   A  address code (GB/T 2260; province digit 1–8)
//   Y/M/D birth date, S sequence (odd = male), C check char (ISO 7064 MOD 11-2):
//   C = "10X98765432"[(Σ digit_i × W_i) mod 11], W = 2^(17-i) mod 11
//     = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
//
//   The 1984 first-generation card carried 15 digits: AAAAAA YYMMDD SSS with
//   no check char. The upgrade to 18 inserts the century "19" (a 15-digit
//   number cannot say otherwise, and the 1999 conversion did the same — see
//   vectors/ids.json `fifteen`) and appends the computed check char.
// ---------------------------------------------------------------------------

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARS = '10X98765432';

/**
 * Earliest accepted birth date, as YYYYMMDD. GB 11643's own worked example
 * (440524188001010014, in vectors/ids.json as valid) is born 1880-01-01:
 * people born in the 1880s–1890s were alive and issued cards in 1984–1999,
 * so a 1900 floor would reject numbers the standard itself treats as valid
 * and that historical records (imports, back-office look-ups) still carry.
 * The floor exists to catch typos in the century digits (0985…, 1085…):
 * every real number has century 18, 19 or 20.
 */
const MIN_BIRTH = 18000101;

/**
 * "Not in the future" is judged on the calendar of the issuing country:
 * China Standard Time, UTC+8 all year (no DST since 1991). Judging in UTC
 * would reject a baby registered between 00:00 and 08:00 Beijing time on its
 * birthday.
 */
const CST_OFFSET_MS = 8 * 3600 * 1000;

/** The check character of GB 11643 for 17 ASCII digits. */
export function residentIdCheckChar(first17: string): string {
  if (typeof first17 !== 'string' || first17.length !== 17) {
    throw new CoreError('CORE_ERR_ID_LENGTH', 'the check character is computed over exactly 17 digits', 'idNo');
  }
  return CHECK_CHARS[checkIndex(first17)]!;
}

/** Σ digit × weight mod 11 over the first 17 characters; throws ID_CHARS on a non-digit. */
function checkIndex(s: string): number {
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new CoreError('CORE_ERR_ID_CHARS', `character ${i + 1} is not a digit`, 'idNo');
    sum += d * WEIGHTS[i]!;
  }
  return sum % 11;
}

/** Today's date in China Standard Time as YYYYMMDD. */
function todayCst(now: Date): number {
  const t = now.getTime();
  if (Number.isNaN(t)) throw new TypeError('now is an invalid Date');
  const d = new Date(t + CST_OFFSET_MS);
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeap(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Digits at [start, start+len) as a number; caller has checked they are digits. */
function digitsAt(s: string, start: number, len: number): number {
  let n = 0;
  for (let i = start; i < start + len; i++) n = n * 10 + (s.charCodeAt(i) - 48);
  return n;
}

/** Throws ID_BIRTH_DATE unless YYYYMMDD at `at` is a real calendar date within [MIN_BIRTH, today]. */
function checkBirthDate(s: string, at: number, today: number): void {
  const y = digitsAt(s, at, 4);
  const m = digitsAt(s, at + 4, 2);
  const d = digitsAt(s, at + 6, 2);
  const ymd = y * 10000 + m * 100 + d;
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) {
    throw new CoreError('CORE_ERR_ID_BIRTH_DATE', `birth date ${s.slice(at, at + 8)} is not a calendar date`, 'idNo');
  }
  if (ymd < MIN_BIRTH) {
    throw new CoreError('CORE_ERR_ID_BIRTH_DATE', `birth date ${s.slice(at, at + 8)} is before 1800-01-01`, 'idNo');
  }
  if (ymd > today) {
    throw new CoreError('CORE_ERR_ID_BIRTH_DATE', `birth date ${s.slice(at, at + 8)} is in the future`, 'idNo');
  }
}

/** True when every UTF-16 unit is ASCII: then NFKC is the identity and can be skipped. */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

/**
 * NFKC (full-width digits and letters typed with a Chinese IME, U+3000
 * ideographic space → ASCII) then trim. Missing → CORE_ERR_ID_EMPTY; any
 * other non-string (a JSON number, typically) is refused rather than coerced
 * — a double loses digits beyond 2^53, and an 18-digit ID has more.
 */
function cleanInput(input: unknown, field: string): string {
  if (input === undefined || input === null) throw new CoreError('CORE_ERR_ID_EMPTY', 'missing', field);
  if (typeof input !== 'string') {
    throw new CoreError(field === 'phone' ? 'CORE_ERR_PHONE' : 'CORE_ERR_ID_CHARS', `expected a string, got ${typeof input}`, field);
  }
  const s = isAscii(input) ? input : input.normalize('NFKC');
  return s.trim();
}

/**
 * GB 11643: returns the canonical 18-char form (upper-case X). Accepts lower-case x, surrounding spaces, full-width
 * digits/X (NFKC), and 15-digit legacy numbers (century 19 inserted, check char computed). `now` bounds the birth
 * date (not in the future).
 *
 * Checks, in order (the first failure is reported): empty → length (15 or
 * 18) → characters (digits, final X) → province digit not 9 → birth date →
 * check char.
 */
export function normaliseResidentId(input: string, now: Date = new Date()): string {
  const s = cleanInput(input, 'idNo');
  const len = s.length;
  if (len === 0) throw new CoreError('CORE_ERR_ID_EMPTY', 'empty', 'idNo');
  if (len === 15) {
    for (let i = 0; i < 15; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) throw new CoreError('CORE_ERR_ID_CHARS', `character ${i + 1} of a 15-digit number is not a digit`, 'idNo');
    }
    checkProvince(s);
    const first17 = s.slice(0, 6) + '19' + s.slice(6);
    checkBirthDate(first17, 6, todayCst(now));
    return first17 + CHECK_CHARS[checkIndex(first17)]!;
  }
  if (len !== 18) throw new CoreError('CORE_ERR_ID_LENGTH', `has ${len} characters`, 'idNo');
  for (let i = 0; i < 17; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) throw new CoreError('CORE_ERR_ID_CHARS', `character ${i + 1} is not a digit`, 'idNo');
  }
  let last = s.charCodeAt(17);
  if (last === 120 /* x */) last = 88; /* X */
  if (!((last >= 48 && last <= 57) || last === 88)) {
    throw new CoreError('CORE_ERR_ID_CHARS', 'character 18 is not a digit or X', 'idNo');
  }
  checkProvince(s);
  checkBirthDate(s, 6, todayCst(now));
  const expected = CHECK_CHARS.charCodeAt(checkIndex(s));
  if (last !== expected) {
    throw new CoreError('CORE_ERR_ID_CHECK_DIGIT', `check character is ${s[17]}, GB 11643 gives ${String.fromCharCode(expected)}`, 'idNo');
  }
  return last === s.charCodeAt(17) ? s : s.slice(0, 17) + 'X';
}

/**
 * GB/T 2260 province codes all start with 1–8 (11 Beijing … 65 Xinjiang, 71
 * Taiwan, 81–83 the HK/Macau/Taiwan residents' residence permits). The 2023
 * foreign permanent residence card borrowed the GB 11643 layout and check char
 * but starts with 9 precisely so that systems can tell it apart (NIA, 新版永居证
 * 机读信息规则, 2023). Accepting it as 'resident' would give its holder a
 * second person key besides C:foreign_permanent:…, so it is refused with a
 * pointer to the right type. A leading 0 is not a province either, but no
 * published rule asks for it and the vectors are silent: it is left to the
 * check char.
 */
function checkProvince(s: string): void {
  if (s.charCodeAt(0) === 57 /* 9 */) {
    throw new CoreError('CORE_ERR_ID_TYPE', 'a number starting with 9 is a foreign permanent residence card: use type foreign_permanent', 'idType');
  }
}

// ---------------------------------------------------------------------------
// Other certificates
// ---------------------------------------------------------------------------

/**
 * Aliases accepted for the certificate type (after trim, NFKC, lower-case).
 * Kept small on purpose: each entry is a name people or department
 * spreadsheets actually use; anything else is CORE_ERR_ID_TYPE rather than a
 * guess. '往来港澳通行证' / '港澳通行证' are deliberately absent: those are the
 * mainland residents' exit permits (C…), whose holders have a resident ID.
 */
const TYPE_ALIASES: ReadonlyMap<string, IdType> = new Map<string, IdType>([
  ['resident', 'resident'],
  ['id', 'resident'],
  ['idcard', 'resident'],
  ['id_card', 'resident'],
  ['身份证', 'resident'],
  ['居民身份证', 'resident'],
  ['passport', 'passport'],
  ['护照', 'passport'],
  ['hk_macau', 'hk_macau'],
  ['回乡证', 'hk_macau'],
  ['港澳居民来往内地通行证', 'hk_macau'],
  ['taiwan', 'taiwan'],
  ['台胞证', 'taiwan'],
  ['台湾居民来往大陆通行证', 'taiwan'],
  ['foreign_permanent', 'foreign_permanent'],
  ['永居证', 'foreign_permanent'],
  ['外国人永久居留身份证', 'foreign_permanent'],
]);

function resolveType(type: unknown): IdType {
  if (type === undefined || type === null) throw new CoreError('CORE_ERR_ID_TYPE', 'missing', 'idType');
  if (typeof type !== 'string') throw new CoreError('CORE_ERR_ID_TYPE', `expected a string, got ${typeof type}`, 'idType');
  const key = (isAscii(type) ? type : type.normalize('NFKC')).trim().toLowerCase();
  const t = TYPE_ALIASES.get(key);
  if (t === undefined) throw new CoreError('CORE_ERR_ID_TYPE', `unknown type ${JSON.stringify(type.slice(0, 40))}`, 'idType');
  return t;
}

/**
 * Passport (护照): ICAO 9303 leaves the document number to the issuer (9
 * characters in the MRZ field, longer ones overflow into the optional data),
 * so any 5–17 letters and digits. At least one digit is required: a
 * letters-only value is a name typed into the number column (a common import
 * mistake), and no issuer we know of uses letters-only serials.
 * Examples: E12345678 (PRC e-passport to 2017), EF1234567 (since 2017-04),
 * G12345678 (older), PE/SE/DE + 7 digits (official/service/diplomatic),
 * K12345678 (HKSAR), MA1234567 (MSAR), 9 digits (US, Taiwan).
 * The dotted forms P.1234567 / S.1234567 of pre-2012 official passports are
 * not accepted: passports run at most 10 years, so none is still valid.
 */
const PASSPORT = /^(?=[A-Z]*[0-9])[A-Z0-9]{5,17}$/;

/**
 * HK/Macau residents' Home Return Permit (港澳居民来往内地通行证, 回乡证):
 * H (Hong Kong) or M (Macau), then either
 *   8 digits           the holder's lifelong number (card issued since 2013), or
 *   8 + 2 digits       lifelong number + renewal count 00, 01, … (1999 card).
 * Per the MPS Exit-Entry Administration's numbering rules (2010-03-10) the
 * first 9 characters never change across renewals, so the canonical form
 * drops the renewal count: a renewed permit keeps its person key.
 */
const HK_MACAU = /^([HM][0-9]{8})(?:[0-9]{2})?$/;

/**
 * Taiwan residents' permit (台湾居民来往大陆通行证, 台胞证): since
 * 2008-09-25 "one person, one number for life", 8 digits (the 2015 card too).
 * Older booklets printed lifelong number + 2-digit issue count, some with the
 * issuing office in brackets: 12345678 01 (B). Canonical form: the 8-digit
 * lifelong number, for the same reason as HK/Macau.
 */
const TAIWAN = /^([0-9]{8})(?:[0-9]{2}(?:\([A-Z0-9]\))?)?$/;

/**
 * Foreign Permanent Resident ID Card (外国人永久居留身份证):
 *   2004/2017 card: 15 chars, ISO 3166-1 alpha-3 nationality + 12 digits;
 *   2023 card (from 2023-12-01): 18 chars, 17 digits + check char, first digit
 *   9, check char MOD 11-2 "the same as the citizen identity number" (NIA,
 *   新版外国人永久居留身份证机读信息规则 2023) — so it is verified here too.
 * Old and new numbers of one holder cannot be linked from the numbers alone
 * (the nationality code changed from letters to digits and the rest was
 * re-issued), so a holder who switches cards gets a new person key.
 */
const FOREIGN_OLD = /^[A-Z]{3}[0-9]{12}$/;
const FOREIGN_NEW = /^9[0-9]{16}[0-9X]$/;

/** Trim, NFKC, upper-case, remove whitespace (incl. U+3000 via NFKC). */
function cleanCertNumber(number: unknown): string {
  const s = cleanInput(number, 'idNo');
  return s.toUpperCase().replace(/\s+/g, '');
}

function formatError(type: IdType, expected: string): CoreError {
  return new CoreError('CORE_ERR_CERT_FORMAT', `not a ${type} number (expected ${expected})`, 'idNo');
}

/**
 * Any certificate type: resident → normaliseResidentId; others trimmed, NFKC, upper-case, spaces removed, and checked
 * against the type's format (see the regular expressions above for each format and its source). Also accepts the
 * aliases in TYPE_ALIASES for the type.
 */
export function normaliseCertificate(type: string, number: string, now: Date = new Date()): Certificate {
  const t = resolveType(type);
  if (t === 'resident') return { type: t, number: normaliseResidentId(number, now) };
  const s = cleanCertNumber(number);
  if (s.length === 0) throw new CoreError('CORE_ERR_ID_EMPTY', 'empty', 'idNo');
  switch (t) {
    case 'passport':
      if (!PASSPORT.test(s)) throw formatError(t, '5–17 letters and digits, at least one digit');
      return { type: t, number: s };
    case 'hk_macau': {
      const m = HK_MACAU.exec(s);
      if (m === null) throw formatError(t, 'H or M followed by 8 or 10 digits');
      return { type: t, number: m[1]! };
    }
    case 'taiwan': {
      const m = TAIWAN.exec(s);
      if (m === null) throw formatError(t, '8 digits, or 10 digits of the pre-2008 booklet');
      return { type: t, number: m[1]! };
    }
    case 'foreign_permanent':
      if (FOREIGN_OLD.test(s)) return { type: t, number: s };
      if (FOREIGN_NEW.test(s)) {
        if (CHECK_CHARS.charCodeAt(checkIndex(s)) !== s.charCodeAt(17)) {
          throw new CoreError('CORE_ERR_ID_CHECK_DIGIT', 'check character of the 2023 card does not match (MOD 11-2)', 'idNo');
        }
        return { type: t, number: s };
      }
      throw formatError(t, '3 letters + 12 digits, or 18 characters starting with 9');
  }
}

// ---------------------------------------------------------------------------
// Mobile numbers
// ---------------------------------------------------------------------------

/**
 * Mainland mobile: strips spaces/dashes, '+86', '86', '0086' prefixes; must be 1[3-9] + 9 digits. Returns 11 digits.
 * A bare '86' is only taken as a prefix when 11 digits follow it (13 in all):
 * no mobile number starts with 8, so this cannot eat a real digit.
 */
export function normalisePhone(input: string): string {
  let s = cleanInput(input, 'phone');
  if (s.length === 0) throw new CoreError('CORE_ERR_ID_EMPTY', 'empty', 'phone');
  s = s.replace(/[\s-]+/g, '');
  if (s.startsWith('+86')) s = s.slice(3);
  else if (s.startsWith('0086')) s = s.slice(4);
  else if (s.length === 13 && s.startsWith('86')) s = s.slice(2);
  if (!MOBILE.test(s)) throw new CoreError('CORE_ERR_PHONE', phoneReason(s), 'phone');
  return s;
}

const MOBILE = /^1[3-9][0-9]{9}$/;

function phoneReason(s: string): string {
  if (!/^[0-9]*$/.test(s)) return s.startsWith('+') ? 'only +86 numbers are mainland mobiles' : 'has characters other than digits';
  if (s.length !== 11) return `has ${s.length} digits after the prefix, not 11`;
  return 'does not start with 13–19';
}

// ---------------------------------------------------------------------------
// Person key and uid
// ---------------------------------------------------------------------------

export interface IdentityInput {
  idType?: string;
  idNo?: string;
  phone?: string;
  name?: string;
}

/** undefined, null and blank strings count as "not given"; anything else is given (and validated). */
function given(v: unknown): boolean {
  return v !== undefined && v !== null && !(typeof v === 'string' && v.trim().length === 0);
}

/**
 * DESIGN §2 person key: certificate first ('C:<type>:<number>'), else phone ('P:<11 digits>'); never the name.
 * Throws CORE_ERR_PERSON_KEY when neither is given. Errors name the field ('idNo', 'idType', 'phone').
 *
 * - An idNo without idType is taken as a resident ID: that is what forms and
 *   department files omit the type for. An idType without idNo is ignored
 *   (forms send their default type even when only a phone is entered).
 * - A malformed certificate is an error even when a good phone is present:
 *   falling back would file the person under a second key.
 */
export function personKey(input: IdentityInput, now: Date = new Date()): string {
  if (input === null || typeof input !== 'object') {
    throw new CoreError('CORE_ERR_PERSON_KEY', 'no identity given', 'idNo');
  }
  if (given(input.idNo)) {
    const cert = normaliseCertificate(given(input.idType) ? input.idType! : 'resident', input.idNo!, now);
    return `C:${cert.type}:${cert.number}`;
  }
  if (given(input.phone)) return `P:${normalisePhone(input.phone!)}`;
  throw new CoreError('CORE_ERR_PERSON_KEY', 'give idNo (with idType) or phone', 'idNo');
}

/** Minimum pepper length: 32 bytes = the HMAC-SHA256 output size (RFC 2104 §3: shorter keys weaken it). */
const MIN_PEPPER = 32;

/**
 * 16-byte uid = first 16 bytes of HMAC-SHA256(pepper, personKey). Pepper ≥ 32 bytes else CORE_ERR_PEPPER.
 * 128 bits keep collisions out of reach at 114 M people (birthday bound
 * ≈ 2^-75) and truncation is allowed by RFC 2104 §5. The key must look like a
 * person key (C:… or P:…) so a raw ID number cannot be hashed by mistake.
 */
export function uidOf(personKey: string, pepper: Uint8Array): Buffer {
  if (!(pepper instanceof Uint8Array) || pepper.byteLength < MIN_PEPPER) {
    const n = pepper instanceof Uint8Array ? pepper.byteLength : 0;
    throw new CoreError('CORE_ERR_PEPPER', `pepper has ${n} bytes, needs at least ${MIN_PEPPER}`, 'pepper');
  }
  if (typeof personKey !== 'string' || personKey.length < 3 || personKey.charCodeAt(1) !== 58 /* : */ ||
      (personKey.charCodeAt(0) !== 67 /* C */ && personKey.charCodeAt(0) !== 80 /* P */)) {
    throw new CoreError('CORE_ERR_PERSON_KEY', 'not a person key (C:<type>:<number> or P:<phone>)', 'personKey');
  }
  return createHmac('sha256', pepper).update(personKey, 'utf8').digest().subarray(0, 16);
}

// ---------------------------------------------------------------------------
// Masking for display, logs and the back office
// ---------------------------------------------------------------------------

/** Scripts written without spaces between given and family name: masked as one run. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
/** Rejected in names: control characters and digits. Private-use characters
 *  are allowed: population registers encode rare characters (生僻字) there. */
const BAD_NAME_CHAR = /[\p{Cc}\p{N}]/u;
/** Name separators kept visible: spaces, hyphen, apostrophe, dots incl. the
 *  middle dots of transliterated minority and foreign names (·・•.). */
const NAME_SEPARATOR = /[\s\-'’·・•.]/u;
const MAX_NAME = 100;
const HAS_LETTER = /[\p{L}\p{Co}]/u;

/**
 * 张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜: names in Han (or kana / hangul)
 * keep the first and, from three characters on, the last character; a
 * one-character name becomes '*'. Whitespace inside is dropped, separators
 * (迪丽热巴·迪力木拉提 → 迪***·****提) stay visible.
 * Other scripts (Latin, Cyrillic, …): each word keeps its first letter,
 * every other letter becomes '*': John Smith → J*** S****.
 * Counts code points, so a supplementary-plane character is one '*'.
 * Empty or malformed (digits, control characters, over 100 characters) → CORE_ERR_NAME.
 */
export function maskName(name: string): string {
  if (typeof name !== 'string') throw new CoreError('CORE_ERR_NAME', 'missing', 'name');
  const s = name.normalize('NFKC').trim();
  if (s.length === 0) throw new CoreError('CORE_ERR_NAME', 'empty', 'name');
  if (BAD_NAME_CHAR.test(s)) throw new CoreError('CORE_ERR_NAME', 'contains digits or control characters', 'name');
  if (!HAS_LETTER.test(s)) throw new CoreError('CORE_ERR_NAME', 'has no letters', 'name');
  const chars = Array.from(s);
  if (chars.length > MAX_NAME) throw new CoreError('CORE_ERR_NAME', `longer than ${MAX_NAME} characters`, 'name');
  return CJK.test(s) ? maskCjk(chars) : maskWords(chars);
}

function maskCjk(all: string[]): string {
  const chars = all.filter(isNotSpace);
  const n = chars.length;
  if (n === 1) return '*';
  let out = chars[0]!;
  for (let i = 1; i < n - 1; i++) out += NAME_SEPARATOR.test(chars[i]!) ? chars[i] : '*';
  out += n === 2 ? '*' : chars[n - 1];
  return out;
}

function isNotSpace(c: string): boolean {
  return !/\s/u.test(c);
}

function maskWords(chars: string[]): string {
  let out = '';
  let atWordStart = true;
  let prevSpace = false;
  for (const c of chars) {
    if (NAME_SEPARATOR.test(c)) {
      const space = /\s/u.test(c);
      if (!(space && prevSpace)) out += space ? ' ' : c; // collapse runs of whitespace
      prevSpace = space;
      atWordStart = true;
    } else {
      out += atWordStart ? c : '*';
      atWordStart = false;
      prevSpace = false;
    }
  }
  return out;
}

/**
 * Masked certificate number: a quarter of the characters (at most 4) stays
 * visible at each end, the rest becomes '*', so never more than half shows:
 *   51010419850612106X → 5101**********106X,  E12345678 → E1*****78,
 *   12345678 → 12****78;  under 4 characters everything is masked.
 * The input is cleaned like a certificate number (trim, NFKC, upper case,
 * spaces removed) but not validated: logs mask rejected input too.
 */
export function maskIdNo(number: string): string {
  const s = cleanCertNumber(number);
  const n = s.length;
  if (n === 0) throw new CoreError('CORE_ERR_ID_EMPTY', 'empty', 'idNo');
  const keep = Math.min(4, n >> 2);
  return s.slice(0, keep) + '*'.repeat(n - 2 * keep) + s.slice(n - keep);
}

/** Masked mobile, the operators' usual 3 + 4: 13812345678 → 138****5678. Accepts what normalisePhone accepts. */
export function maskPhone(phone: string): string {
  const p = normalisePhone(phone);
  return p.slice(0, 3) + '****' + p.slice(7);
}
