import { randomInt, timingSafeEqual } from 'node:crypto';
import { normalisePhone } from '../core/identity.js';
import { regionName, regionShortName } from '../core/regions.js';
import type { Fact } from '../core/facts.js';
import type { CapabilityHost } from '../admin-api/capability.js';
import { PiiCrypto } from '../master/pii-crypto.js';
import type { PersonRow } from '../master/store.js';
import type { CitizenConfig } from './config.js';
import { CitizenError } from './errors.js';
import { Sealer } from './seal.js';

/**
 * 行程卡: the cities a phone stayed in over the last 14 days (carrier data,
 * master table carrier_stays, written by the exchange imports), shown after
 * the citizen proves they hold the phone with an SMS code.
 *
 *   POST /citizen/v1/travel-card/code {phone}        → code issued (hash kept), message to the SMS outbox
 *   POST /citizen/v1/travel-card {phone, code}       → the card; risk-city stays become rule facts
 *
 * Limits: one code a minute and five an hour per phone, five an hour per
 * person; a code lives 5 minutes and allows 5 wrong tries (then a new one is
 * needed). Stays in a city with a high- or medium-risk area (risk_areas) are
 * marked, and each such stay is added once as a `risk_area_visit` fact of
 * the person (rules: arrived from a risk area → yellow).
 */
export const CODE_TTL_MS = 5 * 60_000;
export const MAX_WRONG = 5;
const PER_MINUTE = 1;
const PER_HOUR = 5;
const DAY_MS = 86_400_000;
const CN_OFFSET_MS = 8 * 3600_000;

/** One queued message, opened for the sender. */
export interface PendingSms {
  readonly id: number;
  readonly purpose: 'travel_card' | 'appeal_reply';
  readonly createdMs: number;
  readonly phone: string;
  readonly text: string;
}

export interface CardStay {
  readonly region: string;
  readonly regionZh: string;
  readonly cityZh: string;
  /** China dates YYYY-MM-DD */
  readonly firstDay: string;
  readonly lastDay: string;
  readonly days: number;
  readonly risk: 'high' | 'medium' | null;
  readonly riskZh: string | null;
}

export interface TravelCard {
  readonly phoneMasked: string;
  /** the 14 China days covered, first and last */
  readonly from: string;
  readonly to: string;
  readonly stays: readonly CardStay[];
  readonly anyRisk: boolean;
  /** facts added by this view (stays in risk cities not reported before) */
  readonly factsAdded: number;
  readonly generatedAt: number;
}

function chinaDay(ms: number): string {
  return new Date(ms + CN_OFFSET_MS).toISOString().slice(0, 10);
}

function phoneOf(v: unknown): string {
  if (typeof v !== 'string') throw new CitizenError('CIT_ERR_INVALID', 'must be a mobile number', 'phone');
  try {
    return normalisePhone(v);
  } catch {
    throw new CitizenError('CIT_ERR_INVALID', 'must be a mainland mobile number', 'phone');
  }
}

export class TravelCards {
  private readonly pii: PiiCrypto;
  private readonly sealer: Sealer;

  constructor(private readonly host: CapabilityHost, private readonly cfg: CitizenConfig) {
    this.pii = new PiiCrypto(host.secrets);
    this.sealer = new Sealer(host.secrets, 'sms');
  }

  /** Issues a 6-digit code for `phone` to `person`; returns it only when the development field is on. */
  async sendCode(person: PersonRow, phoneInput: unknown): Promise<{ expiresAt: number; devCode?: string }> {
    const phone = phoneOf(phoneInput);
    const phoneHash = this.pii.lookupHash(`P:${phone}`);
    const now = this.host.nowMs();
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    await this.host.db.transaction(async (tx) => {
      await tx.query('SELECT id FROM persons WHERE id = $1 FOR UPDATE', [person.id]);
      const r = await tx.query<{ minute: string | number; hour: string | number; mine: string | number }>(
        `SELECT count(*) FILTER (WHERE phone_hash = $1 AND created_at > $3) AS minute,
                count(*) FILTER (WHERE phone_hash = $1) AS hour,
                count(*) FILTER (WHERE person_id = $2) AS mine
           FROM cit_sms_codes WHERE (phone_hash = $1 OR person_id = $2) AND created_at > $4`,
        [phoneHash, person.id, new Date(now - 60_000), new Date(now - 3600_000)],
      );
      const c = r.rows[0]!;
      if (Number(c.minute) >= PER_MINUTE || Number(c.hour) >= PER_HOUR || Number(c.mine) >= PER_HOUR) throw new CitizenError('CIT_ERR_SMS_RATE');
      await tx.query(
        'INSERT INTO cit_sms_codes (person_id, phone_hash, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
        [person.id, phoneHash, this.sealer.mac(phoneHash, code), new Date(now), new Date(now + CODE_TTL_MS)],
      );
      await tx.query(
        "INSERT INTO cit_sms_outbox (person_id, purpose, phone_enc, text_enc, created_at) VALUES ($1, 'travel_card', $2, $3, $4)",
        [person.id, this.sealer.seal(phone), this.sealer.seal(`【健康码】您的行程卡验证码为 ${code}，5 分钟内有效。如非本人操作请忽略。`), new Date(now)],
      );
    });
    return this.cfg.smsDevCode ? { expiresAt: now + CODE_TTL_MS, devCode: code } : { expiresAt: now + CODE_TTL_MS };
  }

  /**
   * For the SMS sender (sms-sender.ts): unsent, not failed messages, oldest
   * first, opened. The phone and text live only in the sender's memory;
   * never log them.
   */
  async pendingSms(limit = 100): Promise<PendingSms[]> {
    const r = await this.host.db.query<{ id: string | number; purpose: string; phone_enc: Uint8Array; text_enc: Uint8Array; created_at: Date | string }>(
      'SELECT id, purpose, phone_enc, text_enc, created_at FROM cit_sms_outbox WHERE sent_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT $1',
      [limit],
    );
    return r.rows.map((x) => ({
      id: Number(x.id),
      purpose: x.purpose as PendingSms['purpose'],
      createdMs: new Date(x.created_at).getTime(),
      phone: this.sealer.open(x.phone_enc),
      text: this.sealer.open(x.text_enc),
    }));
  }

  /** Closes a message that will never be sent (refused by the gateway, code expired); `why` must hold no personal data. */
  async markSmsFailed(id: number, why: string): Promise<number> {
    const r = await this.host.db.query(
      'UPDATE cit_sms_outbox SET failed_at = $2, last_error = $3 WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL',
      [id, new Date(this.host.nowMs()), why.slice(0, 200)],
    );
    return r.rowCount ?? 0;
  }

  /**
   * Keeps only what verification needs (PIPL art. 19, the shortest time
   * necessary): codes older than a day are deleted, sent messages after a day.
   */
  async purge(): Promise<number> {
    const before = new Date(this.host.nowMs() - DAY_MS);
    const a = await this.host.db.query('DELETE FROM cit_sms_codes WHERE created_at < $1', [before]);
    const b = await this.host.db.query('DELETE FROM cit_sms_outbox WHERE (sent_at IS NOT NULL AND sent_at < $1) OR (failed_at IS NOT NULL AND failed_at < $1)', [before]);
    return (a.rowCount ?? 0) + (b.rowCount ?? 0);
  }

  async markSmsSent(ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await this.host.db.query('UPDATE cit_sms_outbox SET sent_at = $2 WHERE id = ANY($1::bigint[]) AND sent_at IS NULL', [ids, new Date(this.host.nowMs())]);
    return r.rowCount ?? 0;
  }

  /**
   * Checks the code (a wrong one counts against the code and changes nothing
   * else), then builds the card and records the risk-city facts.
   */
  async card(person: PersonRow, phoneInput: unknown, codeInput: unknown): Promise<TravelCard> {
    const phone = phoneOf(phoneInput);
    if (typeof codeInput !== 'string' || !/^[0-9]{6}$/.test(codeInput)) throw new CitizenError('CIT_ERR_CODE_WRONG', undefined, 'code');
    const phoneHash = this.pii.lookupHash(`P:${phone}`);
    const now = this.host.nowMs();
    const verdict = await this.host.db.transaction(async (tx) => {
      const r = await tx.query<{ id: string | number; code_hash: Uint8Array; attempts: number }>(
        `SELECT id, code_hash, attempts FROM cit_sms_codes
          WHERE person_id = $1 AND phone_hash = $2 AND used_at IS NULL AND expires_at > $3
          ORDER BY id DESC LIMIT 1 FOR UPDATE`,
        [person.id, phoneHash, new Date(now)],
      );
      const row = r.rows[0];
      if (row === undefined) return 'wrong' as const;
      if (row.attempts >= MAX_WRONG) return 'locked' as const;
      if (!timingSafeEqual(Buffer.from(row.code_hash), this.sealer.mac(phoneHash, codeInput))) {
        await tx.query('UPDATE cit_sms_codes SET attempts = attempts + 1 WHERE id = $1', [row.id]);
        return row.attempts + 1 >= MAX_WRONG ? ('locked' as const) : ('wrong' as const);
      }
      await tx.query('UPDATE cit_sms_codes SET used_at = $2 WHERE id = $1', [row.id, new Date(now)]);
      return 'ok' as const;
    });
    if (verdict === 'locked') throw new CitizenError('CIT_ERR_CODE_LOCKED', undefined, 'code');
    if (verdict === 'wrong') throw new CitizenError('CIT_ERR_CODE_WRONG', undefined, 'code');
    return this.build(person, phoneHash, phone, now);
  }

  /** The card of a verified phone (exported for the tests of the risk marking). */
  async build(person: PersonRow, phoneHash: Buffer, phone: string, now: number): Promise<TravelCard> {
    const to = chinaDay(now);
    const from = chinaDay(now - 13 * DAY_MS);
    const r = await this.host.db.query<{ id: string | number; region: string; day: string; risk: 'high' | 'medium' | null; risk_region: string | null }>(
      `SELECT s.id, s.region, s.day::text AS day, ra.level AS risk, ra.region AS risk_region
         FROM carrier_stays s
         LEFT JOIN LATERAL (
           SELECT level, region FROM risk_areas r
            WHERE r.level IN ('high', 'medium') AND (r.region LIKE s.region || '%' OR s.region LIKE r.region || '%')
            ORDER BY (r.level = 'high') DESC, r.region LIMIT 1
         ) ra ON true
        WHERE s.phone_hash = $1 AND s.day BETWEEN $2::date AND $3::date
        ORDER BY s.day, s.region`,
      [phoneHash, from, to],
    );
    const byRegion = new Map<string, { first: string; last: string; days: Set<string>; risk: 'high' | 'medium' | null }>();
    const facts: { stayId: number; fact: Fact }[] = [];
    for (const x of r.rows) {
      const e = byRegion.get(x.region) ?? { first: x.day, last: x.day, days: new Set<string>(), risk: null };
      e.last = x.day;
      e.days.add(x.day);
      if (x.risk === 'high' || (x.risk === 'medium' && e.risk === null)) e.risk = x.risk;
      byRegion.set(x.region, e);
      if (x.risk !== null && x.risk_region !== null) {
        // noon of the China day: the carrier reports days, not hours
        const at = Math.floor((Date.parse(`${x.day}T12:00:00+08:00`)) / 1000);
        const region = /^[0-9]{6}/.test(x.region) ? x.region : x.risk_region;
        facts.push({ stayId: Number(x.id), fact: { kind: 'risk_area_visit', at, level: x.risk, region } });
      }
    }
    let factsAdded = 0;
    for (const f of facts) {
      const ref = `carrier_stays:${f.stayId}`;
      const seen = await this.host.db.query("SELECT 1 FROM facts WHERE person_id = $1 AND source = 'citizen:travel-card' AND source_ref = $2 LIMIT 1", [person.id, ref]);
      if (seen.rows.length > 0) continue;
      const res = await this.host.codes.addFacts(person.id, [f.fact], { source: 'citizen:travel-card', sourceRef: ref, actor: 'citizen:travel-card' });
      factsAdded += res.inserted;
      if (res.changed) this.host.committed();
    }
    const stays: CardStay[] = [...byRegion.entries()]
      .map(([region, e]) => ({
        region, regionZh: regionName(region), cityZh: regionShortName(region), firstDay: e.first, lastDay: e.last, days: e.days.size,
        risk: e.risk, riskZh: e.risk === 'high' ? '高风险' : e.risk === 'medium' ? '中风险' : null,
      }))
      .sort((a, b) => (a.lastDay < b.lastDay ? 1 : a.lastDay > b.lastDay ? -1 : a.region.localeCompare(b.region)));
    return {
      phoneMasked: `${phone.slice(0, 3)}****${phone.slice(7)}`, from, to, stays, anyRisk: stays.some((s) => s.risk !== null), factsAdded,
      generatedAt: now,
    };
  }
}
