import { maskName, type IdType } from '../core/identity.js';
import type { PiiCrypto } from './pii-crypto.js';

/**
 * The stored columns of one person, derived from the person key (DESIGN §2)
 * exactly one way, whoever writes the row: `MasterStore.upsertPerson` (a
 * login, the back office) and the data exchange's bulk import
 * (exchange/prepare-chunk.ts, on a worker thread). Two copies of this once
 * existed; a person imported must be the person who later logs in, byte for
 * byte in the keyed hashes.
 *
 *   key 'C:<type>:<number>' → cert_type, cert_hash = HMAC(key), cert_enc =
 *                             AES-GCM(number), region = first 6 digits of a
 *                             resident ID (GB 11643), phone as given
 *   key 'P:<phone>'         → no certificate, phone = the key's phone
 *
 * `phone` and `name` are the caller's, already checked (the store normalises
 * the phone first; the import's row check has).
 */
export interface PersonColumns {
  readonly certType: IdType | null;
  readonly certHash: Buffer | null;
  readonly certEnc: Buffer | null;
  readonly phoneHash: Buffer | null;
  readonly phoneEnc: Buffer | null;
  readonly nameEnc: Buffer | null;
  readonly nameMasked: string | null;
  /** derived from a resident ID's number; null otherwise */
  readonly region: string | null;
}

export function personColumns(key: string, uid: Buffer, crypto: PiiCrypto, given: { readonly phone: string | null; readonly name: string | null }): PersonColumns {
  let certType: IdType | null = null;
  let certHash: Buffer | null = null;
  let certEnc: Buffer | null = null;
  let region: string | null = null;
  let phone = given.phone;
  if (key.startsWith('C:')) {
    const sep = key.indexOf(':', 2);
    certType = key.slice(2, sep) as IdType;
    const number = key.slice(sep + 1);
    certHash = crypto.lookupHash(key);
    certEnc = crypto.encrypt('cert', uid, number);
    if (certType === 'resident') region = number.slice(0, 6);
  } else {
    phone = key.slice(2);
  }
  const name = given.name;
  return {
    certType, certHash, certEnc, region,
    phoneHash: phone === null ? null : crypto.lookupHash(`P:${phone}`),
    phoneEnc: phone === null ? null : crypto.encrypt('phone', uid, phone),
    nameEnc: name === null ? null : crypto.encrypt('name', uid, name.normalize('NFKC').trim()),
    nameMasked: name === null ? null : maskName(name),
  };
}
