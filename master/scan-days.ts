import { DAY, DAY_OFFSET } from './store-checks.js';

/**
 * Scan partitions by China Standard Time day (master/store.ts): day index,
 * partition names and their literals.
 */
/** Day index (days since 1970-01-01 in UTC+8) of unix seconds `t`. */
export function dayOf(t: number): number {
  return Math.floor((t + DAY_OFFSET) / DAY);
}

/** 'YYYYMMDD' and the '… 00:00:00+08' literal of a day index. */
export function dayLabel(day: number): { ymd: string; start: string } {
  const d = new Date(day * DAY * 1000);
  const y = d.getUTCFullYear();
  const m = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  return { ymd: `${y}${m}${dd}`, start: `${y}-${m}-${dd} 00:00:00+08` };
}

export const PARTITION_NAME = /^scans_p(\d{4})(\d{2})(\d{2})$/;

export function partitionDay(name: string): number | null {
  const m = PARTITION_NAME.exec(name);
  if (m === null) return null;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000 / DAY;
}
