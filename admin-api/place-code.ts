import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';

/**
 * Place codes (场所码, DESIGN §3, §7): what a venue's printed QR code says.
 *
 *   HCV1:<venue id>
 *   └─┬┘ └───┬────┘
 *     │      └ the venues.id the edge looks up in POST /v1/scan {"venue": id}
 *     └ "health code venue", format 1: tells a scanning app this is a place
 *       code (not a TF1 personal token, not somebody's URL) and leaves room
 *       for a format 2 without guessing.
 *
 * Generated ids are 'V' + 16 Crockford Base32 characters (80 random bits):
 * upper case letters, digits and ':' are all in the QR alphanumeric set
 * (ISO/IEC 18004 §7.4.4), so the whole text is one alphanumeric segment —
 * version 2 at level M for 22 characters, a small, easily scanned symbol.
 * Error correction M (15 %) is what posters survive in practice; H would
 * double the modules for damage a laminated poster does not suffer.
 */
export const PLACE_CODE_PREFIX = 'HCV1:';

/** Ids accepted from imports: what the store allows, minus characters that make the QR text ambiguous. */
export const VENUE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const VENUE_ID_RE = new RegExp(VENUE_ID_PATTERN);

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newVenueId(): string {
  const b = randomBytes(10);
  let out = 'V';
  let acc = 0;
  let bits = 0;
  for (const byte of b) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out; // 80 bits = 16 characters exactly
}

export function isVenueId(id: string): boolean {
  return VENUE_ID_RE.test(id);
}

export function placeCodeText(venueId: string): string {
  return PLACE_CODE_PREFIX + venueId;
}

/** The venue id of a place-code text, or null when it is not one. */
export function parsePlaceCode(text: string): string | null {
  if (!text.startsWith(PLACE_CODE_PREFIX)) return null;
  const id = text.slice(PLACE_CODE_PREFIX.length);
  return isVenueId(id) ? id : null;
}

const QR_OPTS = { errorCorrectionLevel: 'M', margin: 4 } as const;

/** PNG of the place code; `scale` pixels per module (8 → ≈ 290 px for version 2, print at ≥ 3 cm). */
export function placeCodePng(venueId: string, scale = 8): Promise<Buffer> {
  return QRCode.toBuffer(placeCodeText(venueId), { ...QR_OPTS, type: 'png', scale });
}

export function placeCodeSvg(venueId: string): Promise<string> {
  return QRCode.toString(placeCodeText(venueId), { ...QR_OPTS, type: 'svg' });
}
