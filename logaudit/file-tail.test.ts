import { appendFileSync, mkdtempSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTailer } from './file-tail.js';
import type { RawMessage } from './normalise.js';

describe('file tailing', () => {
  it('follows appends, rename rotation and copytruncate, and resumes after a restart without re-reading', () => {
    const dir = mkdtempSync(join(tmpdir(), 'la-tail-'));
    const log = join(dir, 'access.log');
    const state = join(dir, 'state.json');
    writeFileSync(log, '10.0.0.1 - - [07/Dec/2026:10:00:00 +0800] "GET / HTTP/1.1" 200 1\n');
    const got: RawMessage[] = [];
    let t = new FileTailer([`${log}=nginx`], state, (m) => got.push(m));
    t.poll();
    appendFileSync(log, 'line 2\npartial');
    t.poll();
    appendFileSync(log, ' line 3\n');
    t.poll();
    // logrotate: rename, then a new file; a last line lands in the old one before the rename
    appendFileSync(log, 'line 4 (old file)\n');
    renameSync(log, log + '.1');
    writeFileSync(log, 'line 5 (new file)\n');
    t.poll();
    // copytruncate
    truncateSync(log, 0);
    appendFileSync(log, 'line 6\n');
    t.poll();
    t.close();
    // restart: nothing read twice, the next line only
    appendFileSync(log, 'line 7\n');
    t = new FileTailer([`${log}=nginx`], state, (m) => got.push(m));
    t.poll();
    t.close();
    const msgs = got.map((m) => m.bytes.toString().replace(/^<134>1 \S+ \S+ nginx - - - /, ''));
    expect(msgs).toEqual([
      '10.0.0.1 - - [07/Dec/2026:10:00:00 +0800] "GET / HTTP/1.1" 200 1', 'line 2', 'partial line 3', 'line 4 (old file)', 'line 5 (new file)', 'line 6', 'line 7',
    ]);
    expect(got[0]!).toMatchObject({ transport: 'file', via: log });
  });
});
