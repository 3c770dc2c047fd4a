import { describe, expect, it } from 'vitest';
import { parseSyslog } from './syslog-parse.js';
import { SyslogFramer } from './tcp-framing.js';

const NOW = Date.parse('2026-12-07T02:00:00Z'); // 10:00 China time

describe('syslog headers', () => {
  it('RFC 5424 with structured data and a BOM', () => {
    const r = parseSyslog('<165>1 2026-12-07T10:00:00.123+08:00 mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] \uFEFFAn application event', NOW);
    expect(r).toMatchObject({ format: '5424', facility: 20, severity: 5, host: 'mymachine.example.com', app: 'evntslog', procid: null, msgid: 'ID47', msg: 'An application event' });
    expect(r.timeMs).toBe(Date.parse('2026-12-07T02:00:00.123Z'));
    expect(r.sd).toEqual({ 'exampleSDID@32473.iut': '3', 'exampleSDID@32473.eventSource': 'Application' });
  });
  it('RFC 3164 without a year is read in China time, in the year closest to now', () => {
    const r = parseSyslog('<34>Dec  7 09:59:58 web-01 sshd[22]: hello', NOW);
    expect(r).toMatchObject({ format: '3164', facility: 4, severity: 2, host: 'web-01', app: 'sshd', procid: '22', msg: 'hello' });
    expect(r.timeMs).toBe(Date.parse('2026-12-07T01:59:58Z'));
    // read on Jan 1st, a Dec 31st line is last year's
    const r2 = parseSyslog('<34>Dec 31 23:59:59 h app: x', Date.parse('2027-01-01T00:00:00+08:00'));
    expect(new Date(r2.timeMs!).toISOString()).toBe('2026-12-31T15:59:59.000Z');
  });
  it('vendor deviations: year in the header, ASA colon, Cisco sequence numbers, Chinese vendors\' ISO-ish time, no host', () => {
    expect(parseSyslog('<190>Dec  7 2026 10:00:00 USG6600 %%01SHELL/5/CMDRECORD(l)[0]:Recorded', NOW)).toMatchObject({ host: 'USG6600', app: '%%01SHELL/5/CMDRECORD(l)', procid: '0', msg: 'Recorded' });
    expect(parseSyslog('<166>Dec 07 2026 10:00:00: %ASA-6-302013: Built inbound', NOW)).toMatchObject({ host: null, app: '%ASA-6-302013', msg: 'Built inbound' });
    expect(parseSyslog('<189>000123: *Dec  7 10:00:00.123: %SYS-5-CONFIG_I: Configured from console', NOW)).toMatchObject({ app: '%SYS-5-CONFIG_I', msg: 'Configured from console' });
    const h = parseSyslog('<134>2026-12-07 10:00:00 hillstone-1 Traffic@FLOW: SESSION: x', NOW);
    expect(h).toMatchObject({ host: 'hillstone-1', app: 'Traffic@FLOW' });
    expect(h.timeMs).toBe(Date.parse('2026-12-07T02:00:00Z'));
  });
  it('Fortinet: no header after PRI, key=value body', () => {
    expect(parseSyslog('<189>date=2026-12-07 time=10:00:00 devname="FGT" type="traffic"', NOW)).toMatchObject({ format: '3164', app: null, msg: 'date=2026-12-07 time=10:00:00 devname="FGT" type="traffic"' });
  });
  it('not syslog at all → raw, never a throw', () => {
    for (const s of ['', 'hello world', '<999>x', '<12', '<>', '<1>1 not-a-time h a p m - x', '\u0000\u0001']) {
      const r = parseSyslog(s, NOW);
      expect(typeof r.msg).toBe('string');
    }
    expect(parseSyslog('plain line', NOW)).toMatchObject({ format: 'raw', msg: 'plain line' });
  });
});

describe('TCP framing (RFC 6587)', () => {
  it('octet counting and newline framing, split anywhere', () => {
    const f = new SyslogFramer(1000);
    const a = '<34>1 - h a - - - one';
    const wire = Buffer.from(`${Buffer.byteLength(a)} ${a}<34>two\n<34>three\r\n`);
    const got: string[] = [];
    for (let i = 0; i < wire.length; i += 3) got.push(...f.push(wire.subarray(i, i + 3)).map((x) => x.bytes.toString()));
    got.push(...f.end().map((x) => x.bytes.toString()));
    expect(got).toEqual([a, '<34>two', '<34>three']);
  });
  it('an over-long newline-framed line is cut and flagged, and the next line is intact', () => {
    const f = new SyslogFramer(10);
    const out = f.push(Buffer.from('<34>' + 'x'.repeat(50) + '\n<34>ok\n'));
    expect(out.map((x) => [x.bytes.toString(), x.truncated])).toEqual([['<34>xxxxxx', true], ['<34>ok', false]]);
  });
  it('an octet count above the limit breaks the connection', () => {
    const f = new SyslogFramer(100);
    expect(f.push(Buffer.from('99999 <34>x'))).toEqual([]);
    expect(f.broken).toMatch(/exceeds/);
  });
});
