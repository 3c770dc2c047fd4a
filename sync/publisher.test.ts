import { afterEach, describe, expect, it } from 'vitest';
import type { CodeRecord } from '../core/code-record.js';
import { decodeDeltaBatch, type Delta } from '../core/delta.js';
import { MemoryDeltaBus } from './bus-memory.js';
import type { BusEntry, DeltaBus, DeltaEntry, PublishResult } from './delta-bus.js';
import { SyncError } from './errors.js';
import { Publisher, RateMeter, type OutboxSource, type PublisherOptions } from './publisher.js';

// ── a real in-memory outbox (the interface's contract, no master behind it) ──

function codeDelta(seq: number): Delta {
  const uid = new Uint8Array(16);
  new DataView(uid.buffer).setUint32(0, seq);
  const record: CodeRecord = {
    color: seq % 3 === 0 ? 'yellow' : 'green',
    reason: 'district_lockdown',
    since: 1_700_000_000,
    until: null,
    name: '张*三',
    notices: [],
    seq,
  };
  return { seq, type: 'code', uid, record };
}

class MemoryOutbox implements OutboxSource {
  rows: Delta[] = [];
  reads = 0;
  pruned = 0;
  append(n: number, make: (seq: number) => Delta = codeDelta): number {
    const last = this.rows.length > 0 ? this.rows[this.rows.length - 1]!.seq : this.pruned;
    for (let i = 1; i <= n; i++) this.rows.push(make(last + i));
    return last + n;
  }
  async readOutbox(afterSeq: number, limit: number): Promise<Delta[]> {
    this.reads++;
    let i = 0;
    while (i < this.rows.length && this.rows[i]!.seq <= afterSeq) i++;
    return this.rows.slice(i, i + limit);
  }
  async maxSeq(): Promise<number> {
    return this.rows.length > 0 ? this.rows[this.rows.length - 1]!.seq : this.pruned;
  }
}

/** A generated outbox of `total` code deltas: a mass change without holding 1M objects. */
class GeneratedOutbox implements OutboxSource {
  constructor(private readonly total: number) {}
  async readOutbox(afterSeq: number, limit: number): Promise<Delta[]> {
    const out: Delta[] = [];
    for (let s = afterSeq + 1; s <= Math.min(this.total, afterSeq + limit); s++) out.push(codeDelta(s));
    return out;
  }
  async maxSeq(): Promise<number> {
    return this.total;
  }
}

/**
 * Fault injector around OUR DeltaBus interface (not a mock of an
 * implementation): calls go to a real bus, except while `down` (every call
 * throws SYNC_ERR_BUS_UNAVAILABLE) or when `loseNextReply` (the publish is
 * applied, then its reply is "lost" — the throw a dropped connection gives).
 * `inner` can be swapped to emulate a failover to a replica.
 */
class FaultyBus implements DeltaBus {
  down = false;
  loseNextReply = false;
  calls = 0;
  constructor(public inner: DeltaBus) {}
  private gate(): void {
    this.calls++;
    if (this.down) throw new SyncError('SYNC_ERR_BUS_UNAVAILABLE', 'injected: connection refused');
  }
  async publishDeltas(batch: Buffer, fromSeq: number, toSeq: number): Promise<PublishResult> {
    this.gate();
    const r = await this.inner.publishDeltas(batch, fromSeq, toSeq);
    if (this.loseNextReply) {
      this.loseNextReply = false;
      throw new SyncError('SYNC_ERR_BUS_UNAVAILABLE', 'injected: connection reset before the reply');
    }
    return r;
  }
  async readDeltas(afterSeq: number, count: number, blockMs: number): Promise<DeltaEntry[]> {
    this.gate();
    return this.inner.readDeltas(afterSeq, count, blockMs);
  }
  async firstDeltaSeq(): Promise<number | null> {
    this.gate();
    return this.inner.firstDeltaSeq();
  }
  async lastDeltaSeq(): Promise<number> {
    this.gate();
    return this.inner.lastDeltaSeq();
  }
  async trimDeltas(maxLen: number): Promise<void> {
    this.gate();
    return this.inner.trimDeltas(maxLen);
  }
  async appendScans(payloads: readonly Buffer[]): Promise<void> {
    this.gate();
    return this.inner.appendScans(payloads);
  }
  async readScans(afterId: string, count: number, blockMs: number): Promise<BusEntry[]> {
    this.gate();
    return this.inner.readScans(afterId, count, blockMs);
  }
  async trimScans(throughId: string): Promise<void> {
    this.gate();
    return this.inner.trimScans(throughId);
  }
  async close(): Promise<void> {
    return this.inner.close();
  }
}

async function allEntries(bus: DeltaBus): Promise<DeltaEntry[]> {
  const out: DeltaEntry[] = [];
  let pos = 0;
  for (;;) {
    const got = await bus.readDeltas(pos, 1000, 0);
    if (got.length === 0) return out;
    out.push(...got);
    pos = got[got.length - 1]!.toSeq;
  }
}

/** Every seq on the bus, decoded, in stream order. */
async function seqsOnBus(bus: DeltaBus): Promise<number[]> {
  const seqs: number[] = [];
  for (const e of await allEntries(bus)) {
    const b = decodeDeltaBatch(e.payload);
    expect([b.from, b.to]).toEqual([e.fromSeq, e.toSeq]);
    for (const d of b.deltas) seqs.push(d.seq);
  }
  return seqs;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const running: Publisher[] = [];
function publisher(opts: PublisherOptions): Publisher {
  const p = new Publisher({ minBackoffMs: 5, maxBackoffMs: 40, pollMs: 10, verifyEveryMs: 50, ...opts });
  running.push(p);
  return p;
}
afterEach(async () => {
  for (const p of running.splice(0)) await p.stop();
});

const WAIT = 20_000;

describe('Publisher', () => {
  it('copies the outbox to the bus in order, every seq exactly once, in batches of maxDeltasPerEntry', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    outbox.append(10_000);
    const p = publisher({ bus, source: outbox, maxDeltasPerEntry: 500 });
    p.start();
    expect(await p.waitFor(10_000, WAIT)).toBe(true);
    const entries = await allEntries(bus);
    expect(entries).toHaveLength(20);
    expect(entries.every((e) => e.toSeq - e.fromSeq + 1 === 500)).toBe(true);
    expect(await seqsOnBus(bus)).toEqual(range(1, 10_000));
    const m = p.metrics();
    expect(m.publishedSeq).toBe(10_000);
    expect(m.entriesPublished).toBe(20);
    expect(m.deltasPublished).toBe(10_000);
    expect(m.bytesPublished).toBe(entries.reduce((n, e) => n + e.payload.length, 0));
  });

  it('keeps every entry within maxBytesPerEntry; a single larger delta goes alone', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    outbox.append(3000);
    const big = { seq: 0, type: 'rules' as const, version: 'r2', activeFrom: 0, ruleSet: { blob: 'x'.repeat(20_000) } };
    outbox.append(1, (seq) => ({ ...big, seq }));
    outbox.append(500);
    const p = publisher({ bus, source: outbox, maxBytesPerEntry: 4096 });
    p.start();
    expect(await p.waitFor(3501, WAIT)).toBe(true);
    const entries = await allEntries(bus);
    for (const e of entries) {
      if (e.fromSeq === 3001) expect([e.toSeq, e.payload.length > 4096]).toEqual([3001, true]);
      else expect(e.payload.length).toBeLessThanOrEqual(4096);
    }
    // and they are reasonably full (not one delta per entry)
    expect(entries.length).toBeLessThan(3501 / 20);
    expect(await seqsOnBus(bus)).toEqual(range(1, 3501));
  });

  it('sends a mass change of 1M code deltas as a few hundred entries, not 1M', { timeout: 120_000 }, async () => {
    const bus = new MemoryDeltaBus();
    const p = publisher({ bus, source: new GeneratedOutbox(1_000_000) });
    p.start();
    expect(await p.waitFor(1_000_000, 100_000)).toBe(true);
    const entries = await allEntries(bus);
    expect(entries.length).toBeGreaterThanOrEqual(100);
    expect(entries.length).toBeLessThanOrEqual(500);
    let next = 1;
    for (const e of entries) {
      expect(e.fromSeq).toBe(next);
      expect(e.payload.length).toBeLessThanOrEqual(1 << 20);
      next = e.toSeq + 1;
    }
    expect(next).toBe(1_000_001);
    const last = decodeDeltaBatch(entries[entries.length - 1]!.payload);
    expect(last.deltas[last.deltas.length - 1]).toMatchObject({ seq: 1_000_000, type: 'code' });
    expect(p.metrics()).toMatchObject({ publishedSeq: 1_000_000, deltasPublished: 1_000_000, lagDeltas: 0 });
  });

  it('publishes what is committed later, on kick(), with polling off', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    const p = publisher({ bus, source: outbox, pollMs: 0, verifyEveryMs: 0 });
    p.start();
    expect(await p.waitFor(0, WAIT)).toBe(true);
    for (let commit = 1; commit <= 20; commit++) {
      const seq = outbox.append(commit);
      p.kick();
      expect(await p.waitFor(seq, WAIT)).toBe(true);
    }
    expect(await seqsOnBus(bus)).toEqual(range(1, 210));
  });

  it('with polling off and no kick, a commit stays unpublished (kick is what wakes it)', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    const p = publisher({ bus, source: outbox, pollMs: 0, verifyEveryMs: 0 });
    p.start();
    await p.waitFor(0, WAIT);
    await new Promise((r) => setTimeout(r, 20)); // let it go idle
    outbox.append(5);
    expect(await p.waitFor(5, 100)).toBe(false);
    p.kick();
    expect(await p.waitFor(5, WAIT)).toBe(true);
  });

  it('publishes by polling when nobody kicks (cluster mode)', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    const p = publisher({ bus, source: outbox, pollMs: 10 });
    p.start();
    for (let i = 0; i < 5; i++) {
      const seq = outbox.append(7);
      expect(await p.waitFor(seq, WAIT)).toBe(true);
    }
    expect(await seqsOnBus(bus)).toEqual(range(1, 35));
  });

  it('resumes after a restart from the bus position: no duplicate, no gap', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    outbox.append(1000);
    const a = publisher({ bus, source: outbox, maxDeltasPerEntry: 64 });
    a.start();
    expect(await a.waitFor(1000, WAIT)).toBe(true);
    await a.stop();
    outbox.append(500); // committed while no publisher ran
    const reads = outbox.reads;
    const b = publisher({ bus, source: outbox, maxDeltasPerEntry: 100 });
    b.start();
    expect(await b.waitFor(1500, WAIT)).toBe(true);
    expect(await seqsOnBus(bus)).toEqual(range(1, 1500));
    // it started reading at 1000, not at 0: the first new entry begins at 1001
    expect((await bus.readDeltas(1000, 1, 0))[0]!.fromSeq).toBe(1001);
    expect(outbox.reads - reads).toBeLessThan(10);
    expect(b.metrics().resyncs).toBe(0);
    // the same object stopped and started again
    await b.stop();
    outbox.append(77);
    b.start();
    expect(await b.waitFor(1577, WAIT)).toBe(true);
    expect(await seqsOnBus(bus)).toEqual(range(1, 1577));
  });

  it('rides out a bus outage with backoff, reports it, and catches up without loss or duplicates', async () => {
    const real = new MemoryDeltaBus();
    const bus = new FaultyBus(real);
    const outbox = new MemoryOutbox();
    const errors: Error[] = [];
    const p = publisher({ bus, source: outbox, onError: (e) => errors.push(e), maxDeltasPerEntry: 50 });
    outbox.append(300);
    p.start();
    expect(await p.waitFor(300, WAIT)).toBe(true);
    bus.down = true;
    outbox.append(700);
    p.kick();
    while (errors.length < 5) await new Promise((r) => setTimeout(r, 10));
    expect(p.metrics().state).toBe('backoff');
    expect(p.metrics().publishedSeq).toBe(300);
    expect(p.metrics().lagDeltas).toBe(700);
    bus.down = false;
    expect(await p.waitFor(1000, WAIT)).toBe(true);
    expect(await seqsOnBus(real)).toEqual(range(1, 1000));
    expect(errors.every((e) => (e as SyncError).code === 'SYNC_ERR_BUS_UNAVAILABLE')).toBe(true);
    const m = p.metrics();
    expect(m.errors).toBe(errors.length);
    expect(m.lastError).toContain('injected');
    expect(m.lagDeltas).toBe(0);
  });

  it('a publish applied whose reply was lost is not published twice', async () => {
    const real = new MemoryDeltaBus();
    const bus = new FaultyBus(real);
    const outbox = new MemoryOutbox();
    const p = publisher({ bus, source: outbox, maxDeltasPerEntry: 10 });
    outbox.append(25);
    bus.loseNextReply = true;
    p.start();
    expect(await p.waitFor(25, WAIT)).toBe(true);
    for (let i = 0; i < 5; i++) {
      outbox.append(13);
      bus.loseNextReply = true;
      p.kick();
      expect(await p.waitFor(25 + 13 * (i + 1), WAIT)).toBe(true);
    }
    expect(await seqsOnBus(real)).toEqual(range(1, 90));
    expect(p.metrics().errors).toBe(6);
  });

  it('re-publishes a tail the bus lost (failover to a replica that lacked the last entries)', async () => {
    const primary = new MemoryDeltaBus();
    const bus = new FaultyBus(primary);
    const outbox = new MemoryOutbox();
    outbox.append(500);
    const p = publisher({ bus, source: outbox, maxDeltasPerEntry: 50 });
    p.start();
    expect(await p.waitFor(500, WAIT)).toBe(true);
    // the replica had only the first 7 entries (1..350) when it was promoted
    const replica = new MemoryDeltaBus();
    for (const e of (await allEntries(primary)).slice(0, 7)) await replica.publishDeltas(e.payload, e.fromSeq, e.toSeq);
    bus.inner = replica;
    // seen either by verify() while idle or by 'not-next' on the next publish
    outbox.append(100);
    p.kick();
    for (;;) {
      if ((await replica.lastDeltaSeq()) === 600) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await seqsOnBus(replica)).toEqual(range(1, 600));
    expect(p.metrics().resyncs).toBeGreaterThanOrEqual(1);
  });

  it('two publishers on one bus (a hand-over) still put every seq on it exactly once', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    const a = publisher({ bus, source: outbox, maxDeltasPerEntry: 7 });
    const b = publisher({ bus, source: outbox, maxDeltasPerEntry: 11 });
    a.start();
    b.start();
    for (let i = 0; i < 30; i++) {
      outbox.append(17);
      a.kick();
      b.kick();
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await a.waitFor(510, WAIT)).toBe(true);
    expect(await b.waitFor(510, WAIT)).toBe(true);
    expect(await seqsOnBus(bus)).toEqual(range(1, 510));
  });

  it('never skips a hole in the outbox: waits, reports SYNC_ERR_OUTBOX_GAP, goes on once it is filled', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    outbox.append(60);
    const hole = outbox.rows.splice(49, 1)[0]!; // seq 50 not committed yet
    const errors: Error[] = [];
    const p = publisher({ bus, source: outbox, gapRetryMs: 5, gapReportMs: 30, onError: (e) => errors.push(e) });
    p.start();
    expect(await p.waitFor(49, WAIT)).toBe(true);
    while (errors.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(errors[0]).toMatchObject({ code: 'SYNC_ERR_OUTBOX_GAP' });
    expect(errors[0]!.message).toContain('seq 50 missing');
    expect(p.metrics()).toMatchObject({ state: 'waiting-for-gap', publishedSeq: 49, waitingForSeq: 50, outboxSeq: 60, lagDeltas: 11 });
    outbox.rows.splice(49, 0, hole); // the transaction commits
    expect(await p.waitFor(60, WAIT)).toBe(true);
    expect(await seqsOnBus(bus)).toEqual(range(1, 60));
    expect(p.metrics().waitingForSeq).toBeNull();
  });

  it('on an empty bus starts right after a pruned outbox (prunedThrough), not at seq 1', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    outbox.pruned = 500;
    outbox.append(100);
    const source: OutboxSource = {
      readOutbox: (a, l) => outbox.readOutbox(a, l),
      maxSeq: () => outbox.maxSeq(),
      prunedThrough: async () => outbox.pruned,
    };
    const p = publisher({ bus, source });
    p.start();
    expect(await p.waitFor(600, WAIT)).toBe(true);
    expect(await seqsOnBus(bus)).toEqual(range(501, 600));
    await new Promise((r) => setTimeout(r, 120)); // a few verify rounds: bus top 600 = ours, no resync
    expect(p.metrics().resyncs).toBe(0);
  });

  it('without prunedThrough, an outbox that starts after 1 is a hole: nothing is skipped', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    outbox.pruned = 500;
    outbox.append(10);
    const errors: Error[] = [];
    const p = publisher({ bus, source: outbox, gapReportMs: 20, gapRetryMs: 5, onError: (e) => errors.push(e) });
    p.start();
    while (errors.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(errors[0]).toMatchObject({ code: 'SYNC_ERR_OUTBOX_GAP' });
    expect(await bus.lastDeltaSeq()).toBe(0);
  });

  it('refuses to publish onto a bus that is ahead of the outbox (SYNC_ERR_BUS_AHEAD) and keeps retrying', async () => {
    const bus = new MemoryDeltaBus();
    await bus.publishDeltas(Buffer.from([1, 0x90]), 1, 100);
    const outbox = new MemoryOutbox();
    outbox.append(50);
    const errors: Error[] = [];
    const p = publisher({ bus, source: outbox, onError: (e) => errors.push(e) });
    p.start();
    while (errors.length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(errors.every((e) => (e as SyncError).code === 'SYNC_ERR_BUS_AHEAD')).toBe(true);
    expect(errors[0]!.message).toContain('top is 100 but the outbox ends at 50');
    expect((await allEntries(bus)).map((e) => [e.fromSeq, e.toSeq])).toEqual([[1, 100]]);
  });

  it('survives a failing outbox (master down) and a throwing onError', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    outbox.append(40);
    let down = true;
    let reported = 0;
    const source: OutboxSource = {
      readOutbox: async (a, l) => {
        if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        return outbox.readOutbox(a, l);
      },
      maxSeq: async () => {
        if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        return outbox.maxSeq();
      },
    };
    const p = publisher({
      bus,
      source,
      onError: () => {
        reported++;
        throw new Error('logger broke');
      },
    });
    p.start();
    while (reported < 3) await new Promise((r) => setTimeout(r, 5));
    down = false;
    expect(await p.waitFor(40, WAIT)).toBe(true);
    expect(await seqsOnBus(bus)).toEqual(range(1, 40));
  });

  it('trims the bus to about retainEntries every trimEveryEntries entries', async () => {
    const bus = new MemoryDeltaBus();
    const outbox = new MemoryOutbox();
    outbox.append(1000);
    const p = publisher({ bus, source: outbox, maxDeltasPerEntry: 10, retainEntries: 20, trimEveryEntries: 25 });
    p.start();
    expect(await p.waitFor(1000, WAIT)).toBe(true);
    // 100 entries published, trimmed to 20 after the 100th
    expect(await bus.firstDeltaSeq()).toBe(801);
    expect(await bus.lastDeltaSeq()).toBe(1000);
  });

  it('stop() ends a long backoff promptly', { timeout: WAIT }, async () => {
    const bus = new FaultyBus(new MemoryDeltaBus());
    bus.down = true;
    const p = new Publisher({ bus, source: new MemoryOutbox(), minBackoffMs: 600_000, maxBackoffMs: 600_000 });
    p.start();
    while (bus.calls === 0) await new Promise((r) => setTimeout(r, 5));
    await p.stop(); // would hang for 10 minutes if the backoff sleep did not wake
    expect(p.metrics().state).toBe('stopped');
  });

  it('waitFor resolves false on timeout and on stop', async () => {
    const p = publisher({ bus: new MemoryDeltaBus(), source: new MemoryOutbox() });
    expect(await p.waitFor(5, 10)).toBe(false);
    p.start();
    const w = p.waitFor(5, 60_000);
    await p.stop();
    expect(await w).toBe(false);
  });

  it('refuses bad options with SYNC_ERR_PUBLISHER_CONFIG', () => {
    const base = { bus: new MemoryDeltaBus(), source: new MemoryOutbox() };
    for (const bad of [{ maxDeltasPerEntry: 0 }, { maxBytesPerEntry: 1.5 }, { readLimit: -1 }, { pollMs: -1 }, { retainEntries: NaN }, { minBackoffMs: 0 }]) {
      expect(() => new Publisher({ ...base, ...bad })).toThrow(expect.objectContaining({ code: 'SYNC_ERR_PUBLISHER_CONFIG' }));
    }
  });
});

describe('RateMeter', () => {
  it('averages the last 5 whole seconds and forgets older ones', () => {
    const m = new RateMeter();
    const t0 = 1_000_000_000;
    for (let s = 0; s < 5; s++) m.add(10 * (s + 1), t0 + s * 1000 + 500); // 10, 20, 30, 40, 50
    m.add(999, t0 + 5000 + 100); // the current second does not count yet
    expect(m.perSecond(t0 + 5000 + 200)).toBe((10 + 20 + 30 + 40 + 50) / 5);
    expect(m.perSecond(t0 + 7000)).toBe((30 + 40 + 50 + 999) / 5);
    expect(m.perSecond(t0 + 60_000)).toBe(0);
  });
});
