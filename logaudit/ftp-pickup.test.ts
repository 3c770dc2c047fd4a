import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ftpPickupOnce } from './ftp-pickup.js';
import type { RawMessage } from './normalise.js';

/**
 * A real vsftpd (Debian package vsftpd, `apt-get install -y vsftpd`) on a
 * free port, anonymous login with write rights on a drop folder owned by its
 * `ftp` user — the way an appliance's log upload account is usually set up.
 */
let ftpd: ChildProcess | null = null;
afterAll(() => { ftpd?.kill(); });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function ftpUser(): { uid: number; gid: number } {
  // vsftpd's anonymous sessions run as the system user `ftp` the package creates
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('ftp:'));
  const f = line!.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

describe('FTP pickup', () => {
  it('takes matching files once from a real vsftpd, line by line, and marks them done', async () => {
    expect(userInfo().uid).toBe(0); // vsftpd binds, chroots and switches to `ftp`: it runs as root
    const dir = mkdtempSync(join(tmpdir(), 'la-ftp-'));
    const root = join(dir, 'root');
    const drop = join(root, 'drop');
    mkdirSync(drop, { recursive: true });
    mkdirSync(join(dir, 'empty'));
    chmodSync(root, 0o555); // vsftpd refuses a writable chroot
    const { uid, gid } = ftpUser();
    chownSync(drop, uid, gid);
    writeFileSync(join(drop, 'fw-20261207.log'), '2026-12-07 10:00:00 deny tcp 198.51.100.1 -> 10.0.0.1:22\r\n<38>Dec  7 10:00:01 web-1 sshd[1]: Failed password for root from 198.51.100.2 port 5 ssh2\n');
    writeFileSync(join(drop, 'readme.txt'), 'not a log');
    chownSync(join(drop, 'fw-20261207.log'), uid, gid);
    const port = await freePort();
    const pasv = await freePort();
    const cfg = join(dir, 'vsftpd.conf');
    writeFileSync(cfg, [
      'listen=YES', 'listen_address=127.0.0.1', `listen_port=${port}`, 'anonymous_enable=YES', 'local_enable=NO', 'write_enable=YES',
      'anon_upload_enable=YES', 'anon_other_write_enable=YES', `anon_root=${root}`, 'no_anon_password=YES',
      'pasv_enable=YES', 'pasv_address=127.0.0.1', `pasv_min_port=${pasv}`, `pasv_max_port=${pasv}`,
      'seccomp_sandbox=NO', 'background=NO', `secure_chroot_dir=${join(dir, 'empty')}`, 'xferlog_enable=NO',
    ].join('\n') + '\n');
    ftpd = spawn('/usr/sbin/vsftpd', [cfg], { stdio: 'ignore' });
    const got: RawMessage[] = [];
    const opts = { host: '127.0.0.1', port, user: 'anonymous', password: '', dir: '/drop', pattern: /\.log$/, program: 'fwfile', sink: (m: RawMessage) => got.push(m) };
    let r: { files: number; lines: number } | null = null;
    for (let k = 0; k < 50 && !r; k++) {
      try { r = await ftpPickupOnce(opts); } catch { await new Promise((res) => setTimeout(res, 100)); } // vsftpd still starting
    }
    expect(r).toEqual({ files: 1, lines: 2 });
    expect(got[0]!.bytes.toString()).toMatch(/^<134>1 \S+ 127\.0\.0\.1 fwfile - - - 2026-12-07 10:00:00 deny tcp 198\.51\.100\.1 -> 10\.0\.0\.1:22$/);
    expect(got[1]!.bytes.toString()).toMatch(/^<38>Dec/);
    expect(got[0]!.via).toBe('ftp://127.0.0.1/drop/fw-20261207.log');
    expect(readdirSync(drop).sort()).toEqual(['fw-20261207.log.done', 'readme.txt']);
    expect(await ftpPickupOnce(opts)).toEqual({ files: 0, lines: 0 });
    // a wrong account is an error the service logs and retries on the next pass, not a silent empty pass
    await expect(ftpPickupOnce({ ...opts, user: 'nobody-here', password: 'x' })).rejects.toThrow();
  });
});
