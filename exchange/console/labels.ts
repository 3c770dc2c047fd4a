import { ApiError } from '../../admin-api/console/src/api.js';
import { errorText } from '../../admin-api/console/src/format.js';
import { EXCHANGE_ERRORS } from '../errors.js';

/** Chinese labels of the exchange's pages: officials never read a raw code. */
export const FIELD_TYPE_LABEL: Record<string, string> = {
  idType: '证件类型', idNo: '证件号码（GB 11643 校验）', mobile: '手机号码', name: '姓名', region: '行政区划代码（GB/T 2260）',
  datetime: '日期时间', date: '日期', enum: '代码表', text: '文本',
};

export const STATUS_LABEL: Record<string, string> = { queued: '排队中', running: '处理中', done: '已完成', failed: '失败' };

export const TARGET_LABEL: Record<string, string> = {
  'nat-result': '核酸检测事实（参与赋码）', vaccination: '疫苗接种记录', 'risk-person': '风险人员事实（参与赋码）',
  arrival: '行程与入川事实', 'carrier-stay': '运营商逗留记录（行程卡）',
};

export function codeLabel(code: string): string {
  return (EXCHANGE_ERRORS as Record<string, { zh: string }>)[code]?.zh ?? '其他';
}

export function exchangeErrorText(e: unknown): string {
  if (e instanceof ApiError && e.code in EXCHANGE_ERRORS) return codeLabel(e.code);
  return errorText(e);
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(x > 0 && x < 0.001 ? 2 : 1)}%`;
}
