import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RawMessage } from './normalise.js';
import { sftpPickupOnce } from './sftp-pickup.js';

/** A real OpenSSH sshd (Debian openssh-server) on a free port with a throw-away key. */
let sshd: ChildProcess | null = null;
afterAll(() => { sshd?.kill(); });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe('SFTP pickup', () => {
  it('takes matching files once from a real sshd, line by line, and marks them done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'la-sftp-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')), { mode: 0o600 });
    const drop = join(dir, 'drop');
    mkdirSync(drop);
    writeFileSync(join(drop, 'fw-20261207.log'), '2026-12-07 10:00:00 deny tcp 198.51.100.1 -> 10.0.0.1:22\n<38>Dec  7 10:00:01 web-1 sshd[1]: Failed password for root from 198.51.100.2 port 5 ssh2\n');
    writeFileSync(join(drop, 'readme.txt'), 'not a log');
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true });
    const port = await freePort();
    const user = execFileSync('id', ['-un']).toString().trim();
    const cfg = join(dir, 'sshd_config');
    writeFileSync(cfg, [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', `PidFile ${join(dir, 'sshd.pid')}`,
      'Subsystem sftp internal-sftp', `AllowUsers ${user}`, 'PermitRootLogin prohibit-password',
    ].join('\n') + '\n');
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfg], { stdio: 'ignore' });
    const got: RawMessage[] = [];
    const opts = { host: '127.0.0.1', port, username: user, privateKey: readFileSync(join(dir, 'client_key')), dir: drop, pattern: /\.log$/, program: 'fwfile', sink: (m: RawMessage) => got.push(m) };
    let r: { files: number; lines: number } | null = null;
    for (let k = 0; k < 50 && !r; k++) {
      try { r = await sftpPickupOnce(opts); } catch { await new Promise((res) => setTimeout(res, 100)); } // sshd still starting
    }
    expect(r).toEqual({ files: 1, lines: 2 });
    expect(got[0]!.bytes.toString()).toMatch(/^<134>1 \S+ 127\.0\.0\.1 fwfile - - - 2026-12-07 10:00:00 deny/);
    expect(got[1]!.bytes.toString()).toMatch(/^<38>Dec/);
    expect(got[0]!.via).toBe(`sftp://127.0.0.1${drop}/fw-20261207.log`);
    expect(readdirSync(drop).sort()).toEqual(['fw-20261207.log.done', 'readme.txt']);
    expect(await sftpPickupOnce(opts)).toEqual({ files: 0, lines: 0 });
  });
});
