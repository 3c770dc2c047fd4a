import { errorClass, type Catalogue } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import EXCHANGE_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Error codes of the data exchange (issue 10), documented in exchange/ERRORS.md
 * (errors.test.ts keeps the two in sync). Three kinds:
 *
 * - request errors: the API answers them with their HTTP status;
 * - row errors: a row of a file is rejected with one of them (kept on the
 *   batch with row number and field, the HTTP status is only nominal);
 * - batch errors: the whole file is refused or stops at the fault (the batch
 *   turns `failed` with the code; chunks committed before the fault stay).
 *
 * `zh` is what officials read in the console and in the error list of a batch.
 */
// The codes stand in errors.json in these sections, in order:
//   requests
//   batch errors (the file as a whole)
//   archives and forwarding
//   row errors
//   masked data return (智能数据返还)
//   assignment verification (赋码数据核查)
//   assignment verification: edges and schedules; data standards editor (数据标准管理)
export const EXCHANGE_ERRORS = EXCHANGE_ERROR_DATA satisfies Catalogue;

export type ExchangeErrorCode = keyof typeof EXCHANGE_ERRORS;

export const ExchangeError = errorClass('ExchangeError', EXCHANGE_ERRORS);
export type ExchangeError = InstanceType<typeof ExchangeError>;

/** The Chinese text of a code (every entry has one). */
export function zhOf(code: ExchangeErrorCode): string {
  return EXCHANGE_ERRORS[code].zh;
}

/** The detail an error was thrown with (its message minus the catalogue's default text), for the Chinese message. */
export function detailOf(code: ExchangeErrorCode, message: string): string {
  const base = EXCHANGE_ERRORS[code].message;
  if (message === base) return '';
  if (message.startsWith(`${base}: `)) return message.slice(base.length + 2);
  return message;
}
