import { ApiError } from '../../admin-api/console/src/api.js';
import { errorText } from '../../admin-api/console/src/format.js';
import { CITIZEN_ERRORS } from '../errors.js';

/** Chinese text of an error: the citizen catalogue's own `zh` for CIT_ERR_*, else the console's. */
export function citErrorText(e: unknown): string {
  if (e instanceof ApiError && e.code in CITIZEN_ERRORS) return CITIZEN_ERRORS[e.code as keyof typeof CITIZEN_ERRORS].zh;
  return errorText(e);
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** unix ms → China time 'MM-DD HH:mm' (the province's offices read China time whatever the browser says). */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms + 8 * 3600_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}
