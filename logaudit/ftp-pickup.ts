import { Writable } from 'node:stream';
import { Client } from 'basic-ftp';
import type { RawMessage } from './normalise.js';
import { feedFileLines } from './pickup-lines.js';

/**
 * Plain FTP pickup, for the devices and older systems that can only push
 * their log files to an FTP server (many Chinese network appliances' "日志
 * 上传" offers nothing else). Same contract as the SFTP pickup: each pass lists
 * the directory, takes the files whose names match, feeds their lines, then
 * renames each to `<name>.done` — a file is taken once, and one that failed
 * half-way is taken again whole on the next pass (at least once). Plain FTP
 * sends the password in clear: use it only on the device network segment.
 */
export interface FtpPickupOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  dir: string;
  pattern: RegExp;
  program: string | null;
  now?: () => number;
  sink: (m: RawMessage) => void;
}

export async function ftpPickupOnce(o: FtpPickupOptions): Promise<{ files: number; lines: number }> {
  const c = new Client(15_000);
  let files = 0;
  let lines = 0;
  try {
    await c.access({ host: o.host, port: o.port, user: o.user, password: o.password, secure: false });
    const list = await c.list(o.dir);
    for (const f of list.filter((x) => x.isFile && o.pattern.test(x.name) && !x.name.endsWith('.done')).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${o.dir.replace(/\/$/, '')}/${f.name}`;
      const parts: Buffer[] = [];
      await c.downloadTo(new Writable({ write(chunk: Buffer, _enc, cb) { parts.push(chunk); cb(); } }), path);
      lines += feedFileLines(Buffer.concat(parts), { host: o.host, program: o.program, via: `ftp://${o.host}${path}`, now: o.now ?? Date.now, sink: o.sink });
      await c.rename(path, `${path}.done`);
      files++;
    }
  } finally {
    c.close();
  }
  return { files, lines };
}
