import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of admin-api's own error codes. Documented in admin-api/ERRORS.md;
 * errors.test.ts fails when the two drift. Add a code here AND there.
 *
 * Errors of the layers below pass through the one error handler (app.ts)
 * unchanged: CORE_ERR_* (a malformed identity → 400 naming the field),
 * MASTER_ERR_* (MASTER_ERR_UNAVAILABLE → 503; MASTER_ERR_LOGIN_FAILED 401 and
 * MASTER_ERR_LOGIN_LOCKED 423 from the accounts), and the other catalogues'.
 */
export const ADMIN_ERRORS = {
  // requests
  ADM_ERR_VALIDATION: { status: 400, message: 'request does not match the schema', zh: '填写内容不符合要求' },
  ADM_ERR_BAD_JSON: { status: 400, message: 'request body is not valid JSON', zh: '请求内容不是有效的 JSON' },
  ADM_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'request body is too large', zh: '提交的内容过大' },
  ADM_ERR_UNSUPPORTED_MEDIA: { status: 415, message: 'request body must be application/json', zh: '请求内容类型不受支持' },
  ADM_ERR_NOT_FOUND: { status: 404, message: 'not found', zh: '请求的内容不存在' },
  ADM_ERR_RATE_LIMITED: { status: 429, message: 'too many requests: retry later', zh: '操作过于频繁，请稍后再试' },
  // authentication and authorisation
  ADM_ERR_UNAUTHENTICATED: { status: 401, message: 'missing, invalid or expired bearer token', zh: '登录已失效，请重新登录' },
  ADM_ERR_FORBIDDEN: { status: 403, message: 'your role may not do this', zh: '您的角色无权进行此操作' },
  // codes
  ADM_ERR_AMBIGUOUS: { status: 409, message: 'several people match: use the certificate', zh: '匹配到多人，请改用证件号码查询' },
  ADM_ERR_SAME_APPROVER: { status: 403, message: 'a bulk change must be approved by a different user (GB/T 35273 7.1)', zh: '批量操作须由另一名工作人员审批（GB/T 35273 7.1）' },
  ADM_ERR_REQUEST_STATE: { status: 409, message: 'the request is no longer pending', zh: '该申请已处理或已过期' },
  ADM_ERR_CONFLICT: { status: 409, message: 'already exists', zh: '记录已存在' },
  ADM_ERR_VENUE_DISABLED: { status: 409, message: 'the venue is disabled: enable it first', zh: '该场所码已停用，不能生成或打印；如需继续使用，请先恢复启用' },
  // server
  ADM_ERR_CONFIG: { status: 500, message: 'invalid admin-api configuration', zh: '管理后台配置不正确' },
  ADM_ERR_INTERNAL: { status: 500, message: 'internal error', zh: '系统内部错误，请稍后重试或联系系统管理员' },
} as const satisfies Catalogue;

export type AdminErrorCode = keyof typeof ADMIN_ERRORS;

export const AdminError = errorClass('AdminError', ADMIN_ERRORS);
export type AdminError = InstanceType<typeof AdminError>;
