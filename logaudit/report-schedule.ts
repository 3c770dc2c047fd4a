import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reportPdf, reportXlsx, type ReportData } from './report.js';
import { cstDay } from './store.js';

/**
 * The daily report, written without anyone asking: once the configured
 * China time of day has passed, yesterday's (China-time) report is written as
 * XLSX and PDF to <dataDir>/logaudit/reports/<day>.xlsx|.pdf — the file an
 * auditor files away (等保 log review records). A restart after the time
 * catches up; a day already written is not written again. The console lists
 * and downloads them.
 */
export interface ReportFile { day: string; fmt: 'xlsx' | 'pdf'; name: string; bytes: number }

const NAME = /^(\d{4}-\d{2}-\d{2})\.(xlsx|pdf)$/;

export class DailyReports {
  readonly dir: string;

  /** `atMinute`: minutes after China-time midnight; `build` gathers one day's data */
  constructor(dataDir: string, private readonly atMinute: number, private readonly build: (day: string, fromMs: number, toMs: number, nowMs: number) => Promise<ReportData>) {
    this.dir = join(dataDir, 'logaudit', 'reports');
  }

  /** Writes yesterday's report if its time has come and it is not there yet; returns the day written. */
  async runDue(nowMs: number): Promise<string | null> {
    const minuteCst = Math.floor(((nowMs + 8 * 3_600_000) % 86_400_000) / 60_000);
    if (minuteCst < this.atMinute) return null;
    const day = cstDay(nowMs - 86_400_000);
    if (existsSync(join(this.dir, `${day}.xlsx`)) && existsSync(join(this.dir, `${day}.pdf`))) return null;
    const fromMs = Date.parse(`${day}T00:00:00+08:00`);
    const data = await this.build(day, fromMs, fromMs + 86_400_000, nowMs);
    mkdirSync(this.dir, { recursive: true });
    // whole files or none: a crash mid-write leaves a .tmp, and the next pass writes the day again
    for (const [fmt, buf] of [['xlsx', await reportXlsx(data)], ['pdf', await reportPdf(data)]] as const) {
      const p = join(this.dir, `${day}.${fmt}`);
      writeFileSync(`${p}.tmp`, buf);
      renameSync(`${p}.tmp`, p);
    }
    return day;
  }

  /** Written reports, newest day first. */
  list(): ReportFile[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).map((n) => NAME.exec(n)).filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ day: m[1]!, fmt: m[2] as 'xlsx' | 'pdf', name: m[0], bytes: statSync(join(this.dir, m[0])).size }))
      .sort((a, b) => (a.day === b.day ? a.fmt.localeCompare(b.fmt) : b.day.localeCompare(a.day)));
  }

  /** The path of a listed report, or null (names are checked: no path can be smuggled in) */
  path(name: string): string | null {
    if (!NAME.test(name)) return null;
    const p = join(this.dir, name);
    return existsSync(p) ? p : null;
  }
}
