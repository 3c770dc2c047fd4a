import { Worker } from 'node:worker_threads';

/**
 * A UDP socket read on its own thread. The kernel keeps only ~2 000
 * datagrams (net.core.rmem_max) for a socket nobody reads; while the main
 * thread decodes and stores a slice, a socket read there would overflow and
 * the kernel would drop silently. The reader thread does nothing but read:
 * it hands datagrams to the main thread in batches (transferred buffers),
 * where they wait in memory — and beyond the engine's high-water mark, on
 * disk — instead of being lost.
 *
 * The worker is inline JavaScript (eval), so it runs the same from source
 * under vitest and compiled from dist.
 */
const CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const s = dgram.createSocket({ type: workerData.v6 ? 'udp6' : 'udp4' });
const MAX = 512;
// a batch goes to the main thread after FLUSH_MS (or MAX datagrams): each hand-over is a postMessage here
// and a wake-up + event-loop turn there; 5 ms instead of 2 ms cut them by ~⅗ at the bench's 20 000/s
// (the reader thread alone: 11.0–11.7 vs 11.5–12.0 µs per datagram in a micro-run, CLOSING.md h3)
// and adds at most 3 ms to a datagram's wait (receive times are stamped here, so it is measured)
const FLUSH_MS = 5;
let pend = [];
let bytes = 0;
// per batch: receive times and sender-table indexes as typed arrays, sender addresses once each
// (a stream comes from a few hundred devices; cloning an address string per datagram was measurable)
let at = new Float64Array(MAX);
let who = new Uint16Array(MAX);
let addrs = [];
let addrIdx = new Map();
let timer = null;
function flush() {
  timer = null;
  const n = pend.length;
  if (n === 0) return;
  const buf = Buffer.allocUnsafeSlow(bytes + n * 4);
  let off = n * 4;
  for (let i = 0; i < n; i++) { const m = pend[i]; buf.writeUInt32LE(m.length, i * 4); m.copy(buf, off); off += m.length; }
  const ab = buf.buffer.byteLength === buf.length ? buf.buffer : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  const atB = at.buffer.slice(0, n * 8);
  const whoB = who.buffer.slice(0, n * 2);
  parentPort.postMessage({ ab, at: atB, who: whoB, addrs, n }, [ab, atB, whoB]);
  pend = []; bytes = 0; addrs = []; addrIdx = new Map();
}
s.on('message', (m, r) => {
  const i = pend.length;
  pend.push(m);
  bytes += m.length;
  at[i] = Date.now();
  let k = addrIdx.get(r.address);
  if (k === undefined) { k = addrs.length; addrs.push(r.address); addrIdx.set(r.address, k); }
  who[i] = k;
  if (i + 1 >= MAX) { if (timer) { clearTimeout(timer); } flush(); }
  else if (timer === null) timer = setTimeout(flush, FLUSH_MS);
});
s.on('error', (e) => parentPort.postMessage({ error: String(e && e.message) }));
s.bind(workerData.port, workerData.host, () => {
  try { s.setRecvBufferSize(8 * 1024 * 1024); } catch {}
  parentPort.postMessage({ port: s.address().port });
});
parentPort.on('message', (m) => { if (m === 'close') { flush(); s.close(); process.exit(0); } });
`;

export type DatagramSink = (bytes: Buffer, from: string, receivedMs: number) => void;

export class UdpReader {
  private worker: Worker | null = null;

  async listen(host: string, port: number, sink: DatagramSink): Promise<number> {
    const w = new Worker(CODE, { eval: true, workerData: { host, port, v6: host.includes(':') } });
    this.worker = w;
    w.unref();
    return new Promise<number>((res, rej) => {
      w.on('error', rej);
      w.on('message', (m: { port?: number; error?: string; ab?: ArrayBuffer; at?: ArrayBuffer; who?: ArrayBuffer; addrs?: string[]; n?: number }) => {
        if (m.port !== undefined) { res(m.port); return; }
        if (m.error !== undefined) { rej(new Error(m.error)); return; }
        const buf = Buffer.from(m.ab!);
        const at = new Float64Array(m.at!);
        const who = new Uint16Array(m.who!);
        const addrs = m.addrs!.map((a) => (a.startsWith('::ffff:') ? a.slice(7) : a));
        const n = m.n!;
        let off = n * 4;
        for (let i = 0; i < n; i++) {
          const len = buf.readUInt32LE(i * 4);
          sink(buf.subarray(off, off + len), addrs[who[i]!]!, at[i]!);
          off += len;
        }
      });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    w.postMessage('close');
    await new Promise<void>((r) => { w.once('exit', () => r()); setTimeout(() => { void w.terminate().then(() => r()); }, 500).unref(); });
  }
}
