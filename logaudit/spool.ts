import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RawMessage } from './normalise.js';

/**
 * The durable on-disk buffer: messages that cannot be processed now (a burst
 * above the memory queue's high-water mark, or — in a collector — everything
 * not yet acknowledged by the central system) are appended here and read back
 * in order. Segment files of up to `segmentBytes`; the read position is kept
 * in pos.json so a restart resumes where it stopped (at least once: a batch
 * read but not committed before a crash is read again).
 *
 *   record = u32 length of the rest ‖ u8 transport ‖ u8 flags ‖ f64 receivedMs
 *            ‖ u16 len(from) ‖ from ‖ u16 len(via) ‖ via ‖ message bytes
 */
const TRANSPORTS = ['udp', 'tcp', 'tls', 'file', 'snmp', 'forward', 'db'] as const;

export class Spool {
  private readonly dir: string;
  private writeSeg: number;
  private writeFd: number | null = null;
  private writeSize = 0;
  private readSeg: number;
  private readOff: number;
  private pending: { seg: number; off: number } | null = null;
  bytes = 0;
  records = 0;

  constructor(dir: string, private readonly maxBytes: number, private readonly segmentBytes = 32 * 1024 * 1024) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    const segs = this.segments();
    const pos = existsSync(join(dir, 'pos.json')) ? (JSON.parse(readFileSync(join(dir, 'pos.json'), 'utf8')) as { seg: number; off: number }) : null;
    this.readSeg = pos?.seg ?? segs[0] ?? 1;
    this.readOff = pos?.off ?? 0;
    this.writeSeg = segs.length > 0 ? segs[segs.length - 1]! : this.readSeg;
    for (const s of segs) {
      if (s < this.readSeg) { rmSync(this.segPath(s), { force: true }); continue; }
      const size = readFileSync(this.segPath(s)).length;
      this.bytes += s === this.readSeg ? size - this.readOff : size;
    }
    if (this.bytes > 0) this.records = -1; // unknown until read; `empty` uses bytes
  }

  private segments(): number[] {
    return readdirSync(this.dir).map((f) => /^seg-(\d+)\.bin$/.exec(f)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
  }

  private segPath(n: number): string {
    return join(this.dir, `seg-${String(n).padStart(8, '0')}.bin`);
  }

  get empty(): boolean {
    return this.bytes <= 0;
  }

  get full(): boolean {
    return this.bytes >= this.maxBytes;
  }

  /** false when the spool is full (the caller counts and alerts the shed message) */
  append(m: RawMessage): boolean {
    if (this.full) return false;
    const from = Buffer.from(m.from);
    const via = Buffer.from(m.via ?? '');
    const rec = Buffer.allocUnsafe(4 + 1 + 1 + 8 + 2 + from.length + 2 + via.length + m.bytes.length);
    let o = 0;
    rec.writeUInt32BE(rec.length - 4, o); o += 4;
    rec.writeUInt8(TRANSPORTS.indexOf(m.transport), o); o += 1;
    rec.writeUInt8(m.truncated ? 1 : 0, o); o += 1;
    rec.writeDoubleBE(m.receivedMs, o); o += 8;
    rec.writeUInt16BE(from.length, o); o += 2;
    from.copy(rec, o); o += from.length;
    rec.writeUInt16BE(via.length, o); o += 2;
    via.copy(rec, o); o += via.length;
    m.bytes.copy(rec, o);
    if (this.writeFd === null || this.writeSize >= this.segmentBytes) {
      if (this.writeFd !== null) { closeSync(this.writeFd); this.writeSeg++; }
      this.writeFd = openSync(this.segPath(this.writeSeg), 'a');
      this.writeSize = fstatSync(this.writeFd).size;
    }
    writeSync(this.writeFd, rec);
    this.writeSize += rec.length;
    this.bytes += rec.length;
    if (this.records >= 0) this.records++;
    return true;
  }

  /**
   * Up to `max` records from the read position. Call `commit()` once they
   * are safely handled (stored, or acknowledged upstream); without it the
   * next read returns them again.
   */
  read(max: number): RawMessage[] {
    const out: RawMessage[] = [];
    let seg = this.readSeg;
    let off = this.readOff;
    while (out.length < max) {
      const p = this.segPath(seg);
      if (!existsSync(p)) break;
      const fd = openSync(p, 'r');
      const size = fstatSync(fd).size;
      const hdr = Buffer.alloc(4);
      while (out.length < max && off + 4 <= size) {
        readSync(fd, hdr, 0, 4, off);
        const len = hdr.readUInt32BE(0);
        if (off + 4 + len > size) break; // a torn last record (crash mid-write): wait / ignore
        const rec = Buffer.alloc(len);
        readSync(fd, rec, 0, len, off + 4);
        let o = 0;
        const transport = TRANSPORTS[rec.readUInt8(o)] ?? 'udp'; o += 1;
        const flags = rec.readUInt8(o); o += 1;
        const receivedMs = rec.readDoubleBE(o); o += 8;
        const fl = rec.readUInt16BE(o); o += 2;
        const from = rec.subarray(o, o + fl).toString(); o += fl;
        const vl = rec.readUInt16BE(o); o += 2;
        const via = rec.subarray(o, o + vl).toString(); o += vl;
        out.push({ bytes: rec.subarray(o), from, transport, receivedMs, truncated: (flags & 1) === 1, ...(via ? { via } : {}), spooled: true });
        off += 4 + len;
      }
      closeSync(fd);
      if (out.length < max && seg < this.writeSeg) { seg++; off = 0; continue; }
      break;
    }
    this.pending = { seg, off };
    return out;
  }

  commit(): void {
    if (!this.pending) return;
    const { seg, off } = this.pending;
    let freed = 0;
    for (let s = this.readSeg; s < seg; s++) {
      const p = this.segPath(s);
      if (existsSync(p)) {
        freed += readFileSync(p).length - (s === this.readSeg ? this.readOff : 0);
        rmSync(p, { force: true });
      }
    }
    freed += seg === this.readSeg ? off - this.readOff : off;
    this.bytes -= freed;
    this.readSeg = seg;
    this.readOff = off;
    this.pending = null;
    if (this.bytes <= 0 && this.readSeg === this.writeSeg && this.writeFd !== null) {
      // all read: start over in a fresh segment so files do not grow forever
      closeSync(this.writeFd);
      this.writeFd = null;
      rmSync(this.segPath(this.writeSeg), { force: true });
      this.writeSeg++;
      this.readSeg = this.writeSeg;
      this.readOff = 0;
      this.bytes = 0;
      this.records = 0;
    }
    writeFileSync(join(this.dir, 'pos.json.tmp'), JSON.stringify({ seg: this.readSeg, off: this.readOff }));
    renameSync(join(this.dir, 'pos.json.tmp'), join(this.dir, 'pos.json'));
  }

  close(): void {
    if (this.writeFd !== null) closeSync(this.writeFd);
    this.writeFd = null;
  }
}
