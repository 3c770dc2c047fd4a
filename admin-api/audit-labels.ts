/**
 * Audit actions and outcomes in Chinese: one table for the console's audit
 * page (imported by the browser bundle: keep this file free of Node imports)
 * and the server's audit export. Capabilities' actions not listed here show
 * as they are written.
 */
export const OUTCOME_LABEL: Readonly<Record<string, string>> = {
  partial: '部分成功', tampered: '发现篡改',
  ok: '成功', failed: '失败', denied: '拒绝（无权限）', denied_scope: '拒绝（超出管辖范围）', not_found: '未找到',
  ambiguous: '匹配多人', locked: '账号锁定', pending: '待审批', rejected: '已驳回', error: '出错',
};

export const ACTION_LABEL: Readonly<Record<string, string>> = {
  'auth.login': '登录', 'auth.logout': '退出登录', access: '访问受限功能',
  'users.create': '创建账号', 'users.disable': '停用账号', 'users.enable': '启用账号', 'users.unlock': '解除锁定',
  'users.reset_password': '重置密码', 'users.update': '修改角色或地区',
  'codes.query': '查询健康码', 'codes.transcode': '人工转码', 'codes.clear': '解除人工转码',
  'codes.bulk.request': '提交批量转码', 'codes.bulk.approve': '批准批量转码', 'codes.bulk.reject': '驳回批量转码',
  'person.register': '市民领码',
  'rules.upload': '上传规则', 'rules.publish': '发布规则', 'rules.rollback': '回滚规则', 'rules.dry_run': '规则试算',
  'risk.import': '导入风险区域', 'risk.publish': '发布风险区域',
  'venues.create': '新建场所', 'venues.import': '导入场所', 'venues.update': '修改场所', 'venues.disable': '停用场所',
  'venues.enable': '启用场所', 'venues.qr': '下载场所码', 'venues.poster': '打印场所码海报',
  'audit.verify': '校验审计链', 'audit.read': '查看审计日志', 'audit.export': '导出审计日志', export: '导出表格',
};
