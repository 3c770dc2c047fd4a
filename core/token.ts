import { CoreError } from './errors.js';
import type { KeySet } from './key-set.js';
import { signBody, type SigningKey } from './signing-key.js';
import { ALG_ED25519, ALG_SM2, decodeTf1, TF1_BODY_BYTES, TF1_BYTES, tf1ToText, writeTf1Body, type Tf1Claims } from './tf1.js';

/**
 * Signing and full verification of TF1 tokens (DESIGN §4).
 *
 * Validity: a token is good for iat <= now < exp, and its whole life must lie
 * inside its key's window, notBefore <= iat and exp <= notAfter. That last
 * rule is what makes key retirement finite: once a key's notAfter has passed,
 * no token of it is alive, and the key can leave `/v1/keys`.
 */

function algByte(key: SigningKey): 1 | 2 {
  if (key.alg === 'Ed25519') return ALG_ED25519;
  if (key.alg === 'SM2') return ALG_SM2;
  throw new CoreError('CORE_ERR_KEY_INVALID', 'alg must be "Ed25519" or "SM2"', 'alg');
}

/**
 * Signs a token with `key` (alg and kid come from the key). The token's life
 * [iat, exp) must lie inside the key's window, else CORE_ERR_TF1_KEY_WINDOW:
 * the verifier would refuse it. Claims out of range → the codes of
 * encodeTf1Body. Signers that fear clock skew between nodes set iat a little
 * in the past; the verifier applies no leeway of its own.
 *
 * CPU-bound (measured here: Ed25519 ≈ 22 µs, SM2 ≈ 250 µs): call it off the request loop
 * (DESIGN §4: the piscina signing pool).
 */
export function signTf1(key: SigningKey, claims: Omit<Tf1Claims, 'alg' | 'kid'>): string {
  const alg = algByte(key);
  if (!(claims.iat >= key.notBefore && claims.exp <= key.notAfter)) {
    throw new CoreError(
      'CORE_ERR_TF1_KEY_WINDOW',
      `[${claims.iat}, ${claims.exp}] is not inside key ${key.kid}'s [${key.notBefore}, ${key.notAfter}]`,
    );
  }
  const out = Buffer.allocUnsafe(TF1_BYTES);
  writeTf1Body({ alg, kid: key.kid, uid: claims.uid, color: claims.color, iat: claims.iat, exp: claims.exp }, out, 0);
  const sig = signBody(key, out.subarray(0, TF1_BODY_BYTES));
  sig.copy(out, TF1_BODY_BYTES);
  return tf1ToText(out);
}

/**
 * Full verification at unix time `now`. Each failure has its own code, in
 * this order (the first that applies wins):
 *
 *   1. structural — decodeTf1: PREFIX, BASE45, LENGTH, VERSION, ALG, COLOR,
 *      WINDOW (exp <= iat). Facts of the bytes alone; they come first so
 *      that a well-signed token with colour 3 or exp before iat is named for
 *      what is wrong with it (the vectors sign such tokens on purpose).
 *   2. CORE_ERR_TF1_KID — no key with this kid (never published, or retired
 *      or pruned: a cut-off node's tokens stop here).
 *   3. CORE_ERR_TF1_ALG_KID_MISMATCH — the alg byte is not the key's alg.
 *      Checked before the signature so a token never selects the algorithm
 *      a key is used with (the JWT "alg" confusion).
 *   4. CORE_ERR_TF1_SIGNATURE — the signature does not verify. Everything
 *      after this point is about claims we now know the key holder made;
 *      before it, a forged token must not be reported as merely expired.
 *   5. CORE_ERR_TF1_KEY_WINDOW — iat < notBefore or exp > notAfter.
 *   6. CORE_ERR_TF1_NOT_YET_VALID — now < iat.
 *   7. CORE_ERR_TF1_EXPIRED — now >= exp.
 *
 * Returns the claims (uid is a view into the decoded bytes).
 *
 * Cost is the signature check (measured here: Ed25519 ≈ 16k/s, SM2 ≈ 2.2k/s
 * a core; decoding is ~1 µs). The KeySet caches each key's KeyObject or SM2
 * table, so keep one KeySet and swap it when the keys change.
 */
export function verifyTf1(text: string, keys: KeySet, now: number): Tf1Claims {
  const { claims, body, signature } = decodeTf1(text);
  const key = keys.get(claims.kid);
  if (key === undefined) throw new CoreError('CORE_ERR_TF1_KID', String(claims.kid));
  if ((key.alg === 'Ed25519' ? ALG_ED25519 : ALG_SM2) !== claims.alg) {
    throw new CoreError('CORE_ERR_TF1_ALG_KID_MISMATCH', `alg ${claims.alg}, key ${claims.kid} is ${key.alg}`);
  }
  if (!keys.verifier(claims.kid)!.verify(body, signature)) throw new CoreError('CORE_ERR_TF1_SIGNATURE');
  if (claims.iat < key.notBefore || claims.exp > key.notAfter) {
    throw new CoreError(
      'CORE_ERR_TF1_KEY_WINDOW',
      `[${claims.iat}, ${claims.exp}] is not inside key ${key.kid}'s [${key.notBefore}, ${key.notAfter}]`,
    );
  }
  if (now < claims.iat) throw new CoreError('CORE_ERR_TF1_NOT_YET_VALID', `iat ${claims.iat}, now ${now}`);
  if (now >= claims.exp) throw new CoreError('CORE_ERR_TF1_EXPIRED', `exp ${claims.exp}, now ${now}`);
  return claims;
}
