import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import type { CapabilityHost } from '../admin-api/capability.js';
import type { SqlClient } from '../master/sql-client.js';
import type { PiiCrypto } from '../master/pii-crypto.js';
import type { ArchiveIntake, ArchiveResult } from './archive-intake.js';
import { ExchangeError } from './errors.js';
import { open, seal } from './secret-box.js';
import { PollLoop } from './poll-loop.js';

/**
 * Archives pulled from departments' SFTP servers (issue 10 item 4, the
 * other intake besides the folder). Each source names the department and
 * dataset its archives belong to. A pulled `<name>.zip` is renamed on the
 * server to `<name>.zip.taken` once its outcome is recorded; if the master
 * dies between the two, the next pull takes the same bytes again and the
 * intake records a duplicate (sha-256) — nothing is imported twice.
 */
export interface SftpSourceInput {
  department: string;
  dataset: string;
  host: string;
  port: number;
  username: string;
  remoteDir: string;
  privateKey?: string;
  password?: string;
}

export interface SftpSource {
  readonly id: string;
  readonly department: string;
  readonly dataset: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly remoteDir: string;
}

function bad(field: string, detail: string): never {
  throw new ExchangeError('EXC_ERR_SFTP_SOURCE', detail, field);
}

export function validateSource(id: string, x: unknown): SftpSourceInput {
  if (!/^[a-z0-9][a-z0-9-]{1,39}$/.test(id)) bad('id', 'must be 2–40 lower-case letters, digits and -');
  const o = x as Record<string, unknown>;
  if (typeof o.department !== 'string' || o.department.length === 0 || o.department.length > 64 || /[\u0000-\u001f/]/.test(o.department)) bad('department', 'must be 1–64 characters');
  if (typeof o.dataset !== 'string' || !/^[a-z][a-z0-9-]{1,39}$/.test(o.dataset)) bad('dataset', 'must be a dataset id');
  if (typeof o.host !== 'string' || !/^[A-Za-z0-9.:-]{1,253}$/.test(o.host)) bad('host', 'must be a host name or address');
  if (!Number.isInteger(o.port) || (o.port as number) < 1 || (o.port as number) > 65535) bad('port', 'must be 1–65535');
  if (typeof o.username !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.username)) bad('username', 'must be 1–64 letters, digits, . _ -');
  if (typeof o.remoteDir !== 'string' || !o.remoteDir.startsWith('/') || o.remoteDir.split('/').includes('..')) bad('remoteDir', 'must be an absolute path without ..');
  if ((o.privateKey === undefined) === (o.password === undefined)) bad('privateKey', 'give privateKey or password');
  return o as unknown as SftpSourceInput;
}

export class SftpPickup {
  private readonly dir: string;
  private readonly loop: PollLoop<ArchiveResult[]>;

  constructor(
    private readonly host: CapabilityHost,
    private readonly db: SqlClient,
    private readonly crypto: PiiCrypto,
    private readonly intake: ArchiveIntake,
    private readonly opts: { pollMs: number; connectTimeoutMs: number },
  ) {
    this.loop = new PollLoop(() => this.pollOnce(), { pollMs: this.opts.pollMs, log: (l) => this.host.log(l), what: 'SFTP pickup' });
    this.dir = join(host.dataDir, 'exchange', 'pulled');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  async setSource(id: string, s: SftpSourceInput, by: string): Promise<void> {
    const secret = JSON.stringify(s.privateKey !== undefined ? { privateKey: s.privateKey } : { password: s.password });
    await this.db.query(
      `INSERT INTO exchange_sftp_sources (id, department, dataset, host, port, username, remote_dir, secret_enc, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET department = EXCLUDED.department, dataset = EXCLUDED.dataset, host = EXCLUDED.host, port = EXCLUDED.port,
         username = EXCLUDED.username, remote_dir = EXCLUDED.remote_dir, secret_enc = EXCLUDED.secret_enc, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [id, s.department, s.dataset, s.host, s.port, s.username, s.remoteDir, seal(this.crypto, `source:${id}`, secret), by],
    );
  }

  async sources(): Promise<SftpSource[]> {
    const r = await this.db.query<{ id: string; department: string; dataset: string; host: string; port: number; username: string; remote_dir: string }>(
      'SELECT id, department, dataset, host, port, username, remote_dir FROM exchange_sftp_sources ORDER BY id',
    );
    return r.rows.map((x) => ({ id: x.id, department: x.department, dataset: x.dataset, host: x.host, port: x.port, username: x.username, remoteDir: x.remote_dir }));
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Pulls every waiting archive of every source; a source that cannot be reached is skipped until the next poll. */
  poll(): Promise<ArchiveResult[]> {
    return this.loop.run();
  }

  private async pollOnce(): Promise<ArchiveResult[]> {
    const out: ArchiveResult[] = [];
    for (const src of await this.sources()) out.push(...(await this.pullFrom(src)));
    return out;
  }

  private async pullFrom(src: SftpSource): Promise<ArchiveResult[]> {
    const r = await this.db.query<{ secret_enc: Buffer }>('SELECT secret_enc FROM exchange_sftp_sources WHERE id = $1', [src.id]);
    const secret = JSON.parse(open(this.crypto, `source:${src.id}`, r.rows[0]!.secret_enc)) as { privateKey?: string; password?: string };
    const sftp = new SftpClient('exchange-pickup');
    const results: ArchiveResult[] = [];
    try {
      await sftp.connect({
        host: src.host, port: src.port, username: src.username, readyTimeout: this.opts.connectTimeoutMs, retries: 0,
        ...(secret.privateKey !== undefined ? { privateKey: secret.privateKey } : { password: secret.password! }),
      });
      const files = (await sftp.list(src.remoteDir)).filter((f) => f.type === '-' && f.name.toLowerCase().endsWith('.zip')).map((f) => f.name).sort();
      for (const name of files) {
        const remote = `${src.remoteDir.replace(/\/+$/, '')}/${name}`;
        const local = join(this.dir, `${randomBytes(9).toString('base64url')}.zip`);
        try {
          await sftp.fastGet(remote, local);
          results.push(await this.intake.take(local, src.dataset, src.department, name));
          await sftp.rename(remote, `${remote}.taken`);
        } finally {
          rmSync(local, { force: true });
        }
      }
    } catch (err) {
      this.host.log(`exchange: sftp source ${src.id} unavailable (${String((err as { code?: unknown }).code ?? (err as Error).name)})`);
    } finally {
      await sftp.end().catch(() => undefined);
    }
    return results;
  }
}
