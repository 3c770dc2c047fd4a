import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Error codes of the data exchange (issue 10), documented in exchange/ERRORS.md
 * (errors.test.ts keeps the two in sync). Three kinds:
 *
 * - request errors: the API answers them with their HTTP status;
 * - row errors: a row of a file is rejected with one of them (kept on the
 *   batch with row number and field, the HTTP status is only nominal);
 * - batch errors: the whole file is refused or stops at the fault (the batch
 *   turns `failed` with the code; chunks committed before the fault stay).
 *
 * `zh` is what officials read in the console and in the error list of a batch.
 */
export const EXCHANGE_ERRORS = {
  // requests
  EXC_ERR_NOT_MULTIPART: { status: 415, message: 'the upload must be multipart/form-data', zh: '上传须为 multipart/form-data 表单' },
  EXC_ERR_FILE_MISSING: { status: 400, message: 'the form has no file part', zh: '表单中没有文件' },
  EXC_ERR_FILE_TOO_LARGE: { status: 413, message: 'the file exceeds the upload limit', zh: '文件超过上传大小上限' },
  EXC_ERR_FILE_TYPE: { status: 415, message: 'only CSV and XLSX files are accepted', zh: '仅受理 CSV 和 XLSX 文件' },
  EXC_ERR_DATASET_UNKNOWN: { status: 400, message: 'no such dataset', zh: '数据集不存在' },
  EXC_ERR_DEPARTMENT: { status: 400, message: 'department must be 1–64 characters without control characters', zh: '报送单位须为 1–64 个字符' },
  EXC_ERR_FORM: { status: 400, message: 'malformed upload form', zh: '上传表单格式错误' },
  EXC_ERR_BATCH_NOT_FOUND: { status: 404, message: 'no such import batch', zh: '导入批次不存在' },
  EXC_ERR_NOT_FINISHED: { status: 409, message: 'the batch is not finished yet', zh: '批次尚未处理完成' },
  EXC_ERR_CONFIG: { status: 500, message: 'invalid exchange configuration', zh: '数据交换配置错误' },
  EXC_ERR_DATASET_INVALID: { status: 400, message: 'invalid dataset definition', zh: '数据标准定义不合法' },
  // batch errors (the file as a whole)
  EXC_ERR_HEADER: { status: 422, message: 'the header does not match the dataset', zh: '表头与数据标准不符' },
  EXC_ERR_EMPTY_FILE: { status: 422, message: 'the file has no header row', zh: '文件为空或缺少表头' },
  EXC_ERR_RECORD_TOO_LARGE: { status: 422, message: 'a record exceeds the size limit', zh: '单行记录超过大小上限' },
  EXC_ERR_FILE_UNREADABLE: { status: 422, message: 'the file is corrupt or not of its declared type', zh: '文件损坏或格式无法识别' },
  EXC_ERR_INTERRUPTED: { status: 500, message: 'the import was interrupted and its file is gone', zh: '导入中断且上传文件已丢失，请重新上传' },
  EXC_ERR_INTERNAL: { status: 500, message: 'the import failed unexpectedly', zh: '导入处理异常，请联系运维人员' },
  // archives and forwarding
  EXC_ERR_ZIP_CORRUPT: { status: 422, message: 'the archive is corrupt or truncated', zh: '压缩包损坏或不完整' },
  EXC_ERR_ZIP_PASSWORD: { status: 422, message: 'no password of the department\'s rule opens the archive', zh: '压缩包密码错误（与报送单位的密码规则不符）' },
  EXC_ERR_ZIP_BOMB: { status: 422, message: 'the archive expands beyond the limits (zip bomb)', zh: '压缩包解压后超过限制（疑似压缩炸弹）' },
  EXC_ERR_ZIP_PATH: { status: 422, message: 'an entry name leaves the extraction folder (path traversal)', zh: '压缩包内文件路径非法' },
  EXC_ERR_ZIP_EMPTY: { status: 422, message: 'the archive holds no CSV or XLSX file', zh: '压缩包内没有 CSV 或 XLSX 文件' },
  EXC_ERR_NO_PASSWORD_RULE: { status: 422, message: 'the department has no password rule', zh: '报送单位未设置密码规则' },
  EXC_ERR_PASSWORD_RULE: { status: 400, message: 'invalid password rule', zh: '密码规则不合法' },
  EXC_ERR_RECIPIENT: { status: 400, message: 'invalid recipient', zh: '接收方配置不合法' },
  EXC_ERR_SFTP_SOURCE: { status: 400, message: 'invalid SFTP source', zh: 'SFTP 接收源配置不合法' },
  EXC_ERR_SFTP: { status: 502, message: 'the SFTP server could not be reached or refused the file', zh: 'SFTP 服务器连接或传输失败，将自动重试' },
  // row errors
  EXC_ERR_REQUIRED: { status: 422, message: 'required field is empty', zh: '必填字段为空' },
  EXC_ERR_ID_INVALID: { status: 422, message: 'certificate number is invalid', zh: '证件号码不合法' },
  EXC_ERR_ID_CHECK_DIGIT: { status: 422, message: 'resident ID check digit does not match (GB 11643)', zh: '身份证号码校验位错误' },
  EXC_ERR_NAME: { status: 422, message: 'name is malformed (digits or control characters)', zh: '姓名格式错误' },
  EXC_ERR_PHONE: { status: 422, message: 'not a mainland mobile number', zh: '手机号码格式错误' },
  EXC_ERR_REGION: { status: 422, message: 'not a known GB/T 2260 region code', zh: '行政区划代码不存在' },
  EXC_ERR_DATETIME: { status: 422, message: 'not a date-time (ISO 8601 or YYYY-MM-DD HH:mm:ss China time)', zh: '时间格式错误（应为 ISO 8601 或 YYYY-MM-DD HH:mm:ss）' },
  EXC_ERR_DATE: { status: 422, message: 'not a date (YYYY-MM-DD)', zh: '日期格式错误（应为 YYYY-MM-DD）' },
  EXC_ERR_ENUM: { status: 422, message: 'value is not in the code table', zh: '取值不在代码表内' },
  EXC_ERR_FORMAT: { status: 422, message: 'value does not match the field format', zh: '字段格式错误' },
  EXC_ERR_FIELD_TOO_LONG: { status: 422, message: 'field is longer than the dataset allows', zh: '字段长度超过上限' },
  EXC_ERR_FUTURE: { status: 422, message: 'time lies in the future', zh: '时间晚于当前时间' },
  EXC_ERR_TIME_ORDER: { status: 422, message: 'times are in the wrong order', zh: '时间先后顺序错误' },
  EXC_ERR_DUP_IN_FILE: { status: 422, message: 'row duplicates an earlier row of this file', zh: '与本文件中前面的记录重复' },
  EXC_ERR_DUP_EARLIER: { status: 422, message: 'row duplicates a row of an earlier batch', zh: '与此前批次的记录重复' },
  EXC_ERR_RAGGED_ROW: { status: 422, message: 'row has a different number of columns than the header', zh: '列数与表头不一致' },
  EXC_ERR_ENCODING: { status: 422, message: 'row contains bytes that are not valid in the file encoding', zh: '含有无法识别的字符（编码错误）' },
  EXC_ERR_XLSX_FORMULA: { status: 422, message: 'cell holds a formula; only values are accepted', zh: '单元格为公式，仅受理数值' },
  // masked data return (智能数据返还)
  EXC_ERR_RETURN_POLICY: { status: 400, message: 'invalid masking policy', zh: '返还脱敏策略不合法' },
  EXC_ERR_RETURN_RECIPIENT: { status: 400, message: 'invalid return recipient', zh: '返还对象配置不合法' },
  EXC_ERR_RETURN_RECIPIENT_NOT_FOUND: { status: 404, message: 'no such return recipient', zh: '返还对象不存在' },
  EXC_ERR_RETURN_NOT_FOUND: { status: 404, message: 'no such data return', zh: '返还记录不存在' },
  EXC_ERR_RETURN_EMPTY: { status: 409, message: 'the return has no rows', zh: '该返还没有数据行，无需领取' },
  // assignment verification (赋码数据核查)
  EXC_ERR_VERIFY_RULE_INVALID: { status: 400, message: 'invalid verification rule', zh: '核查规则不合法' },
  EXC_ERR_VERIFY_DATASET: { status: 400, message: 'the dataset does not assign codes and cannot be verified', zh: '该数据集不参与赋码，无法核查' },
  EXC_ERR_VERIFY_PERIOD: { status: 400, message: 'the period is inverted, empty, in the future or longer than a year', zh: '核查时段不合法（起止颠倒、晚于当前或超过一年）' },
  EXC_ERR_VERIFY_RULE_EXPIRED: { status: 409, message: 'the rule is outside its validity', zh: '核查规则不在有效期内' },
  EXC_ERR_VERIFY_RULE_NOT_FOUND: { status: 404, message: 'no such verification rule', zh: '核查规则不存在' },
  EXC_ERR_VERIFY_TASK_NOT_FOUND: { status: 404, message: 'no such verification task', zh: '核查任务不存在' },
  EXC_ERR_VERIFY_TASK_STATE: { status: 409, message: 'the task is not in a state that allows this', zh: '核查任务当前状态不允许该操作' },
  EXC_ERR_VERIFY_FAILED: { status: 500, message: 'the verification task failed unexpectedly', zh: '核查任务执行异常，请查看运行日志或联系运维人员' },
  // assignment verification: edges and schedules; data standards editor (数据标准管理)
  EXC_ERR_VERIFY_REPLICA: { status: 500, message: 'a node replica to compare with cannot be read', zh: '无法读取边缘节点副本数据，请检查节点副本配置' },
  EXC_ERR_VERIFY_SCHEDULE: { status: 400, message: 'invalid schedule: daily at HH:mm (China time) or every 1–168 hours', zh: '定时执行设置不合法（每天 HH:mm 或每 1–168 小时）' },
  EXC_ERR_DATASET_ID: { status: 400, message: 'dataset id must be 2–40 lower-case letters, digits and -, starting with a letter', zh: '数据集标识不合法（须为 2–40 位小写字母、数字或连字符，以字母开头）' },
  EXC_ERR_DATASET_EXISTS: { status: 409, message: 'a dataset with this id exists already', zh: '数据集标识已存在，请改用新增版本' },
  EXC_ERR_DATASET_TARGET_FIELDS: { status: 400, message: 'the dataset lacks a field its purpose needs', zh: '数据集缺少其用途所需的字段' },
  EXC_ERR_FIELD_TYPE: { status: 400, message: 'unknown field type', zh: '字段类型不受支持' },
  EXC_ERR_CODE_TABLE_UNKNOWN: { status: 400, message: 'no such code table', zh: '引用的码表不存在' },
  EXC_ERR_CODE_TABLE_EMPTY: { status: 400, message: 'the code table has no entries', zh: '码表没有任何代码项' },
  EXC_ERR_CODE_TABLE_INVALID: { status: 400, message: 'invalid code table', zh: '码表定义不合法' },
  EXC_ERR_CODE_TABLE_EXISTS: { status: 409, message: 'a code table with this id exists already', zh: '码表标识已存在，请改用新增版本' },
} as const satisfies Catalogue;

export type ExchangeErrorCode = keyof typeof EXCHANGE_ERRORS;

export const ExchangeError = errorClass('ExchangeError', EXCHANGE_ERRORS);
export type ExchangeError = InstanceType<typeof ExchangeError>;

/** The Chinese text of a code (every entry has one). */
export function zhOf(code: ExchangeErrorCode): string {
  return EXCHANGE_ERRORS[code].zh;
}

/** The detail an error was thrown with (its message minus the catalogue's default text), for the Chinese message. */
export function detailOf(code: ExchangeErrorCode, message: string): string {
  const base = EXCHANGE_ERRORS[code].message;
  if (message === base) return '';
  if (message.startsWith(`${base}: `)) return message.slice(base.length + 2);
  return message;
}
