import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobWriter, TextReader, Uint8ArrayReader, ZipWriter } from '@zip.js/zip.js';
import { describe, expect, it } from 'vitest';
import { encryptZip, extractZip, safeEntryName } from './zip-archive.js';

/** Encrypted archives: AES-256 and ZipCrypto, password candidates, bombs, traversal, corruption. */
const dir = mkdtempSync(join(tmpdir(), 'hc-zip-'));
const csvPath = join(dir, 'a.csv');
writeFileSync(csvPath, 'idType,idNo\nresident,123\n');

async function rawZip(name: string, entries: { name: string; data: Uint8Array | string }[], password?: string): Promise<string> {
  const w = new ZipWriter(new BlobWriter(), password === undefined ? {} : { password, encryptionStrength: 3 });
  for (const e of entries) await w.add(e.name, typeof e.data === 'string' ? new TextReader(e.data) : new Uint8ArrayReader(e.data));
  const blob = await w.close();
  const path = join(dir, name);
  writeFileSync(path, Buffer.from(await blob.arrayBuffer()));
  return path;
}

describe('zip archives', () => {
  it('AES-256 and ZipCrypto: the right candidate opens it, the content round-trips', async () => {
    for (const zipCrypto of [false, true]) {
      const z = join(dir, `enc-${zipCrypto}.zip`);
      await encryptZip([{ name: '核酸/结果.csv', path: csvPath }], z, 'HC20261207', { zipCrypto });
      const out = mkdtempSync(join(dir, 'x-'));
      const r = await extractZip(z, out, ['HC20261206', 'HC20261207']);
      expect(r.password).toBe('HC20261207');
      expect(r.files).toHaveLength(1);
      expect(r.files[0]!.name).toBe('核酸/结果.csv');
      expect(readFileSync(r.files[0]!.path, 'utf8')).toBe(readFileSync(csvPath, 'utf8'));
      await expect(extractZip(z, out, ['wrong', 'HC20261201'])).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_PASSWORD' });
    }
  });

  it('a truncated or non-ZIP file is EXC_ERR_ZIP_CORRUPT', async () => {
    const z = join(dir, 'enc.zip');
    await encryptZip([{ name: 'a.csv', path: csvPath }], z, 'pw123456');
    const cut = join(dir, 'cut.zip');
    writeFileSync(cut, readFileSync(z).subarray(0, Math.floor(statSync(z).size / 2)));
    await expect(extractZip(cut, dir, ['pw123456'])).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_CORRUPT' });
    const junk = join(dir, 'junk.zip');
    writeFileSync(junk, 'not a zip at all');
    await expect(extractZip(junk, dir, ['x'])).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_CORRUPT' });
  });

  it('zip bombs: ratio, size and entry-count limits', async () => {
    const bomb = await rawZip('bomb.zip', [{ name: 'zeros.csv', data: new Uint8Array(20 << 20) }], 'pw123456');
    await expect(extractZip(bomb, dir, ['pw123456'])).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_BOMB' });
    const many = await rawZip('many.zip', Array.from({ length: 5 }, (_, i) => ({ name: `${i}.csv`, data: 'a' })));
    await expect(extractZip(many, dir, [], { maxEntries: 3, maxEntryBytes: 1000, maxTotalBytes: 1000, maxRatio: 200 })).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_BOMB' });
    const big = await rawZip('big.zip', [{ name: 'a.csv', data: 'x'.repeat(5000) }]);
    await expect(extractZip(big, dir, [], { maxEntries: 3, maxEntryBytes: 1000, maxTotalBytes: 10_000, maxRatio: 1e9 })).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_BOMB' });
  });

  it('path traversal in entry names is EXC_ERR_ZIP_PATH', async () => {
    const evil = await rawZip('evil.zip', [{ name: '../../etc/evil.csv', data: 'x' }]);
    await expect(extractZip(evil, dir, [])).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_PATH' });
    for (const bad of ['/etc/passwd', 'a/../../b', 'C:/x', 'a\\..\\b', '']) expect(safeEntryName(bad)).toBe(false);
    expect(safeEntryName('数据/2026/结果.csv')).toBe(true);
  });
});
