import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeCodeRecord, encodeVersioned, type CodeRecord, type RiskArea, type Venue } from '../core/code-record.js';
import { CoreError } from '../core/errors.js';
import type { Delta } from '../core/delta.js';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { ReplicaWriter } from '../sync/replica-writer.js';
import { activeNotices, entryNotice, riskNotice, staleNotice } from './display-body.js';
import { ReplicaReader } from './replica-reader.js';
import { MAX_VENUE_ANSWERS, scanAnswer, scanAnswerBytes, scanFields, VenueAnswers } from './scan-answer.js';
import { plainVenueField } from './request-body.js';

/**
 * The scan answer made from parts (edge/scan-answer.ts) is byte for byte
 * JSON.stringify of the DESIGN §5 object it replaced; the raw code-record
 * read agrees with the checked decode and falls back to it; venue answers
 * follow the replica's applied sequence; the in-place body read accepts only
 * the plain shape and leaves everything else to the general path.
 */
const NOW = 1_790_000_000;

function rec(over: Partial<CodeRecord> = {}): CodeRecord {
  return { color: 'yellow', reason: 'close_contact', since: 1_780_000_000, until: null, name: '张*三', notices: [], seq: 7, ...over } as CodeRecord;
}

/** what the route answered before: JSON.stringify of the whole object */
function reference(r: CodeRecord, venue: Venue, area: RiskArea | undefined, stale: boolean, lagSec: number | null): string {
  const notices = activeNotices(r.notices, NOW);
  if (venue.kind === 'entry') notices.push(entryNotice(venue));
  if (area !== undefined) {
    const n = riskNotice(area);
    if (n !== null) notices.push(n);
  }
  if (stale) notices.push(staleNotice(lagSec));
  const riskArea = area === undefined ? null : { region: area.region, level: area.level };
  return JSON.stringify({ color: r.color, name: r.name, venue: { id: venue.id, name: venue.name, kind: venue.kind }, riskArea, notices });
}

let dir: string;
let writer: ReplicaWriter;
let reader: ReplicaReader;
let seq = 0;

const plain: Venue = { id: 'v-plain', name: '春熙路 "一号" 店', region: '510104', kind: 'normal', entryTestHours: null };
const entry: Venue = { id: 'v-entry', name: '双流机场 T2', region: '510116001', kind: 'entry', entryTestHours: 48 };
const risky: RiskArea = { region: '510116', level: 'high', since: 1_780_000_000 };

function apply(d: Partial<Delta> & { type: Delta['type'] }): void {
  seq++;
  writer.applyBatch({ from: seq, to: seq, deltas: [{ seq, ...d } as Delta] });
  reader.refresh();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scan-answer-'));
  writer = ReplicaWriter.open({ dir: join(dir, REPLICA_DIR) });
  reader = ReplicaReader.open(join(dir, REPLICA_DIR));
  seq = writer.appliedSeq();
  apply({ type: 'venue', id: plain.id, venue: plain });
  apply({ type: 'venue', id: entry.id, venue: entry });
  apply({ type: 'risk_area', region: risky.region, area: risky });
});

afterEach(async () => {
  await reader.close();
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('scan answer', () => {
  it('is JSON.stringify of the answer object: plain venue, entry venue in a high-risk area, notices, stale', () => {
    const answers = new VenueAnswers();
    answers.validate(reader.appliedSeq());
    const withNotices = rec({
      notices: [
        { kind: 'retest', message: '请于 "明日" 复检\n', until: NOW + 60 },
        { kind: 'old', message: '已过期', until: NOW - 1 },
        { kind: 'always', message: '长期', until: null },
      ],
    });
    for (const r of [rec(), rec({ color: 'red', name: 'O\'Brien "\\" 李' }), withNotices]) {
      for (const v of [plain, entry]) {
        for (const [stale, lag] of [[false, null], [true, 123.4], [true, null]] as const) {
          const va = answers.get(v.id, reader)!;
          const f = scanFields(encodeCodeRecord(r));
          const got = scanAnswer(f, va, NOW, stale, lag);
          const want = reference(r, v, v === entry ? risky : undefined, stale, lag);
          expect(got).toBe(want);
          expect(scanAnswerBytes(f, va, NOW, stale, lag).toString('utf8')).toBe(want);
          expect(JSON.parse(got)).toBeTypeOf('object');
        }
      }
    }
  });

  it('keeps venue answers until the applied sequence moves, then reads the replica again', () => {
    const answers = new VenueAnswers();
    answers.validate(reader.appliedSeq());
    expect(answers.get('nowhere', reader)).toBeUndefined();
    const a = answers.get(entry.id, reader)!;
    expect(a.notices).toContain('高风险');
    expect(answers.get(entry.id, reader)).toBe(a);
    expect(answers.hits).toBe(1);
    // the area is lowered: the next turn's validation drops the kept answer
    apply({ type: 'risk_area', region: risky.region, area: { ...risky, level: 'low' } });
    answers.validate(reader.appliedSeq());
    const b = answers.get(entry.id, reader)!;
    expect(b).not.toBe(a);
    expect(b.notices).not.toContain('高风险');
    expect(b.mid).toContain('"level":"low"');
    expect(answers.flushes).toBe(1);
    // a venue removed by a delta is unknown from the next turn on
    apply({ type: 'venue', id: plain.id, venue: null });
    answers.validate(reader.appliedSeq());
    expect(answers.get(plain.id, reader)).toBeUndefined();
  });

  it('holds at most its limit of venue answers (a flood of ids cannot grow memory)', () => {
    const answers = new VenueAnswers(1);
    answers.validate(reader.appliedSeq());
    answers.get(plain.id, reader);
    answers.get(entry.id, reader);
    expect(answers.flushes).toBe(1);
    expect(answers.get(entry.id, reader)).toBeDefined();
    expect(answers.hits).toBe(1);
    expect(MAX_VENUE_ANSWERS).toBeGreaterThan(1000);
  });
});

describe('scanFields (raw code-record read)', () => {
  it('agrees with the checked decode on every colour and both until forms', () => {
    for (const color of ['green', 'yellow', 'red'] as const) {
      for (const until of [null, NOW + 86_400]) {
        const r = rec({ color, until, name: '欧阳*娜', seq: 2 ** 40 });
        const f = scanFields(encodeCodeRecord(r));
        // the fast path: the name's bytes in place, not a string
        expect(f.raw).not.toBeNull();
        expect({ color: f.color, name: f.raw!.toString('utf8', f.nameStart, f.nameEnd), notices: f.notices }).toEqual({ color, name: '欧阳*娜', notices: null });
      }
    }
  });

  it('falls back to the full decode for stored notices and for other key orders', () => {
    const n = [{ kind: 'retest', message: '复检', until: null }];
    expect(scanFields(encodeCodeRecord(rec({ notices: n }))).notices).toEqual(n);
    const reordered = encodeVersioned({ seq: 3, notices: [], name: '王*', until: null, since: 1, reason: 'x', color: 'red' });
    const f = scanFields(reordered);
    expect([f.color, f.raw!.toString('utf8', f.nameStart, f.nameEnd), f.notices]).toEqual(['red', '王*', null]);
    // a name that needs escaping is handed over as a string
    const quoted = scanFields(encodeCodeRecord(rec({ name: 'a"b' })));
    expect([quoted.raw, quoted.name]).toEqual([null, 'a"b']);
  });

  it('rejects a corrupt record with the coded error of the checked decode', () => {
    const bad = encodeVersioned({ color: 'blue', reason: 'x', since: 1, until: null, name: 'n', notices: [], seq: 1 });
    expect(() => scanFields(bad)).toThrow(CoreError);
    try {
      scanFields(bad);
    } catch (err) {
      expect((err as CoreError).code).toBe('CORE_ERR_RECORD_INVALID');
    }
    expect(() => scanFields(Buffer.from([1]))).toThrow(CoreError);
    const truncated = encodeCodeRecord(rec()).subarray(0, 20);
    expect(() => scanFields(Buffer.from(truncated))).toThrow(CoreError);
  });
});

describe('plainVenueField (in-place body read)', () => {
  const b = (s: string) => new Uint8Array(Buffer.from(s));
  it('reads the plain shape, whitespace allowed', () => {
    expect(plainVenueField(b('{"venue":"v000000123"}'), 64)).toBe('v000000123');
    expect(plainVenueField(b(' {\n "venue" :\t"A-1" } \r\n'), 64)).toBe('A-1');
  });
  it('leaves everything else to the general path (null)', () => {
    for (const s of ['', '{}', '{"venue":""}', '{"venue":"a\\"b"}', '{"venue":"成都"}', '{"venue":"a","x":1}', '{"venue":1}', '["venue"]', '{"venue":"a"}x', '{"venue":"a"', '{"venu":"a"}', `{"venue":"${'x'.repeat(65)}"}`]) {
      expect(plainVenueField(b(s), 64)).toBeNull();
    }
    expect(plainVenueField(b(`{"venue":"${'x'.repeat(64)}"}`), 64)).toBe('x'.repeat(64));
  });
});
