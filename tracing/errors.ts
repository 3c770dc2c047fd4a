import { CodedError, errorClass, type ErrorSpec } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import TRACING_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Error catalogue of the tracing capability (精准找人, risk groups, queries,
 * statistics). Documented in tracing/ERRORS.md; errors.test.ts keeps the two
 * in sync and checks every code has its Chinese text. The console shows `zh`
 * (the body carries it), never the code.
 */
export const TRACING_ERRORS = TRACING_ERROR_DATA satisfies Record<string, ErrorSpec & { zh: string }>;

export type TracingErrorCode = keyof typeof TRACING_ERRORS;

const Base = errorClass('TracingError', TRACING_ERRORS);

/** A tracing refusal; its JSON body carries the Chinese text beside the code. */
export class TracingError extends Base {
  override toJSON(): { error: string; message: string; field?: string; zh: string } {
    return { ...super.toJSON(), zh: TRACING_ERRORS[this.code as TracingErrorCode].zh };
  }
}

export function isTracingError(e: unknown): e is TracingError {
  return e instanceof CodedError && e.code.startsWith('TRC_ERR_');
}
