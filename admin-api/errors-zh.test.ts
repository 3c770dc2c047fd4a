import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Catalogue } from '../core/coded-error.js';
import { CORE_ERRORS } from '../core/errors.js';
import { EDGE_ERRORS } from '../edge/errors.js';
import { MASTER_ERRORS } from '../master/errors.js';
import { SYNC_ERRORS } from '../sync/errors.js';
import { errorBody, toAdminError } from './error-handler.js';
import { validationZh } from './error-zh.js';
import { ADMIN_ERRORS, AdminError } from './errors.js';
import { fieldLabel } from './field-labels.js';
import { detailsZh } from './audit-labels.js';
import { CoreError } from '../core/errors.js';
import { MasterError } from '../master/errors.js';

/**
 * Every code of every catalogue has a Chinese text (the type makes `zh`
 * required; this catches an empty or English one), and the validator's
 * messages reach people in Chinese with the field named in Chinese.
 */
const CATALOGUES: Record<string, Catalogue> = {
  core: CORE_ERRORS, master: MASTER_ERRORS, edge: EDGE_ERRORS, sync: SYNC_ERRORS, 'admin-api': ADMIN_ERRORS,
};

const HAN = /[\u4e00-\u9fff]/;

describe('Chinese error texts', () => {
  it('every code of every catalogue has a Chinese zh without English words or raw codes', async () => {
    // the capabilities' catalogues too (exchange/, tracing/, …): every <folder>/errors.ts of the project
    const root = new URL('../', import.meta.url);
    for (const dir of readdirSync(root, { withFileTypes: true })) {
      if (!dir.isDirectory() || dir.name === 'node_modules' || dir.name.startsWith('.') || dir.name in CATALOGUES) continue;
      const file = new URL(`${dir.name}/errors.ts`, root);
      if (!existsSync(file)) continue;
      const mod = (await import(file.href)) as Record<string, unknown>;
      for (const [name, v] of Object.entries(mod)) {
        if (/_ERRORS$/.test(name) && typeof v === 'object' && v !== null) CATALOGUES[`${dir.name}:${name}`] = v as Catalogue;
      }
    }
    const missing: string[] = [];
    let n = 0;
    for (const [pkg, cat] of Object.entries(CATALOGUES)) {
      for (const [code, spec] of Object.entries(cat)) {
        n++;
        const zh = (spec as { zh?: unknown }).zh;
        // Latin letters only in standard names, acronyms and formats (GB/T, JSON, CSV, SFTP, YYYY-MM-DD, Redis), never English words
        const stripped = typeof zh === 'string' ? zh.replace(/GB\/T|Redis|multipart\/form-data|[A-Z]{2,}s?|HH:mm(:ss)?/g, '') : '';
        if (typeof zh !== 'string' || !HAN.test(zh) || /[A-Za-z]{3,}/.test(stripped) || zh.includes('_ERR_')) missing.push(`${pkg} ${code}: ${String(zh)}`);
      }
    }
    expect(missing).toEqual([]);
    expect(n).toBeGreaterThan(100);
  });

  it('names the field in Chinese and keeps the catalogue text', () => {
    const b = errorBody(new CoreError('CORE_ERR_ID_CHECK_DIGIT', 'expected 7', 'idNo'));
    expect(b.zh).toBe('证件号码：居民身份证号码校验位不正确，请核对后重新输入');
    expect(b.error).toBe('CORE_ERR_ID_CHECK_DIGIT');
    expect(fieldLabel('venues[3].region')).toBe('第 4 行的地区');
    expect(fieldLabel('somethingNew')).toBe('填写项');
  });

  it('a validation refusal with a Chinese detail reads as the detail', () => {
    expect(errorBody(new AdminError('ADM_ERR_VALIDATION', 'must be in the future', 'until', '须晚于当前时间')).zh).toBe('有效期至：须晚于当前时间');
  });

  it('shows a lockout end in China time', () => {
    const e = new MasterError('MASTER_ERR_LOGIN_LOCKED', 'until 2026-12-07T02:30:00.000Z', undefined, '请于北京时间 2026-12-07 10:30 后再试');
    expect(errorBody(e).zh).toBe('连续登录失败次数过多，账号已被锁定：请于北京时间 2026-12-07 10:30 后再试');
  });

  it('translates validator failures: no regex, no type names, no English', () => {
    const cases: Array<[unknown, string]> = [
      [{ validation: [{ keyword: 'pattern', instancePath: '/region', params: { pattern: '^[0-9]{6}' } }], validationContext: 'body' },
        '地区：应为 6、9 或 12 位数字的行政区划代码（GB/T 2260）'],
      [{ validation: [{ keyword: 'type', instancePath: '/until', params: { type: 'integer' } }], validationContext: 'body' }, '有效期至：应填写整数'],
      [{ validation: [{ keyword: 'minLength', instancePath: '/reason', params: { limit: 1 } }], validationContext: 'body' }, '转码原因：不能为空'],
      [{ validation: [{ keyword: 'maxLength', instancePath: '/name', params: { limit: 200 } }], validationContext: 'body' }, '姓名：最多 200 个字'],
      [{ validation: [{ keyword: 'required', instancePath: '', params: { missingProperty: 'reason' } }], validationContext: 'body' }, '转码原因：为必填项'],
      [{ validation: [{ keyword: 'enum', instancePath: '/color', params: { allowedValues: ['green', 'yellow', 'red'] } }], validationContext: 'body' },
        '健康码颜色：应为以下之一：绿码、黄码、红码'],
      [{ validation: [{ keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'role' } }], validationContext: 'body' },
        '角色：不是可以提交的字段'],
      [{ validation: [{ keyword: 'uniqueItems', instancePath: '/items', params: { i: 1, j: 2 } }], validationContext: 'body' }, expect.stringMatching(/^名单：/)],
    ];
    for (const [err, zh] of cases) {
      const coded = toAdminError(err);
      expect(coded.code).toBe('ADM_ERR_VALIDATION');
      const issue = (err as { validation: unknown[] }).validation[0] as Parameters<typeof validationZh>[0];
      const body = errorBody(coded, issue);
      expect(body.zh).toEqual(zh);
      expect(body.zh).not.toMatch(/[A-Za-z]{3,}/);
    }
  });

  it('an admin error body always carries zh', () => {
    expect(errorBody(new AdminError('ADM_ERR_FORBIDDEN', 'role x lacks y'))).toEqual({
      error: 'ADM_ERR_FORBIDDEN', message: 'your role may not do this: role x lacks y', zh: '您的角色无权进行此操作',
    });
  });

  it('audit details read in Chinese', () => {
    expect(detailsZh({ color: 'red', count: 3, staged: false, to: { role: 'operator', regionPrefix: '5101' } })).toBe(
      '颜色：红码；数量：3；预定生效：否；新值：（角色：操作员，管辖地区：5101）',
    );
  });
});
