import { ApiError } from '../../admin-api/console/src/api.js';
import { errorText } from '../../admin-api/console/src/format.js';
import { TRACING_ERRORS } from '../errors.js';

/** Labels and helpers the tracing pages share (all Chinese: no raw codes on screen). */
export const MODE_LABEL: Record<string, string> = { train: '火车', flight: '航班', bus: '客车', ship: '轮船', car: '网约车/出租车', other: '其他' };
export const STATE_LABEL: Record<string, string> = { running: '执行中', done: '已完成', failed: '失败' };
export const CHANGE_STATUS_LABEL: Record<string, string> = { pending: '待复核', approved: '已批准', rejected: '已驳回', expired: '已过期', decided: '已处理' };

/** The Chinese text of a tracing refusal (errors.ts zh), else the console's usual text. */
export function trcErrorText(e: unknown): string {
  if (e instanceof ApiError && e.code in TRACING_ERRORS) {
    return TRACING_ERRORS[e.code as keyof typeof TRACING_ERRORS].zh;
  }
  return errorText(e);
}

/** A China date 'YYYY-MM-DD' n days before today. */
export function daysAgo(n: number): string {
  const d = new Date(Date.now() + 8 * 3600_000 - n * 86_400_000);
  return d.toISOString().slice(0, 10);
}

/** '2026-03-01T14:00' (datetime-local value) for unix seconds, in the browser's zone. */
export function toLocalInput(sec: number): string {
  const d = new Date(sec * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
