import { beforeAll, describe, expect, it } from 'vitest';
import { maskIdNo, maskPhone } from '../core/identity.js';
import { AuditLog } from './audit-log.js';
import { type Secrets } from './pii-crypto.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';
import { codeOf, residentId, type ServicesContext } from './services-fixture.common.js';

/** Part of the master services suite (master/services.common.ts): audit log. */
export function describeAudit(ctx: ServicesContext): void {
  describe('audit log', () => {
    let db!: SqlClient; let store!: MasterStore; let secrets!: Secrets; let audit!: AuditLog;
    beforeAll(() => {
      ({ db, store, secrets, audit } = ctx.get());
    });
    async function tamper(sql: string, params: unknown[] = []): Promise<void> {
      await db.exec('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      try {
        await db.query(sql, params);
      } finally {
        await db.exec('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
      }
    }

    it('appends hash-chained entries, lists them with filters, verifies', async () => {
      const head = await audit.head();
      for (let i = 0; i < 12; i++) {
        await audit.append({
          actor: i % 2 === 0 ? 'alice' : 'bob', role: 'operator', action: i % 3 === 0 ? 'code.query' : 'code.transcode',
          target: maskIdNo(residentId(i)), fromAddr: '10.0.0.7', outcome: 'ok', details: { i, z: [1, { b: 2, a: 'x' }], phone: maskPhone('13812345678') },
        });
      }
      const all = await audit.list({ after: head.seq, limit: 1000 });
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => head.seq + 1 + i));
      expect(all[0]!.prevHash).toBe(head.hash);
      expect(all[1]!.prevHash).toBe(all[0]!.hash);
      expect(all[0]!.target).toBe('5101**********' + residentId(0).slice(-4));
      expect(all[0]!.details).toEqual({ i: 0, z: [1, { a: 'x', b: 2 }], phone: '138****5678' });
      expect((await audit.list({ after: head.seq, actor: 'bob' })).every((e) => e.actor === 'bob')).toBe(true);
      expect((await audit.list({ after: head.seq, action: 'code.query' }))).toHaveLength(4);
      const desc = await audit.list({ order: 'desc', limit: 3 });
      expect(desc.map((e) => e.seq)).toEqual([head.seq + 12, head.seq + 11, head.seq + 10]);
      expect((await audit.list({ order: 'desc', before: head.seq + 11, limit: 1 }))[0]!.seq).toBe(head.seq + 10);
      expect(await audit.verify()).toEqual({ ok: true, entries: head.seq + 12 });
      expect(await audit.head()).toEqual({ seq: head.seq + 12, hash: all[11]!.hash });
    });

    it('refuses unmasked identity numbers and malformed entries', async () => {
      const base = { actor: 'alice', role: 'operator', action: 'code.query', outcome: 'ok' };
      const pii: [Record<string, unknown>, string][] = [
        [{ target: residentId(1) }, 'target'],
        [{ target: `身份证${residentId(2).slice(0, 17)}x` }, 'target'],
        [{ target: '510104900101001' }, 'target'],
        [{ details: { q: '电话 13812345678' } }, 'details'],
        [{ details: { nested: ['+86 138-1234-5678'] } }, 'details'],
        [{ details: { q: '１３８１２３４５６７８' } }, 'details'],
        [{ actor: '13812345678' }, 'actor'],
      ];
      for (const [extra, field] of pii) {
        const e = await codeOf(audit.append({ ...base, ...extra } as never));
        expect(e.code, JSON.stringify(extra)).toBe('MASTER_ERR_AUDIT_PII');
        expect(e.field).toBe(field);
      }
      // masked values, hex digests and long ids pass
      await audit.append({ ...base, target: '5101**********106X', details: { phone: '138****5678', hash: 'ab12345678901234567890cd', seq: 12345, at: 1780000000123 } });
      const bad: [Record<string, unknown>, string][] = [
        [{ actor: '' }, 'actor'],
        [{ role: undefined }, 'role'],
        [{ action: 'x'.repeat(65) }, 'action'],
        [{ outcome: 'a\u0000' }, 'outcome'],
        [{ details: [] }, 'details'],
        [{ details: { f: Infinity } }, 'details.f'],
        [{ details: { d: new Date() } }, 'details.d'],
        [{ details: { s: '\ud800' } }, 'details.s'],
        [{ details: { big: 'x'.repeat(9000) } }, 'details'],
      ];
      for (const [extra, field] of bad) {
        const e = await codeOf(audit.append({ ...base, ...extra } as never));
        expect(e.code, field).toBe('MASTER_ERR_INVALID');
        expect(e.field).toBe(field);
      }
      expect((await codeOf(audit.list({ limit: 0 }))).field).toBe('limit');
      expect((await audit.verify()).ok).toBe(true);
    });

    it('concurrent appends keep one dense chain', async () => {
      const head = await audit.head();
      await Promise.all(Array.from({ length: 20 }, (_, i) => audit.append({ actor: `u${i}`, role: 'admin', action: 'login', outcome: 'ok' })));
      const v = await audit.verify();
      expect(v).toEqual({ ok: true, entries: head.seq + 20 });
    });

    it('detects an edited row', async () => {
      const [e] = await audit.list({ after: 2, limit: 1 });
      await tamper("UPDATE audit_log SET outcome = 'denied' WHERE seq = $1", [e!.seq]);
      try {
        expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: e!.seq, problem: 'hash', entries: e!.seq - 1 });
      } finally {
        await tamper('UPDATE audit_log SET outcome = $2 WHERE seq = $1', [e!.seq, e!.outcome]);
      }
      // a forged target with a re-linked prev_hash is still caught by the keyed hash
      await tamper("UPDATE audit_log SET target_masked = '王*' WHERE seq = $1", [e!.seq]);
      try {
        expect((await audit.verify()).firstBadSeq).toBe(e!.seq);
      } finally {
        await tamper('UPDATE audit_log SET target_masked = $2 WHERE seq = $1', [e!.seq, e!.target]);
      }
      expect((await audit.verify()).ok).toBe(true);
    });

    it('detects a deleted row, in the middle and at the end', async () => {
      const head = await audit.head();
      const mid = Math.floor(head.seq / 2);
      const rows = await db.query<Record<string, unknown>>('SELECT * FROM audit_log WHERE seq IN ($1, $2) ORDER BY seq', [mid, head.seq]);
      const restore = async (seq: number): Promise<void> => {
        const r = rows.rows.find((x) => x.seq === seq)!;
        await tamper(
          `INSERT INTO audit_log (seq, at, actor, role, action, target_masked, from_addr, outcome, details, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)`,
          [r.seq, r.at, r.actor, r.role, r.action, r.target_masked, r.from_addr, r.outcome, JSON.stringify(r.details), r.prev_hash, r.hash],
        );
      };
      await tamper('DELETE FROM audit_log WHERE seq = $1', [mid]);
      try {
        expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: mid, problem: 'missing' });
      } finally {
        await restore(mid);
      }
      await tamper('DELETE FROM audit_log WHERE seq = $1', [head.seq]);
      try {
        expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: head.seq, problem: 'missing' });
      } finally {
        await restore(head.seq);
      }
      expect((await audit.verify()).ok).toBe(true);
    });

    it('detects an inserted row, whether seq is kept dense or not', async () => {
      const head = await audit.head();
      const k = Math.floor(head.seq / 2);
      const [prev] = await audit.list({ after: k - 1, limit: 1 });
      // make room at k: shift k.. up by one (two steps: the primary key is checked row by row)
      await tamper('UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= $1', [k]);
      await tamper('UPDATE audit_log SET seq = seq - 999999 WHERE seq >= 1000000');
      await tamper(
        `INSERT INTO audit_log (seq, at, actor, role, action, target_masked, from_addr, outcome, details, prev_hash, hash)
         VALUES ($1, now(), 'mallory', 'admin', 'code.transcode', '王*', NULL, 'ok', '{}', $2, $3)`,
        [k, Buffer.from(prev!.prevHash, 'hex'), Buffer.alloc(32, 0xab)],
      );
      try {
        expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: k, problem: 'hash' });
      } finally {
        await tamper('DELETE FROM audit_log WHERE seq = $1', [k]);
        await tamper('UPDATE audit_log SET seq = seq + 1000000 WHERE seq > $1', [k]);
        await tamper('UPDATE audit_log SET seq = seq - 1000001 WHERE seq >= 1000000');
      }
      expect((await audit.verify()).ok).toBe(true);
      // a row appended behind the head's back
      const last = (await audit.list({ order: 'desc', limit: 1 }))[0]!;
      await tamper(
        `INSERT INTO audit_log (seq, at, actor, role, action, target_masked, from_addr, outcome, details, prev_hash, hash)
         VALUES ($1, now(), 'mallory', 'admin', 'login', NULL, NULL, 'ok', '{}', $2, $3)`,
        [last.seq + 1, Buffer.from(last.hash, 'hex'), Buffer.alloc(32, 0xcd)],
      );
      try {
        expect(await audit.verify()).toMatchObject({ ok: false, firstBadSeq: last.seq + 1, problem: 'head' });
      } finally {
        await tamper('DELETE FROM audit_log WHERE seq = $1', [last.seq + 1]);
      }
      expect((await audit.verify()).ok).toBe(true);
    });

    it('a chain key from other secrets finds every entry altered', async () => {
      const other = new AuditLog(store, { lookupKey: Buffer.alloc(32, 1) });
      expect(await other.verify()).toMatchObject({ ok: false, firstBadSeq: 1, problem: 'hash' });
    });
  });
}
