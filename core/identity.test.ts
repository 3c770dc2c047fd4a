import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoreError, type CoreErrorCode } from './errors.js';
import {
  ID_TYPES,
  maskIdNo,
  maskName,
  maskPhone,
  normaliseCertificate,
  normalisePhone,
  normaliseResidentId,
  personKey,
  residentIdCheckChar,
  uidOf,
  type IdentityInput,
} from './identity.js';

interface IdVectors {
  valid: { id: string; note: string }[];
  normalise: { input: string; canonical: string; note: string }[];
  invalid: { id: string; why: string }[];
  fifteen: { id15: string; id18: string; note: string }[];
}
// The repo and shared/ sit side by side here and in CI: <root>/main/core → <root>/shared.
const vectors = JSON.parse(
  readFileSync(new URL('../../shared/vectors/ids.json', import.meta.url), 'utf8'),
) as IdVectors;

/** A fixed clock so that date tests do not drift: 2024-06-01 12:00 Beijing time. */
const NOW = new Date('2024-06-01T04:00:00Z');

/** Runs fn, asserts it throws a CoreError with this code and field, returns the error. */
function expectCoreError(fn: () => unknown, code: CoreErrorCode, field: string | undefined): CoreError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(CoreError);
  const err = caught as CoreError;
  expect(err.code).toBe(code);
  expect(err.field).toBe(field);
  expect(err.statusCode).toBeGreaterThanOrEqual(400);
  return err;
}

/** Maps a vector's `why` to the code a careful normaliser reports; an unknown why fails the test. */
function codeForWhy(why: string): CoreErrorCode {
  if (/check digit/.test(why)) return 'CORE_ERR_ID_CHECK_DIGIT';
  if (/birth date|month|day/.test(why)) return 'CORE_ERR_ID_BIRTH_DATE';
  if (/length/.test(why)) return 'CORE_ERR_ID_LENGTH';
  if (/letter/.test(why)) return 'CORE_ERR_ID_CHARS';
  if (/empty/.test(why)) return 'CORE_ERR_ID_EMPTY';
  throw new Error(`no expected code for vector reason ${JSON.stringify(why)}`);
}

/** Builds a valid 18-char ID from its parts with the check char computed. */
function makeId(region: string, ymd: string, seq: string): string {
  const first17 = region + ymd + seq;
  return first17 + residentIdCheckChar(first17);
}

describe('resident ID vectors (shared/vectors/ids.json)', () => {
  it('has every section filled', () => {
    expect(vectors.valid.length).toBeGreaterThan(0);
    expect(vectors.normalise.length).toBeGreaterThan(0);
    expect(vectors.invalid.length).toBeGreaterThan(0);
    expect(vectors.fifteen.length).toBeGreaterThan(0);
  });

  for (const v of vectors.valid) {
    it(`valid: ${v.id} (${v.note})`, () => {
      expect(normaliseResidentId(v.id)).toBe(v.id);
      expect(normaliseResidentId(v.id, NOW)).toBe(v.id);
      expect(residentIdCheckChar(v.id.slice(0, 17))).toBe(v.id[17]);
    });
  }

  for (const v of vectors.normalise) {
    it(`normalise: ${JSON.stringify(v.input)} (${v.note})`, () => {
      expect(normaliseResidentId(v.input)).toBe(v.canonical);
      expect(normaliseResidentId(v.canonical)).toBe(v.canonical);
    });
  }

  for (const v of vectors.invalid) {
    it(`invalid: ${JSON.stringify(v.id)} (${v.why})`, () => {
      expectCoreError(() => normaliseResidentId(v.id), codeForWhy(v.why), 'idNo');
      expectCoreError(() => normaliseResidentId(v.id, NOW), codeForWhy(v.why), 'idNo');
    });
  }

  for (const v of vectors.fifteen) {
    it(`fifteen: ${v.id15} → ${v.id18}`, () => {
      expect(normaliseResidentId(v.id15)).toBe(v.id18);
      expect(normaliseResidentId(v.id18)).toBe(v.id18);
    });
  }
});

describe('residentIdCheckChar (GB 11643 MOD 11-2)', () => {
  it("reproduces GB 11643's worked examples", () => {
    expect(residentIdCheckChar('11010519491231002')).toBe('X');
    expect(residentIdCheckChar('44052418800101001')).toBe('4');
  });

  it('yields every check char from its remainder', () => {
    // GB 11643 table: remainder of Σ aᵢ·Wᵢ mod 11 → check char.
    const table: [number, string][] = [[0, '1'], [1, '0'], [2, 'X'], [3, '9'], [4, '8'], [5, '7'], [6, '6'], [7, '5'], [8, '4'], [9, '3'], [10, '2']];
    for (const [remainder, char] of table) {
      // index 7 has weight 1: digit r there (r ≤ 9) gives remainder r; 10 = 1 at index 6 (weight 2) + 8 at index 7.
      const first17 = remainder <= 9 ? `0000000${remainder}000000000` : '00000018000000000';
      expect(residentIdCheckChar(first17), `remainder ${remainder}`).toBe(char);
    }
  });

  it('rejects anything but 17 digits', () => {
    expectCoreError(() => residentIdCheckChar('1101051949123100'), 'CORE_ERR_ID_LENGTH', 'idNo');
    expectCoreError(() => residentIdCheckChar('110105194912310021'), 'CORE_ERR_ID_LENGTH', 'idNo');
    expectCoreError(() => residentIdCheckChar('1101051949123100A'), 'CORE_ERR_ID_CHARS', 'idNo');
    expectCoreError(() => residentIdCheckChar('１１０１０５１９４９１２３１００２'), 'CORE_ERR_ID_CHARS', 'idNo');
    expectCoreError(() => residentIdCheckChar(undefined as unknown as string), 'CORE_ERR_ID_LENGTH', 'idNo');
  });
});

describe('normaliseResidentId', () => {
  it('accepts upper/lower/full-width x and surrounding whitespace of any kind', () => {
    expect(normaliseResidentId('11010519491231002x')).toBe('11010519491231002X');
    expect(normaliseResidentId('１１０１０５１９４９１２３１００２ｘ')).toBe('11010519491231002X');
    expect(normaliseResidentId('\u300011010519491231002X\u3000')).toBe('11010519491231002X');
    expect(normaliseResidentId('\t11010519491231002X\r\n')).toBe('11010519491231002X');
    expect(normaliseResidentId('\ufeff11010519491231002X')).toBe('11010519491231002X'); // BOM from a CSV export
  });

  it('returns an already canonical input unchanged', () => {
    const id = '440524188001010014';
    expect(normaliseResidentId(id)).toBe(id);
  });

  it('upgrades 15-digit legacy numbers with century 19', () => {
    expect(normaliseResidentId('440524800101001')).toBe('44052419800101001' + residentIdCheckChar('44052419800101001'));
    expect(normaliseResidentId(' １１０１０５４９１２３１００２ ')).toBe('11010519491231002X');
  });

  it('reports empty input', () => {
    expectCoreError(() => normaliseResidentId(''), 'CORE_ERR_ID_EMPTY', 'idNo');
    expectCoreError(() => normaliseResidentId('   '), 'CORE_ERR_ID_EMPTY', 'idNo');
    expectCoreError(() => normaliseResidentId('\u3000'), 'CORE_ERR_ID_EMPTY', 'idNo');
    expectCoreError(() => normaliseResidentId(undefined as unknown as string), 'CORE_ERR_ID_EMPTY', 'idNo');
    expectCoreError(() => normaliseResidentId(null as unknown as string), 'CORE_ERR_ID_EMPTY', 'idNo');
  });

  it('refuses a JSON number instead of coercing it (an 18-digit ID does not fit a double)', () => {
    expectCoreError(() => normaliseResidentId(440524188001010014 as unknown as string), 'CORE_ERR_ID_CHARS', 'idNo');
  });

  it('reports wrong lengths', () => {
    for (const s of ['1', '11010519491231', '1101054912310021', '11010519491231002', '11010519491231002X1', '110105 19491231002X']) {
      const e = expectCoreError(() => normaliseResidentId(s), 'CORE_ERR_ID_LENGTH', 'idNo');
      expect(e.message).toContain(`has ${s.length} characters`);
    }
  });

  it('reports characters other than digits and a final X', () => {
    expectCoreError(() => normaliseResidentId('1101051949123100X2'), 'CORE_ERR_ID_CHARS', 'idNo'); // X not last
    expectCoreError(() => normaliseResidentId('11010519491231002Y'), 'CORE_ERR_ID_CHARS', 'idNo');
    expectCoreError(() => normaliseResidentId('11010519491231002-'), 'CORE_ERR_ID_CHARS', 'idNo');
    expectCoreError(() => normaliseResidentId('X10105194912310024'), 'CORE_ERR_ID_CHARS', 'idNo');
    expectCoreError(() => normaliseResidentId('11010549123100X'), 'CORE_ERR_ID_CHARS', 'idNo'); // no X in 15-digit numbers
    expectCoreError(() => normaliseResidentId('1101054912310O2'), 'CORE_ERR_ID_CHARS', 'idNo'); // letter O for zero
    expectCoreError(() => normaliseResidentId('110105\u200b19491231002'), 'CORE_ERR_ID_CHARS', 'idNo'); // zero-width space
  });

  it('refuses a foreign permanent residence card number (first digit 9) with a pointer to the type', () => {
    const fpr = makeId('911156', '19900101', '001');
    const e = expectCoreError(() => normaliseResidentId(fpr, NOW), 'CORE_ERR_ID_TYPE', 'idType');
    expect(e.message).toContain('foreign_permanent');
    expectCoreError(() => normaliseResidentId('911156900101001', NOW), 'CORE_ERR_ID_TYPE', 'idType');
  });

  it('requires a real calendar date', () => {
    for (const ymd of ['19900230', '19900431', '19900631', '19900931', '19901131', '19000229', '19900000', '19901301', '19900132', '00000000']) {
      expectCoreError(() => normaliseResidentId(makeId('510104', ymd, '123'), NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
    }
    for (const ymd of ['20000229', '19960229', '19900131', '19901231', '19900430']) {
      const id = makeId('510104', ymd, '123');
      expect(normaliseResidentId(id, NOW)).toBe(id);
    }
    // 15-digit numbers get the same check after the century is inserted
    expectCoreError(() => normaliseResidentId('510104900230123', NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
    expectCoreError(() => normaliseResidentId('510104000229123', NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo'); // 1900-02-29
  });

  it('accepts births from 1800-01-01 (GB 11643 example is 1880) and refuses earlier century typos', () => {
    const first = makeId('510104', '18000101', '123');
    expect(normaliseResidentId(first, NOW)).toBe(first);
    expectCoreError(() => normaliseResidentId(makeId('510104', '17991231', '123'), NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
    expectCoreError(() => normaliseResidentId(makeId('510104', '09850612', '123'), NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
    expectCoreError(() => normaliseResidentId(makeId('510104', '10850612', '123'), NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
  });

  it('judges "not in the future" on Beijing time (UTC+8)', () => {
    // 2024-06-01 00:30 in Beijing is still 2024-05-31 in UTC: a baby born that day is valid.
    const justAfterMidnight = new Date('2024-05-31T16:30:00Z');
    const today = makeId('510104', '20240601', '002');
    const tomorrow = makeId('510104', '20240602', '002');
    expect(normaliseResidentId(today, justAfterMidnight)).toBe(today);
    expectCoreError(() => normaliseResidentId(tomorrow, justAfterMidnight), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
    // and one minute before Beijing midnight the same baby is not yet born
    expectCoreError(() => normaliseResidentId(today, new Date('2024-05-31T15:59:00Z')), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
  });

  it('reports the date before the check char (the more useful reason)', () => {
    // future date AND wrong check char → birth date
    expectCoreError(() => normaliseResidentId('510104219901011230', NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
  });

  it('reports a wrong check char and names both characters', () => {
    const e = expectCoreError(() => normaliseResidentId('110105194912310021'), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
    expect(e.message).toContain('GB 11643 gives X');
    expectCoreError(() => normaliseResidentId('44052418800101001X'), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
    expectCoreError(() => normaliseResidentId('44052418800101001x'), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
  });

  it('refuses an invalid clock', () => {
    expect(() => normaliseResidentId('11010519491231002X', new Date(Number.NaN))).toThrow(TypeError);
  });
});

describe('normaliseCertificate', () => {
  it('lists the five types', () => {
    expect(ID_TYPES).toEqual(['resident', 'passport', 'hk_macau', 'taiwan', 'foreign_permanent']);
    expect(Object.isFrozen(ID_TYPES)).toBe(true);
  });

  it('delegates resident IDs to normaliseResidentId', () => {
    expect(normaliseCertificate('resident', ' 11010519491231002x ')).toEqual({ type: 'resident', number: '11010519491231002X' });
    expect(normaliseCertificate('resident', '110105491231002')).toEqual({ type: 'resident', number: '11010519491231002X' });
    expectCoreError(() => normaliseCertificate('resident', '110105194912310021'), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
    expectCoreError(() => normaliseCertificate('resident', makeId('510104', '20240602', '002'), NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
  });

  it('accepts the documented aliases for each type', () => {
    const id = '11010519491231002X';
    for (const alias of ['resident', 'RESIDENT', ' id ', 'ID', 'idcard', 'IdCard', 'id_card', '身份证', '居民身份证']) {
      expect(normaliseCertificate(alias, id).type).toBe('resident');
    }
    for (const alias of ['passport', 'Passport', '护照']) expect(normaliseCertificate(alias, 'E12345678').type).toBe('passport');
    for (const alias of ['hk_macau', '回乡证', '港澳居民来往内地通行证']) {
      expect(normaliseCertificate(alias, 'H12345678').type).toBe('hk_macau');
    }
    for (const alias of ['taiwan', '台胞证', '台湾居民来往大陆通行证']) expect(normaliseCertificate(alias, '12345678').type).toBe('taiwan');
    for (const alias of ['foreign_permanent', '永居证', '外国人永久居留身份证']) {
      expect(normaliseCertificate(alias, 'USA110590101001').type).toBe('foreign_permanent');
    }
    expect(normaliseCertificate('ｐａｓｓｐｏｒｔ', 'E12345678').type).toBe('passport'); // full-width type
  });

  it('refuses unknown, missing and non-string types', () => {
    for (const t of ['', '  ', 'driver_licence', '港澳通行证', '往来港澳通行证', 'resident2', 'hk-macau']) {
      expectCoreError(() => normaliseCertificate(t, 'E12345678'), 'CORE_ERR_ID_TYPE', 'idType');
    }
    expectCoreError(() => normaliseCertificate(undefined as unknown as string, 'E12345678'), 'CORE_ERR_ID_TYPE', 'idType');
    expectCoreError(() => normaliseCertificate(1 as unknown as string, 'E12345678'), 'CORE_ERR_ID_TYPE', 'idType');
  });

  it('normalises passports: trim, NFKC, upper case, spaces removed', () => {
    expect(normaliseCertificate('passport', ' e1234 5678 ').number).toBe('E12345678');
    expect(normaliseCertificate('passport', 'ＥＦ１２６０８９２').number).toBe('EF1260892');
    expect(normaliseCertificate('passport', 'PE1234567').number).toBe('PE1234567');
    expect(normaliseCertificate('passport', 'K12345678').number).toBe('K12345678');
    expect(normaliseCertificate('passport', '123456789').number).toBe('123456789'); // US / Taiwan: digits only
    expect(normaliseCertificate('passport', 'A1234').number).toBe('A1234'); // 5 characters
    expect(normaliseCertificate('passport', 'A1234567890123456').number).toBe('A1234567890123456'); // 17
  });

  it('refuses malformed passports', () => {
    for (const n of ['A123', 'A12345678901234567', 'E1234-5678', 'P.1234567', 'SMITHJOHN', 'E12345678é', '护照E1234567']) {
      expectCoreError(() => normaliseCertificate('passport', n), 'CORE_ERR_CERT_FORMAT', 'idNo');
    }
    expectCoreError(() => normaliseCertificate('passport', '   '), 'CORE_ERR_ID_EMPTY', 'idNo');
    expectCoreError(() => normaliseCertificate('passport', undefined as unknown as string), 'CORE_ERR_ID_EMPTY', 'idNo');
  });

  it('reduces HK/Macau permits to the lifelong number (renewal count dropped)', () => {
    expect(normaliseCertificate('hk_macau', 'H12345678').number).toBe('H12345678');
    expect(normaliseCertificate('hk_macau', 'm 1234 5678').number).toBe('M12345678');
    expect(normaliseCertificate('hk_macau', 'H1234567800').number).toBe('H12345678');
    expect(normaliseCertificate('hk_macau', 'H1234567803').number).toBe('H12345678');
    for (const n of ['C12345678', 'H1234567', 'H123456789', 'H123456789012', 'HK12345678', '12345678', 'H1234567A']) {
      expectCoreError(() => normaliseCertificate('hk_macau', n), 'CORE_ERR_CERT_FORMAT', 'idNo');
    }
  });

  it('reduces Taiwan permits to the lifelong number', () => {
    expect(normaliseCertificate('taiwan', '01234567').number).toBe('01234567');
    expect(normaliseCertificate('taiwan', '0123456701').number).toBe('01234567');
    expect(normaliseCertificate('taiwan', '0123456701(B)').number).toBe('01234567');
    expect(normaliseCertificate('taiwan', '0123456701（b）').number).toBe('01234567'); // full-width brackets
    for (const n of ['1234567', '123456789', '12345678901', '12345678(B)', '0123456701(BB)', 'T1234567']) {
      expectCoreError(() => normaliseCertificate('taiwan', n), 'CORE_ERR_CERT_FORMAT', 'idNo');
    }
  });

  it('accepts both foreign permanent residence card formats', () => {
    expect(normaliseCertificate('foreign_permanent', 'usa110590101001').number).toBe('USA110590101001');
    const card2023 = makeId('911840', '19900101', '001');
    expect(card2023[0]).toBe('9');
    expect(normaliseCertificate('foreign_permanent', card2023).number).toBe(card2023);
    // find a 2023 number whose check char is X and accept it in lower case
    let withX = '';
    for (let seq = 0; withX === ''; seq++) {
      const candidate = makeId('911840', '19900101', String(seq).padStart(3, '0'));
      if (candidate.endsWith('X')) withX = candidate;
    }
    expect(normaliseCertificate('foreign_permanent', withX.toLowerCase()).number).toBe(withX);
  });

  it('refuses malformed foreign permanent residence card numbers', () => {
    for (const n of ['US110590101001', 'USA11059010100', 'USA1105901010011', '1SA110590101001', '811840199001010011', '91184019900101001']) {
      expectCoreError(() => normaliseCertificate('foreign_permanent', n), 'CORE_ERR_CERT_FORMAT', 'idNo');
    }
    const card2023 = makeId('911840', '19900101', '001');
    const wrong = card2023.slice(0, 17) + (card2023[17] === '0' ? '1' : '0');
    expectCoreError(() => normaliseCertificate('foreign_permanent', wrong), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
  });
});

describe('normalisePhone', () => {
  it('strips +86, 0086 and 86 prefixes, spaces and dashes', () => {
    for (const s of [
      '13812345678',
      '+8613812345678',
      '+86 138 1234 5678',
      '+86-138-1234-5678',
      '008613812345678',
      '0086 13812345678',
      '8613812345678',
      '86 138 1234 5678',
      ' 138-1234-5678 ',
      '１３８１２３４５６７８',
      '＋８６\u3000１３８１２３４５６７８',
    ]) {
      expect(normalisePhone(s), s).toBe('13812345678');
    }
  });

  it('accepts every 1[3-9] range', () => {
    for (const p of ['13', '14', '15', '16', '17', '18', '19']) expect(normalisePhone(`${p}012345678`)).toBe(`${p}012345678`);
  });

  it('refuses numbers that are not mainland mobiles', () => {
    for (const s of [
      '1381234567', // 10 digits
      '138123456789', // 12 digits
      '12812345678', // 12x is not a mobile range
      '10812345678',
      '23812345678',
      '02812345678', // landline with area code
      '+85291234567', // Hong Kong
      '+1 415 555 0100',
      '13812345a78',
      '138.1234.5678',
      '(+86)13812345678',
      '+86',
      '86',
      '8612812345678',
      '+8686138123456',
    ]) {
      expectCoreError(() => normalisePhone(s), 'CORE_ERR_PHONE', 'phone');
    }
  });

  it('explains why', () => {
    expect(expectCoreError(() => normalisePhone('1381234567'), 'CORE_ERR_PHONE', 'phone').message).toContain('10 digits');
    expect(expectCoreError(() => normalisePhone('+85291234567'), 'CORE_ERR_PHONE', 'phone').message).toContain('+86');
    expect(expectCoreError(() => normalisePhone('12812345678'), 'CORE_ERR_PHONE', 'phone').message).toContain('13–19');
  });

  it('reports empty and non-string input', () => {
    expectCoreError(() => normalisePhone(''), 'CORE_ERR_ID_EMPTY', 'phone');
    expectCoreError(() => normalisePhone('  '), 'CORE_ERR_ID_EMPTY', 'phone');
    expectCoreError(() => normalisePhone(undefined as unknown as string), 'CORE_ERR_ID_EMPTY', 'phone');
    expectCoreError(() => normalisePhone(13812345678 as unknown as string), 'CORE_ERR_PHONE', 'phone');
  });
});

describe('personKey', () => {
  it('uses the certificate first', () => {
    expect(personKey({ idType: 'resident', idNo: '11010519491231002x', phone: '13812345678', name: '张三' })).toBe(
      'C:resident:11010519491231002X',
    );
    expect(personKey({ idType: '护照', idNo: 'e12345678' })).toBe('C:passport:E12345678');
    expect(personKey({ idType: 'hk_macau', idNo: 'H1234567801' })).toBe('C:hk_macau:H12345678');
  });

  it('takes an idNo without idType as a resident ID', () => {
    expect(personKey({ idNo: '110105491231002' })).toBe('C:resident:11010519491231002X');
    expect(personKey({ idType: '  ', idNo: '11010519491231002X' })).toBe('C:resident:11010519491231002X');
  });

  it('falls back to the phone, ignoring a type without a number', () => {
    expect(personKey({ phone: '+86 138 1234 5678' })).toBe('P:13812345678');
    expect(personKey({ idType: 'resident', idNo: '', phone: '13812345678' })).toBe('P:13812345678');
    expect(personKey({ idType: 'resident', idNo: '   ', phone: '13812345678', name: '张三' })).toBe('P:13812345678');
  });

  it('gives the same key for every spelling of one person', () => {
    const a = personKey({ idType: 'resident', idNo: '11010519491231002X' });
    expect(personKey({ idType: '身份证', idNo: ' 110105491231002 ' })).toBe(a);
    expect(personKey({ idType: 'ID', idNo: '１１０１０５１９４９１２３１００２ｘ' })).toBe(a);
  });

  it('never uses the name', () => {
    expectCoreError(() => personKey({ name: '张三' }), 'CORE_ERR_PERSON_KEY', 'idNo');
    expect(personKey({ phone: '13812345678', name: '张三' })).toBe(personKey({ phone: '13812345678', name: '李四' }));
  });

  it('throws CORE_ERR_PERSON_KEY when neither certificate nor phone is given', () => {
    expectCoreError(() => personKey({}), 'CORE_ERR_PERSON_KEY', 'idNo');
    expectCoreError(() => personKey({ idType: 'resident' }), 'CORE_ERR_PERSON_KEY', 'idNo');
    expectCoreError(() => personKey({ idNo: ' ', phone: '' }), 'CORE_ERR_PERSON_KEY', 'idNo');
    expectCoreError(() => personKey(null as unknown as IdentityInput), 'CORE_ERR_PERSON_KEY', 'idNo');
  });

  it('reports a bad certificate even when a good phone is present, naming the field', () => {
    expectCoreError(() => personKey({ idType: 'resident', idNo: '110105194912310021', phone: '13812345678' }), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
    expectCoreError(() => personKey({ idType: 'licence', idNo: '110105194912310021' }), 'CORE_ERR_ID_TYPE', 'idType');
    expectCoreError(() => personKey({ idType: 'passport', idNo: 'X' }), 'CORE_ERR_CERT_FORMAT', 'idNo');
    expectCoreError(() => personKey({ phone: '12345' }), 'CORE_ERR_PHONE', 'phone');
    expectCoreError(() => personKey({ idNo: 110105 as unknown as string }), 'CORE_ERR_ID_CHARS', 'idNo');
  });

  it('passes `now` on to the birth date check', () => {
    const baby = makeId('510104', '20240602', '002');
    expectCoreError(() => personKey({ idNo: baby }, NOW), 'CORE_ERR_ID_BIRTH_DATE', 'idNo');
    expect(personKey({ idNo: baby }, new Date('2024-06-02T00:00:00Z'))).toBe(`C:resident:${baby}`);
  });
});

describe('uidOf', () => {
  const pepper = Buffer.alloc(32, 7);
  const key = 'C:resident:11010519491231002X';

  it('is the first 16 bytes of HMAC-SHA256(pepper, personKey)', () => {
    const uid = uidOf(key, pepper);
    expect(uid).toBeInstanceOf(Buffer);
    expect(uid.length).toBe(16);
    expect(uid.byteLength).toBe(16);
    const full = createHmac('sha256', pepper).update(key, 'utf8').digest();
    expect(uid.equals(full.subarray(0, 16))).toBe(true);
  });

  it('is deterministic', () => {
    expect(uidOf(key, pepper).equals(uidOf(key, Buffer.from(pepper)))).toBe(true);
    expect(uidOf(key, new Uint8Array(pepper)).equals(uidOf(key, pepper))).toBe(true);
  });

  it('changes with the pepper and with the key', () => {
    const other = Buffer.from(pepper);
    other[31] ^= 1;
    expect(uidOf(key, other).equals(uidOf(key, pepper))).toBe(false);
    expect(uidOf('P:13812345678', pepper).equals(uidOf(key, pepper))).toBe(false);
    expect(uidOf('C:passport:E12345678', pepper).equals(uidOf('C:taiwan:E12345678', pepper))).toBe(false);
  });

  it('hashes the normalised key, so every spelling of a person has one uid', () => {
    const a = uidOf(personKey({ idType: 'resident', idNo: '11010519491231002x' }), pepper);
    const b = uidOf(personKey({ idType: '身份证', idNo: '110105491231002' }), pepper);
    expect(a.equals(b)).toBe(true);
  });

  it('refuses a pepper under 32 bytes', () => {
    expectCoreError(() => uidOf(key, Buffer.alloc(31)), 'CORE_ERR_PEPPER', 'pepper');
    expectCoreError(() => uidOf(key, new Uint8Array(0)), 'CORE_ERR_PEPPER', 'pepper');
    expectCoreError(() => uidOf(key, 'a'.repeat(64) as unknown as Uint8Array), 'CORE_ERR_PEPPER', 'pepper');
    expect(uidOf(key, Buffer.alloc(64, 1)).length).toBe(16);
  });

  it('refuses something that is not a person key (a raw ID number, say)', () => {
    for (const k of ['11010519491231002X', '13812345678', '', 'C:', 'X:resident:1', 'c:resident:1']) {
      expectCoreError(() => uidOf(k, pepper), 'CORE_ERR_PERSON_KEY', 'personKey');
    }
  });
});

describe('maskName', () => {
  it('masks Chinese names as the brief shows', () => {
    expect(maskName('张三')).toBe('张*');
    expect(maskName('张三丰')).toBe('张*丰');
    expect(maskName('欧阳娜娜')).toBe('欧**娜');
    expect(maskName('爱新觉罗溥仪')).toBe('爱****仪');
    expect(maskName('张')).toBe('*');
    expect(maskName(' 张 三 ')).toBe('张*'); // spaces typed between characters
  });

  it('keeps the middle dot of transliterated names visible', () => {
    expect(maskName('迪丽热巴·迪力木拉提')).toBe('迪***·****提');
    expect(maskName('阿卜杜拉・买买提')).toBe('阿***・**提');
  });

  it('counts a supplementary-plane character as one', () => {
    expect(maskName('王𠀀')).toBe('王*');
    expect(maskName('𠀀一二')).toBe('𠀀*二');
  });

  it('masks each word of other scripts after its first letter', () => {
    expect(maskName('John Smith')).toBe('J*** S****');
    expect(maskName('  Mary-Jane   O\'Neil ')).toBe("M***-J*** O'N***"); // the apostrophe starts a new word
    expect(maskName('José')).toBe('J***');
    expect(maskName('Иван Петров')).toBe('И*** П*****');
    expect(maskName('ＪＯＨＮ')).toBe('J***'); // full-width
    expect(maskName('A')).toBe('A');
  });

  it('refuses empty or malformed names', () => {
    for (const n of ['', '   ', '\u3000', '张3', 'R2D2', 'a\u0000b', '...', '-', 'x'.repeat(101)]) {
      expectCoreError(() => maskName(n), 'CORE_ERR_NAME', 'name');
    }
    expectCoreError(() => maskName(undefined as unknown as string), 'CORE_ERR_NAME', 'name');
  });
});

describe('maskIdNo and maskPhone', () => {
  it('shows a quarter (at most 4) of a certificate at each end', () => {
    expect(maskIdNo('51010419850612106X')).toBe('5101**********106X');
    expect(maskIdNo('51010419850612106x')).toBe('5101**********106X');
    expect(maskIdNo('USA110590101001')).toBe('USA*********001');
    expect(maskIdNo('E12345678')).toBe('E1*****78');
    expect(maskIdNo('H12345678')).toBe('H1*****78');
    expect(maskIdNo('01234567')).toBe('01****67');
    expect(maskIdNo('A1234')).toBe('A***4');
    expect(maskIdNo('ABC')).toBe('***');
    expect(maskIdNo(' ５１０１０４１９８５０６１２１０６Ｘ ')).toBe('5101**********106X');
  });

  it('never shows more than half of any number', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z0-9]{1,40}$/), (s) => {
        const m = maskIdNo(s);
        expect(m.length).toBe(s.length);
        expect(m.replace(/\*/g, '').length).toBeLessThanOrEqual(s.length / 2);
      }),
    );
  });

  it('refuses an empty certificate', () => {
    expectCoreError(() => maskIdNo(''), 'CORE_ERR_ID_EMPTY', 'idNo');
    expectCoreError(() => maskIdNo(' '), 'CORE_ERR_ID_EMPTY', 'idNo');
  });

  it('masks phones as 3 + 4', () => {
    expect(maskPhone('13812345678')).toBe('138****5678');
    expect(maskPhone('+86 138-1234-5678')).toBe('138****5678');
    expectCoreError(() => maskPhone('12345'), 'CORE_ERR_PHONE', 'phone');
    expectCoreError(() => maskPhone(''), 'CORE_ERR_ID_EMPTY', 'phone');
  });
});

describe('properties (fast-check)', () => {
  const digits = (n: number) => fc.stringMatching(new RegExp(`^[0-9]{${n}}$`));
  const region = fc.tuple(fc.integer({ min: 1, max: 8 }), digits(5)).map(([p, rest]) => `${p}${rest}`);
  const birth = fc
    .date({ min: new Date('1800-01-01T00:00:00Z'), max: new Date('2024-05-31T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString().slice(0, 10).replace(/-/g, ''));
  const validId = fc.tuple(region, birth, digits(3)).map(([r, b, s]) => makeId(r, b, s));

  it('any 17 digits with a real date + computed check char normalise to themselves', () => {
    fc.assert(
      fc.property(validId, (id) => {
        expect(normaliseResidentId(id, NOW)).toBe(id);
        expect(normaliseResidentId(` ${id.toLowerCase()} `, NOW)).toBe(id);
      }),
    );
  });

  it('changing the check char always fails with CORE_ERR_ID_CHECK_DIGIT', () => {
    fc.assert(
      fc.property(validId, fc.constantFrom(...'0123456789X'), (id, c) => {
        fc.pre(c !== id[17]);
        expectCoreError(() => normaliseResidentId(id.slice(0, 17) + c, NOW), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
      }),
    );
  });

  it('any single changed digit outside the date is caught (MOD 11-2 detects every substitution)', () => {
    const position = fc.constantFrom(1, 2, 3, 4, 5, 14, 15, 16);
    fc.assert(
      fc.property(validId, position, fc.integer({ min: 1, max: 9 }), (id, i, delta) => {
        const changed = String((Number(id[i]) + delta) % 10);
        const bad = id.slice(0, i) + changed + id.slice(i + 1);
        expectCoreError(() => normaliseResidentId(bad, NOW), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
      }),
    );
  });

  it('swapping two different adjacent digits in the sequence number is caught', () => {
    fc.assert(
      fc.property(validId, fc.constantFrom(14, 15), (id, i) => {
        fc.pre(id[i] !== id[i + 1]);
        const bad = id.slice(0, i) + id[i + 1] + id[i] + id.slice(i + 2);
        expectCoreError(() => normaliseResidentId(bad, NOW), 'CORE_ERR_ID_CHECK_DIGIT', 'idNo');
      }),
    );
  });

  it('15-digit numbers upgrade to a valid 18-digit number that keeps their digits', () => {
    const date1900s = fc
      .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('1999-12-31T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString().slice(2, 10).replace(/-/g, ''));
    fc.assert(
      fc.property(region, date1900s, digits(3), (r, yymmdd, seq) => {
        const id18 = normaliseResidentId(r + yymmdd + seq, NOW);
        expect(id18.slice(0, 17)).toBe(`${r}19${yymmdd}${seq}`);
        expect(normaliseResidentId(id18, NOW)).toBe(id18);
      }),
    );
  });

  it('phones normalise the same with any prefix and separators', () => {
    const mobile = fc.tuple(fc.integer({ min: 3, max: 9 }), digits(9)).map(([b, rest]) => `1${b}${rest}`);
    const prefix = fc.constantFrom('', '+86', '86', '0086', '+86 ', '0086-');
    fc.assert(
      fc.property(mobile, prefix, fc.boolean(), (m, p, dashed) => {
        const body = dashed ? `${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}` : m;
        expect(normalisePhone(p + body)).toBe(m);
        expect(personKey({ phone: p + body })).toBe(`P:${m}`);
      }),
    );
  });
});
