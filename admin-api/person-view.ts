import { CoreError } from '../core/errors.js';
import { maskIdNo, maskPhone, normaliseCertificate, normalisePhone } from '../core/identity.js';
import type { StoredFact } from '../master/code-service.js';
import type { MasterStore, PersonRow } from '../master/store.js';
import type { AdminSession } from './admin-tokens.js';
import { AdminError } from './errors.js';
import { inScope, seesMasked } from './roles.js';

/**
 * Finding the person an operation is about, and showing them to a role.
 *
 * Look-up is by the keyed hash of the certificate, else of the phone
 * (master/pii-crypto.ts): identity never appears in a URL, in SQL or in a log
 * line. A person outside the caller's region prefix is answered exactly like
 * a person who does not exist — 404 ADM_ERR_NOT_FOUND, same message — so a
 * city officer cannot learn that someone is registered in another city
 * (which a 403 would confirm). The audit log still records the attempt as
 * `denied_scope`.
 */
export interface PersonRef {
  readonly idType?: string;
  readonly idNo?: string;
  readonly phone?: string;
}

function given(s: string | undefined): s is string {
  return typeof s === 'string' && s.trim().length > 0;
}

/**
 * The masked label of the look-up key, for audit entries and bulk request
 * reviews: 'resident:5101**********106X' or '138****5678'. Validates the
 * identity first (CORE_ERR_* on a malformed one), so a label is only ever
 * made of a well-formed, masked value.
 */
export function refLabel(ref: PersonRef, now: Date): string {
  if (given(ref.idNo)) {
    const c = normaliseCertificate(given(ref.idType) ? ref.idType : 'resident', ref.idNo, now);
    return `${c.type}:${maskIdNo(c.number)}`;
  }
  if (given(ref.phone)) return maskPhone(normalisePhone(ref.phone));
  throw new CoreError('CORE_ERR_PERSON_KEY', 'give idNo (with idType) or phone', 'idNo');
}

/** Everyone the reference names (0 or 1 by certificate; by phone possibly several), unscoped. */
export async function findPersons(store: MasterStore, ref: PersonRef): Promise<PersonRow[]> {
  if (given(ref.idNo)) {
    const p = await store.findPersonByCertificate(given(ref.idType) ? ref.idType : 'resident', ref.idNo);
    return p === null ? [] : [p];
  }
  if (given(ref.phone)) return store.findPersonsByPhone(ref.phone);
  throw new CoreError('CORE_ERR_PERSON_KEY', 'give idNo (with idType) or phone', 'idNo');
}

export interface Resolved {
  /** in the caller's scope */
  readonly visible: PersonRow[];
  /** found but outside the caller's region (audited, never shown) */
  readonly hidden: number;
}

export async function resolvePersons(store: MasterStore, ref: PersonRef, who: AdminSession): Promise<Resolved> {
  const all = await findPersons(store, ref);
  const visible = all.filter((p) => inScope(who.regionPrefix, p.region));
  return { visible, hidden: all.length - visible.length };
}

export function notFound(field?: string): AdminError {
  return new AdminError('ADM_ERR_NOT_FOUND', 'no such person', field);
}

/** Exactly one visible person, else 404 (none) or 409 ADM_ERR_AMBIGUOUS (a phone shared by several). */
export function onlyOne(r: Resolved, field?: string): PersonRow {
  if (r.visible.length === 0) throw notFound(field);
  if (r.visible.length > 1) throw new AdminError('ADM_ERR_AMBIGUOUS', `${r.visible.length} people`, field);
  return r.visible[0]!;
}

export interface PersonView {
  readonly personId: number;
  /** the pseudonymous id edges and scans carry (hex), for tracing */
  readonly uid: string;
  readonly idType: string | null;
  readonly idNo: string | null;
  readonly phone: string | null;
  /** full name, or masked for masked roles / when only the masked one is known */
  readonly name: string;
  readonly nameMasked: string;
  readonly region: string | null;
  /** unix seconds */
  readonly registeredAt: number;
  readonly masked: boolean;
}

export function personView(store: MasterStore, p: PersonRow, who: AdminSession): PersonView {
  const masked = seesMasked(who.role);
  const r = store.revealPerson(p);
  const number = r.certificate?.number ?? null;
  return {
    personId: p.id,
    uid: p.uid.toString('hex'),
    idType: p.certType,
    idNo: number === null ? null : masked ? maskIdNo(number) : number,
    phone: r.phone === null ? null : masked ? maskPhone(r.phone) : r.phone,
    name: masked || r.name === null ? p.nameMasked : r.name,
    nameMasked: p.nameMasked,
    region: p.region,
    registeredAt: Math.floor(p.createdAt.getTime() / 1000),
    masked,
  };
}

/**
 * Facts as a role may see them: masked roles get what happened and when,
 * not where (venue, region) nor the department file it came from — a
 * movement trail is sensitive personal information (PIPL art. 28).
 */
export function factsView(facts: readonly StoredFact[], who: AdminSession): unknown[] {
  if (!seesMasked(who.role)) return [...facts];
  return facts.map((f) => ({ id: f.id, kind: f.kind, at: f.at, level: f.level, result: f.result, recordedAt: f.recordedAt }));
}
