import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDeltaBatch, type Delta } from '../core/delta.js';
import { loadOrCreateSecrets } from '../master/pii-crypto.js';
import { openPglite, type SqlClient } from '../master/sql-client.js';
import { MasterStore } from '../master/store.js';
import { MemoryDeltaBus } from './bus-memory.js';
import { masterOutboxSource } from './outbox-master.js';
import { Publisher } from './publisher.js';

// The publisher on the real master store (embedded PGlite, in memory): every
// change committed by the store reaches the bus as the same delta, in order.
describe('Publisher on MasterStore (PGlite)', () => {
  let db: SqlClient;
  let store: MasterStore;
  let secretsDir: string;

  beforeAll(async () => {
    secretsDir = mkdtempSync(join(tmpdir(), 'hc-outbox-master-'));
    db = await openPglite();
    store = new MasterStore(db, loadOrCreateSecrets(secretsDir, {}));
    await store.migrate();
  });

  afterAll(async () => {
    await db?.close();
    rmSync(secretsDir, { recursive: true, force: true });
  });

  it('copies committed venue and risk-area changes to the bus, in outbox order, with kick()', async () => {
    const bus = new MemoryDeltaBus();
    const p = new Publisher({ bus, source: masterOutboxSource(store), pollMs: 0, verifyEveryMs: 0, maxDeltasPerEntry: 4 });
    p.start();
    let last = 0;
    for (let i = 0; i < 10; i++) {
      const v = await store.upsertVenue({ id: `V${i}`, name: `venue ${i}`, region: '510104', kind: i % 2 ? 'entry' : 'normal', entryTestHours: i % 2 ? 24 : null });
      last = v.seq!;
      p.kick();
    }
    const r = await store.upsertRiskArea({ region: '510104', level: 'medium', since: 1_700_000_000 });
    last = r.seq!;
    p.kick();
    expect(last).toBe(await store.maxOutboxSeq());
    expect(await p.waitFor(last, 20_000)).toBe(true);

    const onBus: Delta[] = [];
    for (const e of await bus.readDeltas(0, 100, 0)) onBus.push(...decodeDeltaBatch(e.payload).deltas);
    expect(onBus).toEqual(await store.readOutbox(0, 1000));
    expect(onBus.map((d) => d.type)).toEqual([...Array(10).fill('venue'), 'risk_area']);
    expect(p.metrics()).toMatchObject({ publishedSeq: last, lagDeltas: 0 });
    await p.stop();
  });
});
