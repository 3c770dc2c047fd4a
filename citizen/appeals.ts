import { maskPhone, normalisePhone } from '../core/identity.js';
import { regionName } from '../core/regions.js';
import { raiseAlertEvent } from '../master/alert-events.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import type { SqlClient } from '../master/sql-client.js';
import type { PersonRow } from '../master/store.js';
import type { CapabilityHost } from '../admin-api/capability.js';
import type { CitizenConfig } from './config.js';
import { CitizenError } from './errors.js';
import {
  APPEAL_STATUS_ZH, APPEAL_TYPE_ZH, APPEAL_TYPES, RESOLUTION_ZH, RESOLUTIONS,
  type AppealStatus, type AppealType, type Resolution,
} from './labels.js';
import { decodePhoto, PhotoVault } from './photo-vault.js';
import { Sealer } from './seal.js';
import { cleanText } from './text-input.js';

/**
 * 我要申诉 as work orders.
 *
 *   citizen page / hotline seat ──file──▶ open ──accept──▶ accepted ──reply──▶ replied ──close──▶ closed
 *                                          └──────────────── reply / close allowed from any earlier state ─┘
 *
 * An order belongs to the region of the person (persons.region at filing
 * time): city officers see and handle their prefix only. Each type has an
 * SLA (config); an order not closed by its due time is flagged overdue and
 * an alert event is raised in the same transaction (sweepOverdue).
 *
 * Flood guard: at most `appealsPerDay` orders per person in 24 h, counted
 * under a row lock on the person so two parallel requests cannot both pass;
 * the refused one changes nothing (and its photo file is removed).
 */
export interface FileInput {
  readonly type: unknown;
  readonly text: unknown;
  readonly contact?: unknown;
  readonly photo?: unknown;
}

export interface AppealRow {
  readonly id: number;
  readonly personId: number;
  readonly region: string | null;
  readonly type: AppealType;
  readonly text: string;
  readonly hasPhoto: boolean;
  readonly photoType: string | null;
  readonly photoFile: string | null;
  readonly contactEnc: Buffer | null;
  readonly channel: 'page' | 'hotline';
  readonly filedBy: string;
  readonly status: AppealStatus;
  readonly assignee: string | null;
  readonly reply: string | null;
  readonly resolution: Resolution | null;
  /** unix ms */
  readonly createdAt: number;
  readonly acceptedAt: number | null;
  readonly repliedAt: number | null;
  readonly closedAt: number | null;
  readonly dueAt: number;
  readonly overdue: boolean;
}

interface DbRow {
  id: string | number; person_id: string | number; region: string | null; type: AppealType; text: string;
  photo_file: string | null; photo_type: string | null; contact_enc: Buffer | Uint8Array | null; channel: 'page' | 'hotline';
  filed_by: string; status: AppealStatus; assignee: string | null; reply: string | null; resolution: Resolution | null;
  created_ms: string | number; accepted_ms: string | number | null; replied_ms: string | number | null;
  closed_ms: string | number | null; due_ms: string | number; overdue: boolean;
}

const COLUMNS = `id, person_id, region, type, text, photo_file, photo_type, contact_enc, channel, filed_by, status, assignee, reply,
  resolution, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms, (extract(epoch FROM accepted_at) * 1000)::bigint AS accepted_ms,
  (extract(epoch FROM replied_at) * 1000)::bigint AS replied_ms, (extract(epoch FROM closed_at) * 1000)::bigint AS closed_ms,
  (extract(epoch FROM due_at) * 1000)::bigint AS due_ms, overdue`;

const ms = (v: string | number | null): number | null => (v === null ? null : Number(v));

function toRow(r: DbRow): AppealRow {
  return {
    id: Number(r.id), personId: Number(r.person_id), region: r.region, type: r.type, text: r.text,
    hasPhoto: r.photo_type !== null, photoType: r.photo_type, photoFile: r.photo_file,
    contactEnc: r.contact_enc === null ? null : Buffer.from(r.contact_enc), channel: r.channel, filedBy: r.filed_by,
    status: r.status, assignee: r.assignee, reply: r.reply, resolution: r.resolution, createdAt: Number(r.created_ms),
    acceptedAt: ms(r.accepted_ms), repliedAt: ms(r.replied_ms), closedAt: ms(r.closed_ms), dueAt: Number(r.due_ms), overdue: r.overdue,
  };
}

const at = (msValue: number): Date => new Date(msValue);

export interface AppealFilter {
  readonly regionPrefix: string;
  readonly status?: AppealStatus;
  readonly type?: AppealType;
  readonly overdue?: boolean;
  readonly limit?: number;
}

export interface AppealStats {
  readonly total: number;
  readonly byType: { type: AppealType; typeZh: string; total: number; open: number; overdue: number; closed: number; avgHoursToClose: number | null }[];
  readonly byRegion: { region: string | null; regionZh: string; total: number; open: number; overdue: number }[];
  readonly closeHours: { n: number; avg: number | null; p50: number | null; p90: number | null };
  /** orders filed per China day, last 14 days (for the chart) */
  readonly perDay: { day: string; filed: number; closed: number }[];
}

export class Appeals {
  readonly photos: PhotoVault;
  private readonly pii: PiiCrypto;
  private readonly sms: Sealer;

  constructor(private readonly host: CapabilityHost, private readonly cfg: CitizenConfig) {
    this.photos = new PhotoVault(cfg.dataDir, host.secrets);
    this.pii = new PiiCrypto(host.secrets);
    this.sms = new Sealer(host.secrets, 'sms');
  }

  /** Files an order for `person` (checked input; flood guard; photo encrypted). */
  async file(person: PersonRow, input: FileInput, by: { channel: 'page' | 'hotline'; filedBy: string }): Promise<AppealRow> {
    if (typeof input.type !== 'string' || !(APPEAL_TYPES as readonly string[]).includes(input.type)) {
      throw new CitizenError('CIT_ERR_INVALID', `must be one of ${APPEAL_TYPES.join(', ')}`, 'type');
    }
    const type = input.type as AppealType;
    const text = cleanText('text', input.text, 2000);
    let contact: string | null = null;
    if (input.contact !== undefined && input.contact !== null && input.contact !== '') {
      if (typeof input.contact !== 'string') throw new CitizenError('CIT_ERR_INVALID', 'must be a mobile number', 'contact');
      try {
        contact = normalisePhone(input.contact);
      } catch {
        throw new CitizenError('CIT_ERR_INVALID', 'must be a mainland mobile number', 'contact');
      }
    }
    const photo = input.photo === undefined || input.photo === null ? null : decodePhoto(input.photo);
    const now = this.host.nowMs();
    const due = now + this.cfg.slaHours[type] * 3600_000;
    // the file first (outside the transaction), removed again if the order does not commit
    const photoFile = photo === null ? null : this.photos.put(photo.bytes);
    try {
      return await this.host.db.transaction(async (tx) => {
        await tx.query('SELECT id FROM persons WHERE id = $1 FOR UPDATE', [person.id]);
        const n = await tx.query<{ n: string | number }>(
          'SELECT count(*) AS n FROM cit_appeals WHERE person_id = $1 AND created_at > $2',
          [person.id, at(now - 86_400_000)],
        );
        if (Number(n.rows[0]!.n) >= this.cfg.appealsPerDay) {
          throw new CitizenError('CIT_ERR_APPEAL_FLOOD', `at most ${this.cfg.appealsPerDay} in 24 hours`);
        }
        const r = await tx.query<DbRow>(
          `INSERT INTO cit_appeals (person_id, region, type, text, photo_file, photo_type, photo_bytes, contact_hash, contact_enc,
                                    channel, filed_by, created_at, due_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
          [
            person.id, person.region, type, text, photoFile, photo?.type ?? null, photo?.bytes.length ?? null,
            contact === null ? null : this.pii.lookupHash(`P:${contact}`),
            contact === null ? null : this.pii.encrypt('phone', person.uid, contact),
            by.channel, by.filedBy, at(now), at(due),
          ],
        );
        const row = toRow(r.rows[0]!);
        await this.event(tx, row.id, now, by.channel === 'page' ? 'citizen' : by.filedBy, 'filed', null);
        return row;
      });
    } catch (err) {
      if (photoFile !== null) this.photos.drop(photoFile);
      throw err;
    }
  }

  private async event(tx: SqlClient, id: number, nowMs: number, actor: string, action: string, note: string | null): Promise<void> {
    await tx.query('INSERT INTO cit_appeal_events (appeal_id, at, actor, action, note) VALUES ($1, $2, $3, $4, $5)', [id, at(nowMs), actor, action, note]);
  }

  async get(id: number): Promise<AppealRow> {
    if (!Number.isSafeInteger(id) || id < 1) throw new CitizenError('CIT_ERR_APPEAL_NOT_FOUND');
    const r = await this.host.db.query<DbRow>(`SELECT ${COLUMNS} FROM cit_appeals WHERE id = $1`, [id]);
    if (r.rows.length === 0) throw new CitizenError('CIT_ERR_APPEAL_NOT_FOUND');
    return toRow(r.rows[0]!);
  }

  /** The citizen's own orders, newest first. */
  async ofPerson(personId: number, limit = 50): Promise<AppealRow[]> {
    const r = await this.host.db.query<DbRow>(`SELECT ${COLUMNS} FROM cit_appeals WHERE person_id = $1 ORDER BY id DESC LIMIT $2`, [personId, limit]);
    return r.rows.map(toRow);
  }

  async list(f: AppealFilter): Promise<AppealRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.regionPrefix !== '') {
      args.push(`${f.regionPrefix}%`);
      where.push(`region LIKE $${args.length}`);
    }
    if (f.status !== undefined) {
      args.push(f.status);
      where.push(`status = $${args.length}`);
    }
    if (f.type !== undefined) {
      args.push(f.type);
      where.push(`type = $${args.length}`);
    }
    if (f.overdue !== undefined) {
      args.push(f.overdue);
      where.push(`overdue = $${args.length}`);
    }
    args.push(f.limit ?? 200);
    const r = await (this.host.readDb ?? this.host.db).query<DbRow>(
      `SELECT ${COLUMNS} FROM cit_appeals ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY (status = 'closed'), overdue DESC, due_at, id LIMIT $${args.length}`,
      args,
    );
    return r.rows.map(toRow);
  }

  async events(id: number): Promise<{ at: number; actor: string; action: string; note: string | null }[]> {
    const r = await this.host.db.query<{ at_ms: string | number; actor: string; action: string; note: string | null }>(
      `SELECT (extract(epoch FROM at) * 1000)::bigint AS at_ms, actor, action, note FROM cit_appeal_events WHERE appeal_id = $1 ORDER BY id`,
      [id],
    );
    return r.rows.map((x) => ({ at: Number(x.at_ms), actor: x.actor, action: x.action, note: x.note }));
  }

  /** Decrypted call-back number (for officials allowed to see it), else null. */
  contactOf(a: AppealRow, uid: Buffer, masked: boolean): string | null {
    if (a.contactEnc === null) return null;
    const phone = this.pii.decrypt('phone', uid, a.contactEnc);
    return masked ? maskPhone(phone) : phone;
  }

  /**
   * One step of the order, in one transaction with `sameTx` (the audit
   * entry): the state is re-read under a row lock so two seats cannot both
   * accept the same order.
   */
  async step(
    id: number, action: 'accept' | 'reply' | 'close', actor: string,
    body: { reply?: unknown; resolution?: unknown }, sameTx: (tx: SqlClient, a: AppealRow) => Promise<void>,
    check: (a: AppealRow) => void,
  ): Promise<AppealRow> {
    const reply = action === 'reply' ? cleanText('reply', body.reply, 2000) : null;
    let resolution: Resolution | null = null;
    if (action === 'close') {
      if (typeof body.resolution !== 'string' || !(RESOLUTIONS as readonly string[]).includes(body.resolution)) {
        throw new CitizenError('CIT_ERR_INVALID', `must be one of ${RESOLUTIONS.join(', ')}`, 'resolution');
      }
      resolution = body.resolution as Resolution;
    }
    const now = this.host.nowMs();
    return this.host.db.transaction(async (tx) => {
      const cur = await tx.query<DbRow>(`SELECT ${COLUMNS} FROM cit_appeals WHERE id = $1 FOR UPDATE`, [id]);
      if (cur.rows.length === 0) throw new CitizenError('CIT_ERR_APPEAL_NOT_FOUND');
      const a = toRow(cur.rows[0]!);
      check(a);
      let r;
      if (action === 'accept') {
        if (a.status !== 'open') throw new CitizenError('CIT_ERR_APPEAL_STATE', `is ${a.status}`);
        r = await tx.query<DbRow>(
          `UPDATE cit_appeals SET status = 'accepted', assignee = $2, accepted_at = $3 WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, actor, at(now)],
        );
      } else if (action === 'reply') {
        if (a.status === 'closed') throw new CitizenError('CIT_ERR_APPEAL_STATE', 'is closed');
        r = await tx.query<DbRow>(
          `UPDATE cit_appeals SET status = 'replied', reply = $2, replied_at = $3, assignee = COALESCE(assignee, $4),
                  accepted_at = COALESCE(accepted_at, $3) WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, reply, at(now), actor],
        );
      } else {
        if (a.status === 'closed') throw new CitizenError('CIT_ERR_APPEAL_STATE', 'is closed');
        if (a.reply === null) throw new CitizenError('CIT_ERR_APPEAL_STATE', 'reply to the citizen before closing');
        r = await tx.query<DbRow>(
          `UPDATE cit_appeals SET status = 'closed', resolution = $2, closed_at = $3 WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, resolution, at(now)],
        );
      }
      const row = toRow(r.rows[0]!);
      if (action === 'reply' && row.contactEnc !== null) {
        // tell the citizen there is an answer (not the answer itself: an SMS is read on a lock screen)
        const u = await tx.query<{ uid: Uint8Array }>('SELECT uid FROM persons WHERE id = $1', [row.personId]);
        const phone = this.pii.decrypt('phone', Buffer.from(u.rows[0]!.uid), row.contactEnc);
        await tx.query(
          "INSERT INTO cit_sms_outbox (person_id, purpose, phone_enc, text_enc, created_at) VALUES ($1, 'appeal_reply', $2, $3, $4)",
          [row.personId, this.sms.seal(phone), this.sms.seal(`【健康码】您的申诉（工单 ${row.id}）已有答复，请在健康码页面“便民服务 - 我要申诉”中查看。`), at(now)],
        );
      }
      await this.event(tx, id, now, actor, action === 'accept' ? 'accepted' : action === 'reply' ? 'replied' : 'closed',
        action === 'close' ? RESOLUTION_ZH[resolution!] : null);
      await sameTx(tx, row);
      return row;
    });
  }

  /**
   * Flags orders past their due time that are not closed, and raises one
   * alert event per order, in one transaction: a crash between the two is
   * impossible, and a flagged order is never alerted twice.
   */
  async sweepOverdue(): Promise<number> {
    const now = this.host.nowMs();
    return this.host.db.transaction(async (tx) => {
      const r = await tx.query<{ id: string | number; type: AppealType; region: string | null; due_ms: string | number }>(
        `UPDATE cit_appeals SET overdue = true WHERE status <> 'closed' AND NOT overdue AND due_at < $1
         RETURNING id, type, region, (extract(epoch FROM due_at) * 1000)::bigint AS due_ms`,
        [at(now)],
      );
      for (const x of r.rows) {
        const id = Number(x.id);
        await this.event(tx, id, now, 'system', 'overdue', null);
        await raiseAlertEvent(tx, {
          source: 'citizen', kind: 'citizen.appeal_overdue', severity: 'warning', key: `appeal:${id}`,
          summary: `申诉工单 ${id} 超时未办结（${APPEAL_TYPE_ZH[x.type]}，${regionName(x.region)}）`,
          details: { appealId: id, type: x.type, dueAt: Number(x.due_ms), slaHours: this.cfg.slaHours[x.type] },
          region: x.region, atMs: now,
        });
      }
      return r.rows.length;
    });
  }

  /**
   * Photos are evidence for handling the order, not a record to keep: once
   * an order has been closed for CITIZEN_PHOTO_DAYS, its photo file is
   * deleted and the order keeps only that it had one (PIPL art. 19).
   */
  async purgePhotos(): Promise<number> {
    const files = await this.host.db.transaction(async (tx) => {
      const r = await tx.query<{ id: string | number; photo_file: string }>(
        `SELECT id, photo_file FROM cit_appeals WHERE status = 'closed' AND photo_file IS NOT NULL AND closed_at < $1 FOR UPDATE`,
        [at(this.host.nowMs() - this.cfg.photoDays * 86_400_000)],
      );
      if (r.rows.length > 0) await tx.query('UPDATE cit_appeals SET photo_file = NULL WHERE id = ANY($1::bigint[])', [r.rows.map((x) => Number(x.id))]);
      return r.rows.map((x) => x.photo_file);
    });
    // after the commit: a crash in between leaves an orphan file, never an order pointing at nothing
    for (const f of files) this.photos.drop(f);
    return files.length;
  }

  async stats(regionPrefix: string, nowMs = this.host.nowMs()): Promise<AppealStats> {
    const db = this.host.readDb ?? this.host.db;
    const scope = regionPrefix === '' ? 'true' : 'region LIKE $1';
    const args = regionPrefix === '' ? [] : [`${regionPrefix}%`];
    const byType = await db.query<{ type: AppealType; total: string; open: string; overdue: string; closed: string; avg_h: string | number | null }>(
      `SELECT type, count(*) AS total, count(*) FILTER (WHERE status <> 'closed') AS open,
              count(*) FILTER (WHERE overdue AND status <> 'closed') AS overdue, count(*) FILTER (WHERE status = 'closed') AS closed,
              avg(extract(epoch FROM closed_at - created_at) / 3600) FILTER (WHERE status = 'closed') AS avg_h
         FROM cit_appeals WHERE ${scope} GROUP BY type ORDER BY type`,
      args,
    );
    const byRegion = await db.query<{ city: string | null; total: string; open: string; overdue: string }>(
      `SELECT substr(region, 1, 4) AS city, count(*) AS total, count(*) FILTER (WHERE status <> 'closed') AS open,
              count(*) FILTER (WHERE overdue AND status <> 'closed') AS overdue
         FROM cit_appeals WHERE ${scope} GROUP BY 1 ORDER BY 2 DESC`,
      args,
    );
    const hours = await db.query<{ h: string | number }>(
      `SELECT extract(epoch FROM closed_at - created_at) / 3600 AS h FROM cit_appeals WHERE status = 'closed' AND ${scope} ORDER BY 1`,
      args,
    );
    const hs = hours.rows.map((x) => Number(x.h));
    const q = (p: number): number | null => (hs.length === 0 ? null : round(hs[Math.min(hs.length - 1, Math.floor(p * hs.length))]!));
    const from = nowMs - 13 * 86_400_000;
    const perDayRows = await db.query<{ day: string; filed: string; closed: string }>(
      `SELECT d::date::text AS day,
              (SELECT count(*) FROM cit_appeals WHERE ${scope} AND (created_at AT TIME ZONE 'Asia/Shanghai')::date = d::date) AS filed,
              (SELECT count(*) FROM cit_appeals WHERE ${scope} AND (closed_at AT TIME ZONE 'Asia/Shanghai')::date = d::date) AS closed
         FROM generate_series(($${args.length + 1}::timestamptz AT TIME ZONE 'Asia/Shanghai')::date,
                              ($${args.length + 2}::timestamptz AT TIME ZONE 'Asia/Shanghai')::date, interval '1 day') AS d ORDER BY 1`,
      [...args, at(from), at(nowMs)],
    );
    return {
      total: byType.rows.reduce((s, x) => s + Number(x.total), 0),
      byType: byType.rows.map((x) => ({
        type: x.type, typeZh: APPEAL_TYPE_ZH[x.type], total: Number(x.total), open: Number(x.open), overdue: Number(x.overdue),
        closed: Number(x.closed), avgHoursToClose: x.avg_h === null ? null : round(Number(x.avg_h)),
      })),
      byRegion: byRegion.rows.map((x) => ({
        region: x.city, regionZh: x.city === null ? '未知地区' : regionName(x.city), total: Number(x.total), open: Number(x.open), overdue: Number(x.overdue),
      })),
      closeHours: { n: hs.length, avg: hs.length === 0 ? null : round(hs.reduce((s, h) => s + h, 0) / hs.length), p50: q(0.5), p90: q(0.9) },
      perDay: perDayRows.rows.map((x) => ({ day: x.day, filed: Number(x.filed), closed: Number(x.closed) })),
    };
  }
}

function round(h: number): number {
  return Math.round(h * 10) / 10;
}

/** What the citizen sees of an order (Chinese labels; no official's name). */
export function citizenView(a: AppealRow): Record<string, unknown> {
  return {
    id: a.id, type: a.type, typeZh: APPEAL_TYPE_ZH[a.type], text: a.text, hasPhoto: a.hasPhoto, status: a.status,
    statusZh: APPEAL_STATUS_ZH[a.status], reply: a.reply, resolution: a.resolution,
    resolutionZh: a.resolution === null ? null : RESOLUTION_ZH[a.resolution], createdAt: a.createdAt, repliedAt: a.repliedAt,
    closedAt: a.closedAt, dueAt: a.dueAt, channel: a.channel,
  };
}

/** What an official's list shows (no identity; region by name). */
export function officialView(a: AppealRow): Record<string, unknown> {
  return {
    ...citizenView(a), region: a.region, regionZh: regionName(a.region), assignee: a.assignee, filedBy: a.filedBy,
    overdue: a.overdue, acceptedAt: a.acceptedAt,
  };
}
