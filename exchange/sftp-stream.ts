import type { SFTPWrapper } from 'ssh2';
import type { ArchiveMirror } from './archive-aes-writer.js';

/**
 * The archive's bytes written into a remote file while the archive is being
 * made (archive-aes-writer.ts ArchiveMirror), so re-encrypt and upload
 * overlap instead of running one after the other (issue 10: re-encrypt +
 * SFTP forward ≥ 50 MB/s). Writes go at their offsets in pieces of PIECE
 * bytes, at most IN_FLIGHT unacknowledged (FAST_PUT's 128 KiB × 32:
 * ssh2's own write sends one piece at a time when given a larger buffer).
 *
 * Never throws into the archive: a failed write marks the stream failed
 * and later writes are dropped; `finish` says whether every byte arrived.
 * Only a `.part` name is written here — the rename that makes the file
 * visible stays with the forwarder, after the forward is in its ledger.
 */
const PIECE = 128 * 1024;
const IN_FLIGHT = 32;

export class SftpPartStream implements ArchiveMirror {
  private outstanding = 0;
  private waiters: (() => void)[] = [];
  private error: unknown = null;
  private closed = false;
  /** bytes acknowledged by the server */
  written = 0;

  private gone = false;

  private constructor(private readonly sftp: SFTPWrapper, private readonly handle: Buffer) {
    // a connection that ends answers no outstanding write: they all count as failed, and nobody waits for them
    const onGone = (): void => {
      this.gone = true;
      this.error ??= Object.assign(new Error('SFTP channel closed'), { code: 'CLOSED' });
      this.outstanding = 0;
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
    };
    sftp.once('close', onGone);
    sftp.once('end', onGone);
  }

  /** Opens (creates or truncates) `remotePath` for writing. */
  static open(sftp: SFTPWrapper, remotePath: string): Promise<SftpPartStream> {
    return new Promise((resolve, reject) => {
      sftp.open(remotePath, 'w', 0o600, (err, handle) => (err ? reject(err) : resolve(new SftpPartStream(sftp, handle))));
    });
  }

  get failed(): boolean {
    return this.error !== null;
  }

  async write(buf: Buffer, pos: number): Promise<void> {
    for (let off = 0; off < buf.length && this.error === null; off += PIECE) {
      while (this.outstanding >= IN_FLIGHT) await new Promise<void>((r) => { this.waiters.push(r); });
      if (this.error !== null || this.closed || this.gone) return;
      const len = Math.min(PIECE, buf.length - off);
      this.outstanding++;
      try {
        // ssh2 copies the piece into its packet at once: the caller's buffer may change afterwards
        this.sftp.write(this.handle, buf, off, len, pos + off, (err) => this.done(err, len));
      } catch (err) {
        this.done(err, 0);
      }
    }
  }

  private done(err: unknown, len: number): void {
    if (this.gone) return;
    this.outstanding--;
    if (err !== undefined && err !== null) this.error ??= err;
    else this.written += len;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Waits for every write, closes the remote file; true when all of them succeeded. */
  async finish(): Promise<boolean> {
    while (this.outstanding > 0) await new Promise<void>((r) => { this.waiters.push(r); });
    if (this.closed || this.gone) return this.error === null;
    this.closed = true;
    await new Promise<void>((resolve) => {
      this.sftp.close(this.handle, (err) => {
        if (err !== undefined && err !== null) this.error ??= err;
        resolve();
      });
    });
    return this.error === null;
  }
}
