import { createReadStream, openAsBlob } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { BlobReader, configure, ZipReader, ZipWriter, type FileEntry } from '@zip.js/zip.js';
import { fitsAesWriter, writeAesZip, type ArchiveMirror } from './archive-aes-writer.js';
import { ExchangeError } from './errors.js';

/**
 * Encrypted ZIP archives from departments (AES-256 or ZipCrypto): open with
 * one of the candidate passwords of the department's rule, refuse zip bombs
 * and path traversal, extract to disk streaming; and the other direction,
 * re-encrypt files with a recipient's password (AES-256) for forwarding.
 *
 * Declared sizes in a ZIP can lie, so the limits are checked twice: on the
 * central directory before anything is written, and on the bytes actually
 * written while extracting (a writer that aborts past the limit).
 */
configure({ useWebWorkers: false });

export interface ZipLimits {
  readonly maxEntries: number;
  /** bytes one entry may expand to */
  readonly maxEntryBytes: number;
  /** bytes all entries together may expand to */
  readonly maxTotalBytes: number;
  /** uncompressed / compressed size of an entry above which it is a bomb */
  readonly maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = { maxEntries: 100, maxEntryBytes: 2 * 1024 ** 3, maxTotalBytes: 4 * 1024 ** 3, maxRatio: 200 };

export interface Extracted {
  /** the entry's name in the archive (checked: relative, no '..') */
  readonly name: string;
  /** where it was written */
  readonly path: string;
  readonly bytes: number;
}

/** A relative path without '..', drive letters, backslashes or control characters. */
export function safeEntryName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (/[\u0000-\u001f\\]/.test(name) || name.startsWith('/') || /^[A-Za-z]:/.test(name)) return false;
  return !name.split('/').some((seg) => seg === '..');
}

function zipError(err: unknown): ExchangeError {
  if (err instanceof ExchangeError) return err;
  const m = err instanceof Error ? err.message : String(err);
  if (/password/i.test(m)) return new ExchangeError('EXC_ERR_ZIP_PASSWORD');
  // zip.js refuses '..' and absolute names itself while reading the directory
  if (/unsafe filename/i.test(m)) return new ExchangeError('EXC_ERR_ZIP_PATH');
  return new ExchangeError('EXC_ERR_ZIP_CORRUPT', m.slice(0, 80));
}

/** A WritableStream into a file that fails once more than `limit` bytes arrive. */
async function limitedFileWriter(path: string, limit: number): Promise<{ stream: WritableStream<Uint8Array>; bytes: () => number; close: () => Promise<void> }> {
  const fh = await open(path, 'w', 0o600);
  let n = 0;
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      await fh.close();
    }
  };
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      n += chunk.length;
      if (n > limit) throw new ExchangeError('EXC_ERR_ZIP_BOMB', `超过 ${limit} 字节`);
      await fh.write(chunk);
    },
    close,
    abort: close,
  });
  return { stream, bytes: () => n, close };
}

/**
 * Extracts every file of an encrypted archive into `outDir` (as `<i>-<base name>`),
 * trying `candidates` in order; answers which one opened it.
 * Errors: EXC_ERR_ZIP_CORRUPT, EXC_ERR_ZIP_PASSWORD, EXC_ERR_ZIP_BOMB, EXC_ERR_ZIP_PATH.
 */
export async function extractZip(
  zipPath: string, outDir: string, candidates: readonly string[], limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): Promise<{ password: string | null; files: Extracted[] }> {
  let reader: ZipReader<Blob>;
  let entries;
  try {
    reader = new ZipReader(new BlobReader(await openAsBlob(zipPath)));
    entries = await reader.getEntries();
  } catch (err) {
    throw zipError(err);
  }
  try {
    const files = entries.filter((e): e is FileEntry => !e.directory);
    if (entries.length > limits.maxEntries) throw new ExchangeError('EXC_ERR_ZIP_BOMB', `${entries.length} 个文件`);
    let declared = 0;
    for (const e of entries) {
      if (!safeEntryName(e.filename)) throw new ExchangeError('EXC_ERR_ZIP_PATH');
      if (e.directory) continue;
      declared += e.uncompressedSize;
      if (e.uncompressedSize > limits.maxEntryBytes || declared > limits.maxTotalBytes) throw new ExchangeError('EXC_ERR_ZIP_BOMB', '解压后过大');
      if (e.uncompressedSize > 1 << 20 && e.uncompressedSize / Math.max(1, e.compressedSize) > limits.maxRatio) {
        throw new ExchangeError('EXC_ERR_ZIP_BOMB', '压缩比异常');
      }
    }
    if (files.length === 0) throw new ExchangeError('EXC_ERR_ZIP_EMPTY');
    const encrypted = files.some((e) => e.encrypted);
    let password: string | null = null;
    if (encrypted) {
      const probe = files.find((e) => e.encrypted)!;
      for (const c of candidates) {
        try {
          await probe.getData(new WritableStream(), { password: c, checkPasswordOnly: true });
          password = c;
          break;
        } catch {
          // next candidate
        }
      }
      if (password === null) throw new ExchangeError('EXC_ERR_ZIP_PASSWORD');
    }
    const out: Extracted[] = [];
    let total = 0;
    for (let i = 0; i < files.length; i++) {
      const e = files[i]!;
      const path = join(outDir, `${i}-${basename(e.filename)}`);
      const w = await limitedFileWriter(path, Math.min(limits.maxEntryBytes, limits.maxTotalBytes - total));
      try {
        await e.getData(w.stream, { ...(e.encrypted ? { password: password! } : {}), checkCrc32: true });
      } catch (err) {
        throw zipError(err);
      } finally {
        await w.close();
      }
      total += w.bytes();
      out.push({ name: e.filename, path, bytes: w.bytes() });
    }
    return { password, files: out };
  } catch (err) {
    throw zipError(err);
  } finally {
    await reader.close().catch(() => undefined);
  }
}

/**
 * Writes `files` into a new AES-256 archive at `outPath` (streamed from disk).
 * AES goes through archive-aes-writer.ts (native zlib + OpenSSL, ≈ 2× zip.js
 * on the forward bench); ZipCrypto, and archives past the plain-ZIP limits, through zip.js.
 */
export async function encryptZip(
  files: readonly { name: string; path: string }[], outPath: string, password: string,
  opts: {
    zipCrypto?: boolean; level?: number; /** the bench's same-run baseline */ zipJs?: boolean;
    /** also written into this as it is made (sftp-stream.ts), on the native AES path only */ mirror?: ArchiveMirror;
  } = {},
): Promise<number> {
  if (opts.zipCrypto !== true && opts.zipJs !== true && await fitsAesWriter(files)) return writeAesZip(files, outPath, password, opts.level ?? 1, opts.mirror);
  const w = await limitedFileWriter(outPath, Number.MAX_SAFE_INTEGER);
  try {
    const writer = new ZipWriter(w.stream, {
      password, ...(opts.zipCrypto === true ? { zipCrypto: true } : { encryptionStrength: 3 as const }), level: opts.level ?? 1,
    });
    for (const f of files) {
      await writer.add(f.name, Readable.toWeb(createReadStream(f.path)) as unknown as ReadableStream<Uint8Array>);
    }
    await writer.close();
  } finally {
    await w.close();
  }
  return w.bytes();
}
