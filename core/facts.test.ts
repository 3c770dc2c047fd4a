import { describe, expect, it } from 'vitest';
import { CoreError } from './errors.js';
import { deriveView, MAX_FACTS, nextFactAt, validateFacts, type Facts } from './facts.js';

const T = 1_790_000_000;

function errOf(f: () => unknown): { code: string | undefined; field: string | undefined } {
  try { f(); } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    return { code: (e as CoreError).code, field: (e as CoreError).field };
  }
  return { code: undefined, field: undefined };
}

describe('validateFacts', () => {
  it('accepts every kind with its fields and returns a copy', () => {
    const input = {
      now: T,
      facts: [
        { kind: 'confirmed', at: T - 10, source: 'cdc-chengdu' },
        { kind: 'suspected', at: T - 9 },
        { kind: 'close_contact', at: T - 8, region: '510104' },
        { kind: 'secondary_contact', at: T - 7, region: '510104001' },
        { kind: 'risk_area_visit', at: T - 6, level: 'high', region: '510104001002' },
        { kind: 'entry', at: T - 5, venue: 'P-510100-0001' },
        { kind: 'nucleic_acid', at: T - 4, result: 'negative' },
      ],
    };
    const f = validateFacts(input);
    expect(f).toEqual(input);
    expect(f.facts).not.toBe(input.facts);
    input.facts[0]!.at = 0;
    expect(f.facts[0]!.at).toBe(T - 10);
  });

  it('accepts facts dated after now (kept, ignored by the view until then)', () => {
    const f = validateFacts({ now: T, facts: [{ kind: 'entry', at: T + 100 }] });
    expect(f.facts).toHaveLength(1);
    expect(deriveView(f).last.entry).toBeNull();
  });

  const cases: [string, unknown, string | undefined][] = [
    ['not an object', 42, undefined],
    ['array', [], undefined],
    ['unknown top field', { now: T, facts: [], extra: 1 }, 'extra'],
    ['missing now', { facts: [] }, 'now'],
    ['fractional now', { now: 1.5, facts: [] }, 'now'],
    ['negative now', { now: -1, facts: [] }, 'now'],
    ['now beyond uint32', { now: 2 ** 32, facts: [] }, 'now'],
    ['now as string', { now: String(T), facts: [] }, 'now'],
    ['facts not an array', { now: T, facts: {} }, 'facts'],
    ['too many facts', { now: T, facts: new Array(MAX_FACTS + 1).fill({ kind: 'entry', at: 1 }) }, 'facts'],
    ['fact not an object', { now: T, facts: [null] }, 'facts[0]'],
    ['unknown kind', { now: T, facts: [{ kind: 'entry', at: 1 }, { kind: 'vaccinated', at: 1 }] }, 'facts[1].kind'],
    ['missing at', { now: T, facts: [{ kind: 'entry' }] }, 'facts[0].at'],
    ['fractional at', { now: T, facts: [{ kind: 'entry', at: 1.25 }] }, 'facts[0].at'],
    ['unknown fact field', { now: T, facts: [{ kind: 'entry', at: 1, resut: 'negative' }] }, 'facts[0].resut'],
    ['risk visit without level', { now: T, facts: [{ kind: 'risk_area_visit', at: 1 }] }, 'facts[0].level'],
    ['risk visit with a bad level', { now: T, facts: [{ kind: 'risk_area_visit', at: 1, level: 'extreme' }] }, 'facts[0].level'],
    ['level on another kind', { now: T, facts: [{ kind: 'entry', at: 1, level: 'high' }] }, 'facts[0].level'],
    ['test without result', { now: T, facts: [{ kind: 'nucleic_acid', at: 1 }] }, 'facts[0].result'],
    ['test with a bad result', { now: T, facts: [{ kind: 'nucleic_acid', at: 1, result: 'unclear' }] }, 'facts[0].result'],
    ['result on another kind', { now: T, facts: [{ kind: 'confirmed', at: 1, result: 'positive' }] }, 'facts[0].result'],
    ['empty source', { now: T, facts: [{ kind: 'entry', at: 1, source: '' }] }, 'facts[0].source'],
    ['long venue', { now: T, facts: [{ kind: 'entry', at: 1, venue: 'v'.repeat(129) }] }, 'facts[0].venue'],
    ['bad region', { now: T, facts: [{ kind: 'entry', at: 1, region: '5101' }] }, 'facts[0].region'],
  ];
  for (const [name, input, field] of cases) {
    it(`rejects ${name} with CORE_ERR_FACTS_INVALID at ${field ?? '(root)'}`, () => {
      expect(errOf(() => validateFacts(input))).toEqual({ code: 'CORE_ERR_FACTS_INVALID', field });
    });
  }
});

describe('deriveView', () => {
  it('keeps the latest fact of each key, ignoring order and facts after now', () => {
    const facts: Facts = {
      now: T,
      facts: [
        { kind: 'close_contact', at: T - 300 },
        { kind: 'close_contact', at: T - 100 },
        { kind: 'close_contact', at: T - 200 },
        { kind: 'close_contact', at: T + 1 },
        { kind: 'risk_area_visit', at: T - 50, level: 'high' },
        { kind: 'risk_area_visit', at: T - 40, level: 'medium' },
        { kind: 'risk_area_visit', at: T - 30, level: 'low' },
        { kind: 'nucleic_acid', at: T - 20, result: 'negative' },
        { kind: 'nucleic_acid', at: T - 10, result: 'positive' },
        { kind: 'entry', at: T },
      ],
    };
    expect(deriveView(facts)).toEqual({
      now: T,
      last: {
        confirmed: null, suspected: null, close_contact: T - 100, secondary_contact: null,
        risk_high: T - 50, risk_medium: T - 40, risk_low: T - 30, entry: T,
        test_negative: T - 20, test_positive: T - 10,
      },
    });
  });

  it('nextFactAt is the earliest fact strictly after now', () => {
    expect(nextFactAt({ now: T, facts: [] })).toBeNull();
    expect(nextFactAt({ now: T, facts: [{ kind: 'entry', at: T }] })).toBeNull();
    expect(nextFactAt({
      now: T, facts: [{ kind: 'entry', at: T + 9 }, { kind: 'confirmed', at: T + 3 }, { kind: 'entry', at: T - 3 }],
    })).toBe(T + 3);
  });
});
