/**
 * A count from a bench's environment (`TRACING_BENCH_*`): absent or empty →
 * the default; `1_000_000` style underscores allowed; anything but a positive
 * safe integer stops the bench with a message naming the variable.
 */
export function envCount(env: Readonly<Record<string, string | undefined>>, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
}
