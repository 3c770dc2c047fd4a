import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rid } from '../admin-api/admin-fixture.common.js';
import { loadOrCreateSecrets, PiiCrypto } from '../master/pii-crypto.js';
import { BUILTIN_DATASETS } from './datasets.js';
import { mergePrepared, prepareChunk, type PreparedChunk } from './prepare-chunk.js';
import { PreparePool } from './prepare-pool.js';
import type { CheckedRow } from './row-check.js';

/**
 * The CPU half of a chunk (prepare-chunk.ts) gives the same persons and
 * duplicate keys on the prepare thread as in-process, whole or in slices:
 * what lets the import hash the next chunk while the current one commits.
 * The thread is the compiled dist/exchange/prepare-worker.js (built by the
 * tests' global setup).
 */
const dir = mkdtempSync(join(tmpdir(), 'hc-prepare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secrets = loadOrCreateSecrets(dir, {});
const crypto = new PiiCrypto(secrets);
const def = BUILTIN_DATASETS.find((d) => d.id === 'nat-result')!;
const NOW = 1_780_000_000_000;

const rows: CheckedRow[] = Array.from({ length: 30 }, (_, i) => ({
  row: i + 2,
  values: {
    idType: 'resident', idNo: rid(`51010419800101${String(i === 8 ? 7 : i).padStart(3, '0')}`), name: i === 5 ? '1234' : '张三',
    phone: `139000000${String(i).padStart(2, '0')}`, sampledAt: 1_779_990_000, result: 'negative', lab: '所',
  },
}));

function comparable(p: PreparedChunk) {
  return {
    refused: [...p.refused],
    keys: [...p.keys],
    plans: [...p.plans].map(([row, x]) => [row, x.uid.toString('hex'), x.certType, x.certHash?.toString('hex'), x.phoneHash?.toString('hex'),
      x.nameMasked, x.region, crypto.decrypt('cert', x.uid, x.certEnc!), crypto.decrypt('phone', x.uid, x.phoneEnc!), crypto.decrypt('name', x.uid, x.nameEnc!)]),
  };
}

describe('chunk preparation', () => {
  it('thread and in-process, whole and in slices, give the same persons and keys', async () => {
    const whole = prepareChunk(def, secrets, crypto, rows, NOW);
    expect(whole.refused).toEqual(new Map([[7, 'name']])); // the master refuses the name: that row is rejected, not the batch
    expect(whole.plans.size).toBe(29);
    expect(whole.keys.get(10)).toBe(whole.keys.get(9)); // rows 9 and 10: same person, same sampling time → one duplicate key
    expect(new Set(whole.keys.values()).size).toBe(28);
    expect(comparable(whole).plans[0]!.slice(7)).toEqual([rows[0]!.values.idNo, '13900000000', '张三']);

    const threaded = new PreparePool(secrets, crypto);
    expect(threaded.threaded).toBe(true);
    const parts = await Promise.all([rows.slice(0, 10), rows.slice(10, 25), rows.slice(25)].map((r) => threaded.prepare(def, r, NOW)));
    expect(comparable(mergePrepared(parts))).toEqual(comparable(whole));
    await threaded.close();
    // a closed pool starts a new thread on the next chunk
    expect(comparable(await threaded.prepare(def, rows, NOW))).toEqual(comparable(whole));
    await threaded.close();

    const inProcess = new PreparePool(secrets, crypto, null);
    expect(inProcess.threaded).toBe(false);
    expect(comparable(await inProcess.prepare(def, rows, NOW))).toEqual(comparable(whole));
    expect(comparable(mergePrepared([]))).toEqual({ refused: [], keys: [], plans: [] });
  });

  it('a chunk the thread cannot prepare fails its promise, not the process', async () => {
    const pool = new PreparePool(secrets, crypto);
    await expect(pool.prepare(null as unknown as typeof def, rows.slice(0, 2), NOW)).rejects.toThrow(/prepare thread: TypeError/);
    // the thread stays usable
    expect((await pool.prepare(def, rows.slice(0, 2), NOW)).plans.size).toBe(2);
    await pool.close();
  });
});
