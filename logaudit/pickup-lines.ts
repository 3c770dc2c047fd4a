import type { RawMessage } from './normalise.js';

/**
 * A picked-up log file (SFTP, FTP) → one message per line. A line without a
 * syslog header gets one naming `program`, like file tailing, so the
 * program's decoder claims it; `via` names the file it came from.
 */
export function feedFileLines(buf: Buffer, o: { host: string; program: string | null; via: string; now: () => number; sink: (m: RawMessage) => void }): number {
  let lines = 0;
  for (const raw of buf.toString('utf8').split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line) continue;
    const at = o.now();
    const text = line.startsWith('<') || !o.program ? line : `<134>1 ${new Date(at).toISOString()} ${o.host} ${o.program} - - - ${line}`;
    o.sink({ bytes: Buffer.from(text), from: o.host, transport: 'file', receivedMs: at, via: o.via });
    lines++;
  }
  return lines;
}
