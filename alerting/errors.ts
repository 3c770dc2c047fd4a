import { errorClass, type Catalogue } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import ALERTING_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Error catalogue of the alerting capability (alerting/ERRORS.md;
 * errors.test.ts keeps the two in sync). Every code carries the Chinese
 * message the console shows.
 */
export const ALERTING_ERRORS = ALERTING_ERROR_DATA satisfies Catalogue;

export type AlertingErrorCode = keyof typeof ALERTING_ERRORS;
export const AlertingError = errorClass('AlertingError', ALERTING_ERRORS);
export type AlertingError = InstanceType<typeof AlertingError>;
