import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DecoderSet } from './decoders.js';
import { lastAtMs, normalise, normaliseInto, normaliseRow, rebuildEvent, type RawMessage } from './normalise.js';
import { decodeRows, encodeRows, RowBatch } from './row-format.js';
import { EventStore, verifyStore } from './store.js';

/**
 * The store keeps compact rows and rebuilds events on read: what a search
 * returns must be exactly the event correlation saw at intake — for every
 * shipped device type's sample and for each kind of bad input.
 */
const decoders = DecoderSet.load();
const opts = { tzOffsetMin: 480, maxSkewMs: 86_400_000 };
const at = Date.parse('2026-12-07T10:00:00+08:00');

function messages(): RawMessage[] {
  const out: RawMessage[] = [];
  for (const f of decoders.families) for (const t of f.types) for (const s of t.samples) out.push({ bytes: Buffer.from(s.line), from: '10.1.2.3', transport: 'udp', receivedMs: at });
  out.push({ bytes: Buffer.from([0x3c, 0x33, 0x34, 0x3e, 0xb5, 0xc7, 0xc2, 0xbc, 0xca, 0xa7, 0xb0, 0xdc]), from: '::1', transport: 'tcp', receivedMs: at }); // GB18030 登录失败
  out.push({ bytes: Buffer.from('<34>1 2001-01-01T00:00:00Z h app - - - forged'), from: '10.0.0.9', transport: 'tls', receivedMs: at, truncated: true });
  out.push({ bytes: Buffer.from('no header at all'), from: '10.0.0.9', transport: 'file', receivedMs: at, via: '/var/log/x.log' });
  out.push({ bytes: Buffer.from('<13>Dec  7 10:00:00 h unknownapp: 中文 text'), from: '10.0.0.9', transport: 'forward', receivedMs: at, via: 'collector-1', spooled: true });
  out.push({ bytes: Buffer.from('<165>1 2026-12-07T02:00:00Z h app 1 ID7 [meta sequenceId="42"] x'), from: '10.0.0.9', transport: 'db', receivedMs: at, via: 'tbl' });
  return out;
}

describe('compact row format', () => {
  it('every sample and every bad-input kind reads back as the event normalisation made', () => {
    const msgs = messages();
    expect(msgs.length).toBeGreaterThan(220);
    const made = msgs.map((m) => normaliseRow(m, decoders, opts, () => undefined));
    const back = decodeRows(encodeRows(made.map((x) => x.row)));
    expect(back.length).toBe(msgs.length);
    for (let i = 0; i < msgs.length; i++) {
      expect(rebuildEvent(back[i]!, decoders, opts)).toStrictEqual(made[i]!.event);
      expect(made[i]!.event).toStrictEqual(normalise(msgs[i]!, decoders, opts, () => undefined));
    }
    expect(back[msgs.length - 5]!.bytes.equals(msgs[msgs.length - 5]!.bytes)).toBe(true);
    expect(made[msgs.length - 5]!.event.tags).toEqual(['invalid_utf8', 'undecoded']);
    expect(made[msgs.length - 4]!.event.tags).toEqual(['truncated', 'forged_timestamp', 'undecoded']);
  });

  it('a day holding NDJSON batches (older stores) and row batches reads in order and verifies', () => {
    const dir = mkdtempSync(join(tmpdir(), 'la-rows-'));
    const s = new EventStore(dir, () => at, (r) => rebuildEvent(r, decoders, opts));
    s.append([{ '@timestamp': new Date(at).toISOString(), message: 'old format' }]);
    const { row } = normaliseRow({ bytes: Buffer.from('<38>1 - h sshd 1 - - Failed password for root from 198.18.0.1 port 22 ssh2'), from: '10.0.0.1', transport: 'udp', receivedMs: at }, decoders, opts, () => undefined);
    s.appendRows([row]);
    s.close();
    const evs = [...s.read(s.days()[0]!, 0, Infinity)];
    expect(evs.map((e) => e.message)).toEqual(['old format', 'Failed password for root from 198.18.0.1 port 22 ssh2']);
    expect(evs[1]!['source.ip']).toBe('198.18.0.1');
    expect(s.readIndex(s.days()[0]!).map((b) => b.fmt)).toEqual([undefined, 2]);
    expect(verifyStore(s.root, s.publicKeyPem())).toMatchObject({ ok: true, batches: 2, events: 2 });
  });

  it('the batch filled event by event (RowBatch, the engine\'s path: fields as shape + values) reads back the rows encodeRows writes, across growth and reuse', () => {
    const msgs = messages();
    const plan = { timestamp: false, ingested: false, created: false, hourCst: true, original: false, message: true, syslog: false, hostName: true, labels: false, vendor: true, sequence: false, tags: false };
    const b = new RowBatch();
    // 3 rounds of > 1 024 rows and > 1 MiB of bytes: the columns and both buffers grow, then are reused
    for (let round = 0; round < 3; round++) {
      const rows = [];
      for (let k = 0; k < 5; k++) {
        for (const m0 of msgs) {
          const m = { ...m0, bytes: k === 4 ? Buffer.concat([m0.bytes, Buffer.alloc(5000, 0x61)]) : m0.bytes, from: `10.0.${round}.${k}` };
          const e = normaliseInto(m, decoders, opts, () => undefined, plan, b);
          const { event, row } = normaliseRow(m, decoders, opts, () => undefined, plan);
          expect(e).toStrictEqual(event);
          expect(lastAtMs()).toBe(row.atMs);
          rows.push(row);
        }
      }
      expect(b.length).toBe(rows.length);
      expect(b.minMs).toBe(Math.min(...rows.map((r) => r.atMs)));
      expect(b.maxMs).toBe(Math.max(...rows.map((r) => r.atMs)));
      const got = b.take();
      const back = decodeRows(got);
      expect(back).toStrictEqual(decodeRows(encodeRows(rows)));
      // values, not keys: the fields column is smaller than the objects' JSON
      expect(got.length).toBeLessThan(encodeRows(rows).length);
      expect(b.length).toBe(0);
    }
  });

  it('a row batch whose fields name a shape it does not list is refused with LOG_ERR_STORE_TAMPERED', () => {
    const b = new RowBatch();
    const m: RawMessage = { bytes: Buffer.from('<38>1 - h sshd 1 - - Failed password for root from 198.18.0.1 port 22 ssh2'), from: '10.0.0.1', transport: 'udp', receivedMs: at };
    normaliseInto(m, decoders, opts, () => undefined, planAll, b);
    const raw = b.take();
    const ml = raw.readUInt32LE(4);
    const meta = JSON.parse(raw.toString('utf8', 8, 8 + ml)) as unknown[];
    (meta[3] as unknown[][])[0]![0] = 7; // shape 7: not in this batch's table of 1
    const text = Buffer.from(JSON.stringify(meta));
    const forged = Buffer.concat([raw.subarray(0, 4), Buffer.alloc(4), text, raw.subarray(8 + ml)]);
    forged.writeUInt32LE(text.length, 4);
    expect(() => decodeRows(forged)).toThrow(expect.objectContaining({ code: 'LOG_ERR_STORE_TAMPERED' }));
    const meta2 = JSON.parse(raw.toString('utf8', 8, 8 + ml)) as unknown[];
    expect(Array.isArray((meta2[3] as unknown[])[0])).toBe(true);
    expect(decodeRows(raw)[0]!.fields).toMatchObject({ 'source.ip': '198.18.0.1', 'user.name': 'root' });
  });

  it('the engine\'s batch and the spool\'s synchronous path store rows that read back and verify', () => {
    const dir = mkdtempSync(join(tmpdir(), 'la-rows-'));
    const s = new EventStore(dir, () => at, (r) => rebuildEvent(r, decoders, opts));
    const b = new RowBatch();
    const m: RawMessage = { bytes: Buffer.from('<38>1 - h sshd 1 - - Failed password for root from 198.18.0.1 port 22 ssh2'), from: '10.0.0.1', transport: 'udp', receivedMs: at };
    const e = normaliseInto(m, decoders, opts, () => undefined, { ...planAll }, b);
    s.appendEncoded(b.take(), 1, at, at);
    normaliseInto(m, decoders, opts, () => undefined, { ...planAll }, b);
    const done: number[] = [];
    s.appendEncodedAsync(b.take(), 1, at, at, at, (n) => done.push(n));
    return s.flushed().then(() => {
      s.close();
      expect(done).toEqual([1]);
      const evs = [...s.read(s.days()[0]!, 0, Infinity)];
      expect(evs).toStrictEqual([e, e]);
      expect(verifyStore(s.root, s.publicKeyPem())).toMatchObject({ ok: true, batches: 2, events: 2 });
    });
  });
});

const planAll = { timestamp: true, ingested: true, created: true, hourCst: true, original: true, message: true, syslog: true, hostName: true, labels: true, vendor: true, sequence: true, tags: true };
