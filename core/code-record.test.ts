import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import {
  decodeCodeRecord, decodeVenue, encodeCodeRecord, encodeVenue, FORMAT_VERSION, colorByte, type CodeRecord,
} from './code-record.js';
import { decodeDeltaBatch, encodeDeltaBatch, type Delta } from './delta.js';

const rec: CodeRecord = {
  color: 'yellow', reason: 'secondary_contact', since: 1790000000, until: 1790604800, name: '张*三',
  notices: [{ kind: 'entry_test', message: '请在24小时内完成核酸检测', until: 1790086400 }], seq: 42,
};

function codeOf(f: () => unknown): string | undefined {
  try { f(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

describe('code record', () => {
  it('round-trips and starts with the format byte', () => {
    const b = encodeCodeRecord(rec);
    expect(b[0]).toBe(FORMAT_VERSION);
    expect(decodeCodeRecord(b)).toEqual(rec);
  });

  it('an older reader refuses a newer format with a clear error', () => {
    const b = encodeCodeRecord(rec);
    b[0] = FORMAT_VERSION + 1;
    expect(codeOf(() => decodeCodeRecord(b))).toBe('CORE_ERR_FORMAT_VERSION');
    expect(() => decodeCodeRecord(b)).toThrow(/upgrade this node/);
  });

  it('rejects version 0, truncation, garbage and wrong shapes', () => {
    const b = encodeCodeRecord(rec);
    b[0] = 0;
    expect(codeOf(() => decodeCodeRecord(b))).toBe('CORE_ERR_FORMAT_VERSION');
    expect(codeOf(() => decodeCodeRecord(Buffer.from([1])))).toBe('CORE_ERR_RECORD_INVALID');
    expect(codeOf(() => decodeCodeRecord(Buffer.from([1, 0xc1])))).toBe('CORE_ERR_RECORD_INVALID');
    const p = new Packr({ useRecords: false });
    for (const broken of [{ ...rec, color: 'blue' }, { ...rec, since: -1 }, { ...rec, until: 'x' }, { ...rec, notices: [{}] }, { ...rec, seq: 1.5 }]) {
      expect(codeOf(() => decodeCodeRecord(Buffer.concat([Buffer.from([1]), p.pack(broken)])))).toBe('CORE_ERR_RECORD_INVALID');
    }
  });

  it('maps colours to TF1 bytes', () => {
    expect([colorByte('green'), colorByte('yellow'), colorByte('red')]).toEqual([0, 1, 2]);
  });

  it('venues round-trip and bad regions are refused', () => {
    const v = { id: 'V000001', name: '成都东站入川检测点', region: '510108', kind: 'entry' as const, entryTestHours: 24 };
    expect(decodeVenue(encodeVenue(v))).toEqual(v);
    expect(codeOf(() => decodeVenue(encodeVenue({ ...v, region: '51A108' })))).toBe('CORE_ERR_RECORD_INVALID');
  });
});

describe('delta batch', () => {
  const uid = Buffer.alloc(16, 7);
  const deltas: Delta[] = [
    { seq: 10, type: 'code', uid, record: rec },
    { seq: 11, type: 'code', uid, record: null },
    { seq: 12, type: 'venue', id: 'V1', venue: { id: 'V1', name: 'x', region: '510104', kind: 'normal', entryTestHours: null } },
    { seq: 13, type: 'risk_area', region: '510104001', area: { region: '510104001', level: 'high', since: 1 } },
    { seq: 14, type: 'rules', version: '2026.2', activeFrom: 1790000000, ruleSet: { any: 'json' } },
    { seq: 15, type: 'noop' },
  ];

  it('round-trips a dense batch', () => {
    const batch = decodeDeltaBatch(encodeDeltaBatch(deltas));
    expect(batch.from).toBe(10);
    expect(batch.to).toBe(15);
    expect(batch.deltas).toHaveLength(6);
    const first = batch.deltas[0]!;
    expect(first.type === 'code' && Buffer.from(first.uid).equals(uid)).toBe(true);
    expect(batch.deltas.slice(1)).toEqual(deltas.slice(1));
  });

  it('refuses gaps, unknown types, bad uids, empty batches and newer formats', () => {
    expect(codeOf(() => decodeDeltaBatch(encodeDeltaBatch([deltas[0]!, deltas[2]!])))).toBe('CORE_ERR_RECORD_INVALID');
    expect(codeOf(() => decodeDeltaBatch(encodeDeltaBatch([{ seq: 1, type: 'weird' } as unknown as Delta])))).toBe('CORE_ERR_RECORD_INVALID');
    expect(codeOf(() => decodeDeltaBatch(encodeDeltaBatch([{ seq: 1, type: 'code', uid: Buffer.alloc(3), record: null }])))).toBe('CORE_ERR_RECORD_INVALID');
    expect(codeOf(() => encodeDeltaBatch([]))).toBe('CORE_ERR_RECORD_INVALID');
    const b = encodeDeltaBatch(deltas);
    b[0] = 9;
    expect(codeOf(() => decodeDeltaBatch(b))).toBe('CORE_ERR_FORMAT_VERSION');
  });
});
