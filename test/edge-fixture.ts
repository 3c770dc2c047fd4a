import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CodeRecord, RiskArea, Venue } from '../core/code-record.js';
import type { Delta } from '../core/delta.js';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { issueSession } from '../core/session-token.js';
import type { EdgeConfig } from '../edge/config.js';
import { ensureNodeKeys, publicNodeKeys, readNodeKeys } from '../edge/node-keys.js';
import { startEdgeServer, type EdgeServer } from '../edge/server.js';
import { ReplicaWriter } from '../sync/replica-writer.js';

/**
 * A real edge node for HTTP end-to-end tests: an LMDB replica in a temp dir
 * written through sync's ReplicaWriter (as the sync daemon would), the
 * node's own keys published in it, and the edge server on a free loopback
 * port. No mocks: requests go over real HTTP.
 */
export const VENUE_NORMAL: Venue = { id: 'V-NORMAL-1', name: '春熙路商场', region: '510104001', kind: 'normal', entryTestHours: null };
export const VENUE_ENTRY: Venue = { id: 'V-ENTRY-1', name: '双流机场T2', region: '510116', kind: 'entry', entryTestHours: 24 };
export const VENUE_RISKY: Venue = { id: 'V-RISK-1', name: '某小区', region: '510107002', kind: 'normal', entryTestHours: null };
export const RISK_AREA: RiskArea = { region: '510107', level: 'high', since: 1_700_000_000 };

export function uidOf(i: number): Buffer {
  const u = Buffer.alloc(16);
  u.writeUInt32BE(0xc0de0000 + i, 0);
  u.writeUInt32BE(i, 12);
  return u;
}

export function record(color: CodeRecord['color'], seq: number, extra: Partial<CodeRecord> = {}): CodeRecord {
  return { color, reason: color === 'green' ? 'none' : 'close_contact', since: 1_780_000_000, until: null, name: '张*三', notices: [], seq, ...extra };
}

export interface EdgeNode {
  readonly dataDir: string;
  readonly writer: ReplicaWriter;
  readonly config: EdgeConfig;
  readonly server: EdgeServer;
  readonly base: string;
  readonly logs: string[];
  session(uid: Uint8Array, ttlSec?: number): string;
  /** applies deltas with the next sequence numbers (as the sync daemon would) */
  apply(deltas: DeltaInput[]): void;
  setCode(uid: Uint8Array, r: CodeRecord | null): void;
  publishNodeKeys(): void;
  close(): Promise<void>;
}

export type DeltaInput =
  | { type: 'code'; uid: Uint8Array; record: CodeRecord | null }
  | { type: 'venue'; id: string; venue: Venue | null }
  | { type: 'risk_area'; region: string; area: RiskArea | null };

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

export function edgeConfig(dataDir: string, over: Partial<EdgeConfig> = {}): EdgeConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    workers: 1,
    dataDir,
    sessionKey: randomBytes(32),
    maxLagSec: 60,
    tokenTtlSec: 3600,
    signAlg: 'Ed25519',
    keyLifetimeDays: 30,
    signThreads: 1,
    sessionCacheSize: 1024,
    ...over,
  };
}

/** Writes a replica with venues, a risk area, `people` green codes (uids uidOf(1..people)), published node keys, synced now. */
export function seedReplica(dataDir: string, people: number, signAlg: 'Ed25519' | 'SM2' = 'Ed25519'): ReplicaWriter {
  const writer = ReplicaWriter.open({ dir: join(dataDir, REPLICA_DIR) });
  const deltas: Delta[] = [];
  let seq = writer.appliedSeq();
  deltas.push({ seq: ++seq, type: 'venue', id: VENUE_NORMAL.id, venue: VENUE_NORMAL });
  deltas.push({ seq: ++seq, type: 'venue', id: VENUE_ENTRY.id, venue: VENUE_ENTRY });
  deltas.push({ seq: ++seq, type: 'venue', id: VENUE_RISKY.id, venue: VENUE_RISKY });
  deltas.push({ seq: ++seq, type: 'risk_area', region: RISK_AREA.region, area: RISK_AREA });
  for (let i = 1; i <= people; i++) {
    seq++;
    deltas.push({ seq, type: 'code', uid: uidOf(i), record: record('green', seq) });
  }
  writer.applyBatch({ from: deltas[0]!.seq, to: seq, deltas });
  ensureNodeKeys(dataDir, { alg: signAlg, lifetimeSec: 30 * 86_400, now: nowSec() - 60 });
  writer.setKeys({ keys: publicNodeKeys(readNodeKeys(dataDir)!) });
  writer.setSyncedAt(Date.now());
  return writer;
}

export async function startEdgeNode(opts: { people?: number; config?: Partial<EdgeConfig> } = {}): Promise<EdgeNode> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hc-edge-'));
  const writer = seedReplica(dataDir, opts.people ?? 10, opts.config?.signAlg);
  const config = edgeConfig(dataDir, opts.config);
  const logs: string[] = [];
  // the test writes the replica from this process (see EdgeDeps.writerInProcess)
  const server = await startEdgeServer(config, { log: (l) => logs.push(l), writerInProcess: true });
  const node: EdgeNode = {
    dataDir,
    writer,
    config,
    server,
    base: `http://127.0.0.1:${server.port}`,
    logs,
    session(uid, ttlSec = 3600) {
      return issueSession(config.sessionKey, uid, nowSec() + ttlSec);
    },
    apply(list) {
      let seq = writer.appliedSeq();
      const deltas = list.map((d) => ({ ...d, seq: ++seq }) as Delta);
      writer.applyBatch({ from: deltas[0]!.seq, to: seq, deltas });
    },
    setCode(uid, r) {
      node.apply([{ type: 'code', uid, record: r === null ? null : { ...r, seq: writer.appliedSeq() + 1 } }]);
    },
    publishNodeKeys() {
      writer.setKeys({ keys: publicNodeKeys(readNodeKeys(dataDir)!) });
    },
    async close() {
      await server.close();
      await writer.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return node;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export async function call(base: string, path: string, init: { method?: string; auth?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.auth !== undefined) headers.authorization = `Bearer ${init.auth}`;
  const r = await fetch(base + path, { method: init.method ?? 'GET', headers, body: init.body });
  const text = await r.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (metrics)
  }
  return { status: r.status, headers: r.headers, text, json };
}
