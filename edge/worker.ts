import { loadEdgeConfig } from './config.js';
import { startEdgeServer, type EdgeServer } from './server.js';

/**
 * One edge server process, forked by edge/main.ts. Reads the same
 * environment as its supervisor (validated there first), binds the shared
 * port with SO_REUSEPORT, and reports `{type: 'ready', port, pid}` over IPC.
 * SIGTERM/SIGINT or losing the supervisor (IPC disconnect) closes it cleanly:
 * the listen socket first, then in-flight work, the pool, spool and replica.
 */
let server: EdgeServer | null = null;
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await server?.close();
  } finally {
    process.exit(code);
  }
}

function onSignal(): void {
  void stop(0);
}

async function run(): Promise<void> {
  const config = loadEdgeConfig();
  server = await startEdgeServer(config, { sharedPort: true, manageKeys: false });
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('disconnect', onSignal);
  process.send?.({ type: 'ready', port: server.port, pid: process.pid });
}

run().catch((err: unknown) => {
  process.stderr.write(`edge worker ${process.pid}: ${(err as Error)?.stack ?? String(err)}\n`);
  void stop(1);
});
