import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';

/**
 * The fleet's client machine (issue 17 §3): a citizen's phone, a venue
 * scanner and an operator's browser in one small process, run INSIDE the
 * client namespace (`node probe-agent.mjs <socket>`), so every request it
 * makes crosses the fleet's virtual network like real traffic.
 *
 * The test process (on the host) cannot reach 127.77.0.x: it talks to this
 * agent over a Unix socket, which belongs to the file system and so crosses
 * network namespaces.
 *
 *   POST /fetch   {method, url, headers?, body?, timeoutMs?} → {status, text} | {status: 0, error}
 *   POST /targets [{name, url, token, scanToken?, venue?}]   start probing each edge
 *   POST /pause   {name}  /resume {name}                     a node the test killed on purpose
 *   POST /reset                                              zero the display counters (one fault = one phase)
 *   POST /scans   {on}                                       start / stop scanning (to count what arrived)
 *   GET  /stats   → {name: TargetStats}
 *
 * Per edge, continuously: GET /v1/code every PROBE_MS (the display must
 * answer 200 whatever happens upstream), POST /v1/scan every SCAN_MS (each
 * 200 is a scan the edge acknowledged: it must reach the master exactly once).
 */
const PROBE_MS = 50;
const SCAN_MS = 250;
const TIMEOUT_MS = 2000;

interface Target {
  readonly name: string;
  readonly url: string;
  readonly token: string;
  readonly scanToken?: string;
  readonly venue?: string;
}

interface TargetStats {
  probes: number;
  ok: number;
  fail: number;
  /** longest run of failed displays, ms (from the first failure to the next success) */
  longestGapMs: number;
  outageSince: number | null;
  lastError: string;
  lastColor: string;
  scansAcked: number;
  /** non-200 answers and lost requests: such a scan may or may not have been recorded */
  scansUnsure: number;
  paused: boolean;
}

const targets = new Map<string, { t: Target; s: TargetStats; stop: boolean }>();
let scansOn = true;
let scansInFlight = 0;

function fresh(paused = false): TargetStats {
  return { probes: 0, ok: 0, fail: 0, longestGapMs: 0, outageSince: null, lastError: '', lastColor: '', scansAcked: 0, scansUnsure: 0, paused };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function probeLoop(entry: { t: Target; s: TargetStats; stop: boolean }): Promise<void> {
  while (!entry.stop) {
    const s = entry.s;
    if (!s.paused) {
      const t0 = Date.now();
      let ok = false;
      try {
        const r = await fetch(`${entry.t.url}/v1/code`, { headers: { authorization: `Bearer ${entry.t.token}` }, signal: AbortSignal.timeout(TIMEOUT_MS) });
        const text = await r.text();
        ok = r.status === 200;
        if (ok) entry.s.lastColor = (JSON.parse(text) as { color: string }).color;
        else entry.s.lastError = `${r.status} ${text.slice(0, 120)}`;
      } catch (err) {
        entry.s.lastError = String((err as Error).cause ?? (err as Error).message);
      }
      const cur = entry.s;
      if (!cur.paused && cur === s) {
        cur.probes++;
        if (ok) {
          cur.ok++;
          if (cur.outageSince !== null) cur.longestGapMs = Math.max(cur.longestGapMs, Date.now() - cur.outageSince);
          cur.outageSince = null;
        } else {
          cur.fail++;
          cur.outageSince ??= t0;
        }
      }
    }
    await sleep(PROBE_MS);
  }
}

async function scanLoop(entry: { t: Target; s: TargetStats; stop: boolean }): Promise<void> {
  if (entry.t.scanToken === undefined || entry.t.venue === undefined) return;
  while (!entry.stop) {
    if (!entry.s.paused && scansOn) {
      scansInFlight++;
      try {
        const r = await fetch(`${entry.t.url}/v1/scan`, {
          method: 'POST',
          headers: { authorization: `Bearer ${entry.t.scanToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ venue: entry.t.venue }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        await r.text();
        // counted on the current stats object (a reset may have replaced it meanwhile)
        if (r.status === 200) entry.s.scansAcked++;
        else entry.s.scansUnsure++;
      } catch {
        entry.s.scansUnsure++;
      } finally {
        scansInFlight--;
      }
    }
    await sleep(SCAN_MS);
  }
}

function body(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      try {
        resolve(text === '' ? null : JSON.parse(text));
      } catch (err) {
        reject(err as Error);
      }
    });
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function statsNow(): Record<string, TargetStats> {
  const out: Record<string, TargetStats> = {};
  const now = Date.now();
  for (const [name, e] of targets) {
    const s = { ...e.s };
    if (s.outageSince !== null) s.longestGapMs = Math.max(s.longestGapMs, now - s.outageSince);
    out[name] = s;
  }
  return out;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const input = await body(req);
  switch (`${req.method} ${req.url}`) {
    case 'POST /fetch': {
      const f = input as { method: string; url: string; headers?: Record<string, string>; body?: string; timeoutMs?: number };
      try {
        const r = await fetch(f.url, {
          method: f.method,
          headers: f.headers ?? {},
          ...(f.body === undefined ? {} : { body: f.body }),
          signal: AbortSignal.timeout(f.timeoutMs ?? 30_000),
        });
        return reply(res, 200, { status: r.status, text: await r.text() });
      } catch (err) {
        return reply(res, 200, { status: 0, error: String((err as Error).cause ?? (err as Error).message) });
      }
    }
    case 'POST /targets': {
      for (const t of input as Target[]) {
        const old = targets.get(t.name);
        if (old !== undefined) old.stop = true;
        const entry = { t, s: fresh(), stop: false };
        targets.set(t.name, entry);
        void probeLoop(entry);
        void scanLoop(entry);
      }
      return reply(res, 200, { ok: true });
    }
    case 'POST /pause':
    case 'POST /resume': {
      const e = targets.get((input as { name: string }).name);
      if (e === undefined) return reply(res, 404, { error: 'no such target' });
      e.s.paused = req.url === '/pause';
      if (!e.s.paused) e.s.outageSince = null;
      return reply(res, 200, { ok: true });
    }
    case 'POST /reset': {
      // scan counts are kept: they are compared with the master's scans table, which keeps everything
      for (const e of targets.values()) e.s = { ...fresh(e.s.paused), scansAcked: e.s.scansAcked, scansUnsure: e.s.scansUnsure };
      return reply(res, 200, { ok: true });
    }
    case 'POST /scans': {
      scansOn = (input as { on: boolean }).on;
      while (!scansOn && scansInFlight > 0) await sleep(20);
      return reply(res, 200, { ok: true });
    }
    case 'GET /stats':
      return reply(res, 200, statsNow());
    default:
      return reply(res, 404, { error: 'unknown call' });
  }
}

const socketPath = process.argv[2];
if (socketPath === undefined) {
  process.stderr.write('usage: node probe-agent.mjs <unix socket path>\n');
  process.exit(2);
}
rmSync(socketPath, { force: true });
const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => reply(res, 500, { error: String(err) }));
});
server.listen(socketPath, () => process.stderr.write(`probe agent listening on ${socketPath}\n`));
process.on('SIGTERM', () => {
  for (const e of targets.values()) e.stop = true;
  server.close(() => process.exit(0));
});
