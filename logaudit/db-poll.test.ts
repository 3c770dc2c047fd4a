import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPglite } from '../master/sql-client.js';
import { DbPoller, parsePollSpecs } from './db-poll.js';
import type { RawMessage } from './normalise.js';

describe('database table polling', () => {
  it('reads new rows in id order, keeps its cursor across a restart, and refuses names that are not identifiers', async () => {
    const db = await openPglite();
    await db.query('CREATE TABLE app_audit (id serial PRIMARY KEY, line text)');
    await db.query(`INSERT INTO app_audit (line) VALUES ($1), ($2)`, [
      '{"seq":1,"actor":"operator","action":"codes.transcode","outcome":"ok","ip":"10.0.0.1"}', 'second row\nwith a newline',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'la-dbpoll-'));
    const got: RawMessage[] = [];
    const specs = parsePollSpecs('app_audit:id:line:healthcode-audit');
    let p = new DbPoller(db, specs, join(dir, 'state.json'), (m) => got.push(m));
    expect(await p.poll()).toBe(2);
    expect(await p.poll()).toBe(0);
    await p.close();
    await db.query(`INSERT INTO app_audit (line) VALUES ('third')`);
    p = new DbPoller(db, specs, join(dir, 'state.json'), (m) => got.push(m));
    expect(await p.poll()).toBe(1);
    await p.close();
    const lines = got.map((m) => m.bytes.toString().replace(/^<134>1 \S+ db healthcode-audit - - - /, ''));
    expect(lines).toEqual(['{"seq":1,"actor":"operator","action":"codes.transcode","outcome":"ok","ip":"10.0.0.1"}', 'second row with a newline', 'third']);
    expect(got[0]).toMatchObject({ transport: 'db', via: 'app_audit' });
    expect(() => parsePollSpecs('app_audit; drop table x:id:line')).toThrow(expect.objectContaining({ code: 'LOG_ERR_CONFIG', field: 'LOGAUDIT_DB_POLL' }));
    expect(() => parsePollSpecs('t:id')).toThrow(expect.objectContaining({ code: 'LOG_ERR_CONFIG' }));
    await db.close();
  });
});
