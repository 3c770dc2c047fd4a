import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVersioned } from '../core/code-record.js';
import { CodeService } from '../master/code-service.js';
import { loadOrCreateSecrets } from '../master/pii-crypto.js';
import { openPglite, type SqlClient } from '../master/sql-client.js';
import { MasterStore } from '../master/store.js';
import { MemoryDeltaBus } from './bus-memory.js';
import { SCANS_START } from './delta-bus.js';
import { ScanImporter } from './scan-importer.js';
import { encodeScanBatch, type WireScan } from './scan-wire.js';

describe('scan importer (scan stream → master scans table → entry facts)', () => {
  let dir: string;
  let db: SqlClient;
  let store: MasterStore;
  let codes: CodeService;
  let uid: Buffer;
  let personId: number;
  const now = Date.now();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-importer-'));
    db = await openPglite();
    store = new MasterStore(db, loadOrCreateSecrets(dir, {}));
    await store.migrate();
    codes = new CodeService(store, { log: () => {} });
    const r = await codes.register({ phone: '13711112222' });
    uid = r.uid;
    personId = r.personId;
    await store.upsertVenue({ id: 'ENTRY-1', name: '机场', region: '510116', kind: 'entry', entryTestHours: 24 });
    await store.upsertVenue({ id: 'SHOP-1', name: '商场', region: '510104', kind: 'normal', entryTestHours: null });
  });

  afterAll(async () => {
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function scan(id: string, venue: string, atMs = now): WireScan {
    return { id, uid, venue, kind: 'scan', at: atMs, color: 'green' };
  }

  async function count(where: string): Promise<number> {
    return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE ${where}`)).rows[0]!.n;
  }

  it('inserts scans exactly once however often they arrive, and trims what it committed', async () => {
    const bus = new MemoryDeltaBus();
    const importer = new ScanImporter({ bus, store, codes });
    const batch = encodeScanBatch({ node: 'edge-a', scans: [scan('edge-a:01', 'SHOP-1'), scan('edge-a:02', 'SHOP-1')] });
    await bus.appendScans([batch, batch]); // the shipper re-sent after a lost acknowledgement
    const r = await importer.importOnce();
    expect(r).toMatchObject({ entries: 2, scans: 4, inserted: 2, duplicates: 2, dropped: 0, entryFacts: 0 });
    expect(await count("id LIKE 'edge-a:%'")).toBe(2);
    expect(await bus.readScans(SCANS_START, 10, 0)).toEqual([]); // trimmed after the commit
    // a new importer (a restart) that sees the same batch again changes nothing
    await bus.appendScans([batch]);
    const again = await new ScanImporter({ bus, store, codes }).importOnce();
    expect(again).toMatchObject({ inserted: 0, duplicates: 2 });
    expect(await count("id LIKE 'edge-a:%'")).toBe(2);
    await bus.close();
  });

  it('turns an entry-venue scan into one entry fact, even when it arrives twice', async () => {
    const bus = new MemoryDeltaBus();
    const importer = new ScanImporter({ bus, store, codes });
    const at = now - 60_000;
    const batch = encodeScanBatch({ node: 'edge-b', scans: [scan('edge-b:01', 'ENTRY-1', at)] });
    await bus.appendScans([batch]);
    expect((await importer.importOnce()).entryFacts).toBe(1);
    await bus.appendScans([batch]);
    expect((await importer.importOnce()).entryFacts).toBe(0);
    const facts = await db.query<{ kind: string; venue: string }>("SELECT kind, venue FROM facts WHERE person_id = $1 AND kind = 'entry'", [personId]);
    expect(facts.rows).toEqual([{ kind: 'entry', venue: 'ENTRY-1' }]);
    const code = await store.getCode(personId);
    expect(code!.notices.map((n) => n.kind)).toContain('entry_test');
    await bus.close();
  });

  it('skips an entry that is not a scan batch and drops an invalid scan, importing the rest (SYNC_ERR_SCAN_PAYLOAD reported)', async () => {
    const bus = new MemoryDeltaBus();
    const errors: { code?: string; message: string }[] = [];
    const importer = new ScanImporter({ bus, store, codes, onError: (e) => errors.push(e as { code?: string; message: string }) });
    await bus.appendScans([
      encodeVersioned({ something: 'else' }),
      Buffer.from('not msgpack at all'),
      encodeScanBatch({ node: 'edge-c', scans: [scan('edge-c:01', 'SHOP-1'), scan('edge-c:02', 'SHOP-1', Date.UTC(2010, 0, 1)), scan('edge-c:03', 'SHOP-1')] }),
    ]);
    const r = await importer.importOnce();
    expect(r).toMatchObject({ entries: 3, inserted: 2, dropped: 3 });
    expect(errors.map((e) => e.code)).toEqual(['SYNC_ERR_SCAN_PAYLOAD', 'SYNC_ERR_SCAN_PAYLOAD', 'SYNC_ERR_SCAN_PAYLOAD']);
    expect(errors[2]!.message).toContain('edge-c:02');
    expect(await count("id LIKE 'edge-c:%'")).toBe(2);
    expect(importer.metrics()).toMatchObject({ inserted: 2, dropped: 3, errors: 3 });
    await bus.close();
  });

  it('leaves the entries on the stream while the master is unavailable, and imports them once it is back', async () => {
    const bus = new MemoryDeltaBus();
    const other = await openPglite();
    const downStore = new MasterStore(other, loadOrCreateSecrets(dir, {}));
    await downStore.migrate();
    await other.close(); // every query now: MASTER_ERR_UNAVAILABLE
    const failing = new ScanImporter({ bus, store: downStore });
    await bus.appendScans([encodeScanBatch({ node: 'edge-d', scans: [scan('edge-d:01', 'SHOP-1')] })]);
    await expect(failing.importOnce()).rejects.toMatchObject({ code: 'MASTER_ERR_UNAVAILABLE' });
    expect(await bus.readScans(SCANS_START, 10, 0)).toHaveLength(1);
    const ok = await new ScanImporter({ bus, store, codes }).importOnce();
    expect(ok.inserted).toBe(1);
    await bus.close();
  });
});
