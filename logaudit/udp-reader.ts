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
let pend = [];
let bytes = 0;
function flush() {
  if (pend.length === 0) return;
  const buf = Buffer.allocUnsafe(bytes);
  const meta = [];
  let off = 0;
  for (const [m, from, at] of pend) { m.copy(buf, off); meta.push(from, at, m.length); off += m.length; }
  pend = []; bytes = 0;
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  parentPort.postMessage({ ab, meta }, [ab]);
}
s.on('message', (m, r) => { pend.push([m, r.address, Date.now()]); bytes += m.length; if (pend.length >= 512) flush(); });
s.on('error', (e) => parentPort.postMessage({ error: String(e && e.message) }));
setInterval(flush, 2);
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
      w.on('message', (m: { port?: number; error?: string; ab?: ArrayBuffer; meta?: (string | number)[] }) => {
        if (m.port !== undefined) { res(m.port); return; }
        if (m.error !== undefined) { rej(new Error(m.error)); return; }
        const buf = Buffer.from(m.ab!);
        const meta = m.meta!;
        let off = 0;
        for (let i = 0; i < meta.length; i += 3) {
          const len = meta[i + 2] as number;
          const from = meta[i] as string;
          sink(buf.subarray(off, off + len), from.startsWith('::ffff:') ? from.slice(7) : from, meta[i + 1] as number);
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
