import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import iconv from 'iconv-lite';
import { afterEach, describe, expect, it } from 'vitest';
import { loadLogAuditConfig } from './config.js';
import { LogAuditEngine } from './engine.js';
import { SyslogIntake } from './intake.js';
import { verifyStore } from './store.js';
import { testCert } from './test-cert.common.js';

/**
 * Real sockets end to end: UDP, TCP and TLS listeners on 127.0.0.1 and ::1
 * feeding the engine, and every bad-input case with its counted outcome.
 */
/**
 * The syslog timestamps of these lines: now, in China time (RFC 3164
 * `Mmm dd hh:mm:ss`, day space-padded; RFC 5424 with +08:00). Fixed dates
 * went stale: LOGAUDIT_MAX_SKEW_S (default one day) counts a line older
 * than that as a forged timestamp, so the bad-input counts changed a day
 * after the test was written.
 */
function chinaStamps(ms: number): { bsd: string; iso: string } {
  const t = new Date(ms + 8 * 3_600_000);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][t.getUTCMonth()]!;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const hms = `${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())}`;
  return {
    bsd: `${mon} ${String(t.getUTCDate()).padStart(2, ' ')} ${hms}`,
    iso: `${t.getUTCFullYear()}-${p2(t.getUTCMonth() + 1)}-${p2(t.getUTCDate())}T${hms}+08:00`,
  };
}
const { bsd: NOW, iso: NOW_ISO } = chinaStamps(Date.now());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function start(env: Record<string, string> = {}): Promise<{ engine: LogAuditEngine; intake: SyslogIntake; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'la-intake-'));
  const config = loadLogAuditConfig(env, { dataDir: dir });
  let intake: SyslogIntake | null = null;
  const engine = new LogAuditEngine({ config, onDrain: () => intake?.resume() });
  intake = new SyslogIntake({ accept: (m) => engine.accept(m), count: (c) => engine.count(c) }, config.maxMessageBytes);
  engine.start();
  cleanups.push(async () => { await intake!.close(); await engine.stop(); });
  return { engine, intake, dir };
}

function udpSend(host: string, port: number, msgs: (string | Buffer)[]): Promise<void> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((res) => {
    let left = msgs.length;
    for (const m of msgs) s.send(typeof m === 'string' ? Buffer.from(m) : m, port, host, () => { if (--left === 0) { s.close(); res(); } });
  });
}

function tcpSend(host: string, port: number, data: string | Buffer): Promise<void> {
  return new Promise((res, rej) => {
    const c = netConnect(port, host, () => c.end(data));
    c.on('close', () => res());
    c.on('error', rej);
  });
}

async function until(f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function allEvents(engine: LogAuditEngine): Record<string, unknown>[] {
  return engine.store.days().flatMap((d) => [...engine.store.read(d, 0, Infinity)]);
}

describe('syslog intake', () => {
  it('UDP, TCP (octet counting + newline) and TLS on IPv4 and IPv6 (::1)', async () => {
    const { engine, intake } = await start();
    const u4 = await intake.listenUdp('127.0.0.1', 0);
    const u6 = await intake.listenUdp('::1', 0);
    const t6 = await intake.listenTcp('::1', 0);
    const c = testCert();
    const tl = await intake.listenTls('127.0.0.1', 0, { cert: c.certPem, key: c.keyPem });
    await udpSend('127.0.0.1', u4, [`<38>${NOW} web-01 sshd[1]: Failed password for root from 203.0.113.9 port 5 ssh2`]);
    await udpSend('::1', u6, [`<38>${NOW} web-02 sshd[1]: Failed password for root from 2001:db8::9 port 5 ssh2`]);
    const a = `<38>1 ${NOW_ISO} web-03 sshd 1 - - Accepted publickey for deploy from 10.0.0.3 port 4 ssh2`;
    await tcpSend('::1', t6, `${Buffer.byteLength(a)} ${a}<38>${NOW} web-03 sshd[1]: Invalid user x from 10.0.0.4\n`);
    await new Promise<void>((res, rej) => {
      const s = tlsConnect({ host: '127.0.0.1', port: tl, ca: c.certPem, servername: 'localhost' }, () => {
        const m = `<38>${NOW} web-04 sshd[1]: Failed password for root from 10.9.9.9 port 5 ssh2`;
        s.end(`${Buffer.byteLength(m)} ${m}`);
      });
      s.on('close', () => res());
      s.on('error', rej);
    });
    await until(() => engine.counters.stored >= 5);
    await engine.idle();
    const evs = allEvents(engine);
    expect(evs.map((e) => [e['host.name'], e['source.ip'], e['event.action']]).sort()).toEqual([
      ['web-01', '203.0.113.9', 'ssh-login-failed'],
      ['web-02', '2001:db8::9', 'ssh-login-failed'],
      ['web-03', '10.0.0.3', 'ssh-login'],
      ['web-03', '10.0.0.4', 'ssh-invalid-user'],
      ['web-04', '10.9.9.9', 'ssh-login-failed'],
    ]);
    expect(evs.find((e) => e['host.name'] === 'web-02')!['observer.ip']).toBe('::1');
    expect(engine.counters.connections).toBe(2);
  });

  it('bad input is counted and visible, and the intake keeps serving', async () => {
    const { engine, intake, dir } = await start({ LOGAUDIT_MAX_MESSAGE_BYTES: '512', LOGAUDIT_MAX_SKEW_S: '86400' });
    const u = await intake.listenUdp('127.0.0.1', 0);
    const t = await intake.listenTcp('127.0.0.1', 0);
    const gbk = Buffer.concat([Buffer.from(`<38>${NOW} fw-cn app: `), iconv.encode('用户登录失败', 'gbk')]);
    await udpSend('127.0.0.1', u, [
      `<38>${NOW} big app: ` + 'x'.repeat(2000), // oversized datagram
      gbk, // invalid UTF-8 (GBK)
      '<38>1 1999-01-01T00:00:00Z forged app - - - from the past', // forged timestamp
      '<38>1 2099-01-01T00:00:00Z forged app - - - from the future',
      'no header at all', // unparsed
      `<38>${NOW} h unknownprog: nobody decodes this`, // undecoded
    ]);
    await tcpSend('127.0.0.1', t, '99999999 <38>broken framing'); // octet count above the limit → closed
    await tcpSend('127.0.0.1', t, `<38>${NOW} h after: still serving\n`);
    await until(() => engine.counters.stored >= 7);
    await engine.idle();
    const c = engine.counters;
    expect({ oversized: c.oversized, invalid_utf8: c.invalid_utf8, forged: c.forged_timestamp, unparsed: c.unparsed, framing: c.framing_error }).toEqual({ oversized: 1, invalid_utf8: 1, forged: 2, unparsed: 1, framing: 1 });
    expect(c.undecoded).toBeGreaterThanOrEqual(1);
    const evs = allEvents(engine);
    const cn = evs.find((e) => e['host.name'] === 'fw-cn')!;
    expect(cn.message).toBe('用户登录失败');
    expect(cn.tags).toEqual(expect.arrayContaining(['invalid_utf8']));
    const big = evs.find((e) => e['host.name'] === 'big')!;
    expect(big.tags).toContain('truncated');
    expect(String(big['event.original']).length).toBe(512);
    const past = evs.find((e) => e.message === 'from the past')!;
    expect(past.tags).toContain('forged_timestamp');
    expect(past['event.created']).toBe('1999-01-01T00:00:00.000Z');
    expect(Math.abs(Date.parse(String(past['@timestamp'])) - Date.now())).toBeLessThan(60_000);
    expect(evs.some((e) => e.message === 'still serving')).toBe(true);
    engine.store.seal();
    expect(verifyStore(engine.store.root, engine.store.publicKeyPem()).ok).toBe(true);
    expect(dir).toBeTruthy();
  });

  it('a flood from one source is shed above its rate, counted per source and alerted; other sources are served', async () => {
    const { engine } = await start({ LOGAUDIT_SOURCE_RATE: '50' });
    const at = Date.now();
    for (let i = 0; i < 500; i++) engine.accept({ bytes: Buffer.from(`<38>${NOW} h app: flood ${i}`), from: '10.6.6.6', transport: 'udp', receivedMs: at });
    engine.accept({ bytes: Buffer.from(`<38>${NOW} quiet app: one`), from: '10.1.1.1', transport: 'udp', receivedMs: at });
    await engine.idle();
    expect(engine.counters.rate_limited).toBe(450);
    expect(engine.perSourceShed.get('10.6.6.6')).toBe(450);
    expect(engine.counters.stored).toBe(51);
    const flood = engine.alertsRaised.filter((a) => a.kind === 'logaudit.flood');
    expect(flood).toHaveLength(1); // once per minute per source, not per message
    expect(flood[0]!.summary).toMatch(/10\.6\.6\.6.*丢弃/);
  });

  it('a burst above the memory queue goes to the disk spool and is stored in full; a full spool sheds, counts and alerts', async () => {
    const { engine } = await start({ LOGAUDIT_QUEUE_HIGH: '100' });
    const at = Date.now();
    for (let i = 0; i < 3000; i++) engine.accept({ bytes: Buffer.from(`<38>${NOW} h app: burst ${i}`), from: '10.2.2.2', transport: 'udp', receivedMs: at });
    expect(engine.counters.spooled).toBe(2900);
    await engine.idle();
    expect(engine.counters.stored).toBe(3000);
    expect(engine.counters.shed).toBe(0);
    const msgs = new Set(allEvents(engine).map((e) => e.message));
    expect(msgs.size).toBe(3000);

    const small = await start({ LOGAUDIT_QUEUE_HIGH: '100', LOGAUDIT_SPOOL_MAX_MB: '1' });
    const line = Buffer.from(`<38>${NOW} h app: ` + 'y'.repeat(900));
    for (let i = 0; i < 2000; i++) small.engine.accept({ bytes: line, from: '10.3.3.3', transport: 'udp', receivedMs: at });
    await small.engine.idle();
    const c = small.engine.counters;
    expect(c.shed).toBeGreaterThan(0);
    expect(c.stored + c.shed).toBe(2000);
    expect(small.engine.alertsRaised.filter((a) => a.kind === 'logaudit.shed')).toHaveLength(1);
  });

  it('TCP senders are paused while the queue is congested (back-pressure), and nothing is lost', async () => {
    const { engine, intake } = await start({ LOGAUDIT_QUEUE_HIGH: '200' });
    const t = await intake.listenTcp('127.0.0.1', 0);
    const lines = Array.from({ length: 20_000 }, (_, i) => `<38>${NOW} h app: tcp ${i}\n`).join('');
    await tcpSend('127.0.0.1', t, lines);
    await until(() => engine.counters.stored >= 20_000, 30_000);
    expect(engine.counters.shed).toBe(0);
  });
});
