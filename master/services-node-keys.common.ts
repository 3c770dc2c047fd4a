import { beforeAll, describe, expect, it } from 'vitest';
import { KeySet } from '../core/key-set.js';
import { generateSigningKey } from '../core/signing-key.js';
import { NodeKeysRegistry } from './node-keys-registry.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';
import { codeOf, DAY, type ServicesContext } from './services-fixture.common.js';

/** Part of the master services suite (master/services.common.ts): node keys registry. */
export function describeNodeKeys(ctx: ServicesContext): void {
  describe('node keys registry', () => {
    let db!: SqlClient; let store!: MasterStore; let keys!: NodeKeysRegistry;
    beforeAll(() => {
      ({ db, store, keys } = ctx.get());
    });
    const { clock, deltasSince } = ctx;
    it('publishes the whole public set on every change; a kid names one key forever', async () => {
      const t = clock.t;
      const k1 = generateSigningKey('Ed25519', 101, t, t + 30 * DAY);
      const k2 = generateSigningKey('SM2', 102, t, t + 30 * DAY);
      const before = await store.maxOutboxSeq();
      const r = await keys.register('edge-1', [k1, k2]); // SigningKeys: only the public halves are kept
      expect(r).toEqual({ kids: [101, 102], seq: before + 1 });
      const [d] = await deltasSince(before);
      expect(d!.type).toBe('keys');
      const set = KeySet.fromPublicJson((d as { keys: unknown }).keys);
      expect(set.size).toBe(2);
      expect(set.get(102)!.publicKey).toBe(k2.publicKey);
      expect(JSON.stringify((d as { keys: unknown }).keys)).not.toContain(k1.privateKey);
      const raw = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE position($1::bytea IN payload) > 0", [Buffer.from(k1.privateKey)]);
      expect(raw.rows[0]!.n).toBe(0);

      expect(await keys.register('edge-1', [k1])).toEqual({ kids: [], seq: null });
      const longer = await keys.register('edge-1', [{ ...k1, notAfter: t + 60 * DAY }]);
      expect(longer.kids).toEqual([101]);
      expect((await keys.list()).find((k) => k.kid === 101)).toMatchObject({ node: 'edge-1', notAfter: t + 60 * DAY, retiredAt: null });

      const k3 = generateSigningKey('Ed25519', 103, t, t + DAY);
      await keys.register('edge-2', [k3]);
      expect((await codeOf(keys.register('edge-2', [{ ...k3, kid: 101 }]))).code).toBe('MASTER_ERR_KEY_CONFLICT');
      expect((await codeOf(keys.register('edge-2', [k1]))).code).toBe('MASTER_ERR_KEY_CONFLICT');

      const seq = await store.maxOutboxSeq();
      const ret = await keys.retireNode('edge-1');
      expect(ret).toEqual({ kids: [101, 102], seq: seq + 1 });
      const [rd] = await deltasSince(seq);
      expect(KeySet.fromPublicJson((rd as { keys: unknown }).keys).toPublicJson().keys.map((k) => k.kid)).toEqual([103]);
      expect((await keys.publicSet()).keys.map((k) => k.kid)).toEqual([103]);
      expect(await keys.retire([101])).toEqual({ kids: [], seq: null });
      expect((await codeOf(keys.register('edge-1', [k1]))).code).toBe('MASTER_ERR_KEY_CONFLICT');
      expect((await codeOf(keys.retire([4242]))).code).toBe('MASTER_ERR_KEY_NOT_FOUND');
      expect((await keys.list({ includeRetired: true })).map((k) => k.kid)).toEqual([101, 102, 103]);
    });

    it('refuses malformed keys and arguments', async () => {
      const k = generateSigningKey('Ed25519', 200, clock.t, clock.t + DAY);
      expect((await codeOf(keys.register('edge-3', [{ ...k, publicKey: 'AAAA' }]))).code).toBe('CORE_ERR_KEY_INVALID');
      expect((await codeOf(keys.register('edge-3', [{ ...k, notAfter: k.notBefore }]))).field).toMatch(/^keys\[0\]/);
      expect((await codeOf(keys.register('edge-3', [k, k]))).field).toBe('keys[1].kid');
      expect((await codeOf(keys.register('edge 3', [k]))).field).toBe('node');
      expect((await codeOf(keys.register('edge-3', []))).field).toBe('keys');
      expect((await codeOf(keys.retire([70000]))).field).toBe('kids[0]');
      expect((await keys.list()).some((x) => x.kid === 200)).toBe(false);
    });
  });
}
