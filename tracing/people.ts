import type { AdminSession } from '../admin-api/admin-tokens.js';
import { personView, type PersonView } from '../admin-api/person-view.js';
import { seesMasked } from '../admin-api/roles.js';
import { regionName } from '../core/regions.js';
import type { SqlClient } from '../master/sql-client.js';
import type { MasterStore, PersonRow } from '../master/store.js';

/**
 * People of a task or group as a role may see them, loaded in one query per
 * page (PersonRow is what MasterStore.revealPerson decrypts).
 */
export async function loadPersons(db: SqlClient, ids: readonly number[]): Promise<Map<number, { row: PersonRow; color: string | null }>> {
  if (ids.length === 0) return new Map();
  const r = await db.query<{
    id: number; uid: Buffer; cert_type: PersonRow['certType']; name_masked: string; region: string | null;
    cert_enc: Buffer | null; phone_enc: Buffer | null; name_enc: Buffer | null; created_at: Date; color: string | null;
  }>(
    `SELECT p.id, p.uid, p.cert_type, p.name_masked, p.region, p.cert_enc, p.phone_enc, p.name_enc, p.created_at, c.color
       FROM persons p LEFT JOIN codes c ON c.person_id = p.id
      WHERE p.id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)`,
    [JSON.stringify(ids)],
  );
  return new Map(r.rows.map((x) => [x.id, {
    row: {
      id: x.id, uid: x.uid, certType: x.cert_type, nameMasked: x.name_masked, region: x.region,
      certEnc: x.cert_enc, phoneEnc: x.phone_enc, nameEnc: x.name_enc, createdAt: x.created_at,
    },
    color: x.color,
  }]));
}

export interface PersonLine extends PersonView {
  readonly regionName: string;
  readonly color: string | null;
}

export function personLine(store: MasterStore, p: { row: PersonRow; color: string | null }, who: AdminSession): PersonLine {
  const v = personView(store, p.row, who);
  return { ...v, regionName: regionName(v.region), color: p.color };
}

/** Masked roles (analyst) see that someone was found and how strongly, not where they were (PIPL art. 28). */
export function evidenceView<E extends { venues: unknown[]; trips: unknown[] }>(e: E, who: AdminSession): E | { venues: number; trips: number } {
  return seesMasked(who.role) ? { venues: e.venues.length, trips: e.trips.length } : e;
}
