import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeCodeRecord, type CodeRecord } from '../core/code-record.js';
import type { Delta } from '../core/delta.js';
import { encodeDisplayEntry, REPLICA_DIR } from '../core/replica-layout.js';
import { issueSession } from '../core/session-token.js';
import { ReplicaWriter, type ReplicaImage, type ReplicaImageDb } from '../sync/replica-writer.js';
import { DisplayCache, MAX_CACHED_BODY } from './display-cache.js';
import { ReplicaReader } from './replica-reader.js';
import { SessionCache, UID_OFFSET } from './session-cache.js';

/**
 * The in-memory display bodies against a real replica: the writer's change
 * log (replica-layout.ts "changes") drops exactly the changed uids; a gap
 * in the log (snapshot load), a mass change and a sequence going back drop
 * everything; a reused session slot never serves another person's body.
 */
const KEY = Buffer.alloc(32, 9);
const NOW = Math.floor(Date.now() / 1000);

function uid(i: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(i, 12);
  return b;
}

function rec(color: CodeRecord['color'], seq: number): CodeRecord {
  return { color, reason: 'none', since: 1_780_000_000, until: null, name: '张*三', notices: [], seq } as CodeRecord;
}

let dir: string;
let writer: ReplicaWriter;
let reader: ReplicaReader;
let sessions: SessionCache;
let cache: DisplayCache;

function code(i: number, color: CodeRecord['color']): void {
  const seq = writer.appliedSeq() + 1;
  writer.applyBatch({ from: seq, to: seq, deltas: [{ seq, type: 'code', uid: uid(i), record: rec(color, seq) } as Delta] });
}

/** session slot of person i (remembered on first use) */
function slotOf(i: number): number {
  const t = issueSession(KEY, uid(i), NOW + 3600);
  const s = sessions.find(t, NOW);
  return s >= 0 ? s : sessions.remember(t, NOW);
}

/** what the server's hot path does: validate once, then cache or LMDB (and fill) */
function serve(i: number): { body: string; from: 'cache' | 'lmdb' } | undefined {
  reader.refresh();
  cache.validate(reader.appliedSeq(), reader);
  const slot = slotOf(i);
  const kept = cache.body(sessions.table, slot, NOW);
  if (kept !== undefined) return { body: Buffer.from(kept).toString(), from: 'cache' };
  const b = reader.freshDisplayBody(sessions.table, slot + UID_OFFSET, NOW);
  if (b === undefined) return undefined;
  cache.fill(sessions.table, slot, b, reader.lastExpiresAt);
  return { body: Buffer.from(b).toString(), from: 'lmdb' };
}

async function store(i: number, body: string, exp = NOW + 3000): Promise<void> {
  await writer.putDisplay(uid(i), encodeDisplayEntry(exp, 1, Buffer.from(body)));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-dcache-'));
  writer = ReplicaWriter.open({ dir: join(dir, REPLICA_DIR) });
  for (let i = 1; i <= 5; i++) code(i, 'green');
  reader = ReplicaReader.open(join(dir, REPLICA_DIR));
  sessions = new SessionCache(64);
  cache = new DisplayCache(4, sessions.table);
});

afterEach(async () => {
  await reader.close();
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('DisplayCache', () => {
  it('serves a body from memory after one LMDB read, until that person’s code changes', async () => {
    await store(1, '{"p":1}');
    await store(2, '{"p":2}');
    expect(serve(1)).toEqual({ body: '{"p":1}', from: 'lmdb' });
    expect(serve(1)).toEqual({ body: '{"p":1}', from: 'cache' });
    expect(serve(2)?.from).toBe('lmdb');
    code(1, 'red'); // deletes 1's stored entry and logs uid 1
    expect(serve(1)).toBeUndefined();
    expect(serve(2)).toEqual({ body: '{"p":2}', from: 'cache' });
    expect(cache.flushes).toBe(1); // only the first validation (empty cache)
    expect(cache.dropped).toBe(1);
    await store(1, '{"p":1,"red":true}');
    expect(serve(1)).toEqual({ body: '{"p":1,"red":true}', from: 'lmdb' });
    expect(serve(1)?.from).toBe('cache');
  });

  it('drops everything after a snapshot load, a mass change or a sequence going back', async () => {
    await store(3, '{"p":3}');
    serve(3);
    expect(serve(3)?.from).toBe('cache');
    // a snapshot load writes no change-log entry: the reader sees a gap
    const empty = <K extends Uint8Array | string>(): ReplicaImageDb<K> => ({ entries: () => [], has: () => false });
    const codes = new Map<string, Uint8Array>();
    for (let i = 1; i <= 5; i++) codes.set(uid(i).toString('latin1'), encodeCodeRecord(rec('green', i)));
    const image: ReplicaImage = {
      seq: writer.appliedSeq() + 10,
      codes: { entries: () => [...codes].map(([k, v]) => [Buffer.from(k, 'latin1'), v] as const), has: (k) => codes.has(Buffer.from(k).toString('latin1')) },
      venues: empty(),
      risk: empty(),
      rules: empty(),
      keys: null,
    };
    writer.loadSnapshot(image);
    const flushes = cache.flushes;
    expect(serve(3)?.from).toBe('lmdb'); // the entry survived the merge (code unchanged) but memory was dropped
    expect(cache.flushes).toBe(flushes + 1);
    expect(serve(3)?.from).toBe('cache');
    // a mass change (more uids than one log entry lists) is logged as "everything"
    const from = writer.appliedSeq() + 1;
    const deltas = Array.from({ length: 5000 }, (_, k) => ({ seq: from + k, type: 'code', uid: uid(100 + k), record: rec('yellow', from + k) }) as Delta);
    writer.applyBatches([{ from, to: from + deltas.length - 1, deltas }]);
    expect(serve(3)?.from).toBe('lmdb');
    expect(cache.flushes).toBe(flushes + 2);
    // appliedSeq lower than what the cache saw (a wiped and re-bootstrapped replica)
    cache.validate(cache.seq - 1, reader);
    expect(cache.flushes).toBe(flushes + 3);
  });

  it('never serves another person’s body from a reused arena entry, and skips oversized bodies', async () => {
    for (let i = 1; i <= 5; i++) await store(i, `{"p":${i}}`);
    for (let i = 1; i <= 5; i++) serve(i); // 5 people, 4 entries: person 1's entry went to person 5
    expect(serve(1)).toEqual({ body: '{"p":1}', from: 'lmdb' });
    for (let i = 1; i <= 5; i++) expect(serve(i)?.body).toBe(`{"p":${i}}`);
    await store(2, `{"big":"${'x'.repeat(MAX_CACHED_BODY)}"}`);
    code(2, 'green'); // drop 2's body
    await store(2, `{"big":"${'x'.repeat(MAX_CACHED_BODY)}"}`);
    expect(serve(2)?.from).toBe('lmdb');
    expect(serve(2)?.from).toBe('lmdb');
  });

  it('does not serve a body whose stored expiry has come', async () => {
    await store(4, '{"p":4}', NOW + 5);
    expect(serve(4)?.from).toBe('lmdb');
    expect(cache.body(sessions.table, slotOf(4), NOW + 4)).toBeDefined();
    expect(cache.body(sessions.table, slotOf(4), NOW + 5)).toBeUndefined();
  });
  it('works the same on a reader attached to the writer’s environment (one env per process, EDGE_WORKERS=1)', async () => {
    const attached = ReplicaReader.attach(join(dir, REPLICA_DIR), writer.rootEnv());
    await store(5, '{"p":5}');
    const slot = slotOf(5);
    expect(Buffer.from(attached.freshDisplayBody(sessions.table, slot + UID_OFFSET, NOW)!).toString()).toBe('{"p":5}');
    const c = new DisplayCache(4, sessions.table);
    c.validate(attached.appliedSeq(), attached);
    c.fill(sessions.table, slot, attached.freshDisplayBody(sessions.table, slot + UID_OFFSET, NOW)!, attached.lastExpiresAt);
    code(5, 'red');
    c.validate(attached.appliedSeq(), attached);
    expect(c.body(sessions.table, slot, NOW)).toBeUndefined();
    expect(c.dropped).toBe(1);
    await attached.close(); // leaves the writer's environment open
    expect(writer.appliedSeq()).toBeGreaterThan(0);
  });
});
