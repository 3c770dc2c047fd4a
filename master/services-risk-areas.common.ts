import { beforeAll, describe, expect, it } from 'vitest';
import { applyRiskAreas, diffRiskAreas, importRiskAreas } from './risk-import.js';
import { MasterStore } from './store.js';
import { codeOf, type ServicesContext } from './services-fixture.common.js';

/** Part of the master services suite (master/services.common.ts): risk areas. */
export function describeRiskAreas(ctx: ServicesContext): void {
  describe('risk areas', () => {
    let store!: MasterStore;
    beforeAll(() => {
      ({ store } = ctx.get());
    });
    const { deltasSince } = ctx;
    it('diffs the national list and publishes exactly the diff', async () => {
      await importRiskAreas(store, [
        { region: '510104', level: 'high', since: 100 },
        { region: '510105001', level: 'medium', since: 100 },
        { region: '510106', level: 'medium', since: 100 },
      ]);
      const incoming = [
        { region: '510104', level: 'medium', since: 200 },
        { region: '510106', level: 'medium', since: 100 },
        { region: '510107002003', level: 'high', since: 300 },
      ];
      const diff = diffRiskAreas(await store.listRiskAreas(), incoming);
      expect(diff).toEqual({
        added: [{ region: '510107002003', level: 'high', since: 300 }],
        changed: [{ region: '510104', from: { region: '510104', level: 'high', since: 100 }, to: { region: '510104', level: 'medium', since: 200 } }],
        removed: [{ region: '510105001', level: 'medium', since: 100 }],
        unchanged: 1,
      });
      const before = await store.maxOutboxSeq();
      const r = await applyRiskAreas(store, diff);
      expect(r).toEqual({ added: 1, changed: 1, removed: 1, seqs: [before + 1, before + 2, before + 3] });
      const ds = await deltasSince(before);
      expect(ds.map((d) => (d as { region: string }).region)).toEqual(['510107002003', '510104', '510105001']);
      expect(ds[2]).toMatchObject({ type: 'risk_area', area: null });
      expect(await store.listRiskAreas()).toEqual([...incoming].sort((a, b) => a.region.localeCompare(b.region)));
      expect(await applyRiskAreas(store, diff)).toEqual({ added: 0, changed: 0, removed: 0, seqs: [] });
      expect(diffRiskAreas(await store.listRiskAreas(), incoming)).toMatchObject({ added: [], changed: [], removed: [], unchanged: 3 });
    });

    it('refuses malformed lists naming the entry', async () => {
      const cases: [unknown[], string][] = [
        [[{ region: '5101', level: 'high', since: 1 }], 'incoming[0].region'],
        [[{ region: '510104', level: 'severe', since: 1 }], 'incoming[0].level'],
        [[{ region: '510104', level: 'high', since: -1 }], 'incoming[0].since'],
        [[{ region: '510104', level: 'high', since: 1 }, { region: '510104', level: 'low', since: 1 }], 'incoming[1].region'],
        [[null], 'incoming[0]'],
      ];
      for (const [list, field] of cases) {
        const e = await codeOf(() => diffRiskAreas([], list));
        expect(e.code).toBe('MASTER_ERR_INVALID');
        expect(e.field).toBe(field);
      }
      expect((await codeOf(applyRiskAreas(store, { added: [{ region: 'x' }], changed: [], removed: [], unchanged: 0 } as never))).field).toBe('added[0].region');
    });
  });
}
