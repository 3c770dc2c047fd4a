import { CodedError, errorClass, type ErrorSpec } from '../core/coded-error.js';

/**
 * Error catalogue of the tracing capability (精准找人, risk groups, queries,
 * statistics). Documented in tracing/ERRORS.md; errors.test.ts keeps the two
 * in sync and checks every code has its Chinese text. The console shows `zh`
 * (the body carries it), never the code.
 */
export const TRACING_ERRORS = {
  TRC_ERR_QUERY_EMPTY: { status: 400, message: 'search text has no letters, digits or Chinese characters', zh: '请输入场所名称（汉字、拼音首字母或数字）' },
  TRC_ERR_QUERY_TOO_LONG: { status: 400, message: 'search text is too long', zh: '搜索内容过长，请精简到 100 个字以内' },
  TRC_ERR_REGION: { status: 400, message: 'not a region code inside your scope', zh: '地区代码无效或不在您的管辖范围内' },
  TRC_ERR_VENUE_NOT_FOUND: { status: 404, message: 'no such venue that you may see', zh: '场所不存在或不在您的管辖范围内' },
  TRC_ERR_TOO_MANY_VENUES: { status: 400, message: 'too many venues or trips in one task', zh: '一个任务中的场所或车次过多' },
  TRC_ERR_NO_TARGETS: { status: 400, message: 'a task needs at least one venue or trip', zh: '请至少选择一个场所或车次' },
  TRC_ERR_WINDOW_INVERTED: { status: 400, message: 'window ends before it starts', zh: '时间窗口的结束时间早于开始时间' },
  TRC_ERR_WINDOW_TOO_LONG: { status: 400, message: 'window (with its margins) is longer than the scan retention', zh: '时间窗口（含前推/后推）超过了扫码数据保存期限' },
  TRC_ERR_WINDOW_EXPIRED: { status: 400, message: 'window starts before the oldest retained scans or lies in the future', zh: '时间窗口超出了扫码数据的保存范围' },
  TRC_ERR_MARGIN: { status: 400, message: 'margin must be 0 to 14 days', zh: '前推/后推时长须在 0 至 14 天之间' },
  TRC_ERR_TRIP: { status: 400, message: 'trip needs a known mode, a number and a date', zh: '车次信息不完整：请填写交通方式、车次/航班号和日期' },
  TRC_ERR_TASK_NOT_FOUND: { status: 404, message: 'no such task that you may see', zh: '任务不存在或不在您的管辖范围内' },
  TRC_ERR_GROUP_NOT_FOUND: { status: 404, message: 'no such risk group that you may see', zh: '风险人群不存在或不在您的管辖范围内' },
  TRC_ERR_GROUP_EXISTS: { status: 409, message: 'this task already has a risk group', zh: '该任务已生成风险人群' },
  TRC_ERR_GROUP_EMPTY: { status: 409, message: 'the group has nobody in it', zh: '该风险人群中没有人员' },
  TRC_ERR_GROUP_TOO_LARGE: { status: 409, message: 'the group is larger than one bulk change may be', zh: '风险人群人数超过一次批量转码的上限，请拆分任务' },
  TRC_ERR_CHANGE_PENDING: { status: 409, message: 'a code change of this group awaits approval', zh: '该风险人群已有待审批的转码申请' },
  TRC_ERR_UNTIL_PAST: { status: 400, message: 'until must be in the future', zh: '截止时间必须晚于当前时间' },
  TRC_ERR_PERSON_NOT_FOUND: { status: 404, message: 'no such person that you may see', zh: '查无此人或不在您的管辖范围内' },
  TRC_ERR_RANGE: { status: 400, message: 'date range is inverted or longer than 366 days', zh: '统计日期范围无效（开始晚于结束或超过一年）' },
  TRC_ERR_CONFIG: { status: 500, message: 'invalid tracing configuration', zh: '追踪模块配置错误' },
} as const satisfies Record<string, ErrorSpec & { zh: string }>;

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
