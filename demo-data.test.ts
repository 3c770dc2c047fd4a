import { describe, expect, it } from 'vitest';
import { maskName, normaliseResidentId } from './core/identity.js';
import { demoName, demoResidentId, demoRiskAreas, demoVenues } from './demo-data.js';

describe('demo data', () => {
  it('person i has a valid, unique GB 11643 resident ID and a name that masks', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 60_000; i += 1) {
      const id = demoResidentId(i);
      if (i % 997 === 0) {
        expect(normaliseResidentId(id)).toBe(id); // check char, birth date, province all valid
        expect(maskName(demoName(i))).toContain('*');
      }
      seen.add(id);
    }
    expect(seen.size).toBe(60_000);
    // far into a province-sized demo too
    for (const i of [1_000_000, 9_999_999, 114_000_000]) expect(normaliseResidentId(demoResidentId(i))).toBe(demoResidentId(i));
  });

  it('venues: 5 % entry venues (入川即检) with a test window, regions down to street level', () => {
    const v = demoVenues(200);
    expect(v.filter((x) => x.kind === 'entry')).toHaveLength(10);
    for (const x of v) {
      expect(x.region).toMatch(/^\d{9}$/);
      expect(x.kind === 'entry' ? x.entryTestHours : null).toBe(x.kind === 'entry' ? 24 : null);
    }
    expect(new Set(v.map((x) => x.id)).size).toBe(200);
    expect(demoRiskAreas(1_780_000_000).map((a) => a.level)).toEqual(['high', 'medium', 'medium', 'low']);
  });
});
