import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putOnce } from './sftp-forward.js';
import { SftpPartStream } from './sftp-stream.js';
import { makeSshd, type Sshd } from './sshd-server.js';
import { encryptZip, extractZip } from './zip-archive.js';

/**
 * The forward's overlap of re-encrypt and upload (sftp-stream.ts, against a
 * real OpenSSH sshd): the archive's bytes streamed into `<name>.part` while
 * it is written are exactly the local file, and the forwarder's putOnce then
 * only renames; a stream that did not complete is uploaded again from the
 * local file.
 */
let sshd: Sshd;
let dir: string;
let plain: string;

beforeAll(async () => {
  sshd = await makeSshd();
  await sshd.start();
  dir = mkdtempSync(join(tmpdir(), 'hc-sftp-stream-'));
  plain = join(dir, 'rows.csv');
  // 9 MiB of varied rows: three deflate slices (4 MiB each), the sizes patched in after the data
  let s = '';
  for (let i = 0; s.length < 9 * 1048576; i++) s += `resident,5101041990${String(i % 1e8).padStart(8, '0')},张某,139${String((i * 7919) % 1e8).padStart(8, '0')},阴性\n`;
  writeFileSync(plain, s);
}, 60_000);
afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const rcpt = (): { host: string; port: number; username: string; remoteDir: string } => ({ host: '127.0.0.1', port: sshd.port, username: sshd.username, remoteDir: sshd.remoteDir });

async function connected(): Promise<{ client: SftpClient; wrapper: Awaited<ReturnType<SftpClient['connect']>> }> {
  const client = new SftpClient('test');
  const wrapper = await client.connect({ host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey });
  return { client, wrapper };
}

describe('sftp-stream', () => {
  it('an archive streamed into <name>.part while it is written equals the local file; putOnce only renames it', async () => {
    const { client, wrapper } = await connected();
    try {
      const stream = await SftpPartStream.open(wrapper, `${sshd.remoteDir}/a.zip.part`);
      const local = join(dir, 'a.zip');
      const bytes = await encryptZip([{ name: '核酸结果.csv', path: plain }], local, 'SJ20261207', { mirror: stream });
      expect(await stream.finish()).toBe(true);
      expect(readFileSync(join(sshd.remoteDir, 'a.zip.part')).equals(readFileSync(local))).toBe(true);
      expect(statSync(local).size).toBe(bytes);
      // the local file is not read again: the streamed part is complete
      const how = await putOnce(client, rcpt(), { privateKey: sshd.privateKey }, 'a.zip', 3000, () => { throw new Error('uploaded again'); }, { connected: true, partBytes: bytes });
      expect(how).toBe('sent');
      const out = join(dir, 'out-a');
      mkdirSync(out);
      const got = await extractZip(join(sshd.remoteDir, 'a.zip'), out, ['SJ20261207']);
      expect(readFileSync(got.files[0]!.path).equals(readFileSync(plain))).toBe(true);
    } finally {
      await client.end();
    }
  }, 60_000);

  it('a stream whose connection ended reports failure, the archive is still written, and putOnce uploads it from the local file', async () => {
    const first = await connected();
    const stream = await SftpPartStream.open(first.wrapper, `${sshd.remoteDir}/b.zip.part`);
    await first.client.end();
    const local = join(dir, 'b.zip');
    const bytes = await encryptZip([{ name: '核酸结果.csv', path: plain }], local, 'SJ20261207', { mirror: stream });
    expect(await stream.finish()).toBe(false);
    expect(stream.failed).toBe(true);
    const { client } = await connected();
    try {
      let read = 0;
      const how = await putOnce(client, rcpt(), { privateKey: sshd.privateKey }, 'b.zip', 3000, () => { read++; return local; }, { connected: true, partBytes: bytes });
      expect(how).toBe('sent');
      expect(read).toBe(1);
      expect(readFileSync(join(sshd.remoteDir, 'b.zip')).equals(readFileSync(local))).toBe(true);
    } finally {
      await client.end();
    }
  }, 60_000);
});
