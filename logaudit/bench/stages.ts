import { gzipSync } from 'node:zlib';
import { DecoderSet } from '../decoders.js';
import { decodeText, headerPlan, normaliseRow, type RawMessage } from '../normalise.js';
import { encodeRows, type StoredRow } from '../row-format.js';
import { Correlator, loadRules } from '../sigma.js';
import { parseSyslog } from '../syslog-parse.js';
import type { LogEvent } from '../schema.js';

/**
 * `npm run bench:logaudit:stages`: CPU per event of each stage of the
 * processing core on one thread, over the shipped decoders' sample lines
 * (LA_EVENTS, default 200 000): syslog header, + decoder, whole normalise
 * (lean correlation event + stored row, as the engine builds them), correlate,
 * encode rows, gzip. No sockets, queues or database — where to look before
 * and after changing the core; the end-to-end figure is bench:logaudit's.
 * Each stage runs twice; the second (warm) pass is printed.
 * Last line: logaudit stages (µs/event): syslog S, +decode D, normalise N, correlate C, encode E, gzip G; sum T = R events per CPU-second
 */
const n = Number(process.env.LA_EVENTS ?? 200_000);
const decoders = DecoderSet.load();
const correlator = new Correlator(loadRules());
const plan = headerPlan(new Set([...correlator.fieldsUsed, 'host.name', 'observer.vendor', 'observer.product']));
const corpus: Buffer[] = [];
for (const f of decoders.families) for (const t of f.types) for (const x of t.samples) corpus.push(Buffer.from(x.line));
const opts = { tzOffsetMin: 480, maxSkewMs: 86_400_000 };
const t0 = Date.now();

function cpuUs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const r: Record<string, number> = {};
for (let pass = 0; pass < 2; pass++) {
  r.syslog = cpuUs(() => { for (let i = 0; i < n; i++) parseSyslog(decodeText(corpus[i % corpus.length]!).text, t0, 480); });
  r.decode = cpuUs(() => {
    for (let i = 0; i < n; i++) { const { text } = decodeText(corpus[i % corpus.length]!); decoders.decode(parseSyslog(text, t0, 480), text); }
  });
  const events: LogEvent[] = [];
  const rows: StoredRow[] = [];
  const keep = Math.min(n, 20_000);
  r.normalise = cpuUs(() => {
    for (let i = 0; i < n; i++) {
      const m: RawMessage = { bytes: corpus[i % corpus.length]!, from: '127.0.0.1', transport: 'udp', receivedMs: t0 + i / 20 };
      const x = normaliseRow(m, decoders, opts, () => undefined, plan);
      if (i < keep) { events.push(x.event); rows.push(x.row); }
    }
  });
  // correlate / encode / gzip: the kept events and rows, over and over up to n
  r.correlate = cpuUs(() => { for (let i = 0; i < n; i++) correlator.feed(events[i % keep]!, t0 + i / 20, t0 + i / 20); });
  const batches: StoredRow[][] = [];
  for (let i = 0; i < keep; i += 4000) batches.push(rows.slice(i, i + 4000));
  const encoded: Buffer[] = [];
  r.encode = cpuUs(() => { for (let done = 0, k = 0; done < n; k++) { const b = batches[k % batches.length]!; const e = encodeRows(b); if (encoded.length < batches.length) encoded.push(e); done += b.length; } });
  r.gzip = cpuUs(() => { for (let done = 0, k = 0; done < n; k++) { gzipSync(encoded[k % encoded.length]!, { level: 1 }); done += batches[k % batches.length]!.length; } });
}
const f = (x: number): string => x.toFixed(2);
const sum = r.normalise! + r.correlate! + r.encode! + r.gzip!;
process.stdout.write(`logaudit stages (µs/event): syslog ${f(r.syslog!)}, +decode ${f(r.decode!)}, normalise ${f(r.normalise!)}, correlate ${f(r.correlate!)}, encode ${f(r.encode!)}, gzip ${f(r.gzip!)}; sum ${f(sum)} = ${Math.round(1e6 / sum)} events per CPU-second\n`);
