import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMAT_VERSION, type CodeRecord, type Color, type Venue } from '../core/code-record.js';
import type { Delta, DeltaBatch } from '../core/delta.js';
import {
  DB_META,
  displayExpiresAt,
  displayKid,
  DISPLAY_HEADER_BYTES,
  encodeDisplayEntry,
  META_FORMAT,
  REPLICA_MAX_DBS,
  REPLICA_MAX_READERS,
} from '../core/replica-layout.js';
import { ReplicaWriter } from '../sync/replica-writer.js';
import { regionChain, ReplicaReader } from './replica-reader.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The writer must run in ANOTHER process (the point of these tests: commits
 * by the sync daemon become visible to edge processes). Node 20 has no TS
 * loader, so the real sync/replica-writer.ts and the core files it imports
 * are transpiled (typescript.transpileModule, no type check) into a temp dir
 * whose node_modules links to ours, and a small child script drives it over IPC.
 */
function transpileGraph(entry: string, outDir: string): void {
  const seen = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) todo.push(resolve(dirname(file), `${m[1]}.ts`));
    // data imported as JSON (the error catalogues, errors.json) is copied as it is
    for (const m of src.matchAll(/from '(\.{1,2}\/[^']+\.json)' with \{ type: 'json' \}/g)) {
      const data = resolve(dirname(file), m[1]!);
      const copy = join(outDir, relative(ROOT, data));
      mkdirSync(dirname(copy), { recursive: true });
      writeFileSync(copy, readFileSync(data));
    }
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const out = join(outDir, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, js);
  }
}

const CHILD = `
import { ReplicaWriter } from './sync/replica-writer.js';
const w = ReplicaWriter.open({ dir: process.argv[2] });
process.on('message', async (m) => {
  try {
    let result;
    if (m.op === 'apply') result = w.applyBatch(m.batch).length;
    else if (m.op === 'putDisplay') result = await w.putDisplay(m.uid, m.entry);
    else if (m.op === 'displayEntry') result = w.displayEntry(m.uid);
    else if (m.op === 'meta') { w.setSyncedAt(m.syncedAt); w.setKeys(m.keys); w.setStreamId(m.streamId); }
    else if (m.op === 'close') { await w.close(); process.send({ id: m.id, ok: true }, () => process.exit(0)); return; }
    process.send({ id: m.id, ok: true, result });
  } catch (e) {
    process.send({ id: m.id, ok: false, error: String(e.code ?? e.message) });
  }
});
process.send({ ready: true });
`;

class ChildWriter {
  private next = 1;
  private readonly pending = new Map<number, (m: { ok: boolean; result?: unknown; error?: string }) => void>();
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: { id?: number; ok: boolean; result?: unknown; error?: string }) => {
      if (m.id !== undefined) this.pending.get(m.id)?.(m);
    });
  }

  static async start(codeDir: string, replicaDir: string): Promise<ChildWriter> {
    const child = fork(join(codeDir, 'child.mjs'), [replicaDir], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((ok, fail) => {
      child.once('message', () => ok());
      child.once('exit', (c) => fail(new Error(`child writer exited with ${c}`)));
    });
    return new ChildWriter(child);
  }

  async call(msg: Record<string, unknown>): Promise<unknown> {
    const id = this.next++;
    const reply = await new Promise<{ ok: boolean; result?: unknown; error?: string }>((ok) => {
      this.pending.set(id, ok);
      this.child.send({ ...msg, id });
    });
    this.pending.delete(id);
    if (!reply.ok) throw Object.assign(new Error(reply.error), { code: reply.error });
    return reply.result;
  }

  async stop(): Promise<void> {
    const exited = new Promise((ok) => this.child.once('exit', ok));
    await this.call({ op: 'close' });
    await exited;
  }
}

function uid(n: number): Uint8Array {
  const u = new Uint8Array(16);
  u[0] = 0xb0;
  u[15] = n;
  return u;
}
function rec(color: Color, seq: number): CodeRecord {
  return { color, reason: color === 'green' ? 'normal' : 'close_contact', since: 1_700_000_000, until: null, name: '李*', notices: [], seq };
}
function code(seq: number, u: Uint8Array, color: Color | null): Delta {
  return { seq, type: 'code', uid: u, record: color === null ? null : rec(color, seq) };
}
function batch(deltas: Delta[]): DeltaBatch {
  return { from: deltas[0]!.seq, to: deltas[deltas.length - 1]!.seq, deltas };
}
/** Lets lmdb-js's per-turn read-txn reset (a setTimeout(0) queued earlier) run first. */
function nextTurn(): Promise<void> {
  return new Promise((ok) => setTimeout(ok, 0));
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hc-reader-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('regionChain', () => {
  it('walks street → district → city → province', () => {
    expect(regionChain('510104001002')).toEqual(['510104001002', '510104001', '510104', '510100', '510000']);
    expect(regionChain('510104001')).toEqual(['510104001', '510104', '510100', '510000']);
    expect(regionChain('510104')).toEqual(['510104', '510100', '510000']);
    expect(regionChain('510100')).toEqual(['510100', '510000']);
    expect(regionChain('510000')).toEqual(['510000']);
  });
  it('yields nothing for a malformed code', () => {
    for (const bad of ['', '51010', '5101041', '51010400100', 'abcdef', '5101040010023']) expect(regionChain(bad)).toEqual([]);
  });
});

describe('ReplicaReader.open refusals', () => {
  it('refuses an absent replica with EDGE_ERR_REPLICA_MISSING and creates nothing', () => {
    const dir = join(tmp, 'absent', 'replica');
    expect(() => ReplicaReader.open(dir)).toThrow(expect.objectContaining({ code: 'EDGE_ERR_REPLICA_MISSING', statusCode: 503 }));
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses an LMDB environment that no replica writer initialised', async () => {
    const dir = join(tmp, 'bare');
    const env = open({ path: dir, maxDbs: REPLICA_MAX_DBS, maxReaders: REPLICA_MAX_READERS });
    await env.put('x', 1);
    await env.close();
    expect(() => ReplicaReader.open(dir)).toThrow(expect.objectContaining({ code: 'EDGE_ERR_REPLICA_MISSING' }));
  });

  it('refuses a replica of a newer format with EDGE_ERR_REPLICA_FORMAT', async () => {
    const dir = join(tmp, 'newer');
    await ReplicaWriter.open({ dir }).close();
    const env = open({ path: dir, maxDbs: REPLICA_MAX_DBS, maxReaders: REPLICA_MAX_READERS });
    await env.openDB(DB_META, {}).put(META_FORMAT, FORMAT_VERSION + 1);
    await env.close();
    expect(() => ReplicaReader.open(dir)).toThrow(expect.objectContaining({ code: 'EDGE_ERR_REPLICA_FORMAT' }));
  });
});

describe('ReplicaReader against a writer in another process', () => {
  let codeDir: string;
  let dir: string;
  let child: ChildWriter;
  let r: ReplicaReader;

  beforeAll(async () => {
    codeDir = join(tmp, 'code');
    transpileGraph('sync/replica-writer.ts', codeDir);
    writeFileSync(join(codeDir, 'package.json'), '{"type":"module"}');
    symlinkSync(join(ROOT, 'node_modules'), join(codeDir, 'node_modules'), 'dir');
    writeFileSync(join(codeDir, 'child.mjs'), CHILD);
    dir = join(tmp, 'live', 'replica');
    child = await ChildWriter.start(codeDir, dir); // creates the replica
    r = ReplicaReader.open(dir);
  });

  afterAll(async () => {
    await r?.close();
    await child?.stop();
  });

  it('opens a fresh replica at sequence 0 with the current format', () => {
    expect(r.appliedSeq()).toBe(0);
    expect(r.formatVersion()).toBe(FORMAT_VERSION);
    expect(r.syncedAt()).toBeUndefined();
    expect(r.keys()).toBeUndefined();
    expect(r.code(uid(1))).toBeUndefined();
    expect(r.displayFast(uid(1))).toBeUndefined();
  });

  it("sees the other process's commits from the next event-loop turn", async () => {
    expect(r.code(uid(1))).toBeUndefined(); // holds this turn's read snapshot
    await child.call({ op: 'apply', batch: batch([code(1, uid(1), 'green')]) });
    await nextTurn();
    expect(r.code(uid(1))).toEqual(rec('green', 1));
    expect(r.appliedSeq()).toBe(1);
  });

  it('sees them at once after refresh()', async () => {
    expect(r.code(uid(2))).toBeUndefined();
    await child.call({ op: 'apply', batch: batch([code(2, uid(2), 'red')]) });
    r.refresh();
    expect(r.code(uid(2))?.color).toBe('red');
  });

  it('reads venues, risk areas (walking up regions), rules and meta', async () => {
    const venue: Venue = { id: 'v-airport', name: '双流机场T2', region: '510116001', kind: 'entry', entryTestHours: 24 };
    await child.call({
      op: 'apply',
      batch: batch([
        { seq: 3, type: 'venue', id: venue.id, venue },
        { seq: 4, type: 'risk_area', region: '510116', area: { region: '510116', level: 'medium', since: 10 } },
        { seq: 5, type: 'risk_area', region: '510104001', area: { region: '510104001', level: 'high', since: 11 } },
        { seq: 6, type: 'rules', version: 'r1', activeFrom: 1_700_000_000, ruleSet: { rules: [{ if: 'confirmed', then: 'red' }] } },
      ]),
    });
    const keys = { keys: [{ kid: 1, alg: 'Ed25519', publicKey: 'q83v', notBefore: 1, notAfter: 2 }] };
    await child.call({ op: 'meta', syncedAt: 1_700_000_000_500, keys, streamId: '6-0' });
    r.refresh();
    expect(r.venue(venue.id)).toEqual(venue);
    expect(r.venue('v-none')).toBeUndefined();
    expect(r.venue('')).toBeUndefined();
    expect(r.venue('v'.repeat(5000))).toBeUndefined(); // user input: a miss, not an LMDB key-size error
    expect(r.riskArea('5'.repeat(5000))).toBeUndefined();
    expect(r.rules('')).toBeUndefined();
    expect(r.riskArea('510116')?.level).toBe('medium');
    expect(r.riskArea('510116001')).toBeUndefined();
    expect(r.riskAreaCovering('510116001007')?.region).toBe('510116'); // street → district
    expect(r.riskAreaCovering('510104001')?.level).toBe('high');
    expect(r.riskAreaCovering('510105')).toBeUndefined();
    expect(r.riskAreaCovering('nonsense')).toBeUndefined();
    expect(r.rules('r1')).toEqual({ version: 'r1', activeFrom: 1_700_000_000, ruleSet: { rules: [{ if: 'confirmed', then: 'red' }] } });
    expect(r.rules('r0')).toBeUndefined();
    expect(r.keys()).toEqual(keys);
    expect(r.syncedAt()).toBe(1_700_000_000_500);
    expect(r.streamId()).toBe('6-0');
    expect(r.appliedSeq()).toBe(6);
  });

  it('displayFast returns exactly the stored bytes: length AND byteLength', async () => {
    const big = encodeDisplayEntry(1_700_100_000, 3, Buffer.from(JSON.stringify({ color: 'green', pad: 'x'.repeat(900) })));
    const small = encodeDisplayEntry(1_700_200_000, 258, Buffer.from('{"color":"red"}'));
    expect(await child.call({ op: 'putDisplay', uid: uid(1), entry: big })).toBe(true);
    expect(await child.call({ op: 'putDisplay', uid: uid(2), entry: small })).toBe(true);
    r.refresh();
    const a = r.displayFast(uid(1))!;
    expect(a.byteLength).toBe(big.length);
    expect(Buffer.from(a)).toEqual(big);
    // read the small one after the big one: same shared buffer, must not carry the tail
    const b = r.displayFast(uid(2))!;
    expect(b.length).toBe(small.length);
    expect(b.byteLength).toBe(small.length);
    expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toEqual(small);
    expect(displayExpiresAt(b)).toBe(1_700_200_000);
    expect(displayKid(b)).toBe(258);
    expect(Buffer.from(b.subarray(DISPLAY_HEADER_BYTES)).toString()).toBe('{"color":"red"}');
  });

  it('freshDisplayBody reads the uid in place and returns the body only while the entry is valid', async () => {
    r.refresh();
    const src = new Uint8Array(64); // a key source like the session table: the uid sits at some offset
    src.set(uid(2), 5);
    const b = r.freshDisplayBody(src, 5, 1_700_199_999)!;
    expect(Buffer.from(b).toString()).toBe('{"color":"red"}');
    expect(b.byteLength).toBe(b.length);
    expect(r.freshDisplayBody(src, 5, 1_700_200_000)).toBeUndefined(); // expiry not after `validAfter`: due for re-signing
    src.set(uid(1), 5);
    const a = r.freshDisplayBody(src, 5, 0)!;
    expect(JSON.parse(Buffer.from(a).toString()).pad).toHaveLength(900);
    expect(a.byteLength).toBe(a.length);
    // the small one again after the big one: the same view object, showing the small body only
    src.set(uid(2), 5);
    expect(r.freshDisplayBody(src, 5, 0)).toBe(b);
    expect(Buffer.from(b).toString()).toBe('{"color":"red"}');
    src.set(uid(77), 5);
    expect(r.freshDisplayBody(src, 5, 0)).toBeUndefined();
    // byte keys keep working on the same database
    expect(Buffer.from(r.displayFast(uid(2))!.subarray(DISPLAY_HEADER_BYTES)).toString()).toBe('{"color":"red"}');
  });

  it('stores display entries it signed, visible to the writer process, and loses them when the code changes', async () => {
    const e = encodeDisplayEntry(1_700_300_000, 9, Buffer.from('{"color":"green","by":"edge"}'));
    expect(await r.putDisplay(uid(1), e)).toBe(true);
    expect(Buffer.from((await child.call({ op: 'displayEntry', uid: uid(1) })) as Uint8Array)).toEqual(e);
    await child.call({ op: 'apply', batch: batch([code(7, uid(1), 'yellow')]) });
    r.refresh();
    expect(r.displayFast(uid(1))).toBeUndefined();
    expect(r.code(uid(1))?.color).toBe('yellow');
    expect(r.displayFast(uid(2))).toBeDefined(); // another uid's entry stays
  });

  it('drops a display put rendered from a code the writer has since replaced (ifCodeSeq)', async () => {
    r.refresh();
    const seen = r.code(uid(2))!; // the edge renders from this…
    await child.call({ op: 'apply', batch: batch([code(8, uid(2), 'green')]) }); // …while the daemon changes it
    const stale = encodeDisplayEntry(1_700_400_000, 9, Buffer.from('{"color":"red"}'));
    expect(await r.putDisplay(uid(2), stale, seen.seq)).toBe(false);
    r.refresh();
    expect(r.displayFast(uid(2))).toBeUndefined();
    const fresh = encodeDisplayEntry(1_700_400_000, 9, Buffer.from('{"color":"green"}'));
    expect(await r.putDisplay(uid(2), fresh, r.code(uid(2))!.seq)).toBe(true);
    r.refresh();
    expect(Buffer.from(r.displayFast(uid(2))!)).toEqual(fresh);
    await expect(r.putDisplay(new Uint8Array(8), fresh)).rejects.toThrow(TypeError);
  });

  it('reports a gap from the writer process unchanged', async () => {
    await expect(child.call({ op: 'apply', batch: batch([code(20, uid(3), 'red')]) })).rejects.toMatchObject({ code: 'SYNC_ERR_GAP' });
    r.refresh();
    expect(r.appliedSeq()).toBe(8);
    expect(r.code(uid(3))).toBeUndefined();
  });
});
