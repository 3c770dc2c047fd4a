import { describe, expect, it } from 'vitest';
import { DecoderSet } from './decoders.js';
import { normalise } from './normalise.js';
import { loadSchema } from './schema.js';

/**
 * Every sample line of every shipped decoder file decodes to its expected
 * fields — this is what "N device types" in the catalogue counts.
 */
const set = DecoderSet.load();
const NOW = Date.parse('2026-12-07T02:00:00Z');
const opts = { tzOffsetMin: 480, maxSkewMs: 3650 * 86_400_000 };

describe('decoders as data', () => {
  it('ships at least 200 device types and a schema of at least 90 fields', () => {
    expect(set.deviceTypeCount).toBeGreaterThanOrEqual(Number(process.env.LOGAUDIT_MIN_TYPES ?? 200));
    expect(loadSchema().size).toBeGreaterThanOrEqual(90);
  });

  for (const fam of set.families) {
    describe(fam.file, () => {
      for (const t of fam.types) {
        it(`${t.id}: ${t.name}`, () => {
          for (const s of t.samples) {
            const ev = normalise({ bytes: Buffer.from(s.line), from: '192.0.2.1', transport: 'udp', receivedMs: NOW }, set, opts, () => undefined);
            const got: Record<string, unknown> = {};
            for (const k of Object.keys(s.expect)) got[k] = ev[k];
            expect({ line: s.line, dataset: ev['event.dataset'], ...got }).toEqual({ line: s.line, dataset: fam.dataset, ...s.expect });
            expect(ev.tags ?? []).not.toContain('undecoded');
          }
        });
      }
    });
  }
});
