import type { CapabilityHost } from '../admin-api/capability.js';
import type { PublicKeyInfo, SigningKey } from '../core/signing-key.js';
import type { PersonRow } from '../master/store.js';
import type { CitizenConfig } from './config.js';
import { CitizenError } from './errors.js';
import { encodeSamplingQr, loadOrCreateSamplingKey, publicInfo, verifySamplingQr } from './sampling-qr.js';
import { cleanText } from './text-input.js';

/**
 * 入川即检 登记: register → signed sampling QR → a site scans it (sampled)
 * → the result comes back as a nucleic_acid fact through the imports →
 * the rules clear the entry notice. This service keeps the registration and
 * the scan; what the code says is the rules' business (status reads the
 * person's facts and code).
 */
export type SamplingStatus = 'registered' | 'sampled' | 'negative' | 'positive' | 'expired';
export const SAMPLING_STATUS_ZH: Readonly<Record<SamplingStatus, string>> = {
  registered: '已登记，待采样',
  sampled: '已采样，等待结果',
  negative: '结果阴性',
  positive: '结果阳性',
  expired: '采样码已过期',
};

export interface Registration {
  readonly id: number;
  readonly personId: number;
  readonly registeredAt: number;
  readonly expiresAt: number;
  readonly sampledAt: number | null;
  readonly site: string | null;
  readonly status: SamplingStatus;
  readonly statusZh: string;
  /** the signed QR text (only while it can still be scanned) */
  readonly qr: string | null;
}

interface Row {
  id: string | number; person_id: string | number; uid: Uint8Array; registered_s: string | number; expires_s: string | number;
  sampled_s: string | number | null; site: string | null; result: 'negative' | 'positive' | null;
}

export class Sampling {
  readonly key: SigningKey;

  constructor(private readonly host: CapabilityHost, private readonly cfg: CitizenConfig) {
    this.key = loadOrCreateSamplingKey(cfg.dataDir, cfg.samplingAlg, Math.floor(host.nowMs() / 1000));
  }

  private nowSec(): number {
    return Math.floor(this.host.nowMs() / 1000);
  }

  /**
   * Publishes this master's public key (cit_sampling_keys) so every master
   * verifies what any of them signed. A key id taken by another key (two
   * masters drew the same random id: 1 in 65535) is a configuration error:
   * delete this master's key file and restart to draw another.
   */
  async init(): Promise<void> {
    const k = publicInfo(this.key);
    await this.host.db.query(
      'INSERT INTO cit_sampling_keys (kid, alg, public_key, not_before, not_after) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO NOTHING',
      [k.kid, k.alg, k.publicKey, k.notBefore, k.notAfter],
    );
    const r = await this.host.db.query<{ public_key: string }>('SELECT public_key FROM cit_sampling_keys WHERE kid = $1', [k.kid]);
    if (r.rows[0]?.public_key !== k.publicKey) throw new CitizenError('CIT_ERR_CONFIG', `sampling key id ${k.kid} belongs to another master's key`);
  }

  /** Every master's public sampling key (for sites verifying offline, and for scans here). */
  async publicKeys(): Promise<PublicKeyInfo[]> {
    const r = await this.host.db.query<{ kid: number; alg: 'Ed25519' | 'SM2'; public_key: string; not_before: string | number; not_after: string | number }>(
      'SELECT kid, alg, public_key, not_before, not_after FROM cit_sampling_keys ORDER BY kid',
    );
    return r.rows.map((x) => ({ kid: x.kid, alg: x.alg, publicKey: x.public_key, notBefore: Number(x.not_before), notAfter: Number(x.not_after) }));
  }

  async keys(): Promise<{ keys: PublicKeyInfo[] }> {
    return { keys: await this.publicKeys() };
  }

  private async rows(where: string, args: unknown[], limit = 20): Promise<Registration[]> {
    // the result: the latest nucleic_acid fact sampled at or after the scan (10 minutes of clock slack)
    const r = await this.host.db.query<Row>(
      `SELECT s.id, s.person_id, p.uid, extract(epoch FROM s.registered_at)::bigint AS registered_s, extract(epoch FROM s.expires_at)::bigint AS expires_s,
              extract(epoch FROM s.sampled_at)::bigint AS sampled_s, s.site,
              (SELECT f.result FROM facts f WHERE f.person_id = s.person_id AND f.kind = 'nucleic_acid'
                  AND s.sampled_at IS NOT NULL AND f.at >= s.sampled_at - interval '10 minutes' ORDER BY f.at DESC, f.id DESC LIMIT 1) AS result
         FROM cit_sampling s JOIN persons p ON p.id = s.person_id WHERE ${where} ORDER BY s.id DESC LIMIT ${limit}`,
      args,
    );
    const now = this.nowSec();
    return r.rows.map((x) => {
      const sampledAt = x.sampled_s === null ? null : Number(x.sampled_s);
      const expiresAt = Number(x.expires_s);
      const status: SamplingStatus = x.result ?? (sampledAt !== null ? 'sampled' : expiresAt <= now ? 'expired' : 'registered');
      const id = Number(x.id);
      return {
        id, personId: Number(x.person_id), registeredAt: Number(x.registered_s), expiresAt, sampledAt, site: x.site, status,
        statusZh: SAMPLING_STATUS_ZH[status],
        qr: status === 'registered'
          ? encodeSamplingQr(this.key, { registrationId: id, uid: Buffer.from(x.uid), issuedAt: Number(x.registered_s), expiresAt })
          : null,
      };
    });
  }

  /** Registers (or returns the registration still waiting to be sampled: one QR at a time). */
  async register(person: PersonRow): Promise<Registration> {
    const now = this.nowSec();
    const id = await this.host.db.transaction(async (tx) => {
      await tx.query('SELECT id FROM persons WHERE id = $1 FOR UPDATE', [person.id]);
      const open = await tx.query<{ id: string | number }>(
        'SELECT id FROM cit_sampling WHERE person_id = $1 AND sampled_at IS NULL AND expires_at > $2 ORDER BY id DESC LIMIT 1',
        [person.id, new Date(now * 1000)],
      );
      if (open.rows.length > 0) return Number(open.rows[0]!.id);
      const r = await tx.query<{ id: string | number }>(
        'INSERT INTO cit_sampling (person_id, registered_at, expires_at, kid) VALUES ($1, $2, $3, $4) RETURNING id',
        [person.id, new Date(now * 1000), new Date((now + this.cfg.samplingHours * 3600) * 1000), this.key.kid],
      );
      return Number(r.rows[0]!.id);
    });
    return (await this.rows('s.id = $1', [id]))[0]!;
  }

  async ofPerson(personId: number): Promise<Registration[]> {
    return this.rows('s.person_id = $1', [personId], 10);
  }

  async list(status: 'registered' | 'sampled' | undefined, limit = 200): Promise<Registration[]> {
    if (status === 'registered') return this.rows('s.sampled_at IS NULL', [], limit);
    if (status === 'sampled') return this.rows('s.sampled_at IS NOT NULL', [], limit);
    return this.rows('true', [], limit);
  }

  /** A site scans the QR: offline-verifiable checks first, then the registration is marked sampled (once). */
  async scan(qr: unknown, siteInput: unknown, by: string): Promise<Registration & { nameMasked: string }> {
    const claims = verifySamplingQr(qr, await this.publicKeys(), this.nowSec());
    const site = cleanText('site', siteInput, 100);
    const now = this.nowSec();
    const personId = await this.host.db.transaction(async (tx) => {
      const r = await tx.query<{ person_id: string | number; sampled_at: Date | null; uid: Uint8Array }>(
        'SELECT s.person_id, s.sampled_at, p.uid FROM cit_sampling s JOIN persons p ON p.id = s.person_id WHERE s.id = $1 FOR UPDATE OF s',
        [claims.registrationId],
      );
      const row = r.rows[0];
      if (row === undefined || !Buffer.from(row.uid).equals(claims.uid)) throw new CitizenError('CIT_ERR_QR_INVALID', 'no such registration', 'qr');
      if (row.sampled_at !== null) throw new CitizenError('CIT_ERR_SAMPLING_STATE');
      await tx.query('UPDATE cit_sampling SET sampled_at = $2, site = $3, sampled_by = $4 WHERE id = $1', [claims.registrationId, new Date(now * 1000), site, by]);
      return Number(row.person_id);
    });
    const person = (await this.host.store.getPerson(personId))!;
    return { ...(await this.rows('s.id = $1', [claims.registrationId]))[0]!, nameMasked: person.nameMasked };
  }
}
