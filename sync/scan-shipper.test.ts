import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScanSpool } from '../edge/scan-spool.js';
import { MemoryDeltaBus } from './bus-memory.js';
import { SCANS_START } from './delta-bus.js';
import { ScanShipper } from './scan-shipper.js';
import { decodeScanBatch } from './scan-wire.js';

describe('scan shipper (edge spool → scan stream)', () => {
  let dir: string;
  let spool: ScanSpool;
  let bus: MemoryDeltaBus;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-shipper-'));
    spool = ScanSpool.open(dir);
    bus = new MemoryDeltaBus();
  });

  afterEach(async () => {
    await spool.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function spoolScans(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await spool.append({ kind: i % 2 === 0 ? 'scan' : 'verify', uid: Buffer.alloc(16, i), venue: `V${i}`, at: 1_780_000_000_000 + i, color: 'green' });
    }
  }

  it('ships in batches, one stream entry each, and deletes from the spool only what the bus accepted', async () => {
    await spoolScans(7);
    const shipper = new ScanShipper({ spool, bus, node: 'edge-9', batch: 3 });
    expect(await shipper.shipOnce()).toBe(3);
    expect(spool.depth()).toBe(4);
    expect(await shipper.shipOnce()).toBe(3);
    expect(await shipper.shipOnce()).toBe(1);
    expect(await shipper.shipOnce()).toBe(0);
    expect(spool.depth()).toBe(0);
    const entries = await bus.readScans(SCANS_START, 10, 0);
    expect(entries).toHaveLength(3);
    const all = entries.flatMap((e) => decodeScanBatch(e.payload).scans);
    expect(all.map((s) => s.venue)).toEqual(['V0', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6']);
    expect(new Set(all.map((s) => s.id)).size).toBe(7);
    for (const s of all) expect(s.id).toMatch(/^edge-9:[0-9a-f]{32}$/);
    expect(shipper.metrics()).toMatchObject({ shipped: 7, entries: 3, spoolDepth: 0 });
  });

  it('keeps every scan in the spool while the bus refuses, and ships them once it accepts', async () => {
    await spoolScans(5);
    const down = new MemoryDeltaBus();
    await down.close(); // every call: SYNC_ERR_BUS_CLOSED
    const failing = new ScanShipper({ spool, bus: down, node: 'edge-9' });
    await expect(failing.shipOnce()).rejects.toMatchObject({ code: 'SYNC_ERR_BUS_CLOSED' });
    expect(spool.depth()).toBe(5);
    const errors: string[] = [];
    const loop = new ScanShipper({ spool, bus: down, node: 'edge-9', minBackoffMs: 5, maxBackoffMs: 10, onError: (e) => errors.push((e as { code?: string }).code ?? '') });
    loop.start();
    await new Promise((r) => setTimeout(r, 60));
    await loop.stop();
    expect(errors.length).toBeGreaterThan(1);
    expect(errors[0]).toBe('SYNC_ERR_BUS_CLOSED');
    expect(spool.depth()).toBe(5);
    const ok = new ScanShipper({ spool, bus, node: 'edge-9', pollMs: 5 });
    ok.start();
    for (let i = 0; i < 100 && spool.depth() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await ok.stop();
    expect(spool.depth()).toBe(0);
    const shipped = (await bus.readScans(SCANS_START, 10, 0)).flatMap((e) => decodeScanBatch(e.payload).scans);
    expect(shipped).toHaveLength(5);
  });

  it('refuses a node id that cannot label scans (SYNC_ERR_CONFIG)', () => {
    expect(() => new ScanShipper({ spool, bus, node: 'no spaces allowed' })).toThrow(expect.objectContaining({ code: 'SYNC_ERR_CONFIG', field: 'HC_NODE_ID' }));
    expect(() => new ScanShipper({ spool, bus, node: 'n'.repeat(32) })).toThrow(expect.objectContaining({ code: 'SYNC_ERR_CONFIG' }));
  });
});
