import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of the master database layer's error codes. Documented in
 * master/ERRORS.md; errors.test.ts fails when the two drift. Add a code here
 * AND there.
 */
export const MASTER_ERRORS = {
  // connection and schema
  MASTER_ERR_UNAVAILABLE: { status: 503, message: 'master database is unavailable', zh: '主数据库暂时无法访问，请稍后重试' },
  MASTER_ERR_SCHEMA_NEWER: { status: 500, message: 'database schema is newer than this build knows: upgrade this build', zh: '数据库结构比本程序新，请升级本程序' },
  MASTER_ERR_MIGRATION_CHANGED: { status: 500, message: 'an applied migration differs from the one in this build', zh: '已执行的数据库升级脚本与本程序不一致' },
  MASTER_ERR_MIGRATION_FAILED: { status: 500, message: 'a schema migration failed and was rolled back', zh: '数据库升级失败，已回滚' },
  MASTER_ERR_TX_MISUSE: { status: 500, message: 'query on the outer client inside its own transaction (use the transaction client)', zh: '程序内部错误（事务使用不当）' },
  MASTER_ERR_LOCKED: { status: 500, message: 'the embedded database directory is in use by another process', zh: '数据目录正被另一个进程使用' },
  // secrets and encryption at rest
  MASTER_ERR_SECRET_INVALID: { status: 500, message: 'a secret is missing or malformed', zh: '密钥缺失或格式不正确' },
  MASTER_ERR_SECRETS_FILE: { status: 500, message: 'the secrets file is unsafe or unreadable', zh: '密钥文件不安全或无法读取' },
  MASTER_ERR_DECRYPT: { status: 500, message: 'encrypted field does not decrypt', zh: '加密字段无法解密' },
  // data access
  MASTER_ERR_INVALID: { status: 400, message: 'invalid value', zh: '取值无效' },
  MASTER_ERR_PERSON_NOT_FOUND: { status: 404, message: 'no such person', zh: '查无此人' },
  MASTER_ERR_NAME_MISMATCH: { status: 401, message: 'the name does not match the one registered with this certificate', zh: '姓名与该证件登记的姓名不一致，请核对后重试；如已依法改名，请到卫生健康部门办理信息变更' },
  MASTER_ERR_OUTBOX_GAP: { status: 500, message: 'outbox rows are missing (sequence is not dense)', zh: '待发布变更序号不连续' },
  // services: codes, rules, audit, accounts, node keys (code-service.ts, rule-versions.ts, audit-log.ts, admin-users.ts, node-keys-registry.ts)
  MASTER_ERR_VENUE_NOT_FOUND: { status: 404, message: 'no such venue', zh: '场所不存在' },
  MASTER_ERR_RULE_VERSION_EXISTS: { status: 409, message: 'a rule set with this version already exists (versions are immutable)', zh: '该版本号的规则集已存在（版本发布后不可修改）' },
  MASTER_ERR_RULE_VERSION_NOT_FOUND: { status: 404, message: 'no such rule set version', zh: '规则集版本不存在' },
  MASTER_ERR_RULE_STATE: { status: 409, message: 'the rule set version is not in a state that allows this', zh: '规则集版本当前状态不允许此操作' },
  MASTER_ERR_AUDIT_PII: { status: 400, message: 'audit text holds an unmasked certificate number or phone', zh: '审计内容含有未脱敏的证件号码或手机号码' },
  MASTER_ERR_LOGIN_FAILED: { status: 401, message: 'wrong username or password', zh: '用户名或密码错误' },
  MASTER_ERR_LOGIN_LOCKED: { status: 423, message: 'account locked after repeated failed logins', zh: '连续登录失败次数过多，账号已被锁定' },
  MASTER_ERR_USER_EXISTS: { status: 409, message: 'an account with this username already exists', zh: '该用户名已被使用' },
  MASTER_ERR_USER_NOT_FOUND: { status: 404, message: 'no such account', zh: '账号不存在' },
  MASTER_ERR_LAST_ADMIN: { status: 409, message: 'the last active admin account cannot be disabled', zh: '不能停用最后一个有效的系统管理员账号' },
  MASTER_ERR_KEY_CONFLICT: { status: 409, message: 'key id already names another key or node, or was retired', zh: '密钥编号已被其他密钥或节点使用，或已退役' },
  MASTER_ERR_KEY_NOT_FOUND: { status: 404, message: 'no such key id', zh: '密钥编号不存在' },
} as const satisfies Catalogue;

export type MasterErrorCode = keyof typeof MASTER_ERRORS;

export const MasterError = errorClass('MasterError', MASTER_ERRORS);
export type MasterError = InstanceType<typeof MasterError>;
