import type { AdminSession } from '../admin-api/admin-tokens.js';
import { TracingError } from './errors.js';

/**
 * The region prefix a request works in: the caller's own (a city officer's
 * '5101'), narrowed by an optional filter. A filter outside the caller's
 * scope is refused rather than silently widened or emptied, so an officer
 * learns their filter was wrong, not that the other city has no data.
 */
export function effectivePrefix(who: AdminSession, requested: string | undefined, field = 'region'): string {
  const own = who.regionPrefix;
  if (requested === undefined || requested === '') return own;
  if (!/^[0-9]{2,12}$/.test(requested)) throw new TracingError('TRC_ERR_REGION', 'must be 2–12 digits', field);
  if (requested.startsWith(own)) return requested;
  if (own.startsWith(requested)) return own;
  throw new TracingError('TRC_ERR_REGION', 'outside your region', field);
}
