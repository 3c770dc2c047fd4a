import SftpClient from 'ssh2-sftp-client';
import type { RawMessage } from './normalise.js';
import { feedFileLines } from './pickup-lines.js';

/**
 * SFTP pickup: devices and systems that can only drop log files on a
 * server. Each pass lists the remote directory, downloads the files whose
 * names match, feeds their lines to the intake (a line without a syslog
 * header gets one naming `program`, like file tailing), and then renames the
 * remote file to `<name>.done` — so a file is taken once, and one that failed
 * half-way is taken again whole on the next pass (at least once).
 */
export interface SftpPickupOptions {
  host: string;
  port: number;
  username: string;
  privateKey: string | Buffer;
  dir: string;
  /** file names to take, e.g. /\.log$/ */
  pattern: RegExp;
  program: string | null;
  now?: () => number;
  sink: (m: RawMessage) => void;
}

export async function sftpPickupOnce(o: SftpPickupOptions): Promise<{ files: number; lines: number }> {
  const c = new SftpClient('logaudit');
  await c.connect({ host: o.host, port: o.port, username: o.username, privateKey: o.privateKey, readyTimeout: 10_000 });
  let files = 0;
  let lines = 0;
  try {
    const list = await c.list(o.dir);
    for (const f of list.filter((x) => x.type === '-' && o.pattern.test(x.name) && !x.name.endsWith('.done')).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${o.dir}/${f.name}`;
      const buf = (await c.get(path)) as Buffer;
      lines += feedFileLines(buf, { host: o.host, program: o.program, via: `sftp://${o.host}${path}`, now: o.now ?? Date.now, sink: o.sink });
      await c.rename(path, `${path}.done`);
      files++;
    }
  } finally {
    await c.end();
  }
  return { files, lines };
}
