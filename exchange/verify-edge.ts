import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPLICA_DIR } from '../core/replica-layout.js';
import { ExchangeError } from './errors.js';

/**
 * What the edges actually serve (赋码核查 › 边缘节点实际数据): the LMDB
 * replicas sync wrote (DESIGN §1, §6: the publisher sends the outbox as
 * deltas, each node's daemon applies them to its replica in one transaction
 * with the applied sequence; edge servers answer displays and verifications
 * from that replica only).
 *
 * Which replicas: EXCHANGE_VERIFY_REPLICAS, a comma list of `name=dir`.
 * Default: the embedded stack's own edge replica `<dataDir>/replica` (what
 * its edge serves) and, in both modes, the master's snapshot follower
 * `<dataDir>/snapshots/follower` — a replica written by the same follower
 * code from the same delta stream, and the image every new or re-bootstrapped
 * edge starts from. In a cluster, the replicas of edge nodes can be listed
 * where they are mounted read-only. The outbox comparison (what the master
 * SENT) is the other, separate check (assigned_not_distributed).
 *
 * A replica is judged only up to its applied sequence: a code whose change
 * (seq) the node has not applied yet is still on its way, counted as pending,
 * not reported. Reads go through a child process (verify-edge-child.ts).
 */
export interface ReplicaTarget {
  readonly name: string;
  readonly dir: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/** Parses EXCHANGE_VERIFY_REPLICAS; bad value → Error naming the variable. Unset → the defaults above. */
export function parseReplicaTargets(v: string | undefined, dataDir: string, mode: 'embedded' | 'cluster'): ReplicaTarget[] {
  if (v === undefined || v.trim() === '') {
    const out: ReplicaTarget[] = [];
    if (mode === 'embedded') out.push({ name: 'edge', dir: join(dataDir, REPLICA_DIR) });
    out.push({ name: 'snapshot-follower', dir: join(dataDir, 'snapshots', 'follower') });
    return out;
  }
  if (v.trim() === 'none') return [];
  return v.split(',').map((part) => {
    const i = part.indexOf('=');
    const name = part.slice(0, i).trim();
    const dir = part.slice(i + 1).trim();
    if (i < 1 || !NAME.test(name) || !dir.startsWith('/')) {
      throw new ExchangeError('EXC_ERR_CONFIG', `EXCHANGE_VERIFY_REPLICAS: each entry must be name=/absolute/dir (name: letters, digits, _ . -), got ${JSON.stringify(part)}`, 'EXCHANGE_VERIFY_REPLICAS');
    }
    return { name, dir };
  });
}

export interface ReplicaCode {
  readonly color: string;
  readonly seq: number;
}

function childFile(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../dist/exchange/verify-edge-child.js', here) : new URL('./verify-edge-child.js', here);
  return fileURLToPath(url);
}

/** One replica opened read-only in a child process. */
export class ReplicaProbe {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: { applied: number; codes: (ReplicaCode | null)[] }) => void; reject: (e: Error) => void }>();

  private constructor(readonly target: ReplicaTarget, private readonly child: ChildProcess, readonly appliedAtOpen: number) {
    child.on('message', (m: { id: number; applied: number; codes: ([string, number] | null)[] }) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      p.resolve({ applied: m.applied, codes: m.codes.map((c) => (c === null ? null : { color: c[0], seq: c[1] })) });
    });
    child.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new ExchangeError('EXC_ERR_VERIFY_REPLICA', `${target.name}: the reader process ended`));
      this.pending.clear();
    });
  }

  /** Opens the replica; EXC_ERR_VERIFY_REPLICA when it is missing, uninitialised or the reader cannot start. */
  static open(target: ReplicaTarget): Promise<ReplicaProbe> {
    const file = childFile();
    if (!existsSync(file)) return Promise.reject(new ExchangeError('EXC_ERR_VERIFY_REPLICA', `${file} is missing: run \`npm run build\``));
    return new Promise((resolve, reject) => {
      const child = fork(file, [target.dir], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const first = (m: { ready?: boolean; applied?: number; error?: string }): void => {
        child.off('message', first);
        if (m.ready === true) resolve(new ReplicaProbe(target, child, m.applied ?? 0));
        else {
          child.kill();
          reject(new ExchangeError('EXC_ERR_VERIFY_REPLICA', `${target.name}: ${m.error ?? 'cannot be read'}`));
        }
      };
      child.on('message', first);
      child.on('error', (err) => reject(new ExchangeError('EXC_ERR_VERIFY_REPLICA', `${target.name}: ${err.message}`)));
      child.on('exit', (code) => reject(new ExchangeError('EXC_ERR_VERIFY_REPLICA', `${target.name}: the reader process ended (${code})`)));
    });
  }

  /** The replica's applied sequence and the code records of `uids` read in one read transaction. */
  lookup(uids: readonly Buffer[]): Promise<{ applied: number; codes: (ReplicaCode | null)[] }> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, uids: uids.map((u) => u.toString('hex')) });
    });
  }

  close(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

/** What one replica says about a person's current code (null: consistent or not yet applied there). */
export function judgeReplica(code: { color: string; seq: number }, replica: ReplicaCode | null, applied: number): { pending: boolean; problem: string | null } {
  if (code.seq > applied) return { pending: true, problem: null };
  if (replica === null) return { pending: false, problem: '节点副本中没有该人员的赋码' };
  if (replica.seq === -1) return { pending: false, problem: '节点副本中的赋码记录无法解析' };
  if (replica.seq < code.seq) return { pending: false, problem: '节点已越过该变更的序号但仍为旧赋码' };
  if (replica.seq > code.seq) return { pending: false, problem: '节点赋码记录比主库更新（序号不一致）' };
  if (replica.color !== code.color) return { pending: false, problem: '节点实际赋码颜色与主库不一致' };
  return { pending: false, problem: null };
}
