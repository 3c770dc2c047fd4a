import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/**
 * The fleet's network, made by the test itself (issue 17 §3): one Linux
 * network namespace per machine, each plugged by a veth pair into a bridge
 * that lives in a namespace of its own (the "switch"), so nothing of this
 * touches the host's own network.
 *
 *                       ns <run>-sw:  bridge br0
 *        ┌──────────┬──────────┬─────────┴┬──────────┬──────────┐
 *   ns <run>-pg1  <run>-rd1  <run>-m1   <run>-e1   <run>-e2   <run>-cl …
 *   eth0 127.77.0.21  .31      .41        .51        .52        .9
 *
 * Addresses: loopback range only (127.77.0.0/24; the workplace allows
 * nothing else). Linux treats 127/8 as "martian" on anything but `lo`:
 * inside each namespace `route_localnet=1` lets it through, and the local
 * table's `127.0.0.0/8 dev lo` route is narrowed to 127.0.0.1, so that
 * 127.77.0.x leaves through eth0 while 127.0.0.1 stays the node's own
 * loopback. The host's routing never sees these addresses.
 *
 * Faults: `partition(node, ips)` adds blackhole routes inside the node —
 * packets to those machines vanish, like a cut cable on the path (TCP sees
 * silence, not a reset); `heal` removes them. `killAll` is a machine losing
 * power: SIGKILL to every process in its namespace.
 */
export const SUBNET = '127.77.0';

export interface NsProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<number | null>;
}

function run(cmd: string, args: readonly string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `ip netns add` as the check `.ci/run` and the suite use: true when this
 * machine lets us make network namespaces (root, not in a locked container).
 */
export function netnsAllowed(): { ok: boolean; why: string } {
  const name = `hcf-probe-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (r.error !== undefined) return { ok: false, why: `ip: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, why: (r.stderr || `ip netns add exited ${r.status}`).trim() };
  spawnSync('ip', ['netns', 'del', name]);
  return { ok: true, why: '' };
}

/** Namespaces of earlier runs whose test process is gone (a crashed run): their processes killed, the namespaces deleted. */
export function sweepStaleNamespaces(): number {
  let swept = 0;
  for (const line of run('ip', ['netns', 'list'], true).split('\n')) {
    const m = /^(hcf-(\d+)-[a-z0-9]+)\b/.exec(line);
    if (m === null || alive(Number(m[2]))) continue;
    for (const pid of run('ip', ['netns', 'pids', m[1]!], true).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    run('ip', ['netns', 'del', m[1]!], true);
    swept++;
  }
  return swept;
}

export class FleetNet {
  readonly prefix = `hcf-${process.pid}`;
  private readonly nodes = new Map<string, string>();
  private readonly addrs = new Map<string, string>();
  private readonly procs = new Set<NsProcess>();
  private switchNs: string;

  /** If the test process is stopped (SIGTERM from a runner's timeout) or exits, the machines go with it. */
  private readonly onExit = (): void => this.destroySync();
  private readonly onTerm = (): void => {
    this.destroySync();
    process.exit(143);
  };

  constructor() {
    process.once('exit', this.onExit);
    process.once('SIGTERM', this.onTerm);
    process.once('SIGINT', this.onTerm);
    this.switchNs = `${this.prefix}-sw`;
    run('ip', ['netns', 'add', this.switchNs]);
    run('ip', ['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
  }

  ns(node: string): string {
    const n = this.nodes.get(node);
    if (n === undefined) throw new Error(`no fleet node ${node}`);
    return n;
  }

  ip(node: string): string {
    const a = this.addrs.get(node);
    if (a === undefined) throw new Error(`no fleet node ${node}`);
    return a;
  }

  /** A machine: its namespace, a veth into the switch, `<SUBNET>.<host>` on eth0. */
  addNode(node: string, host: number): string {
    if (!/^[a-z0-9]{1,6}$/.test(node)) throw new Error(`node name ${node}`);
    const ns = `${this.prefix}-${node}`;
    const ip = `${SUBNET}.${host}`;
    run('ip', ['netns', 'add', ns]);
    // both ends are created inside namespaces: no interface ever appears in the host's
    run('ip', ['-n', this.switchNs, 'link', 'add', `v-${node}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run('ip', ['-n', this.switchNs, 'link', 'set', `v-${node}`, 'master', 'br0']);
    run('ip', ['-n', this.switchNs, 'link', 'set', `v-${node}`, 'up']);
    run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1', 'net.ipv4.conf.default.route_localnet=1']);
    run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.eth0.route_localnet=1']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', ns, 'route', 'del', 'table', 'local', '127.0.0.0/8', 'dev', 'lo'], true);
    run('ip', ['-n', ns, 'route', 'replace', 'table', 'local', 'local', '127.0.0.1', 'dev', 'lo']);
    run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    this.nodes.set(node, ns);
    this.addrs.set(node, ip);
    return ip;
  }

  /** Packets from `node` to these addresses vanish (blackhole routes). */
  partition(node: string, ips: readonly string[]): void {
    for (const ip of ips) run('ip', ['-n', this.ns(node), 'route', 'replace', 'blackhole', `${ip}/32`]);
  }

  heal(node: string, ips: readonly string[]): void {
    for (const ip of ips) run('ip', ['-n', this.ns(node), 'route', 'del', 'blackhole', `${ip}/32`], true);
  }

  /**
   * Runs `cmd` inside the node's namespace (`ip netns exec` execs it: the
   * child's pid is the command's own), output appended to `logFile`.
   */
  spawn(node: string, name: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, logFile: string): NsProcess {
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn('ip', ['netns', 'exec', this.ns(node), cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    if (process.env.HC_TEST_LOGS === '1') {
      child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d.toString()}`));
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const p: NsProcess = { name, child, pid: child.pid!, exited };
    this.procs.add(p);
    void exited.then(() => {
      this.procs.delete(p);
      log.end();
    });
    return p;
  }

  /** Every process in the node's namespace gets SIGKILL (a machine losing power). */
  killAll(node: string): void {
    for (const pid of run('ip', ['netns', 'pids', this.ns(node)], true).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Synchronous last resort: SIGKILL everything in our namespaces, delete them. */
  destroySync(): void {
    for (const node of this.nodes.keys()) this.killAll(node);
    for (const ns of [...this.nodes.values(), this.switchNs]) spawnSync('ip', ['netns', 'del', ns]);
    this.nodes.clear();
  }

  async destroy(): Promise<void> {
    process.off('exit', this.onExit);
    process.off('SIGTERM', this.onTerm);
    process.off('SIGINT', this.onTerm);
    for (const p of this.procs) p.child.kill('SIGTERM');
    const deadline = Date.now() + 8000;
    while (this.procs.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const node of this.nodes.keys()) this.killAll(node);
    await new Promise((r) => setTimeout(r, 200));
    for (const ns of [...this.nodes.values(), this.switchNs]) run('ip', ['netns', 'del', ns], true);
    this.nodes.clear();
  }
}
