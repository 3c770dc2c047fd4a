import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { DecoderSet } from '../decoders.js';

/**
 * The bench's sender, a separate process: a mixed stream built from every
 * shipped decoder's sample lines (220+ device types) plus an SSH brute force
 * burst from a fresh address every `attackEvery` events, half over UDP and
 * half over TCP (newline framing). Prints {udp, tcp, attacks, lastAttackAt} as
 * its last line.
 */
const host = process.env.LA_HOST ?? '127.0.0.1';
const udpPort = Number(process.env.LA_UDP_PORT);
const tcpPort = Number(process.env.LA_TCP_PORT);
const total = Number(process.env.LA_EVENTS ?? 100_000);
const attackEvery = Number(process.env.LA_ATTACK_EVERY ?? 5000);

const corpus: string[] = [];
for (const f of DecoderSet.load().families) for (const t of f.types) for (const s of t.samples) corpus.push(s.line);

let attacks = 0;
function line(i: number): string {
  const k = i % attackEvery;
  if (k >= attackEvery - 6) {
    const n = Math.floor(i / attackEvery);
    if (k === attackEvery - 1) attacks++;
    return `<38>1 - bench-host sshd 1 - - Failed password for root from 198.18.${(n >> 8) & 255}.${n & 255} port ${1000 + k} ssh2`;
  }
  return corpus[i % corpus.length]!;
}

async function main(): Promise<void> {
  const half = Math.floor(total / 2);
  const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const sock = connect(tcpPort, host);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  let sentUdp = 0;
  let sentTcp = 0;
  // TCP: as fast as the receiver's back-pressure lets us
  const tcpDone = (async () => {
    const chunk = 2000;
    for (let i = 0; i < total - half; i += chunk) {
      const parts: string[] = [];
      for (let j = i; j < Math.min(total - half, i + chunk); j++) parts.push(line(half + j));
      sentTcp += parts.length;
      if (!sock.write(parts.join('\n') + '\n')) await new Promise<void>((r) => sock.once('drain', () => r()));
    }
    await new Promise<void>((r) => sock.end(() => r()));
  })();
  // UDP has no back-pressure: paced in bursts so the kernel's socket buffer is not the bottleneck being measured
  // paced like real devices (UDP cannot be slowed down by the receiver): LA_UDP_RATE datagrams/s
  const rate = Number(process.env.LA_UDP_RATE ?? 20_000);
  const burst = Number(process.env.LA_UDP_BURST ?? 100);
  const t0 = Date.now();
  for (let i = 0; i < half; i += burst) {
    const due = t0 + (i * 1000) / rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const end = Math.min(half, i + burst);
    await new Promise<void>((res) => {
      let left = end - i;
      for (let j = i; j < end; j++) udp.send(line(j), udpPort, host, () => { if (--left === 0) res(); });
    });
    sentUdp += end - i;
    await new Promise((r) => setImmediate(r));
  }
  await tcpDone;
  udp.close();
  process.stdout.write(JSON.stringify({ udp: sentUdp, tcp: sentTcp, attacks }) + '\n');
}

void main();
