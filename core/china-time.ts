/**
 * Times as officials and citizens read them: China Standard Time
 * (Asia/Shanghai, UTC+8, no daylight saving since 1991), `YYYY-MM-DD HH:mm`.
 * Computed by offset rather than Intl so a Node built without full ICU
 * prints the same text.
 */
const OFFSET_MS = 8 * 3600 * 1000;

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** 1765100000000 → '2025-12-07 17:33' (China time) */
export function chinaTime(ms: number, withSeconds = false): string {
  const d = new Date(ms + OFFSET_MS);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return withSeconds ? `${base}:${pad(d.getUTCSeconds())}` : base;
}

/** 1765100000000 → '2025-12-07' (the China calendar day) */
export function chinaDate(ms: number): string {
  return chinaTime(ms).slice(0, 10);
}
