import { ApiError } from './api.js';

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

export const VENUE_KIND_LABEL: Record<string, string> = { normal: '普通场所', entry: '入川卡口（入川即检）' };

const pad = (n: number): string => String(n).padStart(2, '0');

/** unix seconds → '2026-03-01 14:05:09' in the browser's time zone (the province's offices: UTC+8). */
export function fmtTime(sec: number | null | undefined): string {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return '—';
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
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

/** <input type="datetime-local"> value → unix seconds, or null when empty. */
export function localInputToSec(v: string): number | null {
  if (v.trim() === '') return null;
  const ms = new Date(v).getTime();
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

const CODE_TEXT: Record<string, string> = {
  ADM_ERR_BAD_CREDENTIALS: '用户名或密码错误',
  ADM_ERR_LOCKED: '登录失败次数过多，账户已暂时锁定，请稍后再试',
  ADM_ERR_RATE_LIMITED: '请求过于频繁，请稍后再试',
  ADM_ERR_UNAUTHENTICATED: '登录已失效，请重新登录',
  ADM_ERR_FORBIDDEN: '当前账户无权执行此操作',
  ADM_ERR_NOT_FOUND: '未找到记录（或不在您的管辖范围内）',
  ADM_ERR_AMBIGUOUS: '该手机号对应多人，请改用证件号查询',
  ADM_ERR_VALIDATION: '输入不符合要求',
  ADM_ERR_BAD_JSON: '请求内容不是有效的 JSON',
  ADM_ERR_PAYLOAD_TOO_LARGE: '提交的数据过大',
  ADM_ERR_CONFLICT: '记录已存在',
  ADM_ERR_REQUEST_STATE: '该请求已处理或已过期',
  ADM_ERR_SAME_APPROVER: '不能审批自己提交的请求',
  ADM_ERR_INTERNAL: '服务器内部错误，请联系运维人员',
  MASTER_ERR_UNAVAILABLE: '主数据库暂不可用，请稍后再试',
  NETWORK: '无法连接服务器，请检查网络后重试',
};

/** A human message for any thrown value; keeps the server's field path and message for detail. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const base = CODE_TEXT[e.code] ?? (e.code.startsWith('CORE_ERR_ID') || e.code.startsWith('CORE_ERR_PHONE') ? '证件号或手机号格式不正确' : `操作失败（${e.code}）`);
    const where = e.field ? `，字段 ${e.field}` : '';
    return e.code === 'NETWORK' ? base : `${base}${where}：${e.message}`;
  }
  if (e instanceof Error) return e.message;
  return String(e);
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
