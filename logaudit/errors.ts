import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of the log audit system's error codes (LOG_ERR_*), documented in
 * logaudit/ERRORS.md; errors.test.ts fails when the two drift. Intake outcomes
 * for bad input on the wire (oversized datagrams, broken framing, invalid
 * UTF-8, forged timestamps, floods) are not errors thrown to a client — there
 * is no client to answer — but counted outcomes; their names are in
 * intake-counters.ts and ERRORS.md lists them too.
 */
export const LOGAUDIT_ERRORS = {
  LOG_ERR_CONFIG: { status: 500, message: 'invalid log audit configuration', zh: '日志审计配置无效' },
  LOG_ERR_QUERY: { status: 400, message: 'malformed search query', zh: '查询条件格式不正确' },
  LOG_ERR_RANGE: { status: 400, message: 'time range is invalid or too long', zh: '查询时间范围无效或过长' },
  LOG_ERR_NOT_FOUND: { status: 404, message: 'no such record', zh: '记录不存在' },
  LOG_ERR_CONFLICT: { status: 409, message: 'a record with this name already exists', zh: '同名记录已存在' },
  LOG_ERR_DECODER: { status: 500, message: 'a shipped decoder file is invalid', zh: '解析器定义文件无效' },
  LOG_ERR_RULE: { status: 400, message: 'a correlation rule is invalid', zh: '关联规则定义无效' },
  LOG_ERR_STORE_TAMPERED: { status: 409, message: 'stored log data does not match its manifest', zh: '日志存储与清单不一致，疑似被篡改' },
  LOG_ERR_SPOOL_FULL: { status: 503, message: 'the on-disk buffer is full: events are being shed', zh: '磁盘缓冲区已满，正在丢弃日志' },
  LOG_ERR_FORWARD: { status: 502, message: 'the central system refused or did not acknowledge a batch', zh: '上级日志审计系统未确认转发的数据' },
} as const satisfies Catalogue;

export type LogAuditErrorCode = keyof typeof LOGAUDIT_ERRORS;
export const LogAuditError = errorClass('LogAuditError', LOGAUDIT_ERRORS);
export type LogAuditError = InstanceType<typeof LogAuditError>;
