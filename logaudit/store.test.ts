import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cstDay, EventStore, verifyStore } from './store.js';

function ev(i: number, ms: number): Record<string, string | number> {
  return { '@timestamp': new Date(ms).toISOString(), message: `event ${i}`, 'source.ip': '10.0.0.1' };
}

describe('event store', () => {
  it('day partitions, reads back, verifies, and detects tampering', () => {
    const dir = mkdtempSync(join(tmpdir(), 'la-store-'));
    const clock = { ms: Date.parse('2026-12-05T12:00:00+08:00') };
    const s = new EventStore(dir, () => clock.ms);
    s.append([ev(1, clock.ms), ev(2, clock.ms)]);
    s.append([ev(3, clock.ms)]);
    clock.ms += 86_400_000;
    s.append([ev(4, clock.ms)]);
    s.close();
    expect(s.days()).toEqual(['2026-12-05', '2026-12-06']);
    expect([...s.read('2026-12-05', 0, Infinity)].map((e) => e.message)).toEqual(['event 1', 'event 2', 'event 3']);
    const pub = s.publicKeyPem();
    expect(verifyStore(s.root, pub)).toMatchObject({ ok: true, days: 2, batches: 3, events: 4 });

    // flip one byte of a compressed batch
    const data = join(s.root, '2026-12-05', 'data.ndjson.gz');
    const orig = readFileSync(data);
    const bad = Buffer.from(orig);
    bad[bad.length - 5] ^= 0xff;
    writeFileSync(data, bad);
    expect(verifyStore(s.root, pub).problems).toEqual([{ day: '2026-12-05', problem: 'batch 1: content changed' }]);
    writeFileSync(data, orig);

    // bytes appended after the last batch
    writeFileSync(data, Buffer.concat([orig, Buffer.from('x')]));
    expect(verifyStore(s.root, pub).problems).toEqual([{ day: '2026-12-05', problem: 'bytes added to or cut from the data file after the last batch' }]);
    writeFileSync(data, orig);

    // rewrite a manifest without the key
    const mp = join(s.root, '2026-12-06', 'manifest.json');
    const m = JSON.parse(readFileSync(mp, 'utf8'));
    writeFileSync(mp, JSON.stringify({ ...m, events: 99 }));
    expect(verifyStore(s.root, pub).problems.map((p) => p.problem)).toContain('manifest signature does not verify');
    writeFileSync(mp, JSON.stringify(m));

    // remove a whole day: the next day no longer links
    rmSync(join(s.root, '2026-12-05'), { recursive: true });
    expect(verifyStore(s.root, pub).problems).toEqual([{ day: '2026-12-06', problem: 'not linked to the previous day (a day was removed or replaced)' }]);
  });

  it('appends after a restart keep one chain; retention prunes old days and keeps the link', () => {
    const dir = mkdtempSync(join(tmpdir(), 'la-store-'));
    const clock = { ms: Date.parse('2026-06-01T12:00:00+08:00') };
    let s = new EventStore(dir, () => clock.ms);
    s.append([ev(1, clock.ms)]);
    s.close();
    s = new EventStore(dir, () => clock.ms);
    s.append([ev(2, clock.ms)]);
    clock.ms += 200 * 86_400_000;
    s.append([ev(3, clock.ms)]);
    s.close();
    expect(verifyStore(s.root, s.publicKeyPem())).toMatchObject({ ok: true, batches: 3 });
    expect(s.prune(184)).toEqual(['2026-06-01']);
    expect(s.days()).toEqual([cstDay(clock.ms)]);
    expect(verifyStore(s.root, s.publicKeyPem())).toMatchObject({ ok: true, days: 1, events: 1 });
  });
});
