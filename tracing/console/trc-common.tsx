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

/** Rule reasons (core/default-rules.ts) in Chinese; an official's own reason text is shown as written. */
export const REASON_LABEL: Record<string, string> = {
  confirmed: '确诊', test_positive: '核酸阳性', suspected: '疑似', close_contact: '密切接触者', secondary_contact: '密接的密接',
  risk_area: '中高风险地区旅居', entry_no_test: '入川未按时检测', entry_test_pending: '入川待检测', manual_review: '人工复核',
};
export function reasonLabel(r: string): string {
  return REASON_LABEL[r] ?? r;
}

/** Where a record came from (facts.source, code_history.actor) in Chinese. */
export function sourceLabel(s: string | undefined): string {
  if (s === undefined) return '—';
  if (s.startsWith('import:')) return `部门导入（${s.slice(7)}）`;
  const fixed: Record<string, string> = {
    manual: '人工录入', rules: '规则重算', scheduler: '定时重算', citizen: '市民申报', session: '市民领码',
    'system:demo': '演示数据', demo: '演示数据', 'system:bootstrap': '系统初始化', system: '系统',
  };
  if (fixed[s] !== undefined) return fixed[s]!;
  if (s.startsWith('system:')) return `系统（${s.slice(7)}）`;
  return `工作人员 ${s}`;
}
