import { ApiError } from '../../admin-api/console/src/api.js';
import { errorText } from '../../admin-api/console/src/format.js';
import { CITIZEN_ERRORS } from '../errors.js';
import { chinaTime } from '../../core/china-time.js';

/** Chinese text of an error: the citizen catalogue's own `zh` for CIT_ERR_*, else the console's. */
export function citErrorText(e: unknown): string {
  if (e instanceof ApiError && e.code in CITIZEN_ERRORS) return CITIZEN_ERRORS[e.code as keyof typeof CITIZEN_ERRORS].zh;
  return errorText(e);
}

/** unix ms → China time 'YYYY-MM-DD HH:mm' (the province's offices read China time whatever the browser says). */
export function fmtMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : chinaTime(ms);
}
