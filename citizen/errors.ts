import { errorClass, type Catalogue } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import CITIZEN_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Error codes of the citizen services (appeals, knowledge base, travel card,
 * sampling registration). Documented in citizen/ERRORS.md; errors.test.ts
 * fails when the two drift. `zh` is what the citizen page, the hotline seat
 * and the console show.
 */
// The codes stand in errors.json in these sections, in order:
//   citizen session (the edge's session token, core/session-token.ts)
//   input
//   appeals
//   knowledge base
//   phone verification and travel card
//   sampling registration
export const CITIZEN_ERRORS = CITIZEN_ERROR_DATA satisfies Catalogue;

export type CitizenErrorCode = keyof typeof CITIZEN_ERRORS;

/**
 * The error class. The input field goes into the JSON body as `field`, but
 * not into CodedError's `field` property: admin-api's error handler prefixes
 * `zh` with the Chinese name of that property's field (admin-api/field-labels.ts),
 * which does not know this capability's fields and would say 「填写项：」.
 * Our `zh` texts already name what is wrong (「验证码错误或已过期」, 「照片不能超过 2 MB」).
 */
export class CitizenError extends errorClass('CitizenError', CITIZEN_ERRORS) {
  /** the request field the error concerns (JSON `field`) */
  readonly input: string | undefined;

  constructor(code: CitizenErrorCode, detail?: string, field?: string, zhDetail?: string) {
    super(code, detail, undefined, zhDetail);
    this.input = field;
    // the same English message as with a field (`text: …`), for logs and API clients
    if (field !== undefined) this.message = `${field}: ${detail ?? CITIZEN_ERRORS[code].message}`;
  }

  override toJSON(): { error: string; message: string; field?: string } {
    const j = super.toJSON();
    return this.input === undefined ? j : { ...j, field: this.input };
  }
}

/** The Chinese text of a code (what a page shows next to the error). */
export function citizenErrorZh(code: CitizenErrorCode): string {
  return CITIZEN_ERRORS[code].zh;
}
