import { EdgeDaemon } from '../sync/edge-daemon.js';
import { IpcDeltaBus } from './ipc-bus.js';

/**
 * An edge sync daemon as a child process, reading deltas from its parent
 * over IPC (bench/ipc-bus.ts): the process that test/sync-faults.test.ts and
 * bench/daemon-kill.ts kill with SIGKILL while it applies.
 *
 *   node dist/bench/daemon-child.js <dataDir> [snapshotUrl]
 *
 * Reports `{type: 'ready', appliedSeq}` once its replica is open and
 * `{type: 'applied', seq}` after every applied entry (best effort: a kill
 * can land between the commit and the message, which is the point).
 */
const [dataDir, snapshotUrl] = process.argv.slice(2);
if (dataDir === undefined) {
  process.stderr.write('usage: daemon-child.js <dataDir> [snapshotUrl]\n');
  process.exit(2);
}
const bus = new IpcDeltaBus();
const daemon = EdgeDaemon.open({
  dataDir,
  bus,
  node: 'kill-test',
  ...(snapshotUrl === undefined || snapshotUrl === '' ? {} : { snapshot: { url: snapshotUrl } }),
  blockMs: 100,
  log: () => {},
});
process.send!({ type: 'ready', appliedSeq: daemon.appliedSeq() });
daemon.start();
const timer = setInterval(() => {
  process.send!({ type: 'applied', seq: daemon.appliedSeq() });
}, 20);
process.on('SIGTERM', () => {
  clearInterval(timer);
  void daemon.close().then(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
