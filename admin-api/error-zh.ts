import { createRequire } from 'node:module';
import type { CodedError } from '../core/coded-error.js';
import { ADMIN_ERRORS } from './errors.js';
import { fieldLabel, VALUE_LABELS } from './field-labels.js';

const VALIDATION_ZH = ADMIN_ERRORS.ADM_ERR_VALIDATION.zh;

/**
 * The Chinese side of an error answer (`zh` in `{error, message, field?, zh}`):
 * what the console shows, and all it shows. `message` stays the English
 * developer text for API clients and logs.
 *
 * Validator (Ajv) failures are phrased here per keyword, in words an
 * official understands — never a regular expression, a JSON type name or a
 * raw enum member; ajv-i18n's zh covers the keywords we do not use.
 */

// ajv-i18n is CommonJS (module.exports = function); require() sidesteps its ESM default typing.
const localizeZh = createRequire(import.meta.url)('ajv-i18n/localize/zh') as (errors: unknown[]) => void;

export interface AjvIssue {
  keyword?: string;
  instancePath?: string;
  schemaPath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

const TYPE_ZH: Record<string, string> = {
  integer: '整数', number: '数字', string: '文字', boolean: '是或否', object: '一组字段', array: '列表', null: '空值',
};

/** What a pattern asks for, by field name: patterns themselves are never shown. */
const PATTERN_HINT: Record<string, string> = {
  region: '应为 6、9 或 12 位数字的行政区划代码（GB/T 2260）',
  regionPrefix: '应为 2、4、6、9 或 12 位数字的行政区划代码前缀',
  username: '只能使用小写字母、数字和 . _ -，以字母或数字开头，最长 64 位',
  version: '只能使用字母、数字和 . _ -，最长 64 位',
  id: '编号格式不正确',
  after: '应为数字', before: '应为数字', limit: '应为 1–1000 的数字', offset: '应为数字',
};

function valueZh(v: unknown): string {
  if (typeof v === 'string') return VALUE_LABELS[v] ?? v;
  return String(v);
}

function lastKey(issue: AjvIssue): string {
  const extra = issue.params?.missingProperty ?? issue.params?.additionalProperty;
  if (typeof extra === 'string') return extra;
  const segs = (issue.instancePath ?? '').split('/').filter((s) => s !== '' && !/^[0-9]+$/.test(s));
  return segs[segs.length - 1] ?? '';
}

/** One Ajv issue in Chinese, without the field name (the caller prefixes it). */
export function validationZh(issue: AjvIssue): string {
  const p = issue.params ?? {};
  switch (issue.keyword) {
    case 'required': return '为必填项';
    case 'additionalProperties': return '不是可以提交的字段';
    case 'type': {
      const t = String(p.type ?? '').split(',').map((x) => TYPE_ZH[x] ?? '正确的类型').join('或');
      return `应填写${t}`;
    }
    case 'pattern': case 'format': return PATTERN_HINT[lastKey(issue)] ?? '格式不正确';
    case 'enum': {
      const allowed = Array.isArray(p.allowedValues) ? p.allowedValues.map(valueZh).join('、') : '';
      return allowed === '' ? '不是允许的取值' : `应为以下之一：${allowed}`;
    }
    case 'minLength': return Number(p.limit) <= 1 ? '不能为空' : `至少 ${Number(p.limit)} 个字`;
    case 'maxLength': return `最多 ${Number(p.limit)} 个字`;
    case 'minimum': return `不能小于 ${Number(p.limit)}`;
    case 'maximum': return `不能大于 ${Number(p.limit)}`;
    case 'exclusiveMinimum': return `应大于 ${Number(p.limit)}`;
    case 'exclusiveMaximum': return `应小于 ${Number(p.limit)}`;
    case 'minItems': return Number(p.limit) <= 1 ? '至少需要一项' : `至少需要 ${Number(p.limit)} 项`;
    case 'maxItems': return `最多 ${Number(p.limit)} 项`;
    default: {
      const copy = [{ ...issue, params: { ...p } }];
      try {
        localizeZh(copy);
      } catch {
        return '填写有误';
      }
      const m = copy[0]!.message;
      // ajv-i18n may still quote a schema fragment in ASCII: never show it
      return typeof m === 'string' && /[\u4e00-\u9fff]/.test(m) && !/[A-Za-z]{3,}/.test(m) ? m : '填写有误';
    }
  }
}

/** The text a person reads for this error: field named in Chinese, then the catalogue's zh (+ Chinese detail). */
export function errorZh(err: CodedError, issue?: AjvIssue): string {
  let base = issue !== undefined ? validationZh(issue) : (err.zh ?? '操作失败，请稍后重试');
  // a validation refusal with its own Chinese detail reads as that detail alone ("有效期至：须晚于当前时间")
  if (err.code === 'ADM_ERR_VALIDATION' && base.startsWith(`${VALIDATION_ZH}：`)) base = base.slice(VALIDATION_ZH.length + 1);
  return err.field === undefined ? base : `${fieldLabel(err.field)}：${base}`;
}
