import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DecoderSet, unnameGroups } from './decoders.js';
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

describe('decoder regexes run without group names', () => {
  it('numbers named groups as the engine does (plain groups count; (?:, lookarounds, escapes and classes do not)', () => {
    const src = String.raw`^(a|b)(?:x)(?<user>\w+)\((?<=\()[(?<no>)](?<port>\d+)(?!q)(c)(?<act>\S+)$`;
    const plain = unnameGroups(src)!;
    expect(plain.source).toBe(String.raw`^(a|b)(?:x)(\w+)\((?<=\()[(?<no>)](\d+)(?!q)(c)(\S+)$`);
    expect([...plain.index]).toEqual([['user', 2], ['port', 3], ['act', 5]]);
    const named = new RegExp(src).exec('axroot(<9cdeny')!;
    const m = new RegExp(plain.source).exec('axroot(<9cdeny')!;
    expect([m[2], m[3], m[5]]).toEqual([named.groups!.user, named.groups!.port, named.groups!.act]);
    expect([m[2], m[3], m[5]]).toEqual(['root', '9', 'deny']);
  });

  it('a decoder whose regex refers to a group by name is refused with LOG_ERR_DECODER', () => {
    const dir = mkdtempSync(join(tmpdir(), 'la-dec-'));
    try {
      writeFileSync(join(dir, 'x.yaml'), [
        'family: x', 'vendor: X', 'product: Y', 'observer_type: host', 'dataset: x.y',
        'select: { app: [xapp] }',
        'rules:', '  - name: r', String.raw`    regex: '^(?<user__name>\w+) \k<user__name>$'`,
        'types:', '  - id: x-y', '    name: X Y', '    samples:', "      - line: '<13>1 - h xapp - - - a a'", '        expect: {}',
      ].join('\n'));
      expect(() => DecoderSet.load(dir)).toThrow(expect.objectContaining({ code: 'LOG_ERR_DECODER' }));
      expect(unnameGroups(String.raw`(?<a>x)\k<a>`)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
