import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * An open-loop HTTP/1.1 load generator (wrk2-style constant rate) for
 * bench:edge's "p99 at 80 % of peak" (issue 14).
 *
 * Why not wrk: wrk is closed-loop — a connection sends its next request only
 * after the answer — and its `delay()` think time ticks in whole
 * milliseconds, so requests leave in bursts of rate × 1 ms that queue behind
 * each other (measured: ≈ 1–1.5 ms of p99 floor under any server). wrk2 is
 * not packaged here. This generator:
 *
 *  - schedules request k at t0 + k / rate, whatever the answers do (open
 *    loop), checking the clock on every event-loop turn (tens of µs apart,
 *    not 1 ms), sending every request that is due, round-robin over the
 *    connections, corked per connection per turn (one writev);
 *  - a request due while its connection still waits for an earlier answer
 *    is pipelined behind it (HTTP/1.1; uWS answers in order) rather than
 *    delayed: a slow server shows as latency, not as a lower offered rate;
 *  - measures each latency from the request's SCHEDULED time to its
 *    answer's arrival (wrk2's correction for coordinated omission): if the
 *    generator itself falls behind, that shows in the numbers too, and
 *    `lateMs` reports by how much it fell behind at most;
 *  - keeps a 1 µs-resolution histogram up to 1 s (4 MB), then overflow.
 *
 * It runs in its OWN process (`openLoopInChild`, pinned with taskset to the
 * load core): in the bench process, sharing its event loop with the bench's
 * bookkeeping, it starved (session 2026-12-07: 5.8k of 35.8k req/s
 * offered). Per-request cost is kept low: the requests due on one
 * connection in one turn leave in ONE write (no cork/uncork and a write per
 * request), and answers are framed by scanning bytes (no string per answer).
 */
export interface OpenLoopOptions {
  readonly host: string;
  readonly port: number;
  /** complete HTTP/1.1 requests (keep-alive), one is picked at random per send */
  readonly requests: readonly Buffer[];
  /** requests per second offered */
  readonly rate: number;
  readonly durationSec: number;
  readonly connections: number;
}

export interface OpenLoopResult {
  readonly offeredQps: number;
  readonly achievedQps: number;
  readonly sent: number;
  readonly completed: number;
  /** answers with a status other than 2xx */
  readonly statusErrors: number;
  readonly socketErrors: number;
  /** latency percentiles, µs, from scheduled send to answer */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** the most the generator's sends lagged their schedule, ms */
  readonly lateMs: number;
  /** the generator's own CPU seconds over the run */
  readonly cpuSec: number;
}

const HIST_US = 1_000_000;
const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Conn {
  readonly socket: Socket;
  /** scheduled send times (ms, performance.now clock) of the requests awaiting an answer */
  readonly due: number[];
  head: number;
  buf: Buffer;
}

/** "content-length:" without its first letter, lower case: matched with |0x20 on the letters */
const CL_TAIL = Buffer.from('ontent-length:');

/** Byte offset of the first content-length value in buf[from, to), or −1. Header names are case-insensitive. */
function contentLengthAt(buf: Buffer, from: number, to: number): number {
  const n = CL_TAIL.length;
  for (let i = buf.indexOf(0x0a, from); i >= 0 && i + 1 + n < to; i = buf.indexOf(0x0a, i + 1)) {
    if ((buf[i + 1]! | 0x20) !== 0x63) continue; // c
    let k = 0;
    for (; k < n; k++) {
      const want = CL_TAIL[k]!;
      const got = buf[i + 2 + k]!;
      if ((want >= 0x61 && want <= 0x7a ? got | 0x20 : got) !== want) break;
    }
    if (k === n) return i + 2 + n;
  }
  return -1;
}

/** Parses as many whole answers as `c.buf` holds, calling `done` with each status. */
function parseAnswers(c: Conn, done: (status: number) => void): void {
  const buf = c.buf;
  let off = 0;
  for (;;) {
    const end = buf.indexOf(CRLFCRLF, off);
    if (end < 0) break;
    // "HTTP/1.1 200 OK"
    const status = (buf[off + 9]! - 48) * 100 + (buf[off + 10]! - 48) * 10 + (buf[off + 11]! - 48);
    let len = 0;
    let p = contentLengthAt(buf, off, end);
    if (p >= 0) {
      while (buf[p] === 0x20) p++;
      for (let d = buf[p]!; d >= 0x30 && d <= 0x39; d = buf[++p]!) len = len * 10 + (d - 0x30);
    }
    const total = end + 4 + len;
    if (buf.length < total) break;
    off = total;
    done(status);
  }
  c.buf = off === buf.length ? EMPTY : off === 0 ? buf : buf.subarray(off);
}

const EMPTY = Buffer.alloc(0);

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  if (o.requests.length === 0) throw new Error('openLoop: no requests');
  const hist = new Uint32Array(HIST_US + 1);
  let completed = 0;
  let statusErrors = 0;
  let socketErrors = 0;
  let maxUs = 0;
  const conns: Conn[] = await Promise.all(
    Array.from(
      { length: o.connections },
      () =>
        new Promise<Conn>((resolve, reject) => {
          const socket = connect({ host: o.host, port: o.port, noDelay: true }, () => resolve(c));
          const c: Conn = { socket, due: [], head: 0, buf: Buffer.alloc(0) };
          socket.once('error', reject);
        }),
    ),
  );
  let t0 = 0;
  let stopAt = 0;
  for (const c of conns) {
    c.socket.removeAllListeners('error');
    c.socket.on('error', () => socketErrors++);
    c.socket.on('data', (chunk: Buffer) => {
      c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
      if (c.buf.length < 16) return;
      const now = performance.now();
      parseAnswers(c, (status) => {
        const sched = c.due[c.head++]!;
        if (c.head > 4096) {
          c.due.splice(0, c.head);
          c.head = 0;
        }
        if (status < 200 || status > 299) statusErrors++;
        if (sched < t0 || sched > stopAt) return; // warm-up and drain are not measured
        completed++;
        const us = Math.max(0, Math.round((now - sched) * 1000));
        if (us > maxUs) maxUs = us;
        hist[Math.min(us, HIST_US)]!++;
      });
    });
  }
  const cpu0 = process.cpuUsage();
  const intervalMs = 1000 / o.rate;
  const warmMs = 500;
  const start = performance.now();
  t0 = start + warmMs;
  stopAt = t0 + o.durationSec * 1000;
  let sent = 0;
  let measuredSent = 0;
  let rr = 0;
  let lateMs = 0;
  const out: Buffer[][] = conns.map(() => []);
  const outN = new Int32Array(conns.length);
  const touched: number[] = [];
  await new Promise<void>((resolve) => {
    const turn = (): void => {
      const now = performance.now();
      if (now >= stopAt) {
        resolve();
        return;
      }
      const want = Math.floor((now - start) / intervalMs);
      if (want > sent) {
        if (now >= t0) lateMs = Math.max(lateMs, now - (start + (sent + 1) * intervalMs));
        while (sent < want) {
          const sched = start + (sent + 1) * intervalMs;
          const i = rr;
          rr = rr + 1 === conns.length ? 0 : rr + 1;
          conns[i]!.due.push(sched);
          if (outN[i] === 0) touched.push(i);
          out[i]![outN[i]!++] = o.requests[(Math.random() * o.requests.length) | 0]!;
          sent++;
          if (sched >= t0) measuredSent++;
        }
        // one write per connection per turn
        for (const i of touched) {
          const n = outN[i]!;
          const list = out[i]!;
          conns[i]!.socket.write(n === 1 ? list[0]! : Buffer.concat(list.slice(0, n)));
          outN[i] = 0;
        }
        touched.length = 0;
      }
      setImmediate(turn);
    };
    turn();
  });
  // let the answers of the last requests arrive (bounded)
  const drainUntil = performance.now() + 2000;
  while (performance.now() < drainUntil && conns.some((c) => c.due.length - c.head > 0)) await new Promise((r) => setTimeout(r, 20));
  const cpu = process.cpuUsage(cpu0);
  for (const c of conns) c.socket.destroy();
  const pct = (p: number): number => {
    const target = Math.ceil((p / 100) * completed);
    let acc = 0;
    for (let us = 0; us <= HIST_US; us++) {
      acc += hist[us]!;
      if (acc >= target) return us;
    }
    return maxUs;
  };
  return {
    offeredQps: o.rate,
    achievedQps: completed / o.durationSec,
    sent: measuredSent,
    completed,
    statusErrors,
    socketErrors,
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    p999: pct(99.9),
    max: maxUs,
    lateMs,
    cpuSec: (cpu.user + cpu.system) / 1e6,
  };
}

/** Complete keep-alive GET requests, one per Authorization header value. */
export function getRequests(path: string, host: string, authHeaders: readonly string[]): Buffer[] {
  return authHeaders.map((a) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${a}\r\n\r\n`, 'latin1'));
}

/**
 * openLoop in a process of its own, pinned to `core` (taskset): the
 * generator gets a whole event loop and the bench process's work does not
 * delay its sends. Options go over the IPC channel, the result comes back
 * the same way.
 */
export function openLoopInChild(o: OpenLoopOptions, core: number): Promise<OpenLoopResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('taskset', ['-c', String(core), process.execPath, fileURLToPath(import.meta.url), '--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: OpenLoopResult | null = null;
    child.on('message', (m: { result?: OpenLoopResult; error?: string }) => {
      if (m.error !== undefined) reject(new Error(`open-loop generator: ${m.error}`));
      else if (m.result !== undefined) result = m.result;
    });
    child.on('exit', (code, signal) => (result !== null ? resolveRun(result) : reject(new Error(`open-loop generator exited (${signal ?? code})`))));
    child.on('error', reject);
    child.send({ ...o, requests: o.requests.map((b) => b.toString('latin1')) });
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--child')) {
  process.once('message', (m: Omit<OpenLoopOptions, 'requests'> & { requests: string[] }) => {
    openLoop({ ...m, requests: m.requests.map((r) => Buffer.from(r, 'latin1')) }).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (err: unknown) => process.send!({ error: (err as Error)?.message ?? String(err) }, () => process.exit(1)),
    );
  });
}
