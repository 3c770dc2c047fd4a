import type { ChildProcess } from 'node:child_process';
import type { BusEntry, DeltaBus, DeltaEntry, PublishResult } from '../sync/delta-bus.js';
import { SyncError } from '../sync/errors.js';

/**
 * The delta half of a DeltaBus carried over a child process's IPC channel,
 * for crash tests that run the edge daemon as a child process and kill it
 * with SIGKILL (test/sync-faults.test.ts, bench/daemon-kill.ts) while the
 * parent holds the master and an in-process bus. The transport is not what
 * those tests examine — the daemon's crash safety is — so the child reads
 * exactly what an edge would read from Redis, only through a pipe.
 *
 * Fork the child with `serialization: 'advanced'` (structured clone keeps
 * Buffers). Scans are not carried (the daemon does not read them).
 */
interface Request {
  readonly ipcBus: number;
  readonly op: 'readDeltas' | 'firstDeltaSeq' | 'lastDeltaSeq';
  readonly args: readonly number[];
}

interface Reply {
  readonly ipcBus: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

/** Parent side: answers the child's bus calls from `bus`. Returns a detach function. */
export function serveBusOverIpc(child: ChildProcess, bus: DeltaBus): () => void {
  const onMessage = (m: Request): void => {
    if (typeof m !== 'object' || m === null || typeof m.ipcBus !== 'number') return;
    const call =
      m.op === 'readDeltas'
        ? bus.readDeltas(m.args[0]!, m.args[1]!, m.args[2]!)
        : m.op === 'firstDeltaSeq'
          ? bus.firstDeltaSeq()
          : bus.lastDeltaSeq();
    call.then(
      (value) => send({ ipcBus: m.ipcBus, ok: true, value: m.op === 'readDeltas' ? (value as DeltaEntry[]).map((e) => ({ fromSeq: e.fromSeq, toSeq: e.toSeq, payload: e.payload })) : value }),
      (err: Error) => send({ ipcBus: m.ipcBus, ok: false, error: err.message }),
    );
  };
  function send(r: Reply): void {
    if (child.connected) child.send(r, (err) => void err); // the child may be dead (SIGKILL): ignore
  }
  child.on('message', onMessage);
  return () => child.off('message', onMessage);
}

/** Child side. */
export class IpcDeltaBus implements DeltaBus {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;

  constructor(private readonly proc: NodeJS.Process = process) {
    if (proc.send === undefined) throw new Error('IpcDeltaBus needs an IPC channel (fork the process)');
    proc.on('message', (m: Reply) => {
      if (typeof m !== 'object' || m === null || typeof m.ipcBus !== 'number') return;
      const p = this.pending.get(m.ipcBus);
      if (p === undefined) return;
      this.pending.delete(m.ipcBus);
      if (m.ok) p.resolve(m.value);
      else p.reject(new SyncError('SYNC_ERR_BUS_UNAVAILABLE', m.error));
    });
  }

  private call<T>(op: Request['op'], args: number[]): Promise<T> {
    if (this.closed) return Promise.reject(new SyncError('SYNC_ERR_BUS_CLOSED'));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send!({ ipcBus: id, op, args } satisfies Request);
    });
  }

  async readDeltas(afterSeq: number, count: number, blockMs: number): Promise<DeltaEntry[]> {
    const got = await this.call<{ fromSeq: number; toSeq: number; payload: Uint8Array }[]>('readDeltas', [afterSeq, count, blockMs]);
    return got.map((e) => ({ fromSeq: e.fromSeq, toSeq: e.toSeq, payload: Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength) }));
  }

  firstDeltaSeq(): Promise<number | null> {
    return this.call('firstDeltaSeq', []);
  }

  lastDeltaSeq(): Promise<number> {
    return this.call('lastDeltaSeq', []);
  }

  publishDeltas(): Promise<PublishResult> {
    return Promise.reject(new SyncError('SYNC_ERR_BUS_ARGUMENT', 'the IPC bus only reads deltas'));
  }

  trimDeltas(): Promise<void> {
    return Promise.reject(new SyncError('SYNC_ERR_BUS_ARGUMENT', 'the IPC bus only reads deltas'));
  }

  appendScans(): Promise<void> {
    return Promise.reject(new SyncError('SYNC_ERR_BUS_ARGUMENT', 'the IPC bus only reads deltas'));
  }

  readScans(): Promise<BusEntry[]> {
    return Promise.reject(new SyncError('SYNC_ERR_BUS_ARGUMENT', 'the IPC bus only reads deltas'));
  }

  trimScans(): Promise<void> {
    return Promise.reject(new SyncError('SYNC_ERR_BUS_ARGUMENT', 'the IPC bus only reads deltas'));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.values()) p.resolve([]);
    this.pending.clear();
  }
}
