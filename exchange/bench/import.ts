import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, openAsBlob, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildAdminApp } from '../../admin-api/app.js';
import { migrateCapability } from '../../admin-api/capability.js';
import { loadAdminConfig } from '../../admin-api/config.js';
import { residentIdCheckChar } from '../../core/identity.js';
import { AdminUsers } from '../../master/admin-users.js';
import { AuditLog } from '../../master/audit-log.js';
import { CodeService } from '../../master/code-service.js';
import { loadOrCreateSecrets } from '../../master/pii-crypto.js';
import { RuleVersions } from '../../master/rule-versions.js';
import { openPglite } from '../../master/sql-client.js';
import { MasterStore } from '../../master/store.js';
import { PROFILE } from '../apply-chunk.js';
import { exchangeCapability, type ExchangeInstance } from '../capability.js';
import { FAST_PUT, putOnce } from '../sftp-forward.js';
import { SftpPartStream } from '../sftp-stream.js';
import { makeSshd } from '../sshd-server.js';
import { encryptZip } from '../zip-archive.js';
import ExcelJS from 'exceljs';
import SftpClient from 'ssh2-sftp-client';

/**
 * `npm run bench:import` — issue 10's number: builds a `nat-result` CSV of
 * IMPORT_ROWS rows (default 1,000,000) with 1 % bad rows (every 100th: a
 * wrong check digit, a bad result, a future sampling time, a missing name,
 * in turn), uploads it to a real admin-api over HTTP (multipart, the API's
 * own code path: spool, background job, chunks into the embedded PGlite
 * master), waits for the batch and checks that exactly the bad rows were
 * rejected. Last line:
 *
 *   import: N rows in S s = R rows/s, rejected K, peak RSS M MiB
 *
 * S = from the start of the upload to the batch's `done`. Peak RSS is the
 * whole process (PGlite's WASM heap included), getrusage maxrss.
 */
const N = Number(process.env.IMPORT_ROWS ?? 1_000_000);
/** rows of the XLSX run (0 = skip) */
const N_XLSX = Number(process.env.IMPORT_XLSX_ROWS ?? 100_000);
/** size of the re-encrypt + SFTP forward run in MB (0 = skip) */
const FORWARD_MB = Number(process.env.IMPORT_FORWARD_MB ?? 100);
if (!Number.isSafeInteger(N) || N < 100) throw new Error('IMPORT_ROWS must be an integer ≥ 100');

const dir = process.env.IMPORT_INIT_DIR !== undefined ? '' : mkdtempSync(join(tmpdir(), 'hc-bench-import-'));
const csvPath = join(dir, 'nat-result.csv');

/** A distinct valid resident ID per i < 36M: county × birth date × sequence. */
const COUNTIES = ['510104', '510105', '510106', '510107', '510108', '510112', '510113', '510114', '510115', '510116'];
function residentId(i: number): string {
  const county = COUNTIES[i % 10]!;
  const j = Math.floor(i / 10);
  const seq = String(j % 1000).padStart(3, '0');
  const k = Math.floor(j / 1000);
  const day = 1 + (k % 28);
  const month = 1 + (Math.floor(k / 28) % 12);
  const year = 1940 + Math.floor(k / 336);
  const first17 = `${county}${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${seq}`;
  return first17 + residentIdCheckChar(first17);
}

function chinaTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

async function buildCsv(): Promise<number> {
  const out = createWriteStream(csvPath);
  const now = Date.now();
  const past = chinaTime(now - 3 * 3600_000);
  const future = chinaTime(now + 2 * 86_400_000);
  let bad = 0;
  let buf = 'idType,idNo,name,phone,sampledAt,result,lab\n';
  const surnames = '赵钱孙李周吴郑王冯陈';
  for (let i = 0; i < N; i++) {
    let id = residentId(i);
    let name = `${surnames[i % 10]}某`;
    let result = i % 997 === 0 ? '阳性' : '阴性';
    let sampled = past;
    if (i % 100 === 50) {
      bad++;
      switch ((i / 100) % 4 | 0) {
        case 0: id = id.slice(0, 17) + (id.endsWith('0') ? '1' : '0'); break;
        case 1: result = '待定'; break;
        case 2: sampled = future; break;
        default: name = ''; break;
      }
    }
    buf += `resident,${id},${name},139${String(i % 1e8).padStart(8, '0')},${sampled},${result},成都市核酸检测实验室\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  return bad;
}

/** Same rows as the CSV, as a streamed XLSX workbook. */
async function buildXlsx(path: string, n: number): Promise<void> {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: path, useSharedStrings: false, useStyles: false });
  const ws = wb.addWorksheet('核酸检测结果');
  ws.addRow(['证件类型', '证件号码', '姓名', '手机号', '采样时间', '检测结果', '检测机构']).commit();
  const past = chinaTime(Date.now() - 3 * 3600_000);
  for (let i = 0; i < n; i++) {
    ws.addRow(['居民身份证', residentId(20_000_000 + i), '周某', `137${String(i % 1e8).padStart(8, '0')}`, past, '阴性', '成都市核酸检测实验室']).commit();
  }
  ws.commit();
  await wb.commit();
}

/** issue 10: re-encrypt + SFTP forward rate of an archive of `mb` MB, to a real sshd on loopback. */
async function forwardRate(mb: number): Promise<void> {
  const sshd = await makeSshd();
  await sshd.start();
  try {
    const plain = join(dir, 'forward.csv');
    const out = createWriteStream(plain);
    // realistic rows (distinct IDs, phones, times) so compression does not flatter the rate
    let written = 0;
    let i = 0;
    while (written < mb * 1048576) {
      let block = '';
      for (let k = 0; k < 5000; k++, i++) {
        block += `resident,${residentId(i)},张某,139${String((i * 7919) % 1e8).padStart(8, '0')},2026-12-0${1 + (i % 7)} ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00,${i % 997 === 0 ? '阳性' : '阴性'},成都市核酸检测实验室\n`;
      }
      const buf = Buffer.from(block);
      written += buf.length;
      if (!out.write(buf)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    const size = statSync(plain).size;
    // Same run: the zip.js path (WASM deflate + JS AES, ssh2's default 32 KiB × 64 writes), the native archive
    // written to a file and then uploaded (cc743e5's forward), and the native archive streamed into the upload
    // while it is written (sftp-stream.ts, what the forwarder does now); the last two alternate, twice each.
    const once1 = async (label: string, how: 'zip.js' | 'file' | 'streamed'): Promise<number> => {
      const t0 = performance.now();
      const zip = join(dir, `forward-${label}.zip`);
      const sftp = new SftpClient('bench');
      let bytes: number;
      let t1: number;
      if (how === 'streamed') {
        const wrapper = await sftp.connect({ host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey });
        const stream = await SftpPartStream.open(wrapper, `${sshd.remoteDir}/${label}.zip.part`);
        bytes = await encryptZip([{ name: '核酸结果.csv', path: plain }], zip, 'SJ20261207', { mirror: stream });
        t1 = performance.now();
        const ok = await stream.finish();
        await putOnce(sftp, { host: '127.0.0.1', port: sshd.port, username: sshd.username, remoteDir: sshd.remoteDir }, { privateKey: sshd.privateKey },
          `${label}.zip`, 10_000, () => zip, { connected: true, ...(ok ? { partBytes: bytes } : {}) });
      } else {
        bytes = await encryptZip([{ name: '核酸结果.csv', path: plain }], zip, 'SJ20261207', { zipJs: how === 'zip.js' });
        t1 = performance.now();
        await sftp.connect({ host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey });
        await sftp.fastPut(zip, `${sshd.remoteDir}/${label}.zip.part`, how === 'zip.js' ? {} : FAST_PUT);
        await sftp.rename(`${sshd.remoteDir}/${label}.zip.part`, `${sshd.remoteDir}/${label}.zip`);
      }
      await sftp.end();
      const t2 = performance.now();
      if (statSync(join(sshd.remoteDir, `${label}.zip`)).size !== bytes) throw new Error(`${label}: the uploaded archive is not ${bytes} bytes`);
      const rate = size / 1048576 / ((t2 - t0) / 1000);
      console.log(`forward (${label}): ${(size / 1048576).toFixed(0)} MiB → AES-256 archive ${(bytes / 1048576).toFixed(1)} MiB, ${how === 'streamed' ? 're-encrypt while uploading' : 're-encrypt'} ${((t1 - t0) / 1000).toFixed(2)} s + ${how === 'streamed' ? 'rest of the upload' : 'SFTP'} ${((t2 - t1) / 1000).toFixed(2)} s = ${rate.toFixed(1)} MiB/s`);
      rmSync(zip);
      rmSync(join(sshd.remoteDir, `${label}.zip`));
      return (t2 - t0) / 1000;
    };
    const zipJs = await once1('zip.js', 'zip.js');
    let file = 0;
    let streamed = 0;
    for (let i = 0; i < 2; i++) {
      if (i % 2 === 0) { file += await once1(`file${i}`, 'file'); streamed += await once1(`streamed${i}`, 'streamed'); }
      else { streamed += await once1(`streamed${i}`, 'streamed'); file += await once1(`file${i}`, 'file'); }
    }
    const mibs = (size / 1048576) / (streamed / 2);
    console.log(`forward: ${mibs.toFixed(1)} MiB/s = ${(size / 1e6 / (streamed / 2)).toFixed(1)} MB/s streamed (mean of 2), ${(file / streamed).toFixed(2)}× the file-then-upload path and ${(zipJs / (streamed / 2)).toFixed(2)}× the zip.js path in the same run`);
  } finally {
    await sshd.stop();
    rmSync(sshd.dir, { recursive: true, force: true });
  }
}

/** IMPORT_INIT_DIR: the child that creates and migrates the master's database, then exits. */
async function initOnly(dataDir: string): Promise<void> {
  const db = await openPglite(join(dataDir, 'pg'));
  const store = new MasterStore(db, loadOrCreateSecrets(dataDir, {}));
  await store.migrate();
  await new CodeService(store, { log: () => undefined }).activeRules();
  await migrateCapability(db, exchangeCapability);
  await db.close();
  console.log(`database created by a child process (initdb + migrations): its peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
}

async function main(): Promise<void> {
  if (process.env.IMPORT_INIT_DIR !== undefined) {
    await initOnly(process.env.IMPORT_INIT_DIR);
    return;
  }
  if (process.env.IMPORT_FORWARD_ONLY === '1') {
    // only the forward rate (its own last line), e.g. to compare runs under the same load
    await forwardRate(FORWARD_MB > 0 ? FORWARD_MB : 100);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const t0 = Date.now();
  const bad = await buildCsv();
  const size = statSync(csvPath).size;
  console.log(`built ${csvPath}: ${N} rows, ${bad} bad, ${(size / 1048576).toFixed(1)} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const dataDir = join(dir, 'data');
  // The master's database is created (initdb + migrations) by a child process first, as an installed
  // master's directory exists before it imports anything: initdb alone takes PGlite to ≈ 820 MiB RSS
  // (its WASM heap never shrinks), opening the existing directory ≈ 320 MiB (measured, load ≈ 5).
  // IMPORT_INIT_IN_PROCESS=1 keeps the previous way (both in this process) for comparison.
  if (process.env.IMPORT_INIT_IN_PROCESS !== '1') {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, IMPORT_INIT_DIR: dataDir }, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`creating the database: exit ${child.status}`);
    console.log(`  ${child.stdout.trim()}`);
  }
  const db = await openPglite(join(dataDir, 'pg'));
  const secrets = loadOrCreateSecrets(dataDir, {});
  const store = new MasterStore(db, secrets);
  await store.migrate();
  const codes = new CodeService(store, { log: () => undefined });
  const rules = new RuleVersions(store, codes);
  const audit = new AuditLog(store, secrets);
  const users = new AdminUsers(store, { hashOptions: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
  await migrateCapability(db, exchangeCapability);
  const cfg = exchangeCapability.config(process.env, { dataDir, mode: 'embedded' });
  const host = {
    db, store, codes, rules, audit, users, secrets, dataDir, mode: 'embedded' as const,
    nowMs: () => Date.now(), log: () => undefined, committed: () => undefined,
  };
  const inst = (await exchangeCapability.create(host, cfg)) as unknown as ExchangeInstance & { start(): Promise<void>; stop(): Promise<void> };
  const config = loadAdminConfig({}, { port: 0, host: '127.0.0.1', dataDir, adminRatePerMin: 100_000, logLevel: 'warn' });
  const app = await buildAdminApp({
    store, codes, rules, audit, users, sessionKey: randomBytes(32), config, capabilities: [inst as never],
    logStream: { write: () => undefined },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  const base = `http://127.0.0.1:${addr.port}`;
  await inst.start();
  const password = `Bench-${randomBytes(12).toString('base64url')}`;
  await users.create({ username: 'bench', password, role: 'operator', regionPrefix: '' });
  const login = await fetch(`${base}/admin/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password }) });
  const { token } = (await login.json()) as { token: string };

  const m0 = process.memoryUsage();
  console.log(`  RSS before the upload (PGlite master + admin-api started): ${Math.round(m0.rss / 1048576)} MiB (JS heap used ${Math.round(m0.heapUsed / 1048576)}, external ${Math.round(m0.external / 1048576)}), peak so far ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
  let peakDuring = 0;
  // what holds the memory: JS heap vs external (PGlite's WASM memory is an ArrayBuffer counted in external)
  const peaks = { heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakDuring = Math.max(peakDuring, m.rss);
    peaks.heapUsed = Math.max(peaks.heapUsed, m.heapUsed);
    peaks.external = Math.max(peaks.external, m.external);
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, m.arrayBuffers);
  }, 200);
  if (N_XLSX > 0) {
    const xlsx = join(dir, 'nat-result.xlsx');
    await buildXlsx(xlsx, N_XLSX);
    const tx = Date.now();
    const fx = new FormData();
    fx.append('dataset', 'nat-result');
    fx.append('department', '基准测试');
    fx.append('file', await openAsBlob(xlsx), 'nat-result.xlsx');
    const ux = await fetch(`${base}/admin/v1/imports`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: fx });
    const { id: xid } = (await ux.json()) as { id: string };
    await inst.jobs.idle();
    const bx = (await (await fetch(`${base}/admin/v1/imports/${xid}?errorsLimit=3`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string; rows: { accepted: number }; errors: { row: number; code: string }[] };
    if (bx.errors.length > 0) console.log(`  xlsx errors: ${JSON.stringify(bx.errors.map((e) => [e.row, e.code]))}`);
    const sx = (Date.now() - tx) / 1000;
    console.log(`xlsx: ${N_XLSX} rows (${(statSync(xlsx).size / 1048576).toFixed(1)} MiB) ${bx.status}, accepted ${bx.rows.accepted}, in ${sx.toFixed(1)} s = ${Math.round(N_XLSX / sx)} rows/s`);
  }
  if (FORWARD_MB > 0) await forwardRate(FORWARD_MB);

  // WAL written and CPU seconds used by the import (per-CPU-second figures survive a shared machine's load)
  const lsn0 = (await db.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
  const cpu0 = process.cpuUsage();
  const t1 = Date.now();
  const form = new FormData();
  form.append('dataset', 'nat-result');
  form.append('department', '基准测试');
  form.append('file', await openAsBlob(csvPath), 'nat-result.csv');
  const up = await fetch(`${base}/admin/v1/imports`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  if (up.status !== 202) throw new Error(`upload: ${up.status} ${await up.text()}`);
  const { id } = (await up.json()) as { id: string };
  let last = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const b = (await (await fetch(`${base}/admin/v1/imports/${id}?errorsLimit=1`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      status: string; rows: { total: number; accepted: number; rejected: number }; error: unknown;
    };
    if (b.rows.total - last >= 100_000 || b.status === 'done' || b.status === 'failed') {
      console.log(`  ${b.status}: ${b.rows.total} rows (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
      last = b.rows.total;
    }
    if (b.status === 'failed') throw new Error(`batch failed: ${JSON.stringify(b.error)}`);
    if (b.status === 'done') {
      const secs = (Date.now() - t1) / 1000;
      const facts = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts WHERE source_ref LIKE $1', [`${id}:%`]);
      if (b.rows.rejected !== bad || b.rows.accepted !== N - bad || facts.rows[0]!.n !== N - bad) {
        throw new Error(`expected exactly ${bad} rejected and ${N - bad} facts, got ${JSON.stringify(b.rows)} and ${facts.rows[0]!.n} facts`);
      }
      clearInterval(sampler);
      const wal = (await db.query<{ b: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS b', [lsn0])).rows[0]!.b;
      const cpu = process.cpuUsage(cpu0);
      console.log(`  WAL written by the import: ${Math.round(Number(wal) / 1048576)} MiB; this process's CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (all its threads) = ${Math.round(N / ((cpu.user + cpu.system) / 1e6))} rows per CPU-second`);
      const mib = (x: number): number => Math.round(x / 1048576);
      console.log(`  RSS sampled during the import: peak ${mib(peakDuring)} MiB (peaks: JS heap used ${mib(peaks.heapUsed)}, external ${mib(peaks.external)}, of which ArrayBuffers ${mib(peaks.arrayBuffers)} MiB)`);
      await app.close();
      await inst.stop();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
      const peak = process.resourceUsage().maxRSS / 1024;
      if (PROFILE.size > 0) console.log(`  stages (ms): ${[...PROFILE].map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}`);
      console.log(`import: ${N} rows in ${secs.toFixed(1)} s = ${Math.round(N / secs)} rows/s, rejected ${b.rows.rejected}, peak RSS ${Math.round(peak)} MiB`);
      return;
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
