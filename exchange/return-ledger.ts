import { createHash, randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import type { CapabilityHost } from '../admin-api/capability.js';
import { inScope } from '../admin-api/roles.js';
import { regionName } from '../core/regions.js';
import { raiseAlertEvent } from '../master/alert-events.js';
import type { PiiCrypto } from '../master/pii-crypto.js';
import type { SqlClient } from '../master/sql-client.js';
import { ID_TYPE_ZH, KIND_ZH, RESULT_ZH, chinaTime } from './data-return.js';
import { ExchangeError } from './errors.js';
import { applyPolicy, DEFAULT_POLICY, headerOf, validatePolicy, type ClearRow, type ReturnPolicy } from './return-policy.js';
import { open, seal } from './secret-box.js';

/**
 * The return ledger (智能数据返还): who gets what, made once, taken visibly.
 *
 * A return recipient (返还对象) is a city/county (its GB/T 2260 prefix: the
 * rows of persons resident there) or a department (`department`: only the
 * batches it uploaded itself), for some datasets. For every finished batch
 * and recipient one ledger row is made — UNIQUE (recipient, batch), so a
 * second master or a second pass makes nothing twice — with the rows masked
 * by the recipient's policy of that moment, sealed (AES-GCM, PII key) in
 * exchange_return_rows. What a recipient takes is therefore fixed when the
 * return is made: a re-download is byte-identical (same sha256 of the CSV)
 * and a later policy change applies to later returns only.
 *
 * Taking is recorded per act in exchange_return_takes (push, csv, xlsx,
 * ack): the ledger row keeps the counters (downloads, pushed_at,
 * acknowledged_at) the to-do list and the monitoring read. A return is
 * done when the recipient acknowledges it (签收); past its due time without
 * that it is overdue and raises one `exchange.return_overdue` alert.
 */
export interface ReturnRecipientInput {
  readonly name: string;
  readonly region: string;
  readonly department: string | null;
  readonly datasets: readonly string[];
  readonly sftpRecipient: string | null;
  readonly dueHours: number;
}

export interface ReturnRecipient extends ReturnRecipientInput {
  readonly id: string;
  readonly regionName: string;
  readonly policyVersion: number;
  readonly updatedBy: string;
  readonly updatedAt: number;
}

export interface ReturnItem {
  readonly id: string;
  readonly recipientId: string;
  readonly recipientName: string;
  readonly batchId: string;
  readonly dataset: string;
  readonly department: string;
  readonly region: string;
  readonly regionName: string;
  readonly policyVersion: number;
  readonly policy: ReturnPolicy;
  readonly rows: number;
  readonly sha256: string;
  readonly remoteName: string;
  readonly createdAt: number;
  readonly dueAt: number;
  readonly push: { status: 'none' | 'pending' | 'sent' | 'failed'; attempts: number; error: string | null; at: number | null };
  readonly downloads: number;
  readonly firstDownloadedAt: number | null;
  readonly lastDownloadedAt: number | null;
  readonly acknowledgedAt: number | null;
  readonly acknowledgedBy: string | null;
  /** 待领取 / 已领取待签收 / 已签收 / 无数据 */
  readonly state: 'waiting' | 'taken' | 'acknowledged' | 'empty';
  readonly overdue: boolean;
}

const ID = /^[a-z0-9][a-z0-9-]{1,39}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

function badRecipient(field: string, detail: string): never {
  throw new ExchangeError('EXC_ERR_RETURN_RECIPIENT', detail, field);
}

export function validateReturnRecipient(id: string, x: unknown): ReturnRecipientInput {
  if (!ID.test(id)) badRecipient('id', 'must be 2–40 lower-case letters, digits and -');
  if (typeof x !== 'object' || x === null || Array.isArray(x)) badRecipient('recipient', 'must be an object');
  const o = x as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name.trim().length === 0 || o.name.length > 64 || CONTROL.test(o.name)) badRecipient('name', 'must be 1–64 characters');
  // '' = the whole province (a provincial department); otherwise a known GB/T 2260 code of 2/4/6 digits
  if (typeof o.region !== 'string' || (o.region !== '' && (!/^[0-9]{2}(?:[0-9]{2}){0,2}$/.test(o.region) || regionName(o.region).startsWith('未知')))) {
    badRecipient('region', 'must be a known GB/T 2260 code of 2, 4 or 6 digits, or empty');
  }
  const department = o.department ?? null;
  if (department !== null && (typeof department !== 'string' || department.trim().length === 0 || department.length > 64 || CONTROL.test(department))) {
    badRecipient('department', 'must be 1–64 characters or null');
  }
  const datasets = o.datasets ?? [];
  if (!Array.isArray(datasets) || datasets.length > 50 || datasets.some((d) => typeof d !== 'string' || !/^[a-z0-9-]{1,40}$/.test(d))) {
    badRecipient('datasets', 'must be a list of dataset ids (empty: all)');
  }
  const sftp = o.sftpRecipient ?? null;
  if (sftp !== null && (typeof sftp !== 'string' || !ID.test(sftp))) badRecipient('sftpRecipient', 'must be a forwarding recipient id or null');
  const dueHours = o.dueHours ?? 24;
  if (!Number.isInteger(dueHours) || (dueHours as number) < 1 || (dueHours as number) > 24 * 30) badRecipient('dueHours', 'must be 1–720 hours');
  return {
    name: o.name.trim(), region: o.region, department: department === null ? null : (department as string).trim(), datasets: datasets as string[],
    sftpRecipient: sftp as string | null, dueHours: dueHours as number,
  };
}

const sec = (d: Date | null): number | null => (d === null ? null : Math.floor(new Date(d).getTime() / 1000));

/** One CSV line, quoted where needed; a leading = + - @ is defused (the file is opened in spreadsheets). */
export function csvLine(cells: readonly (string | number)[]): string {
  return `${cells.map((c) => {
    let s = String(c);
    if (typeof c === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }).join(',')}\r\n`;
}

/** UTF-8 BOM: spreadsheet programs then read the Chinese text right. */
const BOM = '\ufeff';
const PAGE = 2000;
/** file rows per read of a batch's lineage when a return is made */
const WINDOW = 20_000;

interface ItemDb {
  id: string; recipient_id: string; recipient_name: string; batch_id: string; dataset: string; department: string; region: string; policy_version: number;
  policy: ReturnPolicy; rows: number; sha256: string; remote_name: string; created_at: Date; due_at: Date; push_status: ReturnItem['push']['status'];
  push_attempts: number; push_error: string | null; pushed_at: Date | null; downloads: number; first_downloaded_at: Date | null;
  last_downloaded_at: Date | null; acknowledged_at: Date | null; acknowledged_by: string | null;
}
const ITEM_SELECT = `SELECT i.id, i.recipient_id, r.name AS recipient_name, i.batch_id, i.dataset, b.department, i.region, i.policy_version, i.policy,
  i.rows, i.sha256, i.remote_name, i.created_at, i.due_at, i.push_status, i.push_attempts, i.push_error, i.pushed_at, i.downloads,
  i.first_downloaded_at, i.last_downloaded_at, i.acknowledged_at, i.acknowledged_by
  FROM exchange_return_items i JOIN exchange_return_recipients r ON r.id = i.recipient_id JOIN exchange_batches b ON b.id = i.batch_id`;

export class ReturnLedger {
  constructor(private readonly host: CapabilityHost, private readonly crypto: PiiCrypto) {}

  private get db(): SqlClient {
    return this.host.db;
  }

  // ── recipients and policies ──────────────────────────────────────────

  /** created_at is the database's clock: it is compared with the batches' finished_at, also the database's. */
  async setRecipient(id: string, x: ReturnRecipientInput, by: string): Promise<void> {
    if (x.sftpRecipient !== null) {
      const r = await this.db.query('SELECT 1 FROM exchange_recipients WHERE id = $1', [x.sftpRecipient]);
      if (r.rows.length === 0) badRecipient('sftpRecipient', 'no such forwarding recipient');
    }
    for (const d of x.datasets) {
      const r = await this.db.query('SELECT 1 FROM exchange_datasets WHERE id = $1 LIMIT 1', [d]);
      if (r.rows.length === 0) badRecipient('datasets', `no such dataset ${d}`);
    }
    await this.db.query(
      `INSERT INTO exchange_return_recipients (id, name, region, department, datasets, sftp_recipient, due_hours, updated_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, now(), $9)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region, department = EXCLUDED.department, datasets = EXCLUDED.datasets,
         sftp_recipient = EXCLUDED.sftp_recipient, due_hours = EXCLUDED.due_hours, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at`,
      [id, x.name, x.region, x.department, JSON.stringify(x.datasets), x.sftpRecipient, x.dueHours, by, new Date(this.host.nowMs())],
    );
  }

  /** Recipients the caller may see: its region's (a city officer: its city and the counties in it). */
  async recipients(prefix: string): Promise<ReturnRecipient[]> {
    const r = await this.db.query<{ id: string; name: string; region: string; department: string | null; datasets: string[]; sftp_recipient: string | null; due_hours: number; updated_by: string; updated_at: Date; v: number | null }>(
      `SELECT r.id, r.name, r.region, r.department, r.datasets, r.sftp_recipient, r.due_hours, r.updated_by, r.updated_at,
              (SELECT max(version) FROM exchange_return_policies p WHERE p.recipient_id = r.id) AS v
         FROM exchange_return_recipients r WHERE $1 = '' OR r.region LIKE $1 || '%' ORDER BY r.region, r.id`,
      [prefix],
    );
    return r.rows.map((x) => ({
      id: x.id, name: x.name, region: x.region, regionName: x.region === '' ? '全省' : regionName(x.region), department: x.department, datasets: x.datasets,
      sftpRecipient: x.sftp_recipient, dueHours: x.due_hours, policyVersion: x.v ?? 0, updatedBy: x.updated_by, updatedAt: sec(x.updated_at)!,
    }));
  }

  async recipient(id: string, prefix: string): Promise<ReturnRecipient> {
    const r = (await this.recipients(prefix)).find((x) => x.id === id);
    if (r === undefined) throw new ExchangeError('EXC_ERR_RETURN_RECIPIENT_NOT_FOUND');
    return r;
  }

  /** The policy in force (version 0 = the default: no policy set yet) and its history, newest first. */
  async policies(id: string): Promise<{ current: { version: number; policy: ReturnPolicy }; versions: { version: number; policy: ReturnPolicy; createdBy: string; createdAt: number }[] }> {
    const r = await this.db.query<{ version: number; policy: ReturnPolicy; created_by: string; created_at: Date }>(
      'SELECT version, policy, created_by, created_at FROM exchange_return_policies WHERE recipient_id = $1 ORDER BY version DESC', [id],
    );
    const versions = r.rows.map((x) => ({ version: x.version, policy: x.policy, createdBy: x.created_by, createdAt: sec(x.created_at)! }));
    return { current: versions[0] ?? { version: 0, policy: DEFAULT_POLICY }, versions };
  }

  async setPolicy(id: string, x: unknown, by: string): Promise<{ version: number; policy: ReturnPolicy }> {
    const policy = validatePolicy(x);
    const r = await this.db.query<{ version: number }>(
      `INSERT INTO exchange_return_policies (recipient_id, version, policy, created_by, created_at)
       SELECT $1, COALESCE(max(version), 0) + 1, $2::jsonb, $3, $4 FROM exchange_return_policies WHERE recipient_id = $1
       RETURNING version`,
      [id, JSON.stringify(policy), by, new Date(this.host.nowMs())],
    );
    return { version: r.rows[0]!.version, policy };
  }

  // ── making returns ───────────────────────────────────────────────────

  /**
   * Makes the returns not made yet: every finished batch (done) since the
   * recipient was set up, of its datasets (and, for a department, its own
   * uploads) × recipient. `batchId` limits it to one batch and also takes
   * batches older than the recipient (a deliberate backfill). Returns the ids made.
   */
  async produce(opts: { batchId?: string; actor?: string } = {}): Promise<string[]> {
    const due = await this.db.query<{ batch_id: string; recipient_id: string }>(
      `SELECT b.id AS batch_id, r.id AS recipient_id
         FROM exchange_batches b JOIN exchange_return_recipients r
           ON (jsonb_array_length(r.datasets) = 0 OR r.datasets ? b.dataset)
          AND (r.department IS NULL OR r.department = b.department)
          AND ($1::text IS NOT NULL OR b.finished_at >= r.created_at)
        WHERE b.status = 'done' AND ($1::text IS NULL OR b.id = $1)
          AND NOT EXISTS (SELECT 1 FROM exchange_return_items i WHERE i.recipient_id = r.id AND i.batch_id = b.id)
        ORDER BY b.finished_at, r.id LIMIT 200`,
      [opts.batchId ?? null],
    );
    const made: string[] = [];
    for (const d of due.rows) {
      const id = await this.makeOne(d.batch_id, d.recipient_id, opts.actor ?? 'system');
      if (id !== null) made.push(id);
    }
    return made;
  }

  private async makeOne(batchId: string, recipientId: string, actor: string): Promise<string | null> {
    const rc = await this.db.query<{ region: string; due_hours: number; sftp_recipient: string | null }>(
      'SELECT region, due_hours, sftp_recipient FROM exchange_return_recipients WHERE id = $1', [recipientId],
    );
    const b = await this.db.query<{ dataset: string }>('SELECT dataset FROM exchange_batches WHERE id = $1', [batchId]);
    const rcpt = rc.rows[0];
    if (rcpt === undefined || b.rows[0] === undefined) return null;
    const { current } = await this.policies(recipientId);
    const id = randomBytes(9).toString('base64url');
    const now = this.host.nowMs();
    const day = chinaTime(new Date(now)).slice(0, 10).replace(/-/g, '');
    return this.db.transaction(async (tx) => {
      // claim the (recipient, batch) pair first: a concurrent maker (another master) stops here
      const claim = await tx.query(
        `INSERT INTO exchange_return_items (id, recipient_id, batch_id, dataset, region, policy_version, policy, rows, sha256, remote_name, created_by, created_at, due_at, push_status, push_next_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 0, '', $8, $9, $10, $11, 'none', $10) ON CONFLICT (recipient_id, batch_id) DO NOTHING RETURNING id`,
        [id, recipientId, batchId, b.rows[0]!.dataset, rcpt.region, current.version, JSON.stringify(current.policy),
          `${b.rows[0]!.dataset}-${recipientId}-${day}-${id}.zip`, actor, new Date(now), new Date(now + rcpt.due_hours * 3600_000)],
      );
      if (claim.rows.length === 0) return null;
      const hash = createHash('sha256').update(BOM + csvLine(headerOf(current.policy)));
      let seq = 0;
      for await (const page of readClearRows(tx, this.crypto, batchId, rcpt.region)) {
        const sealed = page.map((r) => {
          const cells = applyPolicy(this.crypto, recipientId, current.policy, r);
          hash.update(csvLine(cells));
          seq += 1;
          return { s: seq, d: seal(this.crypto, `return:${id}:${seq}`, JSON.stringify(cells)).toString('hex') };
        });
        await tx.query(
          `INSERT INTO exchange_return_rows (item_id, seq, data) SELECT $1, x.s, decode(x.d, 'hex') FROM jsonb_to_recordset($2::jsonb) AS x(s int, d text)`,
          [id, JSON.stringify(sealed)],
        );
      }
      await tx.query(
        'UPDATE exchange_return_items SET rows = $2, sha256 = $3, push_status = $4 WHERE id = $1',
        [id, seq, hash.digest('hex'), seq > 0 && rcpt.sftp_recipient !== null ? 'pending' : 'none'],
      );
      return id;
    });
  }

  // ── reading the ledger ───────────────────────────────────────────────

  private toItem(x: ItemDb): ReturnItem {
    const now = this.host.nowMs();
    const taken = x.pushed_at !== null || x.first_downloaded_at !== null;
    return {
      id: x.id, recipientId: x.recipient_id, recipientName: x.recipient_name, batchId: x.batch_id, dataset: x.dataset, department: x.department,
      region: x.region, regionName: x.region === '' ? '全省' : regionName(x.region), policyVersion: x.policy_version, policy: x.policy, rows: x.rows,
      sha256: x.sha256, remoteName: x.remote_name, createdAt: sec(x.created_at)!, dueAt: sec(x.due_at)!,
      push: { status: x.push_status, attempts: x.push_attempts, error: x.push_error, at: sec(x.pushed_at) },
      downloads: x.downloads, firstDownloadedAt: sec(x.first_downloaded_at), lastDownloadedAt: sec(x.last_downloaded_at),
      acknowledgedAt: sec(x.acknowledged_at), acknowledgedBy: x.acknowledged_by,
      state: x.rows === 0 ? 'empty' : x.acknowledged_at !== null ? 'acknowledged' : taken ? 'taken' : 'waiting',
      overdue: x.rows > 0 && x.acknowledged_at === null && new Date(x.due_at).getTime() <= now,
    };
  }

  /** The ledger in the caller's region, newest first; `todo`: made, with rows, not acknowledged (overdue first). */
  async items(prefix: string, q: { recipient?: string; batch?: string; todo?: boolean; limit?: number; offset?: number } = {}): Promise<ReturnItem[]> {
    const r = await this.db.query<ItemDb>(
      `${ITEM_SELECT}
        WHERE ($1 = '' OR i.region LIKE $1 || '%') AND ($2::text IS NULL OR i.recipient_id = $2) AND ($3::text IS NULL OR i.batch_id = $3)
          AND (NOT $4::boolean OR (i.rows > 0 AND i.acknowledged_at IS NULL))
        ORDER BY ${q.todo === true ? 'i.due_at, i.id' : 'i.created_at DESC, i.id'} LIMIT $5 OFFSET $6`,
      [prefix, q.recipient ?? null, q.batch ?? null, q.todo === true, q.limit ?? 100, q.offset ?? 0],
    );
    return r.rows.map((x) => this.toItem(x));
  }

  /** One return, if the caller's region covers its recipient (otherwise: not found, the same as a wrong id). */
  async item(id: string, prefix: string): Promise<ReturnItem> {
    const r = await this.db.query<ItemDb>(`${ITEM_SELECT} WHERE i.id = $1`, [id]);
    const x = r.rows[0];
    if (x === undefined || !inScope(prefix, x.region) || (prefix !== '' && x.region === '')) throw new ExchangeError('EXC_ERR_RETURN_NOT_FOUND');
    return this.toItem(x);
  }

  async takes(id: string): Promise<{ how: string; actor: string; at: number }[]> {
    const r = await this.db.query<{ how: string; actor: string; at: Date }>('SELECT how, actor, at FROM exchange_return_takes WHERE item_id = $1 ORDER BY id', [id]);
    return r.rows.map((x) => ({ how: x.how, actor: x.actor, at: sec(x.at)! }));
  }

  /** The sealed rows of a return, page by page, opened (cells as the recipient gets them). */
  async *cells(id: string): AsyncGenerator<(string | number)[][]> {
    let after = 0;
    for (;;) {
      const r = await this.db.query<{ seq: number; data: Buffer }>(
        'SELECT seq, data FROM exchange_return_rows WHERE item_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [id, after, PAGE],
      );
      if (r.rows.length === 0) return;
      yield r.rows.map((x) => JSON.parse(open(this.crypto, `return:${id}:${x.seq}`, Buffer.from(x.data))) as (string | number)[]);
      after = r.rows[r.rows.length - 1]!.seq;
      if (r.rows.length < PAGE) return;
    }
  }

  /** The return as CSV (UTF-8 with BOM): exactly the bytes its sha256 was taken of. */
  async writeCsv(item: ReturnItem, out: Writable): Promise<void> {
    const write = (s: string): Promise<void> => new Promise((resolve) => (out.write(s) ? resolve() : out.once('drain', () => resolve())));
    await write(BOM + csvLine(headerOf(item.policy)));
    for await (const page of this.cells(item.id)) await write(page.map(csvLine).join(''));
    out.end();
  }

  async writeXlsx(item: ReturnItem, out: Writable): Promise<void> {
    const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: false });
    const ws = wb.addWorksheet('返还数据');
    ws.addRow(headerOf(item.policy)).commit();
    for await (const page of this.cells(item.id)) for (const c of page) ws.addRow(c).commit();
    ws.commit();
    await wb.commit();
  }

  /** One download: counted on the ledger row and kept as its own taking (re-downloads are visible, not hidden). */
  async recordTake(id: string, how: 'csv' | 'xlsx' | 'ack' | 'push', actor: string, db: SqlClient = this.db): Promise<void> {
    const at = new Date(this.host.nowMs());
    await db.query('INSERT INTO exchange_return_takes (item_id, how, actor, at) VALUES ($1, $2, $3, $4)', [id, how, actor, at]);
    if (how === 'csv' || how === 'xlsx') {
      await db.query(
        `UPDATE exchange_return_items SET downloads = downloads + 1, first_downloaded_at = COALESCE(first_downloaded_at, $2), last_downloaded_at = $2 WHERE id = $1`,
        [id, at],
      );
    }
  }

  /** 签收: the recipient confirms it has the return; idempotent (a second ack keeps the first time). */
  async acknowledge(id: string, actor: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const r = await tx.query(
        'UPDATE exchange_return_items SET acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1 AND acknowledged_at IS NULL RETURNING id',
        [id, new Date(this.host.nowMs()), actor],
      );
      if (r.rows.length > 0) await this.recordTake(id, 'ack', actor, tx);
    });
  }

  /**
   * Monitoring: per recipient and China day (of making), returns made, rows,
   * pushed, downloaded, downloaded more than once, acknowledged, overdue —
   * and per recipient the finished batches it should have got and has not
   * (`missing`: nothing may fall through).
   */
  async stats(prefix: string, days: number): Promise<{ days: Record<string, unknown>[]; missing: { recipientId: string; batches: number }[] }> {
    const now = new Date(this.host.nowMs());
    const since = new Date(this.host.nowMs() - days * 86_400_000);
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT i.recipient_id AS "recipientId", r.name AS "recipientName", to_char(i.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day,
              count(*) FILTER (WHERE i.rows > 0)::int AS returns, COALESCE(sum(i.rows), 0)::int AS rows,
              count(*) FILTER (WHERE i.push_status = 'sent')::int AS pushed, count(*) FILTER (WHERE i.push_status = 'failed')::int AS "pushFailed",
              count(*) FILTER (WHERE i.downloads > 0)::int AS downloaded, count(*) FILTER (WHERE i.downloads > 1)::int AS redownloaded,
              count(*) FILTER (WHERE i.acknowledged_at IS NOT NULL)::int AS acknowledged,
              count(*) FILTER (WHERE i.rows > 0 AND i.acknowledged_at IS NULL AND i.due_at <= $3)::int AS overdue
         FROM exchange_return_items i JOIN exchange_return_recipients r ON r.id = i.recipient_id
        WHERE ($1 = '' OR i.region LIKE $1 || '%') AND i.created_at >= $2
        GROUP BY 1, 2, 3 ORDER BY 3 DESC, 1`,
      [prefix, since, now],
    );
    const m = await this.db.query<{ recipientId: string; batches: number }>(
      `SELECT r.id AS "recipientId", count(*)::int AS batches
         FROM exchange_batches b JOIN exchange_return_recipients r
           ON (jsonb_array_length(r.datasets) = 0 OR r.datasets ? b.dataset) AND (r.department IS NULL OR r.department = b.department)
          AND b.finished_at >= r.created_at
        WHERE b.status = 'done' AND ($1 = '' OR r.region LIKE $1 || '%')
          AND NOT EXISTS (SELECT 1 FROM exchange_return_items i WHERE i.recipient_id = r.id AND i.batch_id = b.id)
        GROUP BY 1 ORDER BY 1`,
      [prefix],
    );
    return { days: r.rows, missing: m.rows };
  }

  /** Raises one `exchange.return_overdue` alert per return past its due time and not acknowledged. Returns how many. */
  async checkOverdue(): Promise<number> {
    const now = new Date(this.host.nowMs());
    const due = await this.db.query<{ id: string; recipient_id: string; name: string; region: string; dataset: string; rows: number; due_at: Date }>(
      `SELECT i.id, i.recipient_id, r.name, i.region, i.dataset, i.rows, i.due_at FROM exchange_return_items i JOIN exchange_return_recipients r ON r.id = i.recipient_id
        WHERE i.rows > 0 AND i.acknowledged_at IS NULL AND i.overdue_alerted_at IS NULL AND i.due_at <= $1 ORDER BY i.due_at LIMIT 200`,
      [now],
    );
    let n = 0;
    for (const x of due.rows) {
      await this.db.transaction(async (tx) => {
        const claim = await tx.query('UPDATE exchange_return_items SET overdue_alerted_at = $2 WHERE id = $1 AND overdue_alerted_at IS NULL RETURNING id', [x.id, now]);
        if (claim.rows.length === 0) return;
        await raiseAlertEvent(tx, {
          source: 'exchange', kind: 'exchange.return_overdue', severity: 'warning', key: `return-recipient:${x.recipient_id}`,
          summary: `返还给${x.name}的数据（${x.rows} 条）已超过领取时限（${chinaTime(x.due_at).slice(0, 16)}）仍未签收`,
          details: { return: x.id, recipient: x.recipient_id, dataset: x.dataset, rows: x.rows },
          region: x.region === '' ? null : x.region,
        });
        n += 1;
      });
    }
    return n;
  }
}

/**
 * The processed rows of a batch for persons resident under `regionPrefix`
 * ('' = all), in clear, page by page in row order — read back from what the
 * import wrote (facts and vaccinations by lineage `<batch>:<row>`); identities
 * decrypted only to be masked by the caller.
 */
export async function* readClearRows(db: SqlClient, crypto: PiiCrypto, batchId: string, regionPrefix: string): AsyncGenerator<ClearRow[]> {
  // Paged by windows of row numbers, not by LIMIT: a row that produced two records stays in one page.
  // Each window scans the batch's lineage (facts has no index on source_ref): wide windows, few scans.
  const b = await db.query<{ next_row: number }>('SELECT next_row FROM exchange_batches WHERE id = $1', [batchId]);
  const last = b.rows[0]?.next_row ?? 0;
  for (let after = 0; after <= last; after += WINDOW) {
    const r = await db.query<{ n: number; kind: string; at: Date; result: string | null; uid: Buffer; cert_type: string | null; cert_enc: Buffer | null; phone_enc: Buffer | null; name_enc: Buffer | null; name_masked: string; region: string | null }>(
      `SELECT x.n, x.kind, x.at, x.result, p.uid, p.cert_type, p.cert_enc, p.phone_enc, p.name_enc, p.name_masked, p.region
         FROM (SELECT split_part(source_ref, ':', 2)::int AS n, person_id, kind, at, result FROM facts WHERE source_ref LIKE $1
               UNION ALL
               SELECT split_part(source_ref, ':', 2)::int, person_id, 'vaccination', at, NULL FROM exchange_vaccinations WHERE source_ref LIKE $1) x
         JOIN persons p ON p.id = x.person_id
        WHERE ($2 = '' OR p.region LIKE $2 || '%') AND x.n > $3 AND x.n <= $4
        ORDER BY x.n, x.kind, x.at`,
      [`${batchId}:%`, regionPrefix, after, after + WINDOW],
    );
    if (r.rows.length === 0) continue;
    yield r.rows.map((x) => {
      const uid = Buffer.from(x.uid);
      return {
        row: x.n,
        idType: x.cert_type === null ? '' : ID_TYPE_ZH[x.cert_type] ?? '',
        idNo: x.cert_enc === null ? '' : crypto.decrypt('cert', uid, Buffer.from(x.cert_enc)),
        name: x.name_enc === null ? x.name_masked : crypto.decrypt('name', uid, Buffer.from(x.name_enc)),
        phone: x.phone_enc === null ? '' : crypto.decrypt('phone', uid, Buffer.from(x.phone_enc)),
        region: x.region ?? '',
        kind: KIND_ZH[x.kind] ?? '',
        at: chinaTime(x.at),
        result: x.result === null ? '' : RESULT_ZH[x.result] ?? '',
      };
    });
  }
}
