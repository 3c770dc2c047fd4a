import { describe, expect, it } from 'vitest';
import type { CodeRecord } from '../core/code-record.js';
import { activeNotices, entryNotice, noticesChangeAt, renderDisplayBody, riskNotice, staleNotice, withNotice } from './display-body.js';

const rec: CodeRecord = {
  color: 'yellow',
  reason: 'entry_no_test',
  since: 100,
  until: 900,
  name: '李*',
  notices: [
    { kind: 'entry_test', message: '入川即检', until: 500 },
    { kind: 'forever', message: 'f', until: null },
    { kind: 'ended', message: 'e', until: 200 },
  ],
  seq: 7,
};

describe('display bodies', () => {
  it('renders exactly the DESIGN §5 fields, in order, with the notices in force', () => {
    const body = JSON.parse(renderDisplayBody(rec, 'TF1:ABC', 4000, 300).toString('utf8'));
    expect(Object.keys(body)).toEqual(['color', 'reason', 'since', 'until', 'name', 'token', 'expiresAt', 'notices']);
    expect(body).toEqual({
      color: 'yellow', reason: 'entry_no_test', since: 100, until: 900, name: '李*', token: 'TF1:ABC', expiresAt: 4000,
      notices: [{ kind: 'entry_test', message: '入川即检' }, { kind: 'forever', message: 'f' }],
    });
  });

  it("treats a notice's until as exclusive and finds when the notices next change", () => {
    expect(activeNotices(rec.notices, 500).map((n) => n.kind)).toEqual(['forever']);
    expect(activeNotices(rec.notices, 499).map((n) => n.kind)).toEqual(['entry_test', 'forever']);
    expect(noticesChangeAt(rec.notices, 300)).toBe(500);
    expect(noticesChangeAt(rec.notices, 600)).toBe(Infinity);
  });

  it('adds a notice to a stored body without touching the rest', () => {
    const stored = renderDisplayBody(rec, 'TF1:ABC', 4000, 300);
    const out = JSON.parse(withNotice(stored.subarray(0), staleNotice(130.4)));
    expect(out.token).toBe('TF1:ABC');
    expect(out.notices.at(-1)).toEqual({ kind: 'stale', message: expect.stringContaining('130 秒') });
    expect(out.notices).toHaveLength(3);
    expect(staleNotice(null).message).toContain('状态可能不是最新');
    // a view into a larger buffer (as lmdb hands out) is read at its offset
    const big = Buffer.concat([Buffer.from('xxxxxx'), stored, Buffer.from('yyyy')]);
    expect(JSON.parse(withNotice(big.subarray(6, 6 + stored.length), staleNotice(1))).token).toBe('TF1:ABC');
  });

  it('words the entry and risk notices', () => {
    expect(entryNotice({ id: 'v', name: 'n', region: '510116', kind: 'entry', entryTestHours: 48 })).toEqual({ kind: 'entry_test', message: expect.stringContaining('48 小时') });
    expect(riskNotice({ region: '510107', level: 'high', since: 1 })!.message).toContain('高风险');
    expect(riskNotice({ region: '510107', level: 'medium', since: 1 })!.message).toContain('中风险');
    expect(riskNotice({ region: '510107', level: 'low', since: 1 })).toBeNull();
    // the region by name, not by code
    expect(riskNotice({ region: '510107', level: 'high', since: 1 })!.message).toContain('成都市武侯区');
  });

  it('says every notice a citizen reads in Chinese only: no Latin letters (issue 15 item 8)', () => {
    const texts = [
      staleNotice(130.4).message,
      staleNotice(null).message,
      entryNotice({ id: 'v', name: 'n', region: '510116', kind: 'entry', entryTestHours: 48 }).message,
      entryNotice({ id: 'v', name: 'n', region: '510116', kind: 'entry', entryTestHours: null }).message,
      riskNotice({ region: '510107', level: 'high', since: 1 })!.message,
      riskNotice({ region: '510107', level: 'medium', since: 1 })!.message,
    ];
    for (const t of texts) expect(t).not.toMatch(/[A-Za-z]/);
  });
});
