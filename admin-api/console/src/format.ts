import { chinaTime } from '../../../core/china-time.js';
import { ApiError } from './api.js';

export { ACTION_LABEL, OUTCOME_LABEL } from '../../audit-labels.js';

/** Labels and formatting shared by the pages. All UI text is Chinese. */

export type Color = 'green' | 'yellow' | 'red';
export const COLORS: readonly Color[] = ['green', 'yellow', 'red'];
export const COLOR_LABEL: Record<string, string> = { green: '绿码', yellow: '黄码', red: '红码' };
export const COLOR_HEX: Record<string, string> = { green: '#16a34a', yellow: '#eab308', red: '#dc2626' };

export const ID_TYPE_LABEL: Record<string, string> = {
  resident: '居民身份证',
  passport: '护照',
  hk_macau: '港澳居民来往内地通行证',
  taiwan: '台湾居民来往大陆通行证',
  foreign_permanent: '外国人永久居留身份证',
};

export const ROLE_LABEL: Record<string, string> = {
  admin: '省级管理员',
  operator: '操作员',
  analyst: '分析员',
  city_officer: '市级专员',
  auditor: '安全审计员',
  security: '安全管理员',
  hotline: '热线坐席',
};

export const RISK_LEVEL_LABEL: Record<string, string> = { high: '高风险', medium: '中风险', low: '低风险' };

export const FACT_KIND_LABEL: Record<string, string> = {
  confirmed: '确诊',
  suspected: '疑似',
  close_contact: '密切接触者',
  secondary_contact: '密接的密接',
  risk_area_visit: '中高风险地区旅居',
  entry: '入川',
  nucleic_acid: '核酸检测',
};

/** Code reasons (rules' `reason`, and the suggestions for a manual change) in Chinese. */
export const REASON_LABEL: Record<string, string> = {
  default: '未发现风险',
  none: '未发现风险',
  registered: '首次领码',
  confirmed: '确诊病例',
  test_positive: '核酸检测阳性',
  suspected: '疑似病例',
  close_contact: '密切接触者',
  secondary_contact: '密接的密接',
  risk_area: '中高风险地区旅居',
  entry_no_test: '入川未按时检测',
  entry_test_pending: '入川待检测',
  manual_review: '人工复核',
  cleared: '解除管控',
  manual: '人工转码',
  bulk_test: '批量转码',
};

/** A reason as an official reads it: the Chinese label, or the text itself when it is already free text. */
export function reasonText(r: string | null | undefined): string {
  if (r === null || r === undefined || r === '') return '—';
  return REASON_LABEL[r] ?? r;
}

export const VENUE_KIND_LABEL: Record<string, string> = { normal: '普通场所', entry: '入川卡口（入川即检）' };

/** unix seconds → '2026-03-01 14:05:09' in China time (Asia/Shanghai, UTC+8, whatever the browser's zone). */
export function fmtTime(sec: number | null | undefined): string {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return '—';
  return chinaTime(sec * 1000, true);
}

/** Accepts unix seconds, milliseconds or an ISO string (audit rows may carry either). */
export function fmtAny(t: unknown): string {
  if (typeof t === 'number') return fmtTime(t > 1e11 ? Math.floor(t / 1000) : t);
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? t : fmtTime(Math.floor(ms / 1000));
  }
  return '—';
}

/** <input type="datetime-local"> or type="date" value, read as China time → unix seconds, or null when empty. */
export function localInputToSec(v: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(v.trim());
  if (!m) return null;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)) - 8 * 3600 * 1000;
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** unix seconds → a datetime-local value in China time ('2026-03-01T14:05'). */
export function secToLocalInput(sec: number): string {
  return fmtTime(sec).slice(0, 16).replace(' ', 'T');
}

/** unix seconds → a date input value in China time ('2026-03-01'). */
export function secToDateInput(sec: number): string {
  return fmtTime(sec).slice(0, 10);
}

/** Only for answers without a `zh` (a proxy's error page, a network failure): by HTTP status. */
const STATUS_TEXT: Record<number, string> = {
  0: '无法连接服务器，请检查网络后重试',
  401: '登录已失效，请重新登录',
  403: '当前账户无权执行此操作',
  404: '未找到记录（或不在您的管辖范围内）',
  413: '提交的数据过大',
  429: '请求过于频繁，请稍后再试',
  502: '服务暂时不可用，请稍后再试',
  503: '服务暂时不可用，请稍后再试',
  504: '服务响应超时，请稍后再试',
};

/**
 * What the official reads for any thrown value: the server's Chinese text
 * (`zh`, field already named in Chinese) and nothing else — no code, no
 * English. A console-side Error (our own checks) carries Chinese already.
 */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.zh !== undefined && e.zh !== '') return e.zh;
    return STATUS_TEXT[e.status] ?? (e.status >= 500 ? '服务器内部错误，请稍后重试或联系系统管理员' : '操作失败，请检查填写内容后重试');
  }
  if (e instanceof Error && /[\u4e00-\u9fff]/.test(e.message)) return e.message;
  return '操作失败，请稍后重试';
}

export function triggerDownload(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
