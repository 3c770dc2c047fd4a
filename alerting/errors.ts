import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Error catalogue of the alerting capability (alerting/ERRORS.md;
 * errors.test.ts keeps the two in sync). Every code carries the Chinese
 * message the console shows.
 */
export const ALERTING_ERRORS = {
  ALR_ERR_CONFIG: { status: 500, message: 'invalid alerting configuration', zh: '告警配置有误' },
  ALR_ERR_NOT_FOUND: { status: 404, message: 'no such alert, rule or silence', zh: '告警、规则或屏蔽不存在' },
  ALR_ERR_RULE_INVALID: { status: 400, message: 'the alert rule is invalid', zh: '告警规则不合法' },
  ALR_ERR_SILENCE_INVALID: { status: 400, message: 'the silence is invalid', zh: '屏蔽规则不合法' },
  ALR_ERR_ALREADY_ACKED: { status: 409, message: 'the alert is already acknowledged or resolved', zh: '告警已确认或已恢复' },
  ALR_ERR_GATEWAY_SIGNATURE: { status: 401, message: 'SMS gateway: bad or missing signature', zh: '短信网关签名无效' },
  ALR_ERR_GATEWAY_REPLAY: { status: 401, message: 'SMS gateway: timestamp outside the replay window', zh: '短信网关请求时间戳超出允许范围' },
  ALR_ERR_GATEWAY_BAD_REQUEST: { status: 400, message: 'SMS gateway: malformed message', zh: '短信内容格式不正确' },
  ALR_ERR_GATEWAY_UNAVAILABLE: { status: 503, message: 'SMS gateway unavailable', zh: '短信网关暂不可用' },
  ALR_ERR_DRILL_STACK: { status: 500, message: 'drill: a process of the drilled stack did not start', zh: '应急演练：被演练系统的进程未能启动' },
  ALR_ERR_DRILL_SCENARIO: { status: 400, message: 'drill: the scenario is invalid', zh: '应急演练：演练场景不合法' },
  ALR_ERR_METRICS_TOKEN: { status: 401, message: 'metrics: missing or wrong scrape token', zh: '监控指标抓取令牌缺失或错误' },
} as const satisfies Catalogue;

export type AlertingErrorCode = keyof typeof ALERTING_ERRORS;
export const AlertingError = errorClass('AlertingError', ALERTING_ERRORS);
export type AlertingError = InstanceType<typeof AlertingError>;
