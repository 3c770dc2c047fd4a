import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobReader, TextWriter, ZipReader, type FileEntry } from '@zip.js/zip.js';
import { describe, expect, it } from 'vitest';
import { fitsAesWriter, writeAesZip } from './archive-aes-writer.js';
import { extractZip } from './zip-archive.js';

/** The native AES-256 (AE-2) writer: what it writes, zip.js (the intake's reader) opens byte for byte. */
const dir = mkdtempSync(join(tmpdir(), 'hc-aeszip-'));

describe('archive-aes-writer', () => {
  it('several entries, one across many deflate slices, an empty one, and stored (level 0): all round-trip with the password', async () => {
    // 9 MiB of rows with random bytes mixed in: three 4 MiB slices, the last one short; the keystream crosses slice ends
    const lines: string[] = [];
    for (let i = 0, n = 0; n < 9 * 1048576 + 12345; i++) {
      lines.push(`resident,${i},${randomBytes(1 + (i % 40)).toString('base64')},阴性\n`.repeat(50));
      n += lines[i]!.length;
    }
    const big = join(dir, 'big.csv');
    writeFileSync(big, lines.join(''));
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '');
    const small = join(dir, 'small.csv');
    writeFileSync(small, 'idType,idNo\nresident,510104\n');
    for (const level of [1, 0]) {
      const z = join(dir, `out-${level}.zip`);
      const files = [{ name: '核酸/大.csv', path: big }, { name: 'empty.csv', path: empty }, { name: 'small.csv', path: small }];
      expect(await fitsAesWriter(files)).toBe(true);
      const bytes = await writeAesZip(files, z, 'SJ20261207', level);
      expect(readFileSync(z).length).toBe(bytes);
      const out = mkdtempSync(join(dir, 'x-'));
      const r = await extractZip(z, out, ['wrong', 'SJ20261207']);
      expect(r.password).toBe('SJ20261207');
      expect(r.files.map((f) => f.name)).toEqual(['核酸/大.csv', 'empty.csv', 'small.csv']);
      for (const [i, f] of files.entries()) expect(readFileSync(r.files[i]!.path).equals(readFileSync(f.path))).toBe(true);
      await expect(extractZip(z, out, ['SJ20261206'])).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_PASSWORD' });
    }
  });

  it('a flipped ciphertext byte fails the HMAC: the archive does not open as if intact', async () => {
    const src = join(dir, 't.csv');
    writeFileSync(src, 'resident,510104199001011234,张三,阴性\n'.repeat(1000));
    const z = join(dir, 't.zip');
    await writeAesZip([{ name: 't.csv', path: src }], z, 'pw-12345678');
    const buf = readFileSync(z);
    // local header 30 + name 5 + extra 11, salt 16 + check 2: the first ciphertext byte
    buf[30 + 5 + 11 + 18 + 3]! ^= 0x40;
    const reader = new ZipReader(new BlobReader(new Blob([buf])));
    const [entry] = (await reader.getEntries()) as FileEntry[];
    await expect(entry!.getData(new TextWriter(), { password: 'pw-12345678', checkSignature: true })).rejects.toThrow();
    await reader.close();
  });
});
