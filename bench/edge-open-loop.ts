import { connect, type Socket } from 'node:net';

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
 * It runs in the bench process, which bench/edge.ts pins to the load core.
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
const CONTENT_LENGTH = Buffer.from('content-length:');

interface Conn {
  readonly socket: Socket;
  /** scheduled send times (ms, performance.now clock) of the requests awaiting an answer */
  readonly due: number[];
  head: number;
  buf: Buffer;
}

/** Parses as many whole answers as `c.buf` holds; returns how many, calling `done` with each status. */
function parseAnswers(c: Conn, done: (status: number) => void): void {
  let buf = c.buf;
  let off = 0;
  for (;;) {
    const end = buf.indexOf(CRLFCRLF, off);
    if (end < 0) break;
    // "HTTP/1.1 200 OK"
    const status = (buf[off + 9]! - 48) * 100 + (buf[off + 10]! - 48) * 10 + (buf[off + 11]! - 48);
    let len = 0;
    const head = buf.subarray(off, end).toString('latin1').toLowerCase();
    const at = head.indexOf('content-length:');
    if (at >= 0) len = parseInt(head.slice(at + CONTENT_LENGTH.length), 10) || 0;
    const total = end + 4 + len;
    if (buf.length < total) break;
    off = total;
    done(status);
  }
  c.buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
}

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
        for (const c of conns) c.socket.cork();
        while (sent < want) {
          const sched = start + (sent + 1) * intervalMs;
          const c = conns[rr]!;
          rr = rr + 1 === conns.length ? 0 : rr + 1;
          c.due.push(sched);
          c.socket.write(o.requests[(Math.random() * o.requests.length) | 0]!);
          sent++;
          if (sched >= t0) measuredSent++;
        }
        for (const c of conns) c.socket.uncork();
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
