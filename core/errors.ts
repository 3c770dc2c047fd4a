import { errorClass, type Catalogue } from './coded-error.js';

/**
 * Catalogue of core's error codes. Documented in core/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code here AND there.
 */
export const CORE_ERRORS = {
  // identity (DESIGN §2)
  CORE_ERR_ID_EMPTY: { status: 400, message: 'identity field is empty', zh: '证件信息为空' },
  CORE_ERR_ID_LENGTH: { status: 400, message: 'resident ID must have 18 characters (or 15 legacy digits)', zh: '居民身份证号码应为 18 位（旧版 15 位）' },
  CORE_ERR_ID_CHARS: { status: 400, message: 'resident ID has characters other than digits and a final X', zh: '居民身份证号码只能由数字和末位 X 组成' },
  CORE_ERR_ID_BIRTH_DATE: { status: 400, message: 'resident ID birth date is not a real past date', zh: '居民身份证号码中的出生日期不是有效的过去日期' },
  CORE_ERR_ID_CHECK_DIGIT: { status: 400, message: 'resident ID check character does not match (GB 11643)', zh: '居民身份证号码校验位不正确，请核对后重新输入' },
  CORE_ERR_ID_TYPE: { status: 400, message: 'unknown certificate type', zh: '不支持的证件类型' },
  CORE_ERR_CERT_FORMAT: { status: 400, message: 'certificate number does not match its type', zh: '证件号码与证件类型不符' },
  CORE_ERR_PHONE: { status: 400, message: 'not a mainland mobile number (1[3-9] and 9 digits)', zh: '不是有效的大陆手机号码（11 位，以 13–19 开头）' },
  CORE_ERR_NAME: { status: 400, message: 'name is empty or malformed', zh: '姓名为空或格式不正确' },
  CORE_ERR_PERSON_KEY: { status: 400, message: 'a person needs a certificate or a mobile number', zh: '至少需要填写证件号码或手机号码之一' },
  CORE_ERR_PEPPER: { status: 500, message: 'uid pepper must be at least 32 bytes', zh: '系统密钥配置不正确，请联系系统管理员' },
  // Base45 (RFC 9285)
  CORE_ERR_BASE45_CHAR: { status: 400, message: 'character outside the Base45 alphabet', zh: '码内容含有无效字符' },
  CORE_ERR_BASE45_LENGTH: { status: 400, message: 'Base45 text has a dangling character', zh: '码内容不完整' },
  CORE_ERR_BASE45_OVERFLOW: { status: 400, message: 'Base45 group decodes to a value out of range', zh: '码内容无效' },
  // TF1 token (DESIGN §4)
  CORE_ERR_TF1_PREFIX: { status: 400, message: 'token does not start with TF1:', zh: '不是健康码二维码' },
  CORE_ERR_TF1_BASE45: { status: 400, message: 'token is not valid Base45', zh: '健康码内容无效' },
  CORE_ERR_TF1_LENGTH: { status: 400, message: 'token is not 93 bytes long', zh: '健康码内容长度不正确' },
  CORE_ERR_TF1_VERSION: { status: 400, message: 'unknown token version', zh: '健康码版本无法识别，请更新扫码程序' },
  CORE_ERR_TF1_ALG: { status: 400, message: 'unknown signature algorithm', zh: '健康码签名算法无法识别' },
  CORE_ERR_TF1_KID: { status: 400, message: 'unknown key id', zh: '健康码签名密钥未知' },
  CORE_ERR_TF1_ALG_KID_MISMATCH: { status: 400, message: 'algorithm does not match the key id', zh: '健康码签名算法与密钥不符' },
  CORE_ERR_TF1_COLOR: { status: 400, message: 'unknown colour', zh: '健康码颜色无法识别' },
  CORE_ERR_TF1_SIGNATURE: { status: 400, message: 'signature does not verify', zh: '健康码签名校验失败，可能是伪造的码' },
  CORE_ERR_TF1_EXPIRED: { status: 400, message: 'token has expired', zh: '健康码已过期，请刷新后重新出示' },
  CORE_ERR_TF1_NOT_YET_VALID: { status: 400, message: 'token is not yet valid', zh: '健康码尚未生效，请核对设备时间' },
  CORE_ERR_TF1_WINDOW: { status: 400, message: 'token expires before it was issued', zh: '健康码有效期无效' },
  CORE_ERR_TF1_KEY_WINDOW: { status: 400, message: "token validity lies outside its key's window", zh: '健康码有效期超出签名密钥的有效期' },
  CORE_ERR_TF1_CLAIM: { status: 500, message: 'token claim out of range for the TF1 format', zh: '健康码内容超出格式允许的范围' },
  CORE_ERR_KEY_INVALID: { status: 400, message: 'malformed key', zh: '密钥格式不正确' },
  CORE_ERR_KEY_SET_INVALID: { status: 400, message: 'malformed key set', zh: '密钥集格式不正确' },
  // citizen session tokens (DESIGN §5): all 401 so the app sends the person to log in again
  CORE_ERR_SESSION_MALFORMED: { status: 401, message: 'session token is malformed', zh: '登录状态无效，请重新登录' },
  CORE_ERR_SESSION_BAD_MAC: { status: 401, message: 'session token signature does not verify', zh: '登录状态校验失败，请重新登录' },
  CORE_ERR_SESSION_EXPIRED: { status: 401, message: 'session token has expired', zh: '登录已过期，请重新登录' },
  CORE_ERR_SESSION_KEY: { status: 500, message: 'session key must be at least 32 bytes', zh: '会话密钥配置不正确，请联系系统管理员' },
  // rules (DESIGN §3)
  CORE_ERR_RULE_INVALID: { status: 400, message: 'rule set is invalid', zh: '规则集不正确' },
  CORE_ERR_FACTS_INVALID: { status: 400, message: 'facts are invalid', zh: '事实数据不正确' },
  // record and delta formats
  CORE_ERR_FORMAT_VERSION: { status: 500, message: 'data was written in a newer format than this build reads', zh: '数据由更新版本的程序写入，请升级本程序' },
  CORE_ERR_RECORD_INVALID: { status: 500, message: 'record is malformed', zh: '数据记录已损坏' },
} as const satisfies Catalogue;

export type CoreErrorCode = keyof typeof CORE_ERRORS;

export const CoreError = errorClass('CoreError', CORE_ERRORS);
export type CoreError = InstanceType<typeof CoreError>;
