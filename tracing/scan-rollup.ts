import type { SqlClient } from '../master/sql-client.js';
import { chinaDay } from './stats.js';

/**
 * The daily scan rollup (migration 2): per China day, scans and distinct
 * people per venue (tracing_venue_day) and scans per venue and edge node
 * (tracing_node_day). The dashboard's day-wide counts read these for
 * finished days and the live `scans` table only for the days the rollup
 * has not reached (today, and any day still inside the lag).
 *
 * A day is rolled whole, once, in one transaction (delete its rows, insert
 * the aggregate, move the cursor): distinct people cannot be summed from
 * partial counts, and a crash mid-day leaves the cursor before it, so the
 * next pass simply rolls it again. It is rolled `lagHours` after it ended so
 * that edges uploading late (offline for a while) are counted in the first
 * roll. A scan that arrives later still marks its day dirty (the trigger of
 * migration 3, tracing_rollup_dirty) and the next pass re-rolls that day
 * before moving the cursor on.
 * The first pass starts `retentionDays` back — older days have no scans.
 */
export const ROLLUP_NAME = 'scans';
const DAY = 86_400;

export interface RollupOptions {
  readonly intervalMs: number;
  readonly lagHours: number;
  readonly retentionDays: number;
  /** days rolled per pass at most, so one pass stays short */
  readonly maxDaysPerPass?: number;
}

const addDays = (day: string, n: number): string => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY * 1000).toISOString().slice(0, 10);

/** Through which China day the rollup is complete (null: nothing rolled yet). */
export async function rollupDoneThrough(db: SqlClient): Promise<string | null> {
  const r = await db.query<{ d: string }>('SELECT done_through::text AS d FROM tracing_rollup_cursor WHERE name = $1', [ROLLUP_NAME]);
  return r.rows[0]?.d ?? null;
}

export class ScanRollup {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: SqlClient,
    private readonly opts: RollupOptions,
    private readonly nowMs: () => number,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** The last China day that may be rolled now: ended at least lagHours ago. */
  lastRollableDay(): string {
    return chinaDay(Math.floor(this.nowMs() / 1000) - this.opts.lagHours * 3600 - DAY);
  }

  /**
   * Re-rolls the rolled days that late scans marked dirty, then rolls the
   * finished days after the cursor, oldest first; returns the days rolled
   * (re-rolled ones first).
   */
  async runOnce(): Promise<string[]> {
    const max = this.opts.maxDaysPerPass ?? 40;
    const rolled = await this.rerollDirty(max);
    const last = this.lastRollableDay();
    const done = await rollupDoneThrough(this.db);
    let day = done === null ? chinaDay(Math.floor(this.nowMs() / 1000) - this.opts.retentionDays * DAY) : addDays(done, 1);
    while (day <= last && rolled.length < max) {
      await this.rollDay(day);
      rolled.push(day);
      day = addDays(day, 1);
    }
    return rolled;
  }

  /** Days marked dirty by late scans (oldest first) with the late scans counted so far. */
  async dirtyDays(): Promise<{ day: string; scans: number }[]> {
    const r = await this.db.query<{ day: string; scans: string }>('SELECT day::text AS day, scans FROM tracing_rollup_dirty ORDER BY day');
    return r.rows.map((x) => ({ day: x.day, scans: Number(x.scans) }));
  }

  /** Re-rolls up to `max` dirty days; a day past retention is only unmarked (its partition is gone or going). */
  private async rerollDirty(max: number): Promise<string[]> {
    const oldest = chinaDay(Math.floor(this.nowMs() / 1000) - this.opts.retentionDays * DAY);
    const out: string[] = [];
    for (const { day } of (await this.dirtyDays()).slice(0, max)) {
      if (day < oldest) await this.db.query('DELETE FROM tracing_rollup_dirty WHERE day = $1::date', [day]);
      else {
        await this.rollDay(day);
        out.push(day);
      }
    }
    return out;
  }

  /**
   * (Re-)rolls one China day and moves the cursor to it, all or nothing; its
   * dirty mark goes in the same transaction.
   */
  async rollDay(day: string): Promise<void> {
    const from = new Date(Date.parse(`${day}T00:00:00+08:00`));
    const to = new Date(from.getTime() + DAY * 1000);
    await this.db.transaction(async (tx) => {
      // first, so an upload marking the day meanwhile waits on this row (then
      // its scans are seen below) or marks it again after (next pass)
      await tx.query('DELETE FROM tracing_rollup_dirty WHERE day = $1::date', [day]);
      await tx.query('DELETE FROM tracing_venue_day WHERE day = $1::date', [day]);
      await tx.query('DELETE FROM tracing_node_day WHERE day = $1::date', [day]);
      // a range on `at` alone: one day partition is read, not the table
      await tx.query(
        `INSERT INTO tracing_venue_day (day, venue_id, scans, people)
         SELECT $1::date, COALESCE(s.venue_id, ''), count(*), count(DISTINCT s.uid)
           FROM scans s WHERE s.at >= $2 AND s.at < $3 GROUP BY 2`,
        [day, from, to],
      );
      await tx.query(
        `INSERT INTO tracing_node_day (day, venue_id, node, scans)
         SELECT $1::date, COALESCE(s.venue_id, ''), s.node, count(*)
           FROM scans s WHERE s.at >= $2 AND s.at < $3 GROUP BY 2, 3`,
        [day, from, to],
      );
      await tx.query(
        `INSERT INTO tracing_rollup_cursor (name, done_through, updated_at) VALUES ($1, $2::date, $3)
         ON CONFLICT (name) DO UPDATE SET done_through = GREATEST(tracing_rollup_cursor.done_through, EXCLUDED.done_through), updated_at = EXCLUDED.updated_at`,
        [ROLLUP_NAME, day, new Date(this.nowMs())],
      );
    });
  }

  /** Background passes every intervalMs (0: never); a failed pass is logged and retried next time. */
  start(): void {
    if (this.opts.intervalMs === 0 || this.timer !== undefined) return;
    const pass = (): void => {
      if (this.running !== undefined) return;
      this.running = this.runOnce().then(
        (days) => { if (days.length > 0) this.log(`tracing: scan rollup through ${days.at(-1)} (${days.length} days)`); },
        (err: unknown) => this.log(`tracing: scan rollup failed: ${(err as Error).message}`),
      ).finally(() => { this.running = undefined; });
    };
    pass();
    this.timer = setInterval(pass, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Stops the passes and waits for one in flight, so the database can be closed after. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
