import type { SqlClient } from '../master/sql-client.js';
import type { PiiCrypto } from '../master/pii-crypto.js';
import { ExchangeError } from './errors.js';
import { validatePattern } from './password-rules.js';
import { open, seal } from './secret-box.js';

/**
 * Password rules per department and forwarding recipients (the receiving
 * parties of 转发: a city's data office, another province's platform), both
 * with their secrets sealed (secret-box.ts). Plain values are read only to
 * open or write an archive and never leave this process: not in an answer,
 * a log line or an audit entry.
 */
export interface RecipientInput {
  name: string;
  host: string;
  port: number;
  username: string;
  remoteDir: string;
  datasets: string[];
  /** an OpenSSH private key (preferred) or a password for the SFTP login */
  privateKey?: string;
  password?: string;
  /** the recipient's archive password rule (password-rules.ts) */
  zipPattern: string;
}

export interface Recipient {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly remoteDir: string;
  readonly datasets: string[];
  readonly updatedBy: string;
  readonly updatedAt: number;
}

export interface RecipientSecrets {
  readonly privateKey?: string;
  readonly password?: string;
  readonly zipPattern: string;
}

const ID = /^[a-z0-9][a-z0-9-]{1,39}$/;
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;

function bad(field: string, detail: string): never {
  throw new ExchangeError('EXC_ERR_RECIPIENT', detail, field);
}

export function validateRecipient(id: string, x: unknown): RecipientInput {
  if (!ID.test(id)) bad('id', 'must be 2–40 lower-case letters, digits and -');
  if (typeof x !== 'object' || x === null) bad('recipient', 'must be an object');
  const o = x as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name.length === 0 || o.name.length > 64) bad('name', 'must be 1–64 characters');
  if (typeof o.host !== 'string' || !HOST.test(o.host)) bad('host', 'must be a host name or address');
  if (!Number.isInteger(o.port) || (o.port as number) < 1 || (o.port as number) > 65535) bad('port', 'must be 1–65535');
  if (typeof o.username !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.username)) bad('username', 'must be 1–64 letters, digits, . _ -');
  if (typeof o.remoteDir !== 'string' || !o.remoteDir.startsWith('/') || o.remoteDir.split('/').includes('..') || o.remoteDir.length > 255) {
    bad('remoteDir', 'must be an absolute path without ..');
  }
  if (!Array.isArray(o.datasets) || o.datasets.some((d) => typeof d !== 'string' || d.length > 40)) bad('datasets', 'must be a list of dataset ids');
  if ((o.privateKey === undefined) === (o.password === undefined)) bad('privateKey', 'give privateKey or password');
  if (o.privateKey !== undefined && (typeof o.privateKey !== 'string' || !o.privateKey.includes('PRIVATE KEY'))) bad('privateKey', 'must be a PEM / OpenSSH private key');
  if (o.password !== undefined && (typeof o.password !== 'string' || o.password.length === 0 || o.password.length > 256)) bad('password', 'must be 1–256 characters');
  try {
    validatePattern(o.zipPattern);
  } catch {
    bad('zipPattern', 'must be a password rule like SJ{yyyyMMdd}');
  }
  return o as unknown as RecipientInput;
}

export class ExchangeSecrets {
  constructor(private readonly db: SqlClient, private readonly crypto: PiiCrypto) {}

  async setPasswordRule(department: string, pattern: string, by: string): Promise<number> {
    validatePattern(pattern);
    const r = await this.db.query<{ version: number }>(
      `INSERT INTO exchange_password_rules (department, rule_enc, updated_by) VALUES ($1, $2, $3)
       ON CONFLICT (department) DO UPDATE SET rule_enc = EXCLUDED.rule_enc, version = exchange_password_rules.version + 1,
         updated_by = EXCLUDED.updated_by, updated_at = now()
       RETURNING version`,
      [department, seal(this.crypto, `pwrule:${department}`, pattern), by],
    );
    return r.rows[0]!.version;
  }

  async passwordRule(department: string): Promise<string | null> {
    const r = await this.db.query<{ rule_enc: Buffer }>('SELECT rule_enc FROM exchange_password_rules WHERE department = $1', [department]);
    return r.rows.length === 0 ? null : open(this.crypto, `pwrule:${department}`, r.rows[0]!.rule_enc);
  }

  async listPasswordRules(): Promise<{ department: string; version: number; updatedBy: string; updatedAt: number; rule: string }[]> {
    const r = await this.db.query<{ department: string; version: number; updated_by: string; updated_at: Date; rule_enc: Buffer }>(
      'SELECT department, version, updated_by, updated_at, rule_enc FROM exchange_password_rules ORDER BY department',
    );
    return r.rows.map((x) => ({
      department: x.department, version: x.version, updatedBy: x.updated_by, updatedAt: Math.floor(new Date(x.updated_at).getTime() / 1000),
      rule: open(this.crypto, `pwrule:${x.department}`, x.rule_enc),
    }));
  }

  async setRecipient(id: string, input: RecipientInput, by: string): Promise<void> {
    const secrets: RecipientSecrets = {
      zipPattern: input.zipPattern, ...(input.privateKey !== undefined ? { privateKey: input.privateKey } : { password: input.password! }),
    };
    await this.db.query(
      `INSERT INTO exchange_recipients (id, name, host, port, username, remote_dir, datasets, secret_enc, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, host = EXCLUDED.host, port = EXCLUDED.port, username = EXCLUDED.username,
         remote_dir = EXCLUDED.remote_dir, datasets = EXCLUDED.datasets, secret_enc = EXCLUDED.secret_enc, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [id, input.name, input.host, input.port, input.username, input.remoteDir, JSON.stringify(input.datasets), seal(this.crypto, `recipient:${id}`, JSON.stringify(secrets)), by],
    );
  }

  async recipients(dataset?: string): Promise<Recipient[]> {
    const r = await this.db.query<{ id: string; name: string; host: string; port: number; username: string; remote_dir: string; datasets: string[]; updated_by: string; updated_at: Date }>(
      `SELECT id, name, host, port, username, remote_dir, datasets, updated_by, updated_at FROM exchange_recipients
        WHERE $1::text IS NULL OR datasets ? $1 ORDER BY id`,
      [dataset ?? null],
    );
    return r.rows.map((x) => ({
      id: x.id, name: x.name, host: x.host, port: x.port, username: x.username, remoteDir: x.remote_dir, datasets: x.datasets,
      updatedBy: x.updated_by, updatedAt: Math.floor(new Date(x.updated_at).getTime() / 1000),
    }));
  }

  async recipientSecrets(id: string): Promise<RecipientSecrets> {
    const r = await this.db.query<{ secret_enc: Buffer }>('SELECT secret_enc FROM exchange_recipients WHERE id = $1', [id]);
    if (r.rows.length === 0) throw new ExchangeError('EXC_ERR_RECIPIENT', 'no such recipient', 'id');
    return JSON.parse(open(this.crypto, `recipient:${id}`, r.rows[0]!.secret_enc)) as RecipientSecrets;
  }
}
