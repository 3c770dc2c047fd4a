import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { DecoderSet } from './decoders.js';
import { normalise, type RawMessage } from './normalise.js';
import { SnmpTrapIntake } from './snmp-intake.js';

/**
 * SNMP traps sent by the real Net-SNMP `snmptrap` binary (Debian package
 * snmp) to our receiver: v2c with a community, v3 authPriv (SHA + AES) with
 * a USM user, over IPv4 and IPv6; a wrong community is refused and counted.
 */
const decoders = DecoderSet.load();
let intake: SnmpTrapIntake | null = null;
afterEach(async () => { await intake?.close(); intake = null; });

async function freePort(host: string): Promise<number> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const run = promisify(execFile);

/** the receiver binds asynchronously: send until one arrives (UDP has no connection to wait for) */
async function sendUntil(args: string[], done: () => boolean): Promise<void> {
  for (let k = 0; k < 20 && !done(); k++) {
    await run('snmptrap', args);
    const end = Date.now() + 500;
    while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }
}

async function until(f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function start(host: string, port: number): { got: RawMessage[]; rejected: string[] } {
  const got: RawMessage[] = [];
  const rejected: string[] = [];
  intake = new SnmpTrapIntake({
    host, port, community: 'hc-trap-ro', now: Date.now,
    users: [{ user: 'trapuser', authProtocol: 'sha', authKey: 'authpass123', privProtocol: 'aes', privKey: 'privpass123' }],
    sink: (m) => got.push(m), onRejected: (f) => rejected.push(f),
  });
  intake.start();
  return { got, rejected };
}

const ev = (m: RawMessage) => normalise(m, decoders, { tzOffsetMin: 480, maxSkewMs: 86_400_000 }, () => undefined);

describe('SNMP trap intake (real snmptrap)', () => {
  it('v2c linkDown over IPv4, community masked; a wrong community is refused', async () => {
    const port = await freePort('127.0.0.1');
    const { got, rejected } = start('127.0.0.1', port);
    await sendUntil(['-v', '2c', '-c', 'hc-trap-ro', `127.0.0.1:${port}`, '', '1.3.6.1.6.3.1.1.5.3', '1.3.6.1.2.1.2.2.1.1.2', 'i', '2'], () => got.length > 0);
    await new Promise((r) => setTimeout(r, 200));
    got.splice(1);
    const e = ev(got[0]!);
    expect(e).toMatchObject({ 'event.dataset': 'snmp.trap', 'event.action': 'interface-state', 'event.reason': 'down', 'snmp.version': '2c', 'snmp.trap.oid': '1.3.6.1.6.3.1.1.5.3', 'observer.ip': '127.0.0.1' });
    expect(String(e['event.original'])).not.toContain('hc-trap-ro');
    await run('snmptrap', ['-v', '2c', '-c', 'wrong', `127.0.0.1:${port}`, '', '1.3.6.1.6.3.1.1.5.4']);
    await until(() => rejected.length >= 1);
    expect(got).toHaveLength(1);
  });

  it('v3 authPriv (SHA/AES) authenticationFailure over IPv6 ::1', async () => {
    const port = await freePort('::1');
    const { got } = start('::1', port);
    await sendUntil(['-v', '3', '-e', '0x80001f8880aabbccdd', '-u', 'trapuser', '-l', 'authPriv', '-a', 'SHA', '-A', 'authpass123', '-x', 'AES', '-X', 'privpass123',
      `udp6:[::1]:${port}`, '', '1.3.6.1.6.3.1.1.5.5'], () => got.length > 0);
    expect(ev(got[0]!)).toMatchObject({ 'event.action': 'snmp-auth-failure', 'snmp.version': '3', 'user.name': 'trapuser', 'observer.ip': '::1' });
  });
});
