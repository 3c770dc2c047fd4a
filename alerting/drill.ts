import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodedError } from '../core/coded-error.js';
import { runDrill } from './drill-run.js';
import { DRILL_PDF_FONT, summaryLine } from './drill-report.js';
import { pickScenarios } from './drill-scenarios.js';
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
 *
 * Prints the report paths, then as its last line
 * `drill: 4/4 scenarios passed, detect p50 Xs max Ys, recover max Zs`;
 * exits 1 when a scenario failed.
 */
function int(name: string, def: number, min: number, max: number): number {
  const v = process.env[name]?.trim();
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n < min || n > max) throw new AlertingError('ALR_ERR_CONFIG', `must be a whole number ${min}..${max}, got ${JSON.stringify(v)}`, name);
  return n;
}

async function main(): Promise<void> {
  const scenarios = pickScenarios(process.env.DRILL_SCENARIOS);
  const edges = int('DRILL_EDGES', 2, 2, 8);
  const demoPeople = int('DRILL_DEMO_PEOPLE', 300, 100, 1_000_000);
  const reportsDir = resolve(process.env.DRILL_REPORTS_DIR ?? 'reports/drill');
  const dir = mkdtempSync(join(tmpdir(), 'hc-drill-'));
  const keep = process.env.DRILL_KEEP === '1';
  try {
    const { report, written } = await runDrill({ dir, reportsDir, scenarios, edges, demoPeople, fontPath: process.env.DRILL_PDF_FONT ?? DRILL_PDF_FONT });
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
