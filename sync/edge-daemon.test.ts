import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeDeltaBatch, type Delta } from '../core/delta.js';
import { KeySet } from '../core/key-set.js';
import type { CodeRecord } from '../core/code-record.js';
import { DISPLAY_HEADER_BYTES, displayKid } from '../core/replica-layout.js';
import type { PublicKeyInfo } from '../core/signing-key.js';
import { verifyTf1 } from '../core/token.js';
import { ensureNodeKeys, publicNodeKeys } from '../edge/node-keys.js';
import { MemoryDeltaBus } from './bus-memory.js';
import { EdgeDaemon } from './edge-daemon.js';

/**
 * The edge daemon without a master: deltas are published onto an in-process
 * bus by hand. Pre-signing of ordinary changes, no pre-signing of mass
 * changes, key registration, trim detection without a snapshot source.
 */
function uid(i: number): Buffer {
  const u = Buffer.alloc(16);
  u.writeUInt32BE(0xabc00000 + i, 0);
  u.writeUInt32BE(i, 12);
  return u;
}

function rec(color: CodeRecord['color'], seq: number): CodeRecord {
  return { color, reason: 'normal', since: 1_780_000_000, until: null, name: '张*三', notices: [], seq };
}

/** Omit over each member of the union (a plain DeltaIn keeps only the shared fields). */
type NoSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;
type DeltaIn = NoSeq<Delta>;

const nowSec = () => Math.floor(Date.now() / 1000);
const signing = { tokenTtlSec: 3600, signAlg: 'Ed25519' as const, keyLifetimeDays: 30 };

describe('edge daemon', () => {
  let dir: string;
  let bus: MemoryDeltaBus;
  let seq: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-daemon-'));
    bus = new MemoryDeltaBus();
    seq = 0;
  });

  afterEach(async () => {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function publish(deltas: DeltaIn[]): Promise<number> {
    const withSeq = deltas.map((d) => ({ ...d, seq: ++seq }) as Delta);
    expect(await bus.publishDeltas(encodeDeltaBatch(withSeq), withSeq[0]!.seq, seq)).toBe('published');
    return seq;
  }

  async function publishKeys(keys: PublicKeyInfo[]): Promise<number> {
    return publish([{ type: 'keys', keys: new KeySet(keys).toPublicJson() } as DeltaIn]);
  }

  it('pre-signs the codes an ordinary change touched; a mass change is left to on-demand signing', async () => {
    const keys = ensureNodeKeys(dir, { alg: 'Ed25519', lifetimeSec: 30 * 86_400, now: nowSec() - 10 });
    await publishKeys(publicNodeKeys(keys));
    const daemon = EdgeDaemon.open({ dataDir: dir, bus, node: 'edge-p', signing, presignMax: 4, blockMs: 50, log: () => {} });
    daemon.start();
    try {
      const s1 = await publish([{ type: 'code', uid: uid(1), record: rec('red', seq + 1) }]);
      expect(await daemon.waitFor(s1, 5000)).toBe(true);
      for (let i = 0; i < 200 && daemon.writer.displayEntry(uid(1)) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      const entry = daemon.writer.displayEntry(uid(1))!;
      expect(displayKid(entry)).toBe(keys[0]!.kid);
      const body = JSON.parse(Buffer.from(entry.subarray(DISPLAY_HEADER_BYTES)).toString('utf8')) as { color: string; token: string };
      expect(body.color).toBe('red');
      const claims = verifyTf1(body.token, new KeySet(publicNodeKeys(keys)), nowSec());
      expect(Buffer.from(claims.uid).equals(uid(1))).toBe(true);
      expect(claims.color).toBe(2);
      // 10 codes in one read > presignMax 4: nothing signed ahead
      const mass: DeltaIn[] = [];
      for (let i = 10; i < 20; i++) mass.push({ type: 'code', uid: uid(i), record: rec('yellow', seq + 1 + (i - 10)) });
      const s2 = await publish(mass);
      expect(await daemon.waitFor(s2, 5000)).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 10; i < 20; i++) expect(daemon.writer.displayEntry(uid(i))).toBeUndefined();
      expect(daemon.metrics()).toMatchObject({ presigned: 1, presignSkipped: 10 });
    } finally {
      await daemon.close();
    }
  });

  it('registers the node keys the replica does not list yet, and only those', async () => {
    const calls: { node: string; kids: number[] }[] = [];
    const registerKeys = async (node: string, keys: PublicKeyInfo[]) => {
      calls.push({ node, kids: keys.map((k) => k.kid) });
    };
    const daemon = EdgeDaemon.open({ dataDir: dir, bus, node: 'edge-k', signing, registerKeys, keysEveryMs: 3_600_000, blockMs: 50, log: () => {} });
    daemon.start();
    try {
      for (let i = 0; i < 100 && calls.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(calls).toHaveLength(1);
      expect(calls[0]!.node).toBe('edge-k');
      const keys = ensureNodeKeys(dir, { alg: 'Ed25519', lifetimeSec: 30 * 86_400, now: nowSec() }); // the file the daemon created
      expect(calls[0]!.kids).toEqual(keys.map((k) => k.kid));
      // the master published them: nothing more to register
      const s = await publishKeys(publicNodeKeys(keys));
      expect(await daemon.waitFor(s, 5000)).toBe(true);
      await daemon.syncKeys();
      expect(calls).toHaveLength(1);
      expect(daemon.metrics().keyRegistrations).toBe(1);
    } finally {
      await daemon.close();
    }
  });

  it('without a snapshot source, a trimmed position is reported and the replica stays where it was', async () => {
    await publish([{ type: 'code', uid: uid(1), record: rec('green', 1) }]);
    const errors: string[] = [];
    let daemon = EdgeDaemon.open({ dataDir: dir, bus, node: 'edge-t', blockMs: 50, log: (l) => errors.push(l) });
    daemon.start();
    expect(await daemon.waitFor(1, 5000)).toBe(true);
    await daemon.close();
    for (let i = 0; i < 5; i++) await publish([{ type: 'code', uid: uid(2), record: rec('red', seq + 1) }]);
    await bus.trimDeltas(1);
    daemon = EdgeDaemon.open({ dataDir: dir, bus, node: 'edge-t', blockMs: 50, log: (l) => errors.push(l) });
    daemon.start();
    try {
      for (let i = 0; i < 100 && !errors.some((e) => e.includes('no snapshot source')); i++) await new Promise((r) => setTimeout(r, 10));
      expect(errors.some((e) => e.includes('no snapshot source'))).toBe(true);
      expect(daemon.appliedSeq()).toBe(1);
      expect(daemon.metrics().errors).toBeGreaterThan(0);
    } finally {
      await daemon.close();
    }
  });
});
