import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Error codes of the citizen services (appeals, knowledge base, travel card,
 * sampling registration). Documented in citizen/ERRORS.md; errors.test.ts
 * fails when the two drift. `zh` is what the citizen page, the hotline seat
 * and the console show.
 */
export const CITIZEN_ERRORS = {
  // citizen session (the edge's session token, core/session-token.ts)
  CIT_ERR_SESSION: { status: 401, message: 'missing, malformed or expired citizen session', zh: '登录已失效，请重新登录' },
  CIT_ERR_PERSON_NOT_FOUND: { status: 404, message: 'no such person', zh: '未找到该人员，请核对证件号或手机号' },
  // input
  CIT_ERR_INVALID: { status: 400, message: 'invalid input', zh: '填写的内容不正确，请检查后重试' },
  CIT_ERR_TEXT_MARKUP: { status: 400, message: 'text contains markup or script', zh: '内容中不能包含网页代码或脚本，请只填写文字' },
  CIT_ERR_PHOTO_TOO_LARGE: { status: 413, message: 'photo is larger than 2 MB', zh: '照片不能超过 2 MB，请压缩后重新上传' },
  CIT_ERR_PHOTO_TYPE: { status: 415, message: 'photo must be a JPEG or PNG image', zh: '照片只支持 JPG 或 PNG 格式' },
  // appeals
  CIT_ERR_APPEAL_FLOOD: { status: 429, message: 'too many appeals from this person: retry later', zh: '您提交的申诉过于频繁，请稍后再试或拨打热线' },
  CIT_ERR_APPEAL_NOT_FOUND: { status: 404, message: 'no such appeal', zh: '未找到该申诉工单' },
  CIT_ERR_APPEAL_STATE: { status: 409, message: 'the appeal is not in a state that allows this', zh: '工单当前状态不能进行此操作' },
  CIT_ERR_OUT_OF_REGION: { status: 403, message: 'the appeal belongs to another region', zh: '该工单不属于您的管辖地区' },
  // knowledge base
  CIT_ERR_KB_NOT_FOUND: { status: 404, message: 'no such article or version', zh: '未找到该文章' },
  CIT_ERR_KB_STATE: { status: 409, message: 'the article is not in a state that allows this', zh: '文章当前状态不能进行此操作' },
  CIT_ERR_KB_SAME_REVIEWER: { status: 403, message: 'an article must be approved by someone other than its author', zh: '文章须由作者以外的人员审核发布' },
  // phone verification and travel card
  CIT_ERR_SMS_RATE: { status: 429, message: 'verification codes are sent at most once a minute and five times an hour', zh: '验证码发送过于频繁，请稍后再试' },
  CIT_ERR_CODE_WRONG: { status: 400, message: 'wrong or expired verification code', zh: '验证码错误或已过期' },
  CIT_ERR_CODE_LOCKED: { status: 429, message: 'too many wrong codes: request a new one', zh: '验证码错误次数过多，请重新获取' },
  // sampling registration
  CIT_ERR_QR_INVALID: { status: 400, message: 'not a valid sampling QR (format, signature or expiry)', zh: '采样码无效或已过期' },
  CIT_ERR_SAMPLING_STATE: { status: 409, message: 'the registration was already sampled', zh: '该登记已完成采样，请勿重复扫码' },
  CIT_ERR_CONFIG: { status: 500, message: 'invalid citizen services configuration', zh: '系统配置错误，请联系管理员' },
} as const satisfies Catalogue;

export type CitizenErrorCode = keyof typeof CITIZEN_ERRORS;

/**
 * The error class. The input field goes into the JSON body as `field`, but
 * not into CodedError's `field` property: admin-api's error handler prefixes
 * `zh` with the Chinese name of that property's field (admin-api/field-labels.ts),
 * which does not know this capability's fields and would say 「填写项：」.
 * Our `zh` texts already name what is wrong (「验证码错误或已过期」, 「照片不能超过 2 MB」).
 */
export class CitizenError extends errorClass('CitizenError', CITIZEN_ERRORS) {
  /** the request field the error concerns (JSON `field`) */
  readonly input: string | undefined;

  constructor(code: CitizenErrorCode, detail?: string, field?: string, zhDetail?: string) {
    super(code, detail, undefined, zhDetail);
    this.input = field;
    // the same English message as with a field (`text: …`), for logs and API clients
    if (field !== undefined) this.message = `${field}: ${detail ?? CITIZEN_ERRORS[code].message}`;
  }

  override toJSON(): { error: string; message: string; field?: string } {
    const j = super.toJSON();
    return this.input === undefined ? j : { ...j, field: this.input };
  }
}

/** The Chinese text of a code (what a page shows next to the error). */
export function citizenErrorZh(code: CitizenErrorCode): string {
  return CITIZEN_ERRORS[code].zh;
}
