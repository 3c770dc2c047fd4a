import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { alertEventsAfter } from '../master/alert-events.js';
import { exchangeCapability, type ExchangeInstance } from './capability.js';
import { candidatePasswords, expandPattern, maskPattern, validatePattern } from './password-rules.js';
import { makeSshd, type Sshd } from './sshd-server.js';
import { chinaTime, csv, NAT_HEADER, residentId } from './test-helpers.common.js';
import { encryptZip, extractZip } from './zip-archive.js';

/**
 * Encrypted archives end to end: a department's password rule, an archive
 * dropped into the intake folder, its rows imported, the files re-encrypted
 * with the recipient's password and forwarded over SFTP to a real OpenSSH
 * server — exactly once, and retried while the server is down.
 */
let f: Fixture;
let inst: ExchangeInstance;
let sshd: Sshd;
const DEPT = '成都市疾控中心';
const RULE = 'CDJK{yyyyMMdd}';

beforeAll(async () => {
  sshd = await makeSshd();
  await sshd.start();
  f = await startAdmin({
    capabilities: [exchangeCapability],
    capabilityEnv: { exchange: { EXCHANGE_INTAKE_POLL_MS: '0', EXCHANGE_FORWARD_POLL_MS: '0', EXCHANGE_SFTP_TIMEOUT_MS: '3000', EXCHANGE_FORWARD_MAX_ATTEMPTS: '3' } },
    startCapabilities: true,
  });
  inst = f.instances.exchange as unknown as ExchangeInstance;
}, 60_000);
afterAll(async () => {
  await f?.close();
  await sshd?.stop();
});

function natCsv(from: number, n: number): string {
  const lines = [NAT_HEADER];
  for (let i = 0; i < n; i++) lines.push(`resident,${residentId(from + i)},何某,,${chinaTime(f.clock.ms - 3600_000)},阴性,所`);
  return csv(lines);
}

async function dropArchive(name: string, password: string, content: string, opts: { zipCrypto?: boolean } = {}): Promise<string> {
  const dir = join(inst.intake.intakeDir, 'nat-result', DEPT);
  mkdirSync(dir, { recursive: true });
  const src = join(f.dataDir, `${name}.csv`);
  writeFileSync(src, content);
  const path = join(dir, name);
  await encryptZip([{ name: '核酸结果.csv', path: src }], path, password, opts);
  return path;
}

async function archives(): Promise<any[]> {
  return (await f.call('GET', '/admin/v1/exchange/archives', { token: f.tokens.operator })).body.archives;
}

describe('password rules', () => {
  it('patterns rotate by China date; malformed ones are refused', () => {
    const ms = Date.parse('2026-12-07T17:00:00Z'); // 2026-12-08 01:00 in China
    expect(expandPattern(RULE, ms)).toBe('CDJK20261208');
    expect(expandPattern('X{yy}-{MM}{dd}', ms)).toBe('X26-1208');
    expect(candidatePasswords(RULE, ms)).toEqual(['CDJK20261208', 'CDJK20261207', 'CDJK20261206']);
    expect(maskPattern(RULE)).toBe('C***{yyyyMMdd}');
    for (const bad of ['abc', 'NODATE123', '{yyyyMMdd}', 'AB{hh}', 'x'.repeat(70)]) {
      expect(() => validatePattern(bad)).toThrow(expect.objectContaining({ code: 'EXC_ERR_PASSWORD_RULE' }));
    }
  });

  it('only exchange.secrets sets them; stored encrypted, answered masked, never audited in clear', async () => {
    const path = `/admin/v1/exchange/password-rules/${encodeURIComponent(DEPT)}`;
    expect((await f.call('PUT', path, { token: f.tokens.operator, body: { pattern: RULE } })).status).toBe(403);
    const bad = await f.call('PUT', path, { token: f.tokens.admin, body: { pattern: 'nodate' } });
    expect([bad.status, bad.body.error]).toEqual([400, 'EXC_ERR_PASSWORD_RULE']);
    const ok = await f.call('PUT', path, { token: f.tokens.admin, body: { pattern: RULE } });
    expect(ok.body).toEqual({ department: DEPT, version: 1 });
    const list = await f.call('GET', '/admin/v1/exchange/password-rules', { token: f.tokens.operator });
    expect(list.body.rules).toEqual([expect.objectContaining({ department: DEPT, version: 1, masked: 'C***{yyyyMMdd}' })]);
    const row = await f.db.query<{ rule_enc: Buffer }>('SELECT rule_enc FROM exchange_password_rules');
    expect(Buffer.from(row.rows[0]!.rule_enc).includes(Buffer.from('CDJK'))).toBe(false);
    const audit = await f.audit.list({ limit: 50, order: 'desc' });
    expect(audit.some((e) => e.action === 'exchange.password_rule.set')).toBe(true);
    expect(JSON.stringify(audit)).not.toContain('CDJK');
    expect(f.logLines.join('\n')).not.toContain('CDJK');
  });
});

describe('archives over SFTP', () => {
  it('an AES archive with yesterday\'s password is imported, re-encrypted for the recipient and forwarded once', async () => {
    const put = await f.call('PUT', '/admin/v1/exchange/recipients/city-5101', {
      token: f.tokens.admin,
      body: { name: '成都市大数据中心', host: '127.0.0.1', port: sshd.port, username: sshd.username, remoteDir: sshd.remoteDir, datasets: ['nat-result'], privateKey: sshd.privateKey, zipPattern: 'SJ{yyyyMMdd}' },
    });
    expect(put.status).toBe(200);
    const listed = await f.call('GET', '/admin/v1/exchange/recipients', { token: f.tokens.operator });
    expect(JSON.stringify(listed.body)).not.toContain('PRIVATE KEY');

    const content = natCsv(5000, 12);
    await dropArchive('day1.zip', expandPattern(RULE, f.clock.ms - 86_400_000), content);
    await inst.intake.poll();
    const [a] = await archives();
    expect(a).toMatchObject({ status: 'done', department: DEPT, dataset: 'nat-result', error: null });
    expect(a.batches).toHaveLength(1);
    await inst.jobs.idle();
    expect(await inst.jobs.get(a.batches[0])).toMatchObject({ status: 'done', rows: { total: 12, accepted: 12 }, origin: `archive:${a.id}` });
    expect(readdirSync(join(inst.intake.intakeDir, 'nat-result', DEPT))).toEqual([]);

    await inst.forwarder.deliverDue();
    const fw = (await archives())[0].forwards;
    expect(fw).toEqual([expect.objectContaining({ recipientId: 'city-5101', status: 'sent', attempts: 1 })]);
    const remote = readdirSync(sshd.remoteDir);
    expect(remote).toHaveLength(1);
    expect(remote[0]).toMatch(/^nat-result-\d{8}-[A-Za-z0-9_-]{12}\.zip$/);
    // the recipient opens it with its own password of the day
    const out = join(f.dataDir, 'recv');
    mkdirSync(out, { recursive: true });
    const got = await extractZip(join(sshd.remoteDir, remote[0]!), out, [expandPattern('SJ{yyyyMMdd}', f.clock.ms)]);
    expect(readFileSync(got.files[0]!.path, 'utf8')).toBe(content);
    await expect(extractZip(join(sshd.remoteDir, remote[0]!), out, candidatePasswords(RULE, f.clock.ms))).rejects.toMatchObject({ code: 'EXC_ERR_ZIP_PASSWORD' });
    // delivering again sends nothing twice
    await f.db.query("UPDATE exchange_forwards SET status = 'pending'");
    await inst.forwarder.deliverDue();
    expect(readdirSync(sshd.remoteDir)).toEqual(remote);

    // the same rows in a new archive (today's password): taken, every row refused as already imported
    const again = await dropArchive('day1-again.zip', expandPattern(RULE, f.clock.ms), content);
    const copy = readFileSync(again);
    await inst.intake.poll();
    const b = (await archives())[0];
    expect(b.status).toBe('done');
    await inst.jobs.idle();
    expect(await inst.jobs.get(b.batches[0])).toMatchObject({ status: 'done', rows: { total: 12, accepted: 0, rejected: 12 } });
    // the very same archive file again: recorded as a duplicate, nothing extracted
    writeFileSync(again, copy);
    await inst.intake.poll();
    expect((await archives())[0]).toMatchObject({ status: 'duplicate', batches: [] });
    await inst.forwarder.deliverDue();
  }, 60_000);

  it('a wrong password, a ZipCrypto archive and a department without a rule', async () => {
    await dropArchive('wrong.zip', 'CDJK19990101', natCsv(5100, 2));
    await inst.intake.poll();
    expect((await archives())[0]).toMatchObject({ status: 'failed', error: { code: 'EXC_ERR_ZIP_PASSWORD' }, batches: [] });
    await dropArchive('zc.zip', expandPattern(RULE, f.clock.ms), natCsv(5200, 3), { zipCrypto: true });
    await inst.intake.poll();
    const zc = (await archives())[0];
    expect(zc).toMatchObject({ status: 'done' });
    await inst.jobs.idle();
    expect(await inst.jobs.get(zc.batches[0])).toMatchObject({ status: 'done', rows: { accepted: 3 } });
    const other = join(inst.intake.intakeDir, 'nat-result', '无规则单位');
    mkdirSync(other, { recursive: true });
    const src = join(f.dataDir, 'x.csv');
    writeFileSync(src, natCsv(5300, 1));
    await encryptZip([{ name: 'a.csv', path: src }], join(other, 'a.zip'), 'whatever1');
    await inst.intake.poll();
    expect((await archives())[0]).toMatchObject({ status: 'failed', error: { code: 'EXC_ERR_NO_PASSWORD_RULE' } });
    await inst.forwarder.deliverDue();
  }, 60_000);

  it('while the SFTP server is down the forward waits and retries; it arrives once when the server is back', async () => {
    await sshd.stop();
    const before = readdirSync(sshd.remoteDir).length;
    await dropArchive('down.zip', expandPattern(RULE, f.clock.ms), natCsv(5400, 4));
    await inst.intake.poll();
    const a = (await archives())[0];
    expect(a.status).toBe('done');
    await inst.forwarder.deliverDue();
    let fw = (await archives())[0].forwards[0];
    expect(fw).toMatchObject({ status: 'pending', attempts: 1 });
    expect(fw.lastError).toMatch(/^EXC_ERR_SFTP/);
    // not due yet (back-off): nothing is tried
    await inst.forwarder.deliverDue();
    expect((await archives())[0].forwards[0].attempts).toBe(1);
    await sshd.start();
    f.clock.ms += 60_000;
    await inst.forwarder.deliverDue();
    fw = (await archives())[0].forwards[0];
    expect(fw).toMatchObject({ status: 'sent', attempts: 2 });
    expect(readdirSync(sshd.remoteDir).length).toBe(before + 1);
    expect(readdirSync(sshd.remoteDir).some((n) => n.endsWith('.part'))).toBe(false);
  }, 60_000);

  it('archives are pulled from a department\'s SFTP server once: renamed .taken, a re-pull of the same bytes is a duplicate', async () => {
    const pickupDir = join(sshd.dir, 'outbox');
    mkdirSync(pickupDir, { recursive: true });
    const bad = await f.call('PUT', '/admin/v1/exchange/sftp-sources/cdc-outbox', { token: f.tokens.admin, body: { department: DEPT, dataset: 'nat-result', host: '127.0.0.1', port: sshd.port, username: sshd.username, remoteDir: 'relative' } });
    expect([bad.status, bad.body.error, bad.body.field]).toEqual([400, 'EXC_ERR_SFTP_SOURCE', 'remoteDir']);
    const put = await f.call('PUT', '/admin/v1/exchange/sftp-sources/cdc-outbox', {
      token: f.tokens.admin,
      body: { department: DEPT, dataset: 'nat-result', host: '127.0.0.1', port: sshd.port, username: sshd.username, remoteDir: pickupDir, privateKey: sshd.privateKey },
    });
    expect(put.status).toBe(200);
    const src = join(f.dataDir, 'pull.csv');
    writeFileSync(src, natCsv(5600, 5));
    await encryptZip([{ name: 'a.csv', path: src }], join(pickupDir, 'cdc-1207.zip'), expandPattern(RULE, f.clock.ms));
    const copy = readFileSync(join(pickupDir, 'cdc-1207.zip'));
    const got = await inst.pickup.poll();
    expect(got).toEqual([expect.objectContaining({ status: 'done' })]);
    expect(readdirSync(pickupDir)).toEqual(['cdc-1207.zip.taken']);
    await inst.jobs.idle();
    expect(await inst.jobs.get(got[0]!.batches[0]!)).toMatchObject({ status: 'done', rows: { accepted: 5 } });
    // the master died before the rename: the same file is pulled again and recorded as a duplicate
    writeFileSync(join(pickupDir, 'cdc-1207.zip'), copy);
    expect(await inst.pickup.poll()).toEqual([expect.objectContaining({ status: 'duplicate', batches: [] })]);
    await inst.forwarder.deliverDue();
  }, 60_000);

  it('a forward that keeps failing is given up after the limit and raises an alert', async () => {
    await sshd.stop();
    await dropArchive('dead.zip', expandPattern(RULE, f.clock.ms), natCsv(5500, 1));
    await inst.intake.poll();
    for (let i = 0; i < 3; i++) {
      await inst.forwarder.deliverDue();
      f.clock.ms += 20_000; // past the back-off (2 s, 4 s), well inside the admin session's idle timeout
    }
    expect((await archives())[0].forwards[0]).toMatchObject({ status: 'failed', attempts: 3 });
    const ev = (await alertEventsAfter(f.db, 0)).find((e) => e.kind === 'exchange.forward_failed');
    expect(ev).toMatchObject({ source: 'exchange', severity: 'critical', key: 'recipient:city-5101' });
    await sshd.start();
  }, 60_000);
});
