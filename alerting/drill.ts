import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodedError } from '../core/coded-error.js';
import { runDrill } from './drill-run.js';
import { DRILL_PDF_FONT, summaryLine } from './drill-report.js';
import { pickScenarios, type DrillScenario } from './drill-scenarios.js';
import { AlertingError } from './errors.js';

/**
 * `npm run drill` — the emergency drill (安全应急演练), see drill-run.ts.
 *
 *   DRILL_SCENARIOS    ids to run, comma separated (default: all built-in, drill-scenarios.ts)
 *   DRILL_EDGES        edge processes (default 2, at least 2: one is killed, one must answer)
 *   DRILL_DEMO_PEOPLE  demo people on the master (default 300)
 *   DRILL_REPORTS_DIR  where the reports go (default ./reports/drill)
 *   DRILL_PDF_FONT     CJK font for the PDF (default WenQuanYi Micro Hei)
 *   DRILL_KEEP=1       keep the stack's working directory (data and process logs)
 *   DRILL_MONITOR_INTERVAL_MS / DRILL_ANOMALY_INTERVAL_MS / DRILL_TICK_MS
 *                      the master's sampling periods during the drill (default 2000 / 3000 / 500,
 *                      shorter than production's 15000 / 60000 / 1000 to keep a drill to minutes;
 *                      set them to production's to measure production's detection times)
 *
 * Prints the report paths, then as its last line
 * `drill: 4/4 scenarios passed, detect p50 Xs max Ys, recover max Zs`;
 * exits 1 when a scenario failed.
 */
type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n < min || n > max) throw new AlertingError('ALR_ERR_CONFIG', `must be a whole number ${min}..${max}, got ${JSON.stringify(v)}`, name);
  return n;
}

export interface DrillCliConfig {
  readonly scenarios: DrillScenario[];
  readonly edges: number;
  readonly demoPeople: number;
  readonly reportsDir: string;
  readonly keep: boolean;
  readonly monitorIntervalMs: number;
  readonly anomalyIntervalMs: number;
  readonly tickMs: number;
  readonly fontPath: string;
}

/** The DRILL_* variables, validated before anything starts (errors name the variable). */
export function loadDrillConfig(env: Env): DrillCliConfig {
  const keep = env.DRILL_KEEP?.trim() ?? '';
  if (!['', '0', '1'].includes(keep)) throw new AlertingError('ALR_ERR_CONFIG', 'must be 1 or unset', 'DRILL_KEEP');
  return {
    scenarios: pickScenarios(env.DRILL_SCENARIOS),
    // at least two: one is taken down, another must keep answering
    edges: int(env, 'DRILL_EDGES', 2, 2, 8),
    demoPeople: int(env, 'DRILL_DEMO_PEOPLE', 300, 100, 1_000_000),
    reportsDir: resolve(env.DRILL_REPORTS_DIR?.trim() || 'reports/drill'),
    keep: keep === '1',
    monitorIntervalMs: int(env, 'DRILL_MONITOR_INTERVAL_MS', 2000, 100, 3_600_000),
    anomalyIntervalMs: int(env, 'DRILL_ANOMALY_INTERVAL_MS', 3000, 100, 3_600_000),
    tickMs: int(env, 'DRILL_TICK_MS', 500, 20, 60_000),
    fontPath: env.DRILL_PDF_FONT?.trim() || DRILL_PDF_FONT,
  };
}

async function main(): Promise<void> {
  const c = loadDrillConfig(process.env);
  const dir = mkdtempSync(join(tmpdir(), 'hc-drill-'));
  const keep = c.keep;
  try {
    const { report, written } = await runDrill({ dir, ...c });
    process.stdout.write(`report (Markdown): ${written.markdown}\n`);
    process.stdout.write(written.pdf === null ? `report (PDF): not written — ${written.pdfSkipped}\n` : `report (PDF): ${written.pdf}\n`);
    if (keep) process.stdout.write(`stack data and process logs: ${dir}\n`);
    process.stdout.write(`${summaryLine(report)}\n`);
    if (report.scenarios.some((s) => !s.passed)) process.exitCode = 1;
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    const e = err as Error;
    process.stderr.write(`drill failed: ${err instanceof CodedError ? `${err.code}: ${e.message}` : (e?.stack ?? String(err))}\n`);
    process.exit(1);
  });
}
