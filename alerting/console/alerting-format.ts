import { ApiError } from '../../admin-api/console/src/api.js';
import { errorText } from '../../admin-api/console/src/format.js';
import { chinaTime } from '../../core/china-time.js';

/** Labels and formatting shared by the alerting pages (Chinese, China time). */
export const SEVERITY_LABEL: Record<string, string> = { info: '提示', warning: '警告', critical: '严重' };
export const STATUS_LABEL: Record<string, string> = { pending: '待定', firing: '告警中', resolved: '已恢复' };
export const SMS_STATUS_LABEL: Record<string, string> = { queued: '排队待发', sent: '已送达网关', rejected: '网关拒收', over_budget: '超出每日预算' };
export const PURPOSE_LABEL: Record<string, string> = { firing: '告警', repeat: '重复提醒', resolved: '恢复', escalation: '升级', test: '测试' };
export const RECIPIENTS_LABEL: Record<string, string> = { oncall: '值班人员', escalation: '升级联系人' };
export const SOURCE_LABEL: Record<string, string> = {
  monitor: '系统监控', alerting: '异常检测', exchange: '数据交换', tracing: '流调溯源', logaudit: '日志审计', citizen: '便民服务',
};

/** alerting/errors.ts zh messages (the console does not bundle server code) */
const ALR_TEXT: Record<string, string> = {
  ALR_ERR_CONFIG: '告警配置有误',
  ALR_ERR_NOT_FOUND: '告警、规则或屏蔽不存在',
  ALR_ERR_RULE_INVALID: '告警规则不合法',
  ALR_ERR_SILENCE_INVALID: '屏蔽规则不合法',
  ALR_ERR_ALREADY_ACKED: '告警已确认或已恢复',
  ALR_ERR_GATEWAY_UNAVAILABLE: '短信网关暂不可用',
};

export function alertErrorText(e: unknown): string {
  if (e instanceof ApiError && ALR_TEXT[e.code] !== undefined) return `${ALR_TEXT[e.code]}${e.field ? `（${e.field}）` : ''}`;
  return errorText(e);
}

/** unix ms → China time '2026-12-07 10:32:05' whatever the browser's zone */
export function fmtMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : chinaTime(ms, true);
}

export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}秒`;
  if (s < 3600) return `${Math.floor(s / 60)}分${s % 60}秒`;
  if (s < 86400) return `${Math.floor(s / 3600)}小时${Math.floor((s % 3600) / 60)}分`;
  return `${Math.floor(s / 86400)}天${Math.floor((s % 86400) / 3600)}小时`;
}
