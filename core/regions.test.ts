import { describe, expect, it } from 'vitest';
import { isKnownRegion, REGION_CODES, regionChildren, regionName, regionOwnName, regionPath, regionShortName } from './regions.js';

describe('GB/T 2260 regions by name', () => {
  it('names every level from the province down', () => {
    expect(regionName('51')).toBe('四川省');
    expect(regionName('5101')).toBe('四川省成都市');
    expect(regionName('510104')).toBe('四川省成都市锦江区');
    expect(regionShortName('510104')).toBe('锦江区');
    expect(regionPath('510104').map((x) => x.code)).toEqual(['51', '5101', '510104']);
  });

  it('leaves out the placeholder prefecture of a direct-administered city', () => {
    expect(regionName('110105')).toBe('北京市朝阳区');
    expect(regionOwnName('1101')).toBe('市辖区');
    expect(regionChildren('11').some((x) => x.name === '市辖区')).toBe(false);
    expect(regionChildren('11').some((x) => x.code === '110105')).toBe(true);
  });

  it('knows the townships of this province and names a village by its township', () => {
    const town = REGION_CODES.find((c) => c.length === 9 && c.startsWith('510104'))!;
    expect(town).toBeDefined();
    expect(isKnownRegion(town)).toBe(true);
    expect(isKnownRegion(`${town}001`)).toBe(true);
    expect(regionName(`${town}001`)).toBe(regionName(town));
    expect(regionChildren('510104').length).toBeGreaterThan(5);
  });

  it('says so for unknown and malformed codes instead of showing a bare number', () => {
    expect(isKnownRegion('519999')).toBe(false);
    expect(regionName('519999')).toBe('未知地区（519999）');
    expect(regionName('abc')).toBe('未知地区（abc）');
    expect(regionName(null)).toBe('未知地区');
    expect(regionChildren('x')).toEqual([]);
    expect(isKnownRegion('5101041')).toBe(false);
  });

  it('has every province and Sichuan\'s 21 prefectures', () => {
    expect(regionChildren('').length).toBeGreaterThanOrEqual(34);
    expect(regionChildren('51')).toHaveLength(21);
    expect(regionChildren('5101').map((x) => x.name)).toContain('武侯区');
  });
});
