import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { RawMessage } from './normalise.js';

/**
 * Tailing log files, with rotation: `path[=program]` entries
 * (LOGAUDIT_FILES). Each poll reads what was appended since the last one.
 *
 *   rename rotation (logrotate default)   the inode changes: the old file is
 *                                          read to its end through the still-open
 *                                          descriptor, then the new one from 0
 *   copytruncate                           the size drops below our offset: from 0
 *
 * Offsets are kept in a state file so a restart neither re-reads nor skips.
 * A line without a syslog header gets one naming the program, so the
 * decoder of that program reads it (an nginx access.log line is decoded as nginx).
 */
interface FileState { ino: number; off: number }

export class FileTailer {
  private readonly files: { path: string; app: string | null; fd: number | null; ino: number; off: number; partial: string }[];
  private timer: NodeJS.Timeout | null = null;
  private readonly host = hostname();

  constructor(specs: string[], private readonly stateFile: string, private readonly sink: (m: RawMessage) => void, private readonly now: () => number = Date.now) {
    const saved: Record<string, FileState> = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, FileState>) : {};
    this.files = specs.map((s) => {
      const eq = s.lastIndexOf('=');
      const path = eq > 0 ? s.slice(0, eq) : s;
      const st = saved[path];
      return { path, app: eq > 0 ? s.slice(eq + 1) : null, fd: null, ino: st?.ino ?? -1, off: st?.off ?? 0, partial: '' };
    });
  }

  start(intervalMs = 500): void {
    this.poll();
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }

  /** One pass over every file (exported for tests: no waiting on timers). */
  poll(): void {
    for (const f of this.files) {
      let st;
      try { st = statSync(f.path); } catch { continue; } // not there (yet, or between rotation steps)
      if (f.fd !== null && st.ino !== f.ino) {
        this.drain(f); // rotated by rename: finish the old file
        closeSync(f.fd);
        f.fd = null;
        f.off = 0;
      }
      if (f.fd === null) {
        f.fd = openSync(f.path, 'r');
        const ino = fstatSync(f.fd).ino;
        if (ino !== f.ino) { f.ino = ino; f.off = 0; }
      }
      if (st.size < f.off) f.off = 0; // copytruncate
      this.drain(f);
    }
    this.save();
  }

  private drain(f: (typeof this.files)[number]): void {
    if (f.fd === null) return;
    const buf = Buffer.alloc(256 * 1024);
    for (;;) {
      const n = readSync(f.fd, buf, 0, buf.length, f.off);
      if (n <= 0) break;
      f.off += n;
      const text = f.partial + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      f.partial = lines.pop() ?? '';
      for (const line of lines) this.emit(f, line);
    }
  }

  private emit(f: (typeof this.files)[number], raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0) return;
    const at = this.now();
    const text = line.startsWith('<') || f.app === null ? line : `<134>1 ${new Date(at).toISOString()} ${this.host} ${f.app} - - - ${line}`;
    this.sink({ bytes: Buffer.from(text), from: '127.0.0.1', transport: 'file', receivedMs: at, via: f.path });
  }

  private save(): void {
    const out: Record<string, FileState> = {};
    for (const f of this.files) out[f.path] = { ino: f.ino, off: f.off - Buffer.byteLength(f.partial) };
    mkdirSync(dirname(this.stateFile), { recursive: true });
    writeFileSync(this.stateFile + '.tmp', JSON.stringify(out));
    renameSync(this.stateFile + '.tmp', this.stateFile);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const f of this.files) if (f.fd !== null) { closeSync(f.fd); f.fd = null; }
  }
}
