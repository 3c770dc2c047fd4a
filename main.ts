import { pathToFileURL } from 'node:url';
import { CodedError } from './core/coded-error.js';
import { demoResidentId, demoName } from './demo-data.js';
import { loadStackConfig, type StackConfig } from './stack-config.js';
import { loadWatchdogConfig, MasterWatchdog, type WatchdogConfig } from './alerting/master-watchdog.js';
import { startStack, type StackHandle } from './stack.js';

/**
 * `npm start` (DESIGN §5 operating contract): the whole service from one
 * command. With no DATABASE_URL / REDIS_URL it is the embedded stack —
 * PGlite master in ./data, in-process delta bus, demo data on first start,
 * edge on 127.0.0.1:8080, admin-api on 127.0.0.1:8081 — and with them it is
 * one process of a cluster (HC_ROLE=master|edge|all; deploy/README.md).
 *
 * The configuration is read and validated once, here: a bad value stops the
 * start with a message naming the variable (exit code 2). Ctrl-C (SIGINT) or
 * SIGTERM stops every part cleanly, in reverse start order; a second signal
 * exits at once.
 */
const isTty = process.stderr.isTTY === true;

/** One-line progress bar on a terminal; a line per 10 % otherwise (logs, CI). */
function progress(label: string): (done: number, total: number) => void {
  let lastPct = -1;
  return function draw(done: number, total: number): void {
    const pct = total === 0 ? 100 : Math.floor((done * 100) / total);
    if (isTty) {
      const width = 30;
      const fill = Math.round((pct * width) / 100);
      process.stderr.write(`\r  ${label.padEnd(8)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(pct).padStart(3)} %  ${done}/${total}`);
      if (done >= total) process.stderr.write('\n');
    } else if (Math.floor(pct / 10) !== Math.floor(lastPct / 10) || done >= total) {
      process.stderr.write(`  ${label} ${pct} % (${done}/${total})\n`);
    }
    lastPct = pct;
  };
}

function banner(stack: StackHandle, config: StackConfig): string {
  const lines: string[] = ['', `health code service — ${config.mode} (${config.role}), data in ${config.dataDir}`];
  const edgeHost = config.edge?.host ?? '127.0.0.1';
  const adminHost = config.admin?.host ?? '127.0.0.1';
  if (stack.edgePort !== null) {
    lines.push(`  page       http://${edgeHost}:${stack.edgePort}/app/   (citizen page: log in with a demo identity, see the code offline too)`);
    lines.push(`  edge       http://${edgeHost}:${stack.edgePort}   GET /v1/code · POST /v1/scan · POST /v1/verify · GET /v1/keys · /healthz /readyz /metrics (${config.edge!.workers} server${config.edge!.workers === 1 ? '' : 's'})`);
  }
  if (stack.adminPort !== null) {
    lines.push(`  admin-api  http://${adminHost}:${stack.adminPort}   POST /v1/session · /admin/v1/* · /admin/openapi.json`);
    lines.push(`  console    http://${adminHost}:${stack.adminPort}/console/   (web console; log in with the first admin account)`);
  }
  if (stack.syncPort !== null) lines.push(`  sync       http://${config.sync.host}:${stack.syncPort}   GET /sync/v1/snapshot · POST /sync/v1/node-keys · GET /sync/v1/status`);
  const m = stack.master;
  if (m !== null) {
    lines.push(`  master     ${config.databaseUrl === null ? 'PGlite (embedded)' : 'PostgreSQL'}, delta bus ${config.redisUrl === null ? 'in-process' : 'Redis'}`);
    if (m.firstAdmin.created) lines.push(`  first admin account "${m.firstAdmin.username}": password in ${m.firstAdmin.path} (mode 0600)`);
  }
  if (stack.adminPort !== null && stack.edgePort !== null) {
    const idNo = m?.demo !== null && m?.demo !== undefined ? demoResidentId(0) : '11010519491231002X';
    const name = m?.demo !== null && m?.demo !== undefined ? demoName(0) : '张三';
    lines.push(
      '',
      'try it:',
      `  TOKEN=$(curl -s -X POST http://${adminHost}:${stack.adminPort}/v1/session -H 'content-type: application/json' -d '{"idType":"resident","idNo":"${idNo}","name":"${name}"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')`,
      `  curl -s http://${edgeHost}:${stack.edgePort}/v1/code -H "Authorization: Bearer $TOKEN"`,
    );
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  let config: StackConfig;
  let watchdogConfig: WatchdogConfig | null = null;
  try {
    config = loadStackConfig();
    // the master cannot page about its own death: an edge process watches it (alerting/master-watchdog.ts)
    if (config.role === 'edge') watchdogConfig = loadWatchdogConfig(process.env);
  } catch (err) {
    const field = err instanceof CodedError && err.field !== undefined ? ` (${err.field})` : '';
    process.stderr.write(`configuration error${field}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const bars = { people: progress('people'), codes: progress('codes'), venues: progress('venues'), risk: progress('risk') };
  let snapshotBar: ((done: number, total: number) => void) | null = null;
  const stack = await startStack(config, {
    onDemoProgress: (phase, done, total) => bars[phase](done, total),
    onSnapshotProgress: (phase, n) => {
      if (phase !== 'codes') return;
      snapshotBar ??= progress('snapshot');
      if (isTty) process.stderr.write(`\r  snapshot ${n} codes`);
    },
  });
  if (snapshotBar !== null && isTty) process.stderr.write('\n');
  process.stdout.write(`${banner(stack, config)}\n`);
  const watchdog = watchdogConfig === null ? null : new MasterWatchdog(watchdogConfig, { name: config.nodeId });
  watchdog?.start();

  let stopping = false;
  const onSignal = (sig: string): void => {
    if (stopping) {
      process.stderr.write(`${sig} again: exiting now\n`);
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`\n${sig}: stopping…\n`);
    (watchdog?.stop() ?? Promise.resolve()).then(() => stack.stop()).then(
      () => {
        process.stderr.write('stopped.\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`stop failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.send?.({ type: 'ready', edgePort: stack.edgePort, adminPort: stack.adminPort, syncPort: stack.syncPort });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    const e = err as Error;
    process.stderr.write(`start failed: ${err instanceof CodedError ? `${err.code}: ${e.message}` : (e?.stack ?? String(err))}\n`);
    process.exit(1);
  });
}
