import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SqlClient } from '../master/sql-client.js';
import { LogAuditError } from './errors.js';
import type { RawMessage } from './normalise.js';

/**
 * Polling log tables (applications that write their audit trail into a
 * database table instead of syslog): LOGAUDIT_DB_POLL =
 * `table:idColumn:textColumn[:program],…`, read from the database the
 * service is given (the master's, or LOGAUDIT_DB_POLL_URL). Rows with an id
 * above the cursor are read in id order, 1000 a poll; the cursor is kept in a
 * state file so a restart neither repeats nor skips rows. Names are checked
 * as plain identifiers (they go into SQL text, so nothing else is allowed).
 */
export interface PollSpec { table: string; id: string; text: string; program: string }

const IDENT = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;

export function parsePollSpecs(v: string | undefined): PollSpec[] {
  if (!v) return [];
  return v.split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
    const [table, id, text, program] = x.split(':');
    for (const n of [table, id, text]) {
      if (!n || !IDENT.test(n)) throw new LogAuditError('LOG_ERR_CONFIG', `"${x}" is not table:idColumn:textColumn[:program] with plain lower-case names`, 'LOGAUDIT_DB_POLL');
    }
    if (program !== undefined && !/^[A-Za-z0-9_.-]{1,48}$/.test(program)) throw new LogAuditError('LOG_ERR_CONFIG', `program "${program}"`, 'LOGAUDIT_DB_POLL');
    return { table: table!, id: id!, text: text!, program: program ?? table!.replace(/\./g, '_') };
  });
}

export class DbPoller {
  private cursors: Record<string, number>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: SqlClient, private readonly specs: PollSpec[], private readonly stateFile: string,
    private readonly sink: (m: RawMessage) => void, private readonly now: () => number = Date.now, private readonly host = 'db',
  ) {
    this.cursors = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, number>) : {};
  }

  start(intervalMs = 2000): void {
    this.timer = setInterval(() => { this.running = this.running.then(async () => { await this.poll(); }).catch(() => undefined); }, intervalMs);
    this.timer.unref();
  }

  /** One pass over every table; returns the rows read. */
  async poll(): Promise<number> {
    let total = 0;
    for (const s of this.specs) {
      const key = `${s.table}.${s.id}`;
      const after = this.cursors[key] ?? 0;
      const r = await this.db.query<{ id: string | number; text: string | null }>(
        `SELECT ${s.id} AS id, ${s.text}::text AS text FROM ${s.table} WHERE ${s.id} > $1 ORDER BY ${s.id} LIMIT 1000`, [after],
      );
      for (const row of r.rows) {
        const at = this.now();
        const text = (row.text ?? '').replace(/[\r\n]+/g, ' ');
        const line = text.startsWith('<') ? text : `<134>1 ${new Date(at).toISOString()} ${this.host} ${s.program} - - - ${text}`;
        this.sink({ bytes: Buffer.from(line), from: '127.0.0.1', transport: 'db', receivedMs: at, via: s.table });
        this.cursors[key] = Number(row.id);
      }
      total += r.rows.length;
    }
    mkdirSync(dirname(this.stateFile), { recursive: true });
    writeFileSync(this.stateFile + '.tmp', JSON.stringify(this.cursors));
    renameSync(this.stateFile + '.tmp', this.stateFile);
    return total;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
